"""Time ``studykit run protocols/renal_ceus_demo.yaml`` end to end in a fresh results folder.

Target (issue 5): the whole demo in at most 10 minutes on 2 CPU cores, aiming for 5. Prints
the wall time against the target and the time of each stage (synthetic cohort, ingestion,
training of the 15 units, analyses + figures + report), read from the run's
``provenance.json``, with the torch thread count the run used (its ``runtime``). Run it
alone on the machine: other CPU-bound processes distort it.

It then prints the run's patient-level Table 3 (AUC, sensitivity, specificity with 95% CI)
as the markdown table of README's "Running a study" section. ``--write-readme`` puts that
table into README.md between the ``<!-- demo-table3:start -->`` and
``<!-- demo-table3:end -->`` markers and copies the run's ``figures/roc.png`` to README's
``docs/demo_roc.png``; ``--check-readme`` exits with status 1 and a diff when
README's table differs from the fresh run's (0 when equal).

    python benchmarks/bench_demo.py [--results DIR] [--keep] [--seed N] [--threads N]
                                    [--write-readme | --check-readme]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "protocols" / "renal_ceus_demo.yaml"
README = ROOT / "README.md"
README_ROC = ROOT / "docs" / "demo_roc.png"
TARGET_S, AIM_S = 600.0, 300.0
START, END = "<!-- demo-table3:start -->", "<!-- demo-table3:end -->"
#: Table 3 rows shown in README: patient level, these metrics as columns, in this order.
METRICS = ("auc", "sensitivity", "specificity")
HEADER = "| arm | AUC (95% CI) | sensitivity | specificity |\n|---|---|---|---|\n"


def _cell(rows: pd.DataFrame, metric: str, decimals: int) -> str:
    """``estimate (ci_low–ci_high)`` of one arm's metric (en dash), or ``—`` when absent."""
    row = rows[rows["metric"] == metric]
    if row.empty:
        return "—"
    r = row.iloc[0]
    return f"{r['estimate']:.{decimals}f} ({r['ci_low']:.{decimals}f}–{r['ci_high']:.{decimals}f})"


def table3_markdown(table3: pd.DataFrame, *, decimals: int = 3) -> str:
    """README's markdown table of Table 3: one row per arm (in the table's order), patient level.

    Parameters
    ----------
    table3
        ``tables/table3_performance.csv`` as read: columns ``arm, unit, metric, estimate,
        ci_low, ci_high`` (proportions and AUC on the 0–1 scale) among others.
    decimals
        Decimals of every number (README: 3).

    Returns
    -------
    str
        Header, separator and one line per arm, each ending with a newline.
    """
    rows = table3[(table3["unit"] == "patient") & table3["metric"].isin(METRICS)]
    lines = [
        f"| {arm} | " + " | ".join(_cell(group, m, decimals) for m in METRICS) + " |\n"
        for arm, group in rows.groupby("arm", sort=False)
    ]
    return HEADER + "".join(lines)


def _bounds(text: str) -> tuple[int, int]:
    """Character offsets of the table between the README markers (after START's line, at END)."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no table between {START!r} and {END!r}.")
    return text.index("\n", start) + 1, end


def readme_table(text: str) -> str:
    """The markdown between README's ``demo-table3`` markers."""
    begin, end = _bounds(text)
    return text[begin:end]


def replace_readme_table(text: str, table: str) -> str:
    """README ``text`` with the table between the markers replaced by ``table``."""
    begin, end = _bounds(text)
    return text[:begin] + table + text[end:]


def readme_diff(text: str, table: str) -> str:
    """Unified diff from README's table to ``table``; empty when they are equal."""
    return "".join(difflib.unified_diff(readme_table(text).splitlines(keepends=True),
                                        table.splitlines(keepends=True), "README.md", "this run"))


def seeded_protocol(seed: int, folder: Path, source: Path = PROTOCOL) -> Path:
    """A copy of the demo protocol with ``cohort.synthetic.seed = seed``, written into ``folder``.

    Model arm paths are made absolute (relative to ``source``'s folder) so the copy can live
    anywhere; reader paths (``{cohort}/…``) and everything else are kept. Returns its path.
    """
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["cohort"]["synthetic"]["seed"] = int(seed)
    for arm in data["arms"]:
        if "model" in arm:
            arm["model"] = str((source.parent / arm["model"]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source.stem}.seed-{seed}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None, help="Results root (default: a temp folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the results folder.")
    parser.add_argument("--seed", type=int, default=None,
                        help="Synthetic cohort seed (default: the protocol's, 0).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads, passed to `studykit run --threads` (default: the "
                             "protocol's runtime.threads, 2).")
    readme = parser.add_mutually_exclusive_group()
    readme.add_argument("--write-readme", action="store_true",
                        help="Write this run's Table 3 into README.md between the demo-table3 markers.")
    readme.add_argument("--check-readme", action="store_true",
                        help="Exit 1 with a diff when README's Table 3 differs from this run's.")
    return parser.parse_args()


def _print_timings(provenance: dict[str, Any], wall: float) -> None:
    runtime = provenance.get("runtime", {})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {runtime.get('threads', 'unknown')} "
          f"(inter-op {runtime.get('interop_threads', 'unknown')}, "
          f"deterministic {runtime.get('deterministic', 'unknown')})")
    print(f"demo wall time: {wall:.1f} s (target ≤ {TARGET_S:.0f} s, aim {AIM_S:.0f} s) — "
          f"{'within target' if wall <= TARGET_S else 'OVER TARGET'}")
    for stage, seconds in provenance.get("stage_seconds", {}).items():
        print(f"  {stage:<10} {seconds:7.1f} s")
    units = provenance.get("units", [])
    if units:
        per_arm: dict[str, float] = {}
        for unit in units:
            per_arm[unit["arm"]] = per_arm.get(unit["arm"], 0.0) + unit["seconds"]
        print("  training per arm: " + ", ".join(f"{arm} {s:.1f} s" for arm, s in per_arm.items()))


def _readme_step(table: str, roc: Path, *, write: bool, check: bool) -> int:
    """Write (the table and the ROC figure ``roc``) or check README's table; the exit status
    (1: README differs under ``check``)."""
    text = README.read_text(encoding="utf-8")
    if write:
        README.write_text(replace_readme_table(text, table), encoding="utf-8")
        shutil.copyfile(roc, README_ROC)
        print(f"wrote Table 3 into {README} and the ROC curves to {README_ROC}")
    elif check:
        diff = readme_diff(text, table)
        if diff:
            print(f"README's Table 3 differs from this run's:\n{diff}")
            return 1
        print("README's Table 3 equals this run's.")
    return 0


def main() -> int:
    args = _arguments()
    results = args.results or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    shutil.rmtree(results / "renal_ceus_demo", ignore_errors=True)
    protocol = PROTOCOL if args.seed is None else seeded_protocol(args.seed, results)
    command = [sys.executable, "-c", "from studykit.cli import main; main()", "run", str(protocol),
               "--results", str(results), "--device", "cpu"]
    command += [] if args.threads is None else ["--threads", str(args.threads)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n")
        return done.returncode
    root = results / "renal_ceus_demo"
    print(done.stdout)
    _print_timings(json.loads((root / "provenance.json").read_text()), wall)
    table = table3_markdown(pd.read_csv(root / "tables" / "table3_performance.csv"))
    print(f"\nTable 3 (patient level), README format:\n\n{table}")
    status = _readme_step(table, root / "figures" / "roc.png", write=args.write_readme,
                          check=args.check_readme)
    if not args.keep and args.results is None:
        shutil.rmtree(results, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
