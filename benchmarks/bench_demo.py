"""Time ``studykit run protocols/renal_ceus_demo.yaml`` end to end in a fresh results folder.

Target (issue 5): the whole demo in at most 10 minutes on 2 CPU cores, aiming for 5. Prints
the wall time against the target and the time of each stage (synthetic cohort, ingestion,
training of the 15 units, analyses + figures + report), read from the run's
``provenance.json``. Run it alone on the machine: other CPU-bound processes distort it.

    python benchmarks/bench_demo.py [--results DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "protocols" / "renal_ceus_demo.yaml"
TARGET_S, AIM_S = 600.0, 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None, help="Results root (default: a temp folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the results folder.")
    args = parser.parse_args()
    results = args.results or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    shutil.rmtree(results / "renal_ceus_demo", ignore_errors=True)
    command = [sys.executable, "-c", "from studykit.cli import main; main()", "run", str(PROTOCOL),
               "--results", str(results), "--device", "cpu"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n")
        return done.returncode
    provenance = json.loads((results / "renal_ceus_demo" / "provenance.json").read_text())
    print(done.stdout)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
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
    if not args.keep and args.results is None:
        shutil.rmtree(results, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
