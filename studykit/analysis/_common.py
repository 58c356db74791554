"""Shared pieces of the analyses: output column names, input checks, arms on common patients.

Result columns come from :mod:`studykit.stats` (defined once there); the names of the input
tables' columns (``predictions.csv``, ``reads.csv``, the manifest) from :mod:`studykit.vocab`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.stats._validation import check_option as check_option  # shared by the analysis modules
from studykit.vocab import PATIENT

# --- output columns (beyond stats' result columns) ---------------------------------------
ARM_A, ARM_B, ARM_KIND = "arm_a", "arm_b", C.ARM_KIND
MODEL, READERS = C.KIND_MODEL, C.KIND_READERS


def listed(ids: Iterable[Any], show: int = 5) -> str:
    """The first ``show`` ids, comma-separated, with the count of the rest."""
    ids = [str(i) for i in ids]
    more = f" and {len(ids) - show} more" if len(ids) > show else ""
    return ", ".join(ids[:show]) + more


def binary_label(values: pd.Series, *, pos_label: Any, field: str) -> pd.Series:
    """Labels as 0/1 integers: 0/1 (or bool) as they are, else 1 where equal to ``pos_label``."""
    vals = values.dropna().unique()
    if values.isna().any():
        raise InputError(f"has {int(values.isna().sum())} missing label(s).", field=field,
                         hint="every patient needs its reference-standard label.")
    if set(pd.Series(vals).map(_plain)) <= {0, 1}:
        return values.astype(int)
    if pos_label is None or pos_label not in set(vals):
        raise InputError(f"holds labels {listed(sorted(map(str, vals)))} that are not 0/1 and the positive "
                         f"label {pos_label!r} is not among them.", field=field,
                         hint="set pos_label to the malignant label (e.g. 'malignant').")
    if len(vals) > 2:
        raise InputError(f"holds more than two labels: {listed(sorted(map(str, vals)))}.", field=field)
    return (values == pos_label).astype(int)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Arm:
    """One arm's patient-level data: ``patient_id, label, score, call`` (sorted by patient).

    ``kind`` is ``"model"`` or ``"readers"``; ``has_score`` says whether ``score`` is a real
    continuous rating (a model's probability, a panel's mean score) or only the call.
    """

    name: str
    kind: str
    data: pd.DataFrame
    has_score: bool
    threshold: float = float("nan")
    threshold_origin: str = ""


def common_patients(arms: Sequence[Arm], *, allow_missing: bool) -> tuple[list[Any], dict[str, int]]:
    """The patients every arm has (sorted) and each arm's own count; raises on gaps unless allowed."""
    sets = {arm.name: set(arm.data[PATIENT]) for arm in arms}
    union = set().union(*sets.values()) if sets else set()
    common = set.intersection(*sets.values()) if sets else set()
    if not allow_missing:
        for name, have in sets.items():
            lacking = union - have
            if lacking:
                raise InputError(f"arm '{name}' lacks {len(lacking)} patient(s) that other arms have: "
                                 f"{listed(sorted(lacking, key=str))}.", field="arms",
                                 hint="complete that arm, or set allow_missing=True to analyse only the "
                                      "patients every arm has.")
    if not common:
        raise InputError("the arms share no patient.", field="arms",
                         hint="check that predictions and reads use the same patient ids.")
    return sorted(common, key=str), {name: len(have) for name, have in sets.items()}


def restrict(arm: Arm, patients: Sequence[Any]) -> pd.DataFrame:
    """The arm's rows for ``patients``, in that order."""
    return arm.data.set_index(PATIENT).loc[list(patients)].reset_index()


def tag(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """``frame`` with constant identifying columns appended."""
    out = frame.copy()
    for key, value in columns.items():
        out[key] = value
    return out


def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Row-bind result frames (an empty frame when there are none)."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=[*C.LEADING, C.METHOD, C.N, C.CI_LEVEL])
    return pd.concat(frames, ignore_index=True, sort=False)


_FIRST = (*C.LEADING, C.P_ADJUSTED, C.STATISTIC, C.DF, C.SE, C.METHOD, C.N, C.CI_LEVEL)


def order_columns(frame: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """Result columns first (``estimate … ci_level``), then ``ids``, then the rest as they come."""
    first = [c for c in _FIRST if c in frame.columns] + [c for c in ids if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]].reset_index(drop=True)
