"""Import and validate the readers' calls: long CSV files, one row per (reader, patient).

A reader CSV (README, "Your own data") has the columns ``reader_id, group, patient_id,
call`` and optionally ``score``; other columns are ignored. Several files may be given
(e.g. one per reader group); they are concatenated in the order given. Cells are read as
text (ids such as ``0007`` stay strings) with surrounding white space stripped.

- ``call``: the positive or negative word (``malignant`` / ``benign`` by default, matched
  without regard to case) or ``1`` / ``0``. Stored as 1 (positive) or 0.
- ``score``: optional confidence of the positive class, any finite number (an ordinal
  1–5 rating or a probability). An empty cell, ``NA``, ``N/A`` or ``NaN`` is missing.

Every problem raises :class:`~studykit.errors.DataError` naming the file, the 1-based
*data* row (the header is not counted, as in :mod:`studykit.cohort.tables`: data row 1 is
the first line below the header), the column and the fix. When several rows have the same
problem, the first is named and the message says how many there are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from studykit.errors import DataError, InputError
from studykit.readers._csv import (
    FILE,
    ROW,
    fail_at,
    listed,
    read_csv_text,
    require_columns,
    where,
)
from studykit.vocab import CALL, GROUP, READ_COLUMNS, REQUIRED_READ_COLUMNS, SCORE, did_you_mean
from studykit.vocab import PATIENT as PATIENT_ID
from studykit.vocab import READER as READER_ID

__all__ = [
    "CALL",
    "GROUP",
    "MAJORITY_PREFIX",
    "PATIENT_ID",
    "READER_ID",
    "READS_COLUMNS",
    "SCORE",
    "Reads",
    "read_reads",
]

#: Columns of :attr:`Reads.table`, in order (the contract of ``reads.csv``'s reader rows).
READS_COLUMNS = READ_COLUMNS
#: Reader ids starting with this are reserved for the majority-vote rows of ``reads.csv``.
MAJORITY_PREFIX = "majority:"
_REQUIRED = REQUIRED_READ_COLUMNS
_MISSING_SCORE = ("", "na", "n/a", "nan")

logger = logging.getLogger(__name__)

PathArg = str | PathLike[str]


@dataclass(frozen=True, eq=False)
class Reads:
    """Validated reader reads (treat the tables as read-only).

    Attributes
    ----------
    table : DataFrame
        One row per read, in file order: ``reader_id, group, patient_id`` (str), ``call``
        (int64, 1 = positive) and ``score`` (float64, NaN where not given). Ready for
        ``stats.icc(table, "patient_id", "reader_id", "score")`` and
        ``stats.fleiss_kappa(table, "patient_id", "reader_id", "call")`` within a group.
    missing : DataFrame
        ``reader_id, group, patient_id`` of the reads that are absent (only possible with
        ``allow_missing=True``); empty otherwise.
    groups : tuple of str
        Reader groups: the declared order when ``groups`` was given, else first appearance.
    readers : tuple of str
        Reader ids in order of first appearance.
    patients : tuple of str
        The patients every reader should have read (the manifest's included ids).
    files : tuple of Path
        The CSV files read.
    positive, negative : str
        The call vocabulary (``call`` 1 and 0).
    """

    table: pd.DataFrame
    missing: pd.DataFrame
    groups: tuple[str, ...]
    readers: tuple[str, ...]
    patients: tuple[str, ...]
    files: tuple[Path, ...]
    positive: str = "malignant"
    negative: str = "benign"

    def group_table(self, group: str) -> pd.DataFrame:
        """The reads of one group (rows of :attr:`table`)."""
        if group not in self.groups:
            raise InputError(f"is not a reader group; groups: {listed(self.groups)}.", field="group",
                             hint=did_you_mean(group, self.groups, "use one of the groups listed."))
        return self.table[self.table[GROUP] == group]

    def readers_of(self, group: str) -> tuple[str, ...]:
        """Reader ids of one group, in order of first appearance."""
        return tuple(pd.unique(self.group_table(group)[READER_ID]))

    @property
    def has_scores(self) -> bool:
        """True when at least one read has a score."""
        return bool(self.table[SCORE].notna().any())


def read_reads(path: PathArg | Sequence[PathArg], *, patients: Iterable[str], positive: str = "malignant",
               negative: str = "benign", groups: Sequence[str] | None = None, excluded: Iterable[str] = (),
               allow_missing: bool = False, score_required: bool = False) -> Reads:
    """Read and validate reader CSV files.

    Parameters
    ----------
    path : path or sequence of paths
        One CSV file, or several (e.g. one per group) that are concatenated.
    patients : iterable of str
        The patients every reader must have read: the manifest's included ids.
    positive, negative : str
        Call words coded 1 and 0 (case-insensitive); ``1`` and ``0`` are always accepted.
    groups : sequence of str, optional
        The declared reader groups (the protocol's reader arms). Reads of another group
        are an error, and so is a declared group without reads.
    excluded : iterable of str
        Excluded patients: their reads are dropped without complaint.
    allow_missing : bool
        Allow readers to have skipped patients; the absent reads are listed in
        :attr:`Reads.missing` (and logged) instead of raising.
    score_required : bool
        Every read needs a numeric ``score`` (the protocol analyses the panel's ROC).

    Returns
    -------
    Reads

    Raises
    ------
    DataError
        A file is missing or unreadable, or lacks a column; a row has an empty id, an
        unknown patient, a call outside the vocabulary, a non-numeric (or, when required,
        missing) score; a reader reads a patient twice or belongs to two groups; a group is
        unknown or has no reads; a reader skipped patients (unless ``allow_missing``).
    InputError
        ``patients``, ``positive``/``negative`` or ``groups`` are unusable.
    """
    files = _as_paths(path)
    wanted = _patient_ids(patients)
    vocabulary = _vocabulary(positive, negative)
    declared = _declared_groups(groups)
    raw = _read_files(files, score_required=score_required)
    raw = raw[~raw[PATIENT_ID].isin({str(p) for p in excluded})].reset_index(drop=True)
    _check_rows(raw, wanted)
    calls = _calls(raw, vocabulary)
    scores = _scores(raw, required=score_required)
    _check_unique(raw)
    group_names = _check_groups(raw, declared, files)
    missing = _missing_reads(raw, wanted, allow=allow_missing)
    table = pd.DataFrame({READER_ID: raw[READER_ID].astype(object), GROUP: raw[GROUP].astype(object),
                          PATIENT_ID: raw[PATIENT_ID].astype(object), CALL: calls, SCORE: scores})
    return Reads(table=table, missing=missing, groups=group_names, readers=tuple(pd.unique(raw[READER_ID])),
                 patients=wanted, files=files, positive=positive, negative=negative)


# --- arguments --------------------------------------------------------------------------

def _as_paths(path: PathArg | Sequence[PathArg]) -> tuple[Path, ...]:
    paths = [path] if isinstance(path, (str, PathLike)) else list(path)
    if not paths:
        raise InputError("names no file.", field="path", hint="pass the reader CSV file(s).")
    return tuple(Path(p) for p in paths)


def _patient_ids(patients: Iterable[str]) -> tuple[str, ...]:
    if isinstance(patients, str):
        raise InputError(f"must be a collection of patient ids, not one string ({patients!r}).",
                         field="patients", hint="pass the manifest's included ids, e.g. manifest.included.")
    ids = tuple(dict.fromkeys(str(p).strip() for p in patients))
    if not ids:
        raise InputError("is empty.", field="patients", hint="pass the manifest's included patient ids.")
    return ids


def _vocabulary(positive: str, negative: str) -> dict[str, int]:
    """Lower-case call word → 0/1."""
    pos, neg = str(positive).strip().lower(), str(negative).strip().lower()
    if not pos or not neg or pos == neg or {pos, neg} & {"0", "1"}:
        raise InputError(f"positive and negative must be two different words other than 0 and 1; got "
                         f"{positive!r} and {negative!r}.", field="positive",
                         hint="e.g. positive='malignant', negative='benign'.")
    return {pos: 1, neg: 0, "1": 1, "0": 0}


def _declared_groups(groups: Sequence[str] | None) -> tuple[str, ...] | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        groups = [groups]
    declared = tuple(dict.fromkeys(str(g).strip() for g in groups))
    if not declared or "" in declared:
        raise InputError(f"must name at least one non-empty group; got {list(groups)!r}.", field="groups",
                         hint="pass the reader groups, e.g. groups=['junior', 'senior'], or None.")
    return declared


# --- files and rows ---------------------------------------------------------------------

def _read_files(files: Sequence[Path], *, score_required: bool) -> pd.DataFrame:
    tables = []
    for file in files:
        table = read_csv_text(file)
        require_columns(table, _REQUIRED, file=file)
        if score_required:
            require_columns(table, [SCORE], file=file, why=" (the protocol requires scores)")
        if SCORE not in table.columns:
            table[SCORE] = ""
        if table.empty:
            raise DataError("has no reads (only a header).", file=str(file),
                            hint="add one row per reader and patient.")
        tables.append(table[[*_REQUIRED, SCORE, FILE, ROW]])
    return pd.concat(tables, ignore_index=True)


def _check_rows(raw: pd.DataFrame, patients: tuple[str, ...]) -> None:
    """Ids present, reader ids not reserved, patients known."""
    for column, what in ((READER_ID, "reader id"), (GROUP, "group"), (PATIENT_ID, "patient id")):
        fail_at(raw, raw[column] == "", f"{what} is empty.", field=column,
                hint=f"give every read its {what}.")
    fail_at(raw, raw[READER_ID].str.startswith(MAJORITY_PREFIX),
            f"reader id {{value}} starts with {MAJORITY_PREFIX!r}, which marks majority votes.",
            field=READER_ID, hint="rename the reader.")
    unknown = ~raw[PATIENT_ID].isin(set(patients))
    if unknown.any():
        value = raw.loc[unknown, PATIENT_ID].iloc[0]
        fail_at(raw, unknown, "patient {value} is not among the manifest's included patients.",
                field=PATIENT_ID, hint=did_you_mean(value, patients, "fix the id, or add the patient to the "
                                                  "manifest (reads of excluded patients are dropped)."))


def _calls(raw: pd.DataFrame, vocabulary: dict[str, int]) -> np.ndarray:
    coded = raw[CALL].str.lower().map(vocabulary)
    bad = coded.isna()
    if bad.any():
        words = [w for w in vocabulary if w not in ("0", "1")]
        value = raw.loc[bad, CALL].iloc[0].lower()
        allowed = f"{words[0]!r}, {words[1]!r}, 1 or 0"
        fail_at(raw, bad, f"call {{value}} is not {allowed}.", field=CALL,
                hint=did_you_mean(value, words, f"use {allowed}, or set the call vocabulary (positive=, "
                                              "negative=) to the words this file uses."))
    return coded.to_numpy(dtype=np.int64)


def _scores(raw: pd.DataFrame, *, required: bool) -> np.ndarray:
    text = raw[SCORE]
    absent = text.str.lower().isin(_MISSING_SCORE).to_numpy()
    values = pd.to_numeric(text.where(~absent), errors="coerce").to_numpy(dtype=np.float64)
    fail_at(raw, ~absent & ~np.isfinite(values), "score {value} is not a finite number.", field=SCORE,
            hint="write the score as a number (an ordinal rating such as 1–5, or a probability), "
                 "or leave the cell empty.")
    if required:
        fail_at(raw, absent, "score is missing.", field=SCORE,
                hint="give every read a score: the protocol analyses the readers' scores.")
    return values


def _check_unique(raw: pd.DataFrame) -> None:
    """One read per (reader, patient); one group per reader."""
    repeated = raw.duplicated([READER_ID, PATIENT_ID]).to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero((raw[READER_ID] == raw.at[i, READER_ID])
                                   & (raw[PATIENT_ID] == raw.at[i, PATIENT_ID]))[0])
        fail_at(raw, repeated, f"reader {raw.at[i, READER_ID]!r} reads patient {{value}} a second time "
                               f"(first read: {where(raw, first)}).", field=PATIENT_ID,
                hint="keep one read per reader and patient; delete or correct the repeated row.")
    first_group = raw.groupby(READER_ID, sort=False)[GROUP].transform("first")
    moved = (raw[GROUP] != first_group).to_numpy()
    if moved.any():
        i = int(np.flatnonzero(moved)[0])
        first = int(np.flatnonzero(raw[READER_ID] == raw.at[i, READER_ID])[0])
        fail_at(raw, moved, f"reader {raw.at[i, READER_ID]!r} is in group {{value}} here but in "
                            f"{raw.at[first, GROUP]!r} at {where(raw, first)}.", field=GROUP,
                hint="a reader belongs to one group: fix the group, or give the two readers different ids.")


def _check_groups(raw: pd.DataFrame, declared: tuple[str, ...] | None,
                  files: Sequence[Path]) -> tuple[str, ...]:
    found = tuple(pd.unique(raw[GROUP]))
    if declared is None:
        return found
    unknown = ~raw[GROUP].isin(set(declared))
    if unknown.any():
        value = raw.loc[unknown, GROUP].iloc[0]
        fail_at(raw, unknown, f"group {{value}} is not a declared reader group ({listed(declared)}).",
                field=GROUP,
                hint=did_you_mean(value, declared, "fix the group, or declare it in the protocol."))
    empty = [g for g in declared if g not in found]
    if empty:
        names = ", ".join(str(f) for f in files)
        raise DataError(f"declared reader group(s) {listed(empty)} have no reads.", file=names, field=GROUP,
                        hint="add the group's reads (or its CSV file), or remove the group from the "
                             "protocol.")
    return declared


def _missing_reads(raw: pd.DataFrame, patients: tuple[str, ...], *, allow: bool) -> pd.DataFrame:
    """Every (reader, patient) absent from the reads; raise for the first reader unless allowed."""
    readers = raw.drop_duplicates(READER_ID)[[READER_ID, GROUP, FILE]]
    full = readers.merge(pd.DataFrame({PATIENT_ID: patients}), how="cross")
    present = pd.MultiIndex.from_frame(raw[[READER_ID, PATIENT_ID]])
    absent = full[~pd.MultiIndex.from_frame(full[[READER_ID, PATIENT_ID]]).isin(present)]
    if not absent.empty and not allow:
        reader = absent[READER_ID].iloc[0]
        skipped = absent.loc[absent[READER_ID] == reader, PATIENT_ID].tolist()
        raise DataError(f"reader {reader!r} has no read for {len(skipped)} of the {len(patients)} included "
                        f"patients: {listed(skipped)}.", file=absent[FILE].iloc[0], field=PATIENT_ID,
                        hint="add the missing reads, or allow missing reads in the protocol "
                             "(allow_missing=True); they are then reported.")
    missing = absent[[READER_ID, GROUP, PATIENT_ID]].reset_index(drop=True)
    if not missing.empty:
        logger.warning("%d read(s) missing: %d reader(s) skipped patients.", len(missing),
                       missing[READER_ID].nunique())
    return missing
