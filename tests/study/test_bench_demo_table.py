"""benchmarks/bench_demo.py: README's Table 3 markdown from table3_performance.csv, the README
markers, the check that detects a difference, and the re-seeded protocol copy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from studykit.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_demo", ROOT / "benchmarks" / "bench_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _row(arm: str, unit: str, metric: str, estimate: float, low: float, high: float) -> dict:
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "p": float("nan"), "method": "m",
            "n": 120, "arm": arm, "unit": unit, "metric": metric}


@pytest.fixture
def table3() -> pd.DataFrame:
    """Two arms; image-level rows and other metrics that the README table must leave out."""
    return pd.DataFrame([
        _row("muf_net", "patient", "auc", 0.7370929, 0.6448671, 0.8293193),
        _row("muf_net", "patient", "accuracy", 0.1, 0.0, 0.2),
        _row("muf_net", "patient", "sensitivity", 0.7272727, 0.6095784, 0.8199670),
        _row("muf_net", "patient", "specificity", 0.6296296, 0.4962755, 0.7457663),
        _row("muf_net", "image", "auc", 0.9, 0.8, 1.0),
        _row("junior", "patient", "auc", 0.7819865, 0.7079431, 0.8560300),
        _row("junior", "patient", "auc_score", 0.5, 0.4, 0.6),
        _row("junior", "patient", "specificity", 0.6851852, 0.5525660, 0.7932070),
        _row("junior", "patient", "sensitivity", 0.9996, 0.98, 0.99996),
    ])


EXPECTED = (
    "| arm | AUC (95% CI) | sensitivity | specificity |\n"
    "|---|---|---|---|\n"
    "| muf_net | 0.737 (0.645–0.829) | 0.727 (0.610–0.820) | 0.630 (0.496–0.746) |\n"
    "| junior | 0.782 (0.708–0.856) | 1.000 (0.980–1.000) | 0.685 (0.553–0.793) |\n"
)


def test_table3_markdown_is_readmes_format(table3):
    assert bench.table3_markdown(table3) == EXPECTED
    missing = table3[table3["metric"] != "specificity"]
    last = "| junior | 0.782 (0.708–0.856) | 1.000 (0.980–1.000) | — |\n"  # no specificity row
    assert bench.table3_markdown(missing).endswith(last)


def test_readme_check_detects_a_difference_and_write_replaces_only_the_table(table3):
    readme = f"intro\n\n{bench.START}\n{EXPECTED}{bench.END}\n\nafter\n"
    assert bench.readme_table(readme) == EXPECTED
    assert bench.readme_diff(readme, bench.table3_markdown(table3)) == ""
    changed = table3.assign(estimate=table3["estimate"].where(table3["arm"] != "junior", 0.5))
    diff = bench.readme_diff(readme, bench.table3_markdown(changed))
    assert "-| junior | 0.782 (0.708–0.856)" in diff and "+| junior | 0.500 (0.708–0.856)" in diff
    written = bench.replace_readme_table(readme, bench.table3_markdown(changed))
    assert written.startswith(f"intro\n\n{bench.START}\n") and written.endswith(f"{bench.END}\n\nafter\n")
    assert bench.readme_diff(written, bench.table3_markdown(changed)) == ""
    with pytest.raises(ValueError, match="README has no table between"):
        bench.readme_table("no markers here\n")


def test_the_readme_holds_a_marked_table_in_this_format():
    """README's table lists every arm of the demo protocol: its model arms in order, then its
    reader groups."""
    import yaml

    demo = yaml.safe_load(bench.PROTOCOL.read_text(encoding="utf-8"))
    arms = [a["name"] for a in demo["arms"] if "model" in a]
    arms += [g for a in demo["arms"] if "readers" in a for g in a["groups"]]
    assert arms == ["bmode_net", "ceus_net", "muf_net", "perfusion", "junior", "senior"]
    table = bench.readme_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert table.startswith(bench.HEADER)
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == [f"| {arm}" for arm in arms]


def test_seeded_protocol_changes_only_the_cohort_seed(tmp_path):
    original = load_protocol(bench.PROTOCOL)
    copy = load_protocol(bench.seeded_protocol(7, tmp_path / "elsewhere"))
    assert copy.cohort.synthetic.seed == 7 and original.cohort.synthetic.seed == 0
    synthetic = original.cohort.synthetic.model_copy(update={"seed": 7})
    cohort = original.cohort.model_copy(update={"synthetic": synthetic})
    expected = original.model_copy(update={"cohort": cohort})
    assert copy.model_dump() == expected.model_dump() and copy.arm_specs == original.arm_specs
