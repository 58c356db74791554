"""Image → patient aggregation of predicted probabilities, and the checks on ``predictions.csv``.

The primary unit of analysis is the patient (DESIGN.md): each (arm, fold, patient)'s image
probabilities are combined by one rule of the :data:`~studykit.vocab.AGGREGATIONS` registry
(the one the train layer selects checkpoints with). The patient
inherits the label and the fold (every patient is in exactly one test fold per arm) and the
fold's decision threshold, which applies to the aggregate.

References
----------
Obuchowski NA (1997). Nonparametric analysis of clustered ROC curve data. Biometrics
53:567–578. doi:10.2307/2533958 (why images of one patient are not independent).
"""

from __future__ import annotations

import pandas as pd

from studykit.analysis._common import check_option, listed
from studykit.errors import InputError
from studykit.vocab import (
    AGGREGATIONS,
    ARM,
    FOLD,
    IMAGE,
    LABEL,
    PATIENT,
    PROB,
    REQUIRED_PREDICTION_COLUMNS,
    THRESHOLD,
    W_BMODE,
    W_CEUS,
    require_columns,
)

__all__ = ["AGGREGATIONS", "aggregate_patients", "check_predictions", "list_aggregations"]

N_IMAGES = "n_images"


def list_aggregations() -> list[str]:
    """Names of the registered aggregation rules."""
    return list(AGGREGATIONS)


def check_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Validate ``predictions.csv`` rows; return a copy with label as int.

    Checks: the columns of DESIGN.md; ``label`` 0/1; ``prob_malignant`` and ``threshold``
    finite in [0, 1]; one label per patient; each patient in one fold per arm; one threshold per
    (arm, fold); no duplicate (arm, image_id). An empty ``image_id`` marks a patient-level arm's
    row (a perfusion arm): one per (arm, patient).

    Raises
    ------
    InputError
        Naming the column and the offending ids.
    """
    require_columns(predictions, REQUIRED_PREDICTION_COLUMNS, table="predictions")
    if len(predictions) == 0:
        raise InputError("has no rows.", field="predictions", hint="run the model arms first.")
    out = predictions.copy()
    labels = pd.to_numeric(out[LABEL], errors="coerce")
    if not labels.isin([0, 1]).all():
        bad = out.loc[~labels.isin([0, 1]), LABEL].unique()
        raise InputError(f"must be 0/1 (1 = malignant); got {listed(bad)}.", field="predictions.label")
    out[LABEL] = labels.astype(int)
    for name in (PROB, THRESHOLD):
        values = pd.to_numeric(out[name], errors="coerce")
        if not (values.between(0, 1)).all():
            raise InputError(f"must be numbers in [0, 1]; {int((~values.between(0, 1)).sum())} row(s) are "
                             "not.", field=f"predictions.{name}")
        out[name] = values.astype(float)
    _check_unique(out, [PATIENT], LABEL, "a patient has two labels")
    _check_unique(out, [ARM, PATIENT], FOLD, "a patient is in two test folds of one arm")
    _check_unique(out, [ARM, FOLD], THRESHOLD, "one (arm, fold) has two thresholds")
    dup = out[IMAGE].notna() & out.duplicated([ARM, IMAGE])
    dup |= out[IMAGE].isna() & out.duplicated([ARM, PATIENT, IMAGE])  # a patient-level arm: one row each
    if dup.any():
        raise InputError(f"has {int(dup.sum())} duplicate (arm, image_id) row(s), e.g. "
                         f"{listed(out.loc[dup, IMAGE].unique())}.", field="predictions.image_id")
    return out


def _check_unique(frame: pd.DataFrame, keys: list[str], column: str, what: str) -> None:
    counts = frame.groupby(keys, sort=False)[column].nunique()
    bad = counts[counts > 1]
    if len(bad):
        raise InputError(f"{what}: {listed(bad.index.tolist())}.", field=f"predictions.{column}",
                         hint="predictions.csv must come from one consistent run.")


def aggregate_patients(predictions: pd.DataFrame, *, rule: str = "mean") -> pd.DataFrame:
    """Patient-level probabilities: one row per (arm, patient).

    Parameters
    ----------
    predictions : DataFrame
        ``predictions.csv`` (one row per test image per arm and fold).
    rule : {"mean", "median", "max", "logit_mean"}
        How a patient's image probabilities are combined (:data:`AGGREGATIONS`).

    Returns
    -------
    DataFrame with columns ``arm, fold, patient_id, label, prob_malignant`` (the aggregate),
    ``threshold`` (the fold's), ``call`` (aggregate ≥ threshold), ``n_images``, and the mean
    ``w_bmode, w_ceus`` when present; sorted by arm then patient.

    Examples
    --------
    >>> p = pd.DataFrame({"arm": "a", "fold": 0, "patient_id": ["p1", "p1", "p2"], "image_id": [1, 2, 3],
    ...                   "label": [1, 1, 0], "prob_malignant": [0.2, 0.8, 0.4], "threshold": 0.5})
    >>> aggregate_patients(p)[["patient_id", "prob_malignant", "call"]].values.tolist()
    [['p1', 0.5, 1], ['p2', 0.4, 0]]
    """
    rule = check_option("aggregation", rule, AGGREGATIONS)
    preds = check_predictions(predictions)
    fn = AGGREGATIONS[rule]
    keys = [ARM, FOLD, PATIENT, LABEL, THRESHOLD]
    grouped = preds.groupby(keys, sort=False, dropna=False)
    out = grouped[PROB].agg(lambda s: fn(s.to_numpy(dtype=float))).reset_index()
    out[N_IMAGES] = grouped[PROB].size().to_numpy()
    for w in (W_BMODE, W_CEUS):
        if w in preds.columns:
            out[w] = grouped[w].mean().to_numpy()
    out["call"] = (out[PROB] >= out[THRESHOLD]).astype(int)
    out = out.sort_values([ARM, PATIENT], key=lambda s: s.astype(str), kind="stable")
    return out.reset_index(drop=True)
