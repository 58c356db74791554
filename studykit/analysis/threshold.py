"""Decision thresholds chosen on the inner-validation patients (never on the test fold).

DESIGN.md: model selection and thresholds use an inner validation split of the training
patients; the test fold is touched once. The Youden threshold maximises sensitivity +
specificity − 1 of the patient-level (aggregated) probabilities of the validation patients,
with the rule ``probability >= threshold`` that the analyses apply (pROC's midpoints; ties
→ the most specific; Youden 1950, doi:10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3).
"""

from __future__ import annotations

import math
import warnings

import pandas as pd

from studykit import stats
from studykit.analysis.aggregate import aggregate_patients

__all__ = ["youden_on_validation"]


def youden_on_validation(predictions: pd.DataFrame, *, rule: str = "mean",
                         fallback: float = 0.5) -> tuple[float, str]:
    """Youden-optimal threshold of one (arm, fold)'s validation-patient predictions.

    Parameters
    ----------
    predictions : DataFrame
        ``predictions.csv`` rows (arm, fold, patient_id, image_id, label, prob_malignant,
        threshold, …) for the inner-validation images of one unit.
    rule : str
        Patient aggregation rule (mean, median, max, logit_mean), as in the analyses.
    fallback : float
        Returned when the validation patients leave the threshold undefined (one class
        only, or no threshold better than calling everyone alike).

    Returns
    -------
    (threshold, origin) — the threshold in probability units and a sentence saying where it
    came from (reported in Table 3's ``threshold_origin``).
    """
    patients = aggregate_patients(predictions, rule=rule)
    n = len(patients)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.UndefinedStatisticWarning)
        value = stats.youden_threshold(patients["label"], patients["prob_malignant"])
    if not math.isfinite(value):
        return fallback, f"{fallback:g} (Youden undefined on {n} inner-validation patients)"
    return float(value), f"Youden on {n} inner-validation patients"
