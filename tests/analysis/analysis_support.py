"""Hand-made study: 10 patients (p0–p4 malignant, p5–p9 benign), 2 images each, two model arms
(A, B) and one reader group of three (junior). Every Table 3 number is computable by hand:

arm A patient means  .8 .7 .4 .5 .9 | .2 .6 .3 .4 .1  → calls at 0.5: TP 4 FN 1 (p2) FP 1 (p6) TN 4
arm B patient means  .6 .55 .7 .3 .8 | .45 .2 .65 .1 .35 → TP 4 FN 1 (p3) FP 1 (p7) TN 4
junior majority vote  1 1 1 0 1 | 0 1 0 0 0            → TP 4 FN 1 (p3) FP 1 (p6) TN 4
Folds: 0 = {p0, p1, p2, p5, p7, p8}, 1 = {p3, p4, p6, p9}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

PATIENTS = [f"p{i}" for i in range(10)]
LABELS = [1] * 5 + [0] * 5
FOLD = {p: (1 if p in ("p3", "p4", "p6", "p9") else 0) for p in PATIENTS}
IMAGES = {
    "A": [(.9, .7), (.8, .6), (.6, .2), (.55, .45), (.95, .85), (.1, .3), (.5, .7), (.35, .25), (.4, .4),
          (.05, .15)],
    "B": [(.6, .6), (.5, .6), (.7, .7), (.2, .4), (.8, .8), (.4, .5), (.2, .2), (.6, .7), (.1, .1), (.3, .4)],
}
MAJORITY = [1, 1, 1, 0, 1, 0, 1, 0, 0, 0]


def hand_predictions() -> pd.DataFrame:
    rows = []
    for arm, probs in IMAGES.items():
        for patient, label, pair in zip(PATIENTS, LABELS, probs):
            for k, prob in enumerate(pair):
                rows.append({"arm": arm, "fold": FOLD[patient], "patient_id": patient,
                             "image_id": f"{patient}_{k}", "label": label, "prob_malignant": prob,
                             "w_bmode": np.nan, "w_ceus": np.nan, "threshold": 0.5})
    return pd.DataFrame(rows)


def hand_reads(*, scores: bool = True) -> pd.DataFrame:
    flips = {"r1": (), "r2": ("p0", "p5"), "r3": ("p1", "p9")}
    rows = []
    for reader, flipped in flips.items():
        for i, (patient, call) in enumerate(zip(PATIENTS, MAJORITY)):
            call = 1 - call if patient in flipped else call
            score = 2 + 2 * call + (i + int(reader[1])) % 2 if scores else np.nan
            rows.append({"reader_id": reader, "group": "junior", "patient_id": patient, "call": call,
                         "score": score})
    return pd.DataFrame(rows)


def hand_manifest() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [*PATIENTS, "p10"],
        "label": ["malignant" if y else "benign" for y in LABELS] + ["benign"],
        "subtype": ["ccRCC", "ccRCC", "pRCC", "chRCC", "ccRCC", "typical", "atypical", "typical", "typical",
                    "atypical", "typical"],
        "age": [61, 58, 70, 55, 66, 48, 52, 45, 50, 47, 60],
        "sex": ["M", "M", "F", "M", "F", "F", "M", "F", "F", "M", "M"],
        "excluded_reason": [np.nan] * 10 + ["poor image quality"],
    })


def clustered_study(n_patients: int = 40, n_images: int = 6, seed: int = 3) -> pd.DataFrame:
    """Image predictions with a strong patient effect (images of one patient alike)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_patients):
        label = i % 2
        effect = rng.normal(0.8 * label, 1.0)
        for k in range(n_images):
            prob = 1 / (1 + np.exp(-(effect + rng.normal(0, 0.3))))
            rows.append({"arm": "M", "fold": i % 4, "patient_id": f"q{i:02d}", "image_id": f"q{i:02d}_{k}",
                         "label": label, "prob_malignant": prob, "w_bmode": np.nan, "w_ceus": np.nan,
                         "threshold": 0.5})
    return pd.DataFrame(rows)


@pytest.fixture
def predictions() -> pd.DataFrame:
    return hand_predictions()


@pytest.fixture
def reads() -> pd.DataFrame:
    return hand_reads()


@pytest.fixture
def manifest() -> pd.DataFrame:
    return hand_manifest()
