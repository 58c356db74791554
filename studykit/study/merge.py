"""The inputs of the analyses, from files: the validated cohort, merged predictions, reads.csv.

``predictions.csv`` is merged from the finished units' folders (with each unit's decision
threshold), ``reads.csv`` is built from the reader CSVs of the cohort's included patients
(validated reads plus each group's majority vote). Both are functions of files only, so
they are rebuilt identically by ``studykit report``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from studykit import readers
from studykit.cohort import Cohort, PairStore, load_cohort
from studykit.errors import DataError
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout
from studykit.vocab import (
    ARM,
    GROUP,
    IMAGE,
    PATIENT,
    PREDICTION_COLUMNS,
    READER,
    THRESHOLD_FIXED,
    atomic_write,
)

__all__ = [
    "arms_with_results",
    "build_reads",
    "merge_predictions",
    "previous_reads",
    "reader_rows",
    "study_cohort",
    "write_csv",
]


def study_cohort(protocol: StudyProtocol, cohort_dir: Path, store: PairStore | None = None) -> Cohort:
    """The validated :class:`~studykit.cohort.Cohort` of ``cohort_dir`` with the protocol's column roles."""
    c = protocol.columns
    return load_cohort(cohort_dir, id_column=c.id, label_column=c.label, positive=c.positive,
                       negative=c.negative, store=store)


def merge_predictions(protocol: StudyProtocol, layout: Layout) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """Every finished unit's predictions (arm order, then fold) and the units still missing."""
    frames, missing = [], []
    for arm in protocol.arm_specs:
        for k in range(protocol.design.folds):
            done = layout.unit_file(arm.name, k, "done")
            preds = layout.unit_file(arm.name, k, "predictions")
            threshold = _unit_threshold(protocol, layout, arm.name, k)
            if done.is_file() and preds.is_file() and threshold is not None:
                frame = pd.read_csv(preds, dtype={PATIENT: str, IMAGE: str})
                frames.append(frame.assign(threshold=threshold))
            else:
                missing.append((arm.name, k))
    if not frames:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS)), missing
    merged = pd.concat(frames, ignore_index=True)
    return merged.loc[:, list(PREDICTION_COLUMNS)], missing


def _unit_threshold(protocol: StudyProtocol, layout: Layout, arm: str, fold: int) -> float | None:
    """The unit's decision threshold: the protocol's fixed value, or the Youden threshold
    frozen from its inner-validation patients (None while that file is missing)."""
    if protocol.design.threshold == THRESHOLD_FIXED:
        return protocol.design.threshold_value
    path = layout.unit_file(arm, fold, "threshold")
    if not path.is_file():
        return None
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["value"])
    except (ValueError, KeyError, TypeError):  # not JSON, no "value", not a number
        raise DataError("is not a threshold record studykit wrote (truncated or edited).", file=str(path),
                        hint=f"delete it: the next `studykit run` chooses unit {arm} fold {fold}'s threshold "
                             "again from its inner-validation patients (nothing is retrained).") from None


def build_reads(protocol: StudyProtocol, cohort: Cohort) -> pd.DataFrame | None:
    """``reads.csv``: validated reads of the reader arms (of the cohort's included patients)
    plus each group's majority vote."""
    files = protocol.reader_paths(cohort.dir)
    if not files:
        return None
    r = protocol.readers
    reads = readers.read_reads(
        files,
        patients=cohort.included,
        positive=cohort.positive,
        negative=cohort.negative,
        groups=protocol.reader_groups,
        excluded=list(cohort.excluded),
        allow_missing=r.allow_missing,
        score_required=r.score_required,
    )
    return readers.reads_csv_frame(reads, readers.majority_votes(reads, tie=r.tie))


def previous_reads(layout: Layout) -> pd.DataFrame | None:
    """The run's last ``reads.csv`` (when the cohort's manifest is gone), or None."""
    if not layout.reads.is_file():
        return None
    return pd.read_csv(layout.reads, dtype={PATIENT: str, READER: str, GROUP: str})


def reader_rows(reads_csv: pd.DataFrame | None) -> pd.DataFrame | None:
    """The individual readers' rows of ``reads.csv`` (majority votes left out)."""
    if reads_csv is None:
        return None
    return reads_csv[reads_csv[readers.KIND] == readers.KIND_READER].reset_index(drop=True)


def arms_with_results(predictions: pd.DataFrame, reads_csv: pd.DataFrame | None) -> set[str]:
    """Arms with results: model arms in the predictions and reader groups in the reads."""
    groups = set() if reads_csv is None else set(reads_csv[GROUP].astype(str))
    return set(predictions[ARM].astype(str)) | groups


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as CSV with ``\\n`` line ends, written atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
