"""Where in time a sequence arm looks: its per-frame attention weights against time since injection.

A ``sequence`` arm (:mod:`studykit.train.sequence`) pools a patient's frames with attention
weights that sum to 1 over the patient's frames; each unit writes them to ``attention.csv``
(``patient_id, image_id, time_s, frame_weight``). :func:`attention_over_time` summarises them
per class on a time grid, the sequence arm's explanation in place of Grad-CAM.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studykit import stats
from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.vocab import GROUP, LABEL, PATIENT, require_table_columns

__all__ = ["ATTENTION_SUMMARY", "attention_over_time"]

#: Columns of :func:`attention_over_time`'s table.
ATTENTION_SUMMARY = (GROUP, "time_s", C.N, C.MEAN, C.SD, C.CI_LOW, C.CI_HIGH, C.CI_LEVEL)


def attention_over_time(attention: pd.DataFrame, labels: pd.DataFrame, *, bin_s: float = 10.0,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Mean relative attention per class in bins of time since injection, with its interval.

    Parameters
    ----------
    attention : DataFrame
        ``patient_id, time_s, frame_weight`` (the units' ``attention.csv`` stacked; each patient
        is a test patient of one fold). Rows without a time are left out.
    labels : DataFrame
        ``patient_id, label`` (0/1); the groups are its ``label`` values.
    bin_s : bin width, s; bin *j* holds the times in ``[j·bin_s, (j + 1)·bin_s)`` and is reported
        at its centre.
    confidence : level of the interval of the mean.

    Returns
    -------
    DataFrame
        ``group, time_s, n, mean, sd, ci_low, ci_high, ci_level``: groups sorted, times ascending.

    Notes
    -----
    A frame's *relative* weight is its weight times the number of frames the arm pooled for that
    patient (those in ``attention``, timed or not): 1 means uniform attention, 2 twice the
    uniform share. Each patient's relative weights are averaged within a bin, then the patients
    of a class averaged per bin (``n`` of them): mean, SD (ddof = 1) and the Student-t interval
    ``mean ± t(1 − α/2; n − 1)·sd/√n`` (:func:`studykit.stats.mean_interval`; NaN where n < 2),
    pointwise.
    """
    require_table_columns(attention, "attention", [PATIENT, "time_s", "frame_weight"])
    require_table_columns(labels, "labels", [PATIENT, LABEL])
    if not (isinstance(bin_s, (int, float)) and np.isfinite(bin_s) and bin_s > 0):
        raise InputError(f"must be a positive number of seconds; got {bin_s!r}.", field="bin_s",
                         hint="pass bin_s=10.0, for example.")
    frames = attention[[PATIENT, "time_s", "frame_weight"]].copy()
    frames[PATIENT] = frames[PATIENT].astype(str)
    pooled = frames.groupby(PATIENT)[PATIENT].transform("size")  # frames the arm pooled per patient
    frames["relative"] = frames["frame_weight"].astype(float) * pooled
    frames = frames[np.isfinite(frames["time_s"].astype(float))]
    by_patient = labels.assign(**{PATIENT: labels[PATIENT].astype(str)}).drop_duplicates(PATIENT)
    frames = frames.merge(by_patient[[PATIENT, LABEL]], on=PATIENT, how="inner")
    if frames.empty:
        return pd.DataFrame(columns=list(ATTENTION_SUMMARY))
    frames["time_s"] = (np.floor(frames["time_s"].astype(float) / bin_s) + 0.5) * bin_s
    per_patient = frames.groupby([LABEL, "time_s", PATIENT])["relative"].mean().reset_index()
    table = (per_patient.groupby([LABEL, "time_s"])["relative"].agg(n="count", mean="mean", sd="std")
             .reset_index().rename(columns={LABEL: GROUP}))
    low, high = stats.mean_interval(table[C.MEAN], table[C.SD], table[C.N], confidence=confidence)
    table[C.CI_LOW], table[C.CI_HIGH], table[C.CI_LEVEL] = low, high, confidence
    table[C.SD] = table[C.SD].where(table[C.N] >= 2)
    return table.sort_values([GROUP, "time_s"], ignore_index=True)[list(ATTENTION_SUMMARY)]
