"""Patient-level aggregation of image probabilities, and the validation metrics of ``fit``.

The unit of analysis is the patient (DESIGN.md): a patient's image probabilities are
combined by a rule from :data:`studykit.vocab.AGGREGATIONS` — ``mean`` (default), ``median``,
``max`` or ``logit_mean`` (mean of the log-odds, mapped back: a geometric mean of the odds),
the same registry the analysis tables use, so a checkpoint is selected on the numbers the
tables report. The validation metrics used to select a checkpoint are computed here with small private
kernels, since the train layer does not import ``stats``: accuracy at a threshold and the
empirical AUC (Mann–Whitney, from mid-ranks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.vocab import AGGREGATIONS, LABEL, PATIENT, PROB, did_you_mean

__all__ = ["AGGREGATIONS", "aggregate_patients", "patient_accuracy", "patient_auc"]


def aggregate_patients(predictions: pd.DataFrame, rule: str = "mean", *,
                       by: tuple[str, ...] = ("arm", "fold")) -> pd.DataFrame:
    """One row per patient: the patient's label and aggregated malignancy probability.

    Parameters
    ----------
    predictions
        Image rows with ``patient_id, label, prob_malignant`` (e.g. from
        :func:`studykit.train.predict`), plus any of the ``by`` columns.
    rule
        A name in :data:`AGGREGATIONS`.
    by
        Grouping columns kept in the output when present (default arm and fold).

    Returns
    -------
    DataFrame
        ``*by, patient_id, label, prob_malignant, n_images, aggregation``, sorted by the
        keys. A patient's label is the one of its images (they must agree).

    Raises
    ------
    InputError
        An unknown rule (close matches listed), missing columns, or a patient whose
        images carry different labels.
    """
    aggregate = _rule(rule)
    missing = [c for c in (PATIENT, LABEL, PROB) if c not in predictions.columns]
    if missing:
        raise InputError(f"is missing column(s) {', '.join(missing)}.", field="predictions",
                         hint="pass the image-level predictions table (predictions.csv).")
    keys = [c for c in by if c in predictions.columns] + [PATIENT]
    grouped = predictions.groupby(keys, sort=True)
    labels = grouped[LABEL].agg(["min", "max"])
    mixed = labels.index[labels["min"] != labels["max"]]
    if len(mixed):
        ids = mixed.get_level_values(PATIENT)[:5]
        raise InputError(f"patient(s) {', '.join(map(str, ids))} have images with different labels.",
                         field="predictions", hint="labels are per patient; check the pair store's index.")
    out = pd.DataFrame({LABEL: labels["min"].astype(int),
                        PROB: grouped[PROB].agg(lambda s: aggregate(s.to_numpy(dtype=float))),
                        "n_images": grouped.size()}).reset_index()
    out["aggregation"] = rule
    return out


def _rule(rule: str) -> Callable[[Any], float]:
    if rule not in AGGREGATIONS:
        raise InputError(f"unknown aggregation rule {rule!r}.", field="aggregation",
                         hint=did_you_mean(rule, AGGREGATIONS, f"use one of {', '.join(AGGREGATIONS)}."))
    return AGGREGATIONS[rule]


def patient_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Empirical AUC (Mann–Whitney U / n₁n₀) from mid-ranks; NaN when a class is absent.

    ``AUC = (R₁ − n₁(n₁+1)/2) / (n₁ n₀)`` with ``R₁`` the rank sum of the positives, ties
    given mid-ranks (Hanley & McNeil 1982, doi:10.1148/radiology.143.1.7063747).
    """
    labels = np.asarray(labels).astype(bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def patient_accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Share of correct calls, calling malignant when ``score >= threshold``; NaN when empty."""
    labels = np.asarray(labels).astype(bool)
    if labels.size == 0:
        return float("nan")
    return float(np.mean((np.asarray(scores) >= threshold) == labels))
