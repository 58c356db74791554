"""The learning test's speed target: ``python benchmarks/bench_learning.py [--threads 2]``.

tests/train/test_learning.py asserts what a tiny MUF-Net learns on a generated cohort (120
patients, 16 frames of 64 × 80 panels, 64-px crops, fold 0 of 3); its speed target — fit +
predict in under 60 s on the 2-core development machine — is measured here, not in the test.
Prints the seconds, their ratio to the 60 s target, the patient AUC, the fold's per-frame
Bayes ceiling and the pixel-statistics logistic regression on the same fold (with its time:
the baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _common import machine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "train"))

from conftest import tiny_arm  # noqa: E402  (the test's own arm)

from studykit.cohort import ingest, make_splits  # noqa: E402
from studykit.cohort.synth import synthesize  # noqa: E402
from studykit.train import configure_runtime, fit, predict  # noqa: E402
from studykit.train.aggregate import aggregate_patients, patient_auc  # noqa: E402
from studykit.train.baseline import baseline_predictions  # noqa: E402

PATIENTS, FOLDS, TEST_FOLD, TARGET_S = 120, 3, 0, 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_runtime(args.threads, True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        summary = synthesize(root / "raw", patients=PATIENTS, seed=3, frames=16, size=(64, 80))
        store = ingest(root / "raw", root / "store", size=64, margin=0.25)
        patients = store.index.groupby("patient_id", as_index=False)[["label", "subtype"]].first()
        splits = make_splits(patients, n_folds=FOLDS, seed=0, stratify_by=["subtype"])
        truth = pd.read_csv(summary.truth, dtype={"patient_id": str}).set_index("patient_id")
        fold, arm = splits.fold(TEST_FOLD), tiny_arm("muf_net", gradcam_images=0)
        start = time.perf_counter()
        result = fit(arm, store, fold, root / "unit")
        table = predict(arm, store, fold, result.best_checkpoint)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        baseline = baseline_predictions(store, splits, channels=(0, 1), margin=0.25)
        baseline_s = time.perf_counter() - start
    scored = aggregate_patients(table, arm.aggregation)
    ids = scored["patient_id"]
    y = truth.loc[ids, "label"].eq("malignant").to_numpy()
    lr = baseline[baseline["fold"] == TEST_FOLD]
    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"fit + predict, tiny MUF-Net, {arm.epochs} epochs: {seconds:.1f} s "
          f"(target {TARGET_S:.0f} s, ratio {seconds / TARGET_S:.2f})")
    print(f"patient AUC {patient_auc(scored['label'], scored['prob_malignant']):.3f}; "
          f"per-frame ceiling {patient_auc(y, truth.loc[ids, 'posterior_frame_both'].to_numpy()):.3f}; "
          f"pixel-statistics LR {patient_auc(lr['label'], lr['prob_malignant']):.3f} "
          f"({baseline_s:.1f} s for all {FOLDS} folds)")


if __name__ == "__main__":
    main()
