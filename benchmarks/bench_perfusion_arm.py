"""The perfusion arm's feature groups on demo cohorts, next to the CEUS ceilings (issue 13).

    python benchmarks/bench_perfusion_arm.py [--seeds 0 1 2] [--patients 181] [--frames 16]
                                             [--size 96,112] [--keep DIR]

For each cohort seed, the demo design's synthetic cohort (``protocols/renal_ceus_demo.yaml``:
181 patients, 16 frames of 96 × 112) is written, every patient's TICs are extracted and fitted
once (:func:`studykit.cohort.perfusion.perfusion_fits`, lognormal), and the perfusion arm
(:mod:`studykit.train.perfusion`: medians and scaler of the fold's training patients, L2
logistic regression, C by inner-validation AUC) is cross-validated with each feature group on
the demo's folds (5, stratified by subtype, 20 % inner validation, seed 0;
:func:`studykit.cohort.make_splits`, as the runner makes them). Printed per seed: the pooled
out-of-fold patient AUC of each group, the cohort's CEUS ceilings (frame, video: what the
arm's input can show at most) and the seconds the TIC extraction and the fits took.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

from studykit.cohort.perfusion import perfusion_fits
from studykit.cohort.synth import synthesize
from studykit.protocol.arms import ArmSpec
from studykit.train.aggregate import patient_auc
from studykit.train.perfusion import cross_val_predict_perfusion

GROUPS = (("parameters",), ("curve",), ("relative_curve",), ("heterogeneity",), ("rim",),
          ("curve", "relative_curve"), ("curve", "heterogeneity"),
          ("curve", "relative_curve", "heterogeneity"), ("curve", "heterogeneity", "rim"),
          ("curve", "relative_curve", "heterogeneity", "rim"), ("parameters", "curve"))


def cross_validated_auc(fits, manifest: pd.DataFrame, features: tuple[str, ...], work: Path) -> float:
    """Pooled out-of-fold patient AUC of the perfusion arm reading ``features``."""
    arm = ArmSpec(name="perfusion", kind="perfusion", selection={"metric": "auc"},
                  perfusion={"features": list(features)})
    pooled = cross_val_predict_perfusion(arm, fits, manifest, work / "-".join(features))
    return patient_auc(pooled["label"].to_numpy(), pooled["prob_malignant"].to_numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--patients", type=int, default=181)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", default="96,112")
    parser.add_argument("--keep", type=Path, default=None, help="Write the cohorts here and keep them.")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(","))
    print(f"machine: {machine()}")
    header = ("| seed | " + " | ".join("+".join(g) for g in GROUPS)
              + " | CEUS ceiling frame / video | TIC s | fits s |")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        for seed in args.seeds:
            cohort = root / f"cohort-{seed}"
            summary = synthesize(cohort, patients=args.patients, seed=seed, frames=args.frames, size=size)
            start = time.perf_counter()
            curves_only = perfusion_fits(cohort, fit=False)
            tic_s = time.perf_counter() - start
            fits = perfusion_fits(cohort)
            fits_s = time.perf_counter() - start - tic_s
            assert curves_only.curves["intensity"].equals(fits.curves["intensity"])
            manifest = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
            aucs = [cross_validated_auc(fits, manifest, g, Path(scratch) / f"units-{seed}") for g in GROUPS]
            b = summary.bayes_auc
            rows.append(f"| {seed} | " + " | ".join(f"{a:.3f}" for a in aucs)
                        + f" | {b.frame_ceus:.3f} / {b.video_ceus:.3f} | {tic_s:.1f} | {fits_s:.1f} |")
            print(rows[-1], flush=True)
    print()
    print(header)
    print("|---" * (len(GROUPS) + 4) + "|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
