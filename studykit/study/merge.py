"""The inputs of the analyses, from files: the validated cohort, merged predictions, reads.csv.

``predictions.csv`` is merged from the finished units' folders (with each unit's decision
threshold), ``reads.csv`` is built from the reader CSVs of the cohort's included patients
(validated reads plus each group's majority vote). Both are functions of files only, so
they are rebuilt identically by ``studykit report``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from studykit import readers
from studykit.cohort import Cohort, PairStore, Splits, load_cohort
from studykit.cohort.synth import synthesize
from studykit.errors import DataError, StudyError
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout
from studykit.train import read_done
from studykit.train.data import store_rows
from studykit.vocab import (
    ARM,
    FOLD,
    GROUP,
    IMAGE,
    LABEL,
    PATIENT,
    PREDICTION_COLUMNS,
    PROB,
    READER,
    REQUIRED_PREDICTION_COLUMNS,
    THRESHOLD,
    THRESHOLD_FIXED,
    Progress,
    atomic_write,
)

__all__ = [
    "arms_with_results",
    "build_reads",
    "check_unit_records",
    "frozen_splits",
    "merge_predictions",
    "prepare_cohort",
    "previous_reads",
    "read_unit_predictions",
    "reader_rows",
    "study_cohort",
    "write_csv",
]


def prepare_cohort(protocol: StudyProtocol, layout: Layout, progress: Progress | None = None) -> Path:
    """The raw cohort folder: the protocol's ``dir``, or the synthetic cohort (generated once
    into ``layout.raw_cohort`` and reused while its settings match)."""
    if protocol.cohort.dir is not None:
        return Path(protocol.cohort.dir)
    spec = protocol.cohort.synthetic
    out = layout.raw_cohort
    synthesize(
        out,
        patients=spec.patients,
        seed=spec.seed,
        frames=spec.frames,
        size=None if spec.size is None else tuple(spec.size),
        tiny=spec.tiny,
        syntax=spec.syntax,
        progress=progress,
        **spec.params,
    )
    return out


def study_cohort(protocol: StudyProtocol, cohort_dir: Path, store: PairStore | None = None) -> Cohort:
    """The validated :class:`~studykit.cohort.Cohort` of ``cohort_dir`` with the protocol's column roles."""
    c = protocol.columns
    return load_cohort(cohort_dir, id_column=c.id, label_column=c.label, positive=c.positive,
                       negative=c.negative, store=store)


def check_unit_records(protocol: StudyProtocol, layout: Layout, arm: str, fold: int,
                       splits: Splits | None) -> None:
    """Read back what a unit has finished (``done.json``, ``threshold.json``, and with both the
    test ``predictions.csv`` against the frozen ``splits``, :func:`frozen_splits`): a damaged
    record raises its named :class:`DataError` now, before a run writes anything, instead of
    after other units trained."""
    done = read_done(layout.unit_file(arm, fold, "done"))
    threshold = _unit_threshold(protocol, layout, arm, fold)
    preds = layout.unit_file(arm, fold, "predictions")
    if done is not None and threshold is not None and preds.is_file():
        per_image = next(not a.predicts_patients for a in protocol.arm_specs if a.name == arm)
        read_unit_predictions(preds, arm, fold, expected=_expected_images(None, splits, fold),
                              per_image=per_image)


def merge_predictions(protocol: StudyProtocol, layout: Layout, store: PairStore | None = None
                      ) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """Every finished unit's predictions (arm order, then fold) and the units still missing.

    Each unit's ``predictions.csv`` is checked before it is merged
    (:func:`read_unit_predictions`: against the frozen splits and, when ``store`` is given,
    the store's images of the fold's test patients); a damaged one raises, naming it.
    """
    splits = frozen_splits(layout)
    frames, missing = [], []
    for arm in protocol.arm_specs:
        for k in range(protocol.design.folds):
            preds = layout.unit_file(arm.name, k, "predictions")
            if layout.unit_complete(arm.name, k, protocol.design.threshold):
                threshold = _unit_threshold(protocol, layout, arm.name, k)
                per_image = not arm.predicts_patients  # sequence, perfusion: patients (image_id empty)
                expected = _expected_images(store if per_image else None, splits, k)
                frame = read_unit_predictions(preds, arm.name, k, expected=expected, per_image=per_image)
                frames.append(frame.assign(threshold=threshold))
            else:
                missing.append((arm.name, k))
    if not frames:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS)), missing
    merged = pd.concat(frames, ignore_index=True)
    return merged.loc[:, list(PREDICTION_COLUMNS)], missing


def frozen_splits(layout: Layout) -> Splits | None:
    """The run's frozen splits (``cohort/splits.json``), or None when it is gone."""
    if not layout.splits.is_file():
        return None
    return Splits.from_json(layout.splits.read_text(encoding="utf-8"), file=str(layout.splits))


def _expected_images(store: PairStore | None, splits: Splits | None, fold: int) -> pd.DataFrame | None:
    """``patient_id, image_id`` a unit of ``fold`` predicts: the store's images of the fold's
    test patients (:func:`studykit.train.predict`); only the patients when the store is gone;
    None without splits."""
    if splits is None or not 0 <= fold < len(splits.folds):
        return None
    test = [str(p) for p in splits.fold(fold).test]
    if store is None:
        return pd.DataFrame({PATIENT: test, IMAGE: None})
    rows = store_rows(store, test, split="test")
    return store.index.iloc[rows][[PATIENT, IMAGE]].astype(str).reset_index(drop=True)


def read_unit_predictions(path: Path, arm: str, fold: int, *, expected: pd.DataFrame | None = None,
                          per_image: bool = True) -> pd.DataFrame:
    """A unit's ``predictions.csv``, checked to be whole before it is merged.

    Checks: it parses, has :data:`~studykit.vocab.REQUIRED_PREDICTION_COLUMNS` (less the
    merged ``threshold``), every row is this unit's (``arm``, ``fold``), labels are 0/1,
    probabilities finite in [0, 1], and — given ``expected`` (``patient_id`` and
    ``image_id``, the latter None when the store is gone) — it holds exactly those patients
    and images, once each. A truncated or edited file raises :class:`DataError` naming it,
    what is wrong and how to predict the unit again (its checkpoint is kept). ``per_image=False``
    (a perfusion arm): one row per patient, ``image_id`` empty.
    """
    try:
        frame = pd.read_csv(path, dtype={PATIENT: str, IMAGE: str, ARM: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _damaged(path, arm, fold, f"it cannot be read as CSV ({reason})") from None
    problem = _prediction_problem(frame, arm, fold, expected, per_image)
    if problem:
        raise _damaged(path, arm, fold, problem)
    return frame


def _prediction_problem(frame: pd.DataFrame, arm: str, fold: int,
                        expected: pd.DataFrame | None, per_image: bool = True) -> str | None:
    """What makes ``frame`` not a whole predictions file of unit (``arm``, ``fold``), or None."""
    needed = [c for c in REQUIRED_PREDICTION_COLUMNS if c != THRESHOLD]  # the merge adds it
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        return f"column(s) {', '.join(absent)} are missing"
    if frame.empty:
        return "it has no rows"
    if not per_image and frame[PATIENT].duplicated().any():
        return "a patient is predicted twice"
    blank = [c for c in needed if frame[c].isna().any() and (per_image or c != IMAGE)]
    if blank:
        row = int(np.flatnonzero(frame[blank].isna().any(axis=1).to_numpy())[0]) + 2
        return f"line {row} has no {', '.join(blank)} (the file ends mid-row or was edited)"
    if (frame[ARM] != arm).any() or (pd.to_numeric(frame[FOLD], errors="coerce") != fold).any():
        return f"it holds rows of another unit than {arm} fold {fold}"
    prob = pd.to_numeric(frame[PROB], errors="coerce")
    if not (prob.between(0, 1) & np.isfinite(prob)).all():
        return f"{PROB} is not a probability in [0, 1] in every row"
    if not pd.to_numeric(frame[LABEL], errors="coerce").isin((0, 1)).all():
        return f"{LABEL} is not 0/1 in every row"
    return None if expected is None else _coverage_problem(frame, expected)


def _coverage_problem(frame: pd.DataFrame, expected: pd.DataFrame) -> str | None:
    """How ``frame``'s patients (and images) differ from the fold's test set, or None."""
    got, want = set(frame[PATIENT]), set(expected[PATIENT])
    if got != want:
        lost, extra = sorted(want - got), sorted(got - want)
        parts = []
        if lost:
            parts.append(f"{len(lost)} test patient(s) are missing (e.g. {', '.join(lost[:3])})")
        if extra:
            parts.append(f"{len(extra)} patient(s) are not in the fold's test set "
                         f"(e.g. {', '.join(extra[:3])})")
        return "; ".join(parts)
    if expected[IMAGE].isna().all():
        return None
    if frame[IMAGE].duplicated().any():
        return "an image is predicted twice"
    lost = sorted(set(expected[IMAGE]) - set(frame[IMAGE]))
    if lost or len(frame) != len(expected):
        return (f"{len(lost)} of the fold's {len(expected)} test images are missing "
                f"(e.g. {', '.join(lost[:3])})")
    return None


def _damaged(path: Path, arm: str, fold: int, problem: str) -> StudyError:
    return DataError(
        f"is not a whole predictions file of unit {arm} fold {fold}: {problem}. Nothing was merged.",
        file=str(path),
        hint=f"delete it: the next `studykit run PROTOCOL --arms {arm} --folds {fold}` predicts the fold "
             "again from the unit's saved checkpoint (nothing is retrained); or retrain with --fresh.",
    )


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
