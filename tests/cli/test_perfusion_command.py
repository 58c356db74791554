"""``studykit perfusion``: the files it writes from the tiny synthetic cohort, its summary line,
the deterministic choice of example patients, and exit 2 with the path on a missing cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from perfusion_cohort import perfusion_cohort

from studykit.cli.app import cli
from studykit.study.perfusion import example_patients

FILES = ["perfusion.csv", "perfusion_by_class.csv", "tic_curves.csv", "tic_summary.csv", "tic.png", "tic.pdf"]


def run(*args: str):
    from studykit.cli import commands  # noqa: F401  (registers commands, as main() does)

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return perfusion_cohort(tmp_path_factory.mktemp("cli-perfusion") / "cohort")


def test_perfusion_writes_tables_and_figure_and_prints_the_statuses(cohort, tmp_path) -> None:
    out = tmp_path / "perfusion"
    result = run("perfusion", cohort, "--out", out, "--model", "gamma", "--group", "subtype",
                 "--examples", "2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    table = pd.read_csv(out / "perfusion.csv", keep_default_na=False)
    counts = table["status"].value_counts()
    statuses = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "poor fit", "failed"))
    assert f"{len(table)} patients ({statuses}); " in result.output
    curves = pd.read_csv(out / "tic_curves.csv")
    assert set(curves["region"]) == {"lesion", "cortex"} and curves["patient_id"].nunique() == len(table)
    summary = pd.read_csv(out / "tic_summary.csv")
    assert set(summary["group"]) == set(curves["subtype"])  # --group subtype
    by_class = pd.read_csv(out / "perfusion_by_class.csv")
    assert "rel_pe_db" in set(by_class["variable"])
    subtypes = curves[["patient_id", "subtype"]].drop_duplicates()
    ok = table[table["status"] == "ok"].merge(subtypes, on="patient_id").sort_values("patient_id")
    first = ok.groupby("subtype").head(1).sort_values("subtype")["patient_id"].tolist()
    assert len(first) >= 2 and f"panel B: {', '.join(first[:2])}." in result.output
    png = (out / "tic.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_example_patients_round_robin_over_sorted_groups_by_id() -> None:
    table = pd.DataFrame({"patient_id": ["P4", "P1", "P2", "P3", "P5"],
                          "status": ["ok", "ok", "poor fit", "ok", "ok"]})
    curves = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
                           "label": ["malignant", "malignant", "benign", "benign", "malignant", "benign"],
                           "time_s": np.arange(6.0)})
    assert example_patients(table, curves, count=3) == ("P3", "P1", "P5")  # benign first; P2 is not ok
    assert example_patients(table, curves, count=10) == ("P3", "P1", "P5", "P4")
    assert example_patients(table, curves, count=0) == ()


def test_perfusion_of_a_missing_cohort_exits_2_naming_the_path(tmp_path) -> None:
    missing = tmp_path / "no-such-cohort"
    result = run("perfusion", missing, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert str(missing) in result.output and "cohort folder not found" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    bad = run("perfusion", missing, "--out", tmp_path / "out", "--dynamic-range", "ge=forty")
    assert bad.exit_code == 2 and "--dynamic-range" in bad.output
