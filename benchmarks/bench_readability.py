"""How much of a cohort's per-frame evidence the pixels let a reader recover (issue 9 diagnosis).

    python benchmarks/bench_readability.py [--seed 0] [--size 176,208] [--nets ceus_net,muf_net]
                                           [--threads 2] [--work DIR]

For one synthetic cohort (the demo's design: 181 patients, 16 frames, 64-px crops with margin
0.25, the demo's five folds) it prints, patient level and pooled over the five test folds:

- ``ceiling_*``: AUC of the exact per-frame Bayes posterior (``truth.csv``, static latents);
- ``latent_lr_*``: logistic regression on the exact static latents (what a linear read-out of
  perfect features reaches with ~145 training patients);
- ``pixel_lr_*``: the arms' yardstick (:func:`studykit.train.baseline.baseline_predictions`:
  hand pixel statistics averaged per patient and phase, so cortical and medullary statistics
  sit side by side);
- ``frame_lr_*``: the same statistics read one frame at a time — logistic regression fitted on
  frames with their patient's label, patient score = mean frame probability, as a per-frame arm
  is trained and aggregated; ``frame_lr_phase_*`` adds the frame's phase and its interaction
  with every statistic (a per-frame reader that knows the phase);
- optionally the tiny nets of ``models/tiny`` (``--nets``), trained and predicted on the same
  folds.

The gap ``pixel_lr − frame_lr`` is what reading frames one at a time costs a linear reader.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from studykit.cohort import PairStore, Splits, ingest, make_splits
from studykit.cohort.synth import synthesize
from studykit.cohort.synth.model import FEATURE_NAMES, TEMPORAL, SynthParams, liabilities_from_features
from studykit.protocol.arms import load_arm
from studykit.train import configure_runtime, fit, predict
from studykit.train.aggregate import aggregate_patients, patient_auc
from studykit.train.baseline import _store_features, baseline_predictions

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = {"bmode": (0,), "ceus": (1,), "both": (0, 1)}
STATIC = {"bmode": [k for k in range(4)], "ceus": [k for k in range(4, 10) if k not in TEMPORAL]}
STATIC["both"] = STATIC["bmode"] + STATIC["ceus"]


def _lr() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


def latent_lr(truth: pd.DataFrame, splits: Splits, modality: str) -> float:
    """Pooled test AUC of logistic regression on the exact static liabilities of a block."""
    z = liabilities_from_features(truth[list(FEATURE_NAMES)].to_numpy(float), SynthParams())
    z = pd.DataFrame(z[:, STATIC[modality]], index=truth.index)
    y = truth["label"].eq("malignant")
    scores, labels = [], []
    for fold in splits.folds:
        fit_ids, test_ids = [str(p) for p in (*fold.train, *fold.val)], [str(p) for p in fold.test]
        model = _lr().fit(z.loc[fit_ids], y.loc[fit_ids])
        scores.append(model.predict_proba(z.loc[test_ids])[:, 1])
        labels.append(y.loc[test_ids].to_numpy())
    return patient_auc(np.concatenate(labels), np.concatenate(scores))


def frame_lr(store: PairStore, splits: Splits, modality: str, margin: float, *, phase: bool) -> float:
    """Pooled test AUC of a per-frame logistic regression on the pixel statistics (mean frame
    probability per patient); ``phase`` adds the medullary indicator and its interactions."""
    index = store.index
    x = _store_features(store, CHANNELS[modality], margin)
    if phase:
        medullary = (index["phase"].astype(str).to_numpy() == "medullary").astype(float)[:, None]
        x = np.c_[x, x * medullary, medullary]
    pid, y = index["patient_id"].astype(str).to_numpy(), index["label"].to_numpy()
    scores, labels = [], []
    for fold in splits.folds:
        train = np.isin(pid, [str(p) for p in (*fold.train, *fold.val)])
        test = np.isin(pid, [str(p) for p in fold.test])
        prob = _lr().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        per_patient = pd.DataFrame({"p": pid[test], "prob": prob, "y": y[test]}).groupby("p").mean()
        scores.append(per_patient["prob"].to_numpy())
        labels.append(per_patient["y"].to_numpy())
    return patient_auc(np.concatenate(labels), np.concatenate(scores))


def net_auc(name: str, store: PairStore, splits: Splits, work: Path) -> tuple[float, float]:
    """Pooled patient AUC of a ``models/tiny`` arm over the folds, and its seconds."""
    arm = load_arm(ROOT / "models" / "tiny" / f"{name}.yaml", device="cpu", gradcam_images=0)
    start, rows = time.perf_counter(), []
    for fold in splits.folds:
        result = fit(arm, store, fold, work / f"{name}-{fold.index}")
        rows.append(aggregate_patients(predict(arm, store, fold, result.best_checkpoint), arm.aggregation))
    table = pd.concat(rows)
    auc = patient_auc(table["label"].to_numpy(), table["prob_malignant"].to_numpy())
    return auc, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="176,208", help="panel height,width in pixels")
    parser.add_argument("--nets", default="", help="comma-separated models/tiny arms, e.g. ceus_net")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep the cohort and store here")
    args = parser.parse_args()
    configure_runtime(args.threads, True)
    size = tuple(int(v) for v in args.size.split(","))
    margin = 0.25
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        start = time.perf_counter()
        summary = synthesize(work / "raw", patients=181, seed=args.seed, frames=16, size=size)
        synth_s = time.perf_counter() - start
        store = ingest(work / "raw", work / "store", size=64, margin=margin)
        patients = store.index.groupby("patient_id", as_index=False)[["label", "subtype"]].first()
        splits = make_splits(patients, n_folds=5, seed=0, stratify_by=["subtype"])
        truth = pd.read_csv(summary.truth, dtype={"patient_id": str}).set_index("patient_id")
        ids = patients["patient_id"].astype(str)
        y = truth.loc[ids, "label"].eq("malignant").to_numpy()
        out: dict[str, object] = {"seed": args.seed, "size": args.size, "synth_s": round(synth_s, 1)}
        for m in CHANNELS:
            out[f"ceiling_{m}"] = patient_auc(y, truth.loc[ids, f"posterior_frame_{m}"].to_numpy())
            out[f"latent_lr_{m}"] = latent_lr(truth, splits, m)
            table = baseline_predictions(store, splits, channels=CHANNELS[m], margin=margin)
            out[f"pixel_lr_{m}"] = patient_auc(table["label"].to_numpy(), table["prob_malignant"].to_numpy())
            out[f"frame_lr_{m}"] = frame_lr(store, splits, m, margin, phase=False)
            out[f"frame_lr_phase_{m}"] = frame_lr(store, splits, m, margin, phase=True)
        for name in filter(None, args.nets.split(",")):
            out[name], seconds = net_auc(name, store, splits, work / "units")
            out[f"{name}_s"] = round(seconds, 1)
    print(f"# {machine()}, torch threads {args.threads}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
