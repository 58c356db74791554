"""The simple yardstick of the model arms: logistic regression on hand pixel statistics.

A deep arm's AUC means little alone: next to the Bayes ceiling of what its input shows
(``analysis.ceiling``) it needs a simple baseline trained on the same folds. This one
summarises each crop by a few intensity statistics that a radiologist's reading of a
lesion rests on, averages them over a patient's images, and fits an L2-penalised logistic
regression on the fold's training patients (training + inner validation), predicting its
test patients.

Features, per modality channel of an ``H × W`` uint8 crop (values scaled to [0, 1]), in
rings around the crop centre measured in units of the lesion radius R, which the crop's
``margin`` fixes (the annotator's box is the lesion's tight box enlarged 8 %, widened by
``margin`` of its size on each side: R = 0.5 / ((1 + 2·margin)·1.08) of the crop side):
*core* r < 0.5 R, *lesion* r < 0.9 R, *rim* 0.75 R ≤ r < 1.0 R, *surround* 1.15 R ≤ r < 1.6 R
(the cortex and fat the margin keeps; empty without margin, then the crop's outer 10 %):

``lesion_mean, lesion_sd, core_mean, rim_minus_core, lesion_minus_surround,
dark_fraction`` (lesion pixels below 0.15), ``lesion_p10, lesion_p90``.

Eight per channel and per phase: the statistics are averaged over a patient's frames of
each phase (cortical, medullary) separately, as enhancement and wash-out show in different
phases; 16 for a single-modality baseline, 32 for both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from studykit.cohort import PairStore, Splits

__all__ = ["FEATURE_NAMES", "baseline_predictions", "pixel_features"]

FEATURE_NAMES = ("lesion_mean", "lesion_sd", "core_mean", "rim_minus_core", "lesion_minus_surround",
                 "dark_fraction", "lesion_p10", "lesion_p90")
DARK = 0.15
_BATCH = 512


def _masks(height: int, width: int, margin: float) -> dict[str, np.ndarray]:
    """Boolean masks (H, W) of the core, lesion, rim and surround (see the module docstring)."""
    yy, xx = np.mgrid[:height, :width]
    radius = 0.5 / ((1.0 + 2.0 * margin) * 1.08)
    r = np.hypot((yy + 0.5) / height - 0.5, (xx + 0.5) / width - 0.5) / radius
    surround = (r >= 1.15) & (r < 1.6)
    if surround.sum() < 0.02 * height * width:  # no margin: the crop's outer tenth
        surround = r * radius >= 0.4
    return {"core": r < 0.5, "lesion": r < 0.9, "rim": (r >= 0.75) & (r < 1.0), "surround": surround}


def pixel_features(crops: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Hand features of crops ``(N, H, W)`` uint8 → ``(N, 8)`` float64 (``FEATURE_NAMES``)."""
    x = crops.astype(np.float64) / 255.0
    m = _masks(*x.shape[1:], margin)
    lesion = x[:, m["lesion"]]
    core, rim, surround = (x[:, m[k]].mean(axis=1) for k in ("core", "rim", "surround"))
    p10, p90 = np.percentile(lesion, [10, 90], axis=1)
    return np.stack([lesion.mean(axis=1), lesion.std(axis=1), core, rim - core,
                     lesion.mean(axis=1) - surround, (lesion < DARK).mean(axis=1), p10, p90], axis=1)


def _store_features(store: PairStore, channels: Sequence[int], margin: float) -> np.ndarray:
    """Features of every store row for the given channels, ``(N, 8·len(channels))``."""
    pairs = np.memmap(store.path / "pairs.u8", dtype=np.uint8, mode="r", shape=store.shape)
    out = []
    for start in range(0, len(store), _BATCH):
        block = np.asarray(pairs[start:start + _BATCH])
        out.append(np.concatenate([pixel_features(block[:, c], margin) for c in channels], axis=1))
    return np.concatenate(out, axis=0)


def baseline_predictions(store: PairStore, splits: Splits, *, channels: Sequence[int] = (0, 1),
                         margin: float = 0.0, arm: str = "pixel_stats_lr", c: float = 1.0) -> pd.DataFrame:
    """Patient-level test predictions of the baseline on every fold.

    Parameters
    ----------
    store
        The ROI pair store the deep arms train on.
    splits
        The study's frozen folds: the model is fitted on ``train + val`` patients of a fold
        and predicts its ``test`` patients (each patient is predicted once).
    channels
        Store channels: ``(0,)`` B-mode, ``(1,)`` CEUS, ``(0, 1)`` both.
    margin
        The crop margin the store was ingested with (``design.margin``): sets the rings.
    c
        Inverse L2 penalty of the logistic regression (scikit-learn's ``C``), on
        standardised features.

    Returns
    -------
    DataFrame with ``arm, fold, patient_id, label, prob_malignant`` (one row per patient).
    """
    index = store.index
    features = pd.DataFrame(_store_features(store, channels, margin))
    features["patient_id"] = index["patient_id"].astype(str).to_numpy()
    features["phase"] = index["phase"].astype(str).to_numpy()
    per_patient = features.groupby(["patient_id", "phase"]).mean().unstack("phase")
    per_patient = per_patient.fillna(per_patient.mean())  # a patient without frames of one phase
    labels = index.groupby(index["patient_id"].astype(str))["label"].first()
    frames = []
    for fold in splits.folds:
        fit_ids = [str(p) for p in (*fold.train, *fold.val)]
        test_ids = [str(p) for p in fold.test]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(per_patient.loc[fit_ids].to_numpy(), labels.loc[fit_ids].to_numpy())
        prob = model.predict_proba(per_patient.loc[test_ids].to_numpy())[:, 1]
        frames.append(pd.DataFrame({"arm": arm, "fold": fold.index, "patient_id": test_ids,
                                    "label": labels.loc[test_ids].to_numpy(), "prob_malignant": prob}))
    return pd.concat(frames, ignore_index=True)
