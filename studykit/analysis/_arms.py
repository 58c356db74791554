"""Arms at patient level: model arms from predictions, reader groups from reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import MODEL, READERS, Arm, binary_label, listed
from studykit.analysis.aggregate import aggregate_patients
from studykit.errors import InputError
from studykit.vocab import (
    ARM,
    CALL,
    GROUP,
    LABEL,
    PATIENT,
    PROB,
    READER,
    REQUIRED_READ_COLUMNS,
    SCORE,
    THRESHOLD,
    require_columns,
)


def check_reads(reads: pd.DataFrame | None) -> pd.DataFrame | None:
    """The validated long reads with call as int and score as float (NaN when absent)."""
    if reads is None or len(reads) == 0:
        return None
    require_columns(reads, REQUIRED_READ_COLUMNS, table="reads")
    out = reads.copy()
    calls = pd.to_numeric(out[CALL], errors="coerce")
    if not calls.isin([0, 1]).all():
        bad = listed(out.loc[~calls.isin([0, 1]), CALL].unique())
        raise InputError(f"must be 0/1 (1 = malignant); got {bad}.", field="reads.call",
                         hint="validate the reads with studykit.readers first.")
    out[CALL] = calls.astype(int)
    out[SCORE] = pd.to_numeric(out[SCORE], errors="coerce") if SCORE in out.columns else np.nan
    return out


def patient_labels(predictions: pd.DataFrame, manifest: pd.DataFrame | None, *,
                   pos_label: Any = "malignant") -> pd.Series:
    """patient_id → label (0/1) from predictions, checked against the manifest when given."""
    labels = predictions.drop_duplicates(PATIENT).set_index(PATIENT)[LABEL].astype(int)
    if manifest is None:
        return labels
    require_columns(manifest, (PATIENT, LABEL), table="manifest")
    truth = binary_label(manifest.set_index(PATIENT)[LABEL], pos_label=pos_label, field="manifest.label")
    unknown = labels.index.difference(truth.index)
    if len(unknown):
        raise InputError(f"has {len(unknown)} patient(s) absent from the manifest: {listed(unknown)}.",
                         field="predictions.patient_id",
                         hint="predictions and manifest must come from one cohort.")
    differ = labels[labels != truth.reindex(labels.index)]
    if len(differ):
        raise InputError(f"disagrees with the manifest's label for {len(differ)} patient(s): "
                         f"{listed(differ.index)}.", field="predictions.label",
                         hint="re-run the arms on the current manifest.")
    return labels


def threshold_origin(arm: str, thresholds: np.ndarray, origin: str | Mapping[str, str] | None) -> str:
    """The text of the threshold column: given, or inferred from the thresholds' values."""
    if isinstance(origin, Mapping) and arm in origin:
        return str(origin[arm])
    if isinstance(origin, str):
        return origin
    values = np.unique(thresholds)
    if values.size == 1:
        return f"{values[0]:g} (default)" if values[0] == 0.5 else f"{values[0]:g} (from predictions)"
    return f"per fold, {values.min():g}–{values.max():g} (from predictions)"


def model_arms(predictions: pd.DataFrame, *, rule: str,
               origin: str | Mapping[str, str] | None = None) -> list[Arm]:
    """One :class:`Arm` per distinct ``arm`` of predictions, at patient level."""
    patients = aggregate_patients(predictions, rule=rule)
    arms = []
    for name, rows in patients.groupby(ARM, sort=False):
        data = rows.rename(columns={PROB: SCORE})[[PATIENT, LABEL, SCORE, CALL, THRESHOLD, "fold"]]
        values = rows[THRESHOLD].to_numpy()
        single = float(values[0]) if np.unique(values).size == 1 else float("nan")
        arms.append(Arm(str(name), MODEL, data.reset_index(drop=True), True, single,
                        threshold_origin(str(name), values, origin)))
    return arms


def reader_arms(reads: pd.DataFrame | None, labels: pd.Series, *, tie: str = "error") -> list[Arm]:
    """One :class:`Arm` per reader group: majority-vote call, panel mean score when scores exist.

    Reads of patients without a label (not in predictions) are dropped.
    """
    if reads is None:
        return []
    arms = []
    for group, rows in reads.groupby(GROUP, sort=True):
        rows = rows[rows[PATIENT].isin(labels.index)]
        if rows.empty:
            continue
        vote = stats.majority_vote(rows, PATIENT, READER, CALL, tie=tie)
        has_score = bool(rows[SCORE].notna().all())
        panel = rows.groupby(PATIENT, sort=False)[SCORE].mean()
        data = pd.DataFrame({PATIENT: vote[PATIENT], LABEL: labels.reindex(vote[PATIENT]).to_numpy(),
                             CALL: vote[CALL].to_numpy()})
        data[SCORE] = panel.reindex(data[PATIENT]).to_numpy() if has_score else data[CALL].astype(float)
        data = data.sort_values(PATIENT, key=lambda s: s.astype(str), kind="stable").reset_index(drop=True)
        arms.append(Arm(str(group), READERS, data, has_score, float("nan"), f"majority vote (tie: {tie})"))
    return arms
