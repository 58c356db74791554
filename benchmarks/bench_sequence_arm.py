"""The sequence arm (temporal MUF-Net) on the demo cohort, next to MUF-Net and the ceilings (issue 13).

    python benchmarks/bench_sequence_arm.py [--seed N] [--from RESULTS_ROOT] [--frames K]
                                            [--epochs E] [--threads 2]

Issue 13's target for the sequence arm on the demo: above MUF-Net (paired DeLong reported) and
within 0.04 of the video ceiling of both modalities. The demo protocol
(``protocols/renal_ceus_demo.yaml``, cohort seed ``--seed``) gains one arm,
``models/tiny/sequence_net.yaml`` (``--frames`` frames a patient per training step, ``--epochs``
epochs), and runs. With ``--from`` (a results root that holds a finished demo of the same seed,
e.g. ``bench_demo.py --results DIR --keep``) the finished study is copied first, so only the
sequence units train; otherwise the whole demo runs. Printed: the patient-level AUCs of the
sequence arm and MUF-Net (Table 3), the per-frame and video ceilings of both modalities
(``tables/ceiling.csv``), the paired DeLong comparison MUF-Net vs the sequence arm
(``tables/comparisons.csv``, Holm-adjusted p) and the seconds the sequence units took
(``provenance.json``), with the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from bench_demo import ROOT, seeded_protocol

ARM = "sequence_net"


def sequence_protocol(seed: int, folder: Path, frames: int, epochs: int | None) -> Path:
    """The seeded demo protocol with the tiny sequence arm added before the readers."""
    path = seeded_protocol(seed, folder)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    overrides: dict = {"device": "auto", "sequence": {"frames": frames}}
    if epochs is not None:
        overrides["epochs"] = epochs
    arm = {"model": str(ROOT / "models" / "tiny" / "sequence_net.yaml"), "name": ARM, "overrides": overrides}
    readers = next(i for i, a in enumerate(data["arms"]) if "readers" in a)
    data["arms"].insert(readers, arm)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def summary(root: Path) -> dict:
    """The figures of one finished run (see the module docstring)."""
    table3 = pd.read_csv(root / "tables" / "table3_performance.csv")
    auc = table3[(table3["unit"] == "patient") & (table3["metric"] == "auc")].set_index("arm")["estimate"]
    ceiling = pd.read_csv(root / "tables" / "ceiling.csv")
    levels = ceiling[ceiling["arm_kind"] == "ceiling"].set_index("arm")["estimate"]
    comparisons = pd.read_csv(root / "tables" / "comparisons.csv")
    delong = comparisons[(comparisons["unit"] == "patient") & (comparisons["metric"] == "auc")
                         & (comparisons["arm_b"] == ARM)].iloc[0]
    units = json.loads((root / "provenance.json").read_text())["units"]
    return {"sequence": auc[ARM], "muf_net": auc["muf_net"],
            "frame_both": levels["posterior_frame_both"], "video_both": levels["posterior_video_both"],
            "muf_minus_sequence": delong["estimate"], "p": delong["p"], "p_holm": delong["p_adjusted"],
            "seconds": sum(u["seconds"] for u in units if u["arm"] == ARM)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from", dest="source", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results"
        if args.source is not None:
            shutil.copytree(args.source / "renal_ceus_demo", results / "renal_ceus_demo")
        protocol = sequence_protocol(args.seed, Path(scratch), args.frames, args.epochs)
        command = [sys.executable, "-c", "from studykit.cli import main; main()", "run", str(protocol),
                   "--results", str(results), "--device", "cpu", "--threads", str(args.threads)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n")
            return done.returncode
        figures = summary(results / "renal_ceus_demo")
    print(f"machine: {machine()}")
    print(f"seed {args.seed}, {args.frames} frames a patient per step: " + json.dumps(
        {k: round(float(v), 4) for k, v in figures.items()}))
    gap = figures["video_both"] - figures["sequence"]
    comparison = f"{figures['muf_minus_sequence']:+.3f} (p {figures['p']:.3f}, Holm {figures['p_holm']:.3f})"
    print(f"| {args.seed} | {figures['sequence']:.3f} | {figures['muf_net']:.3f} | {comparison} | "
          f"{figures['frame_both']:.3f} / {figures['video_both']:.3f} | {gap:.3f} | "
          f"{figures['seconds']:.0f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
