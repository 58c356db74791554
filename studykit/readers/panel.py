"""A reader group as an arm of the study: majority vote, panel score, each reader's point.

The analysis layer compares reader groups with the model arms. A group's binary call per
patient is its readers' majority vote (:func:`majority_votes`); its ROC comes from the
panel score, the mean of its readers' confidence scores (:func:`panel_scores`); each
reader's own operating point is :func:`reader_operating_points`. :func:`reads_csv_frame`
puts the validated reads and the groups' votes into the ``reads.csv`` the runner writes.

``reads.csv``
-------------
Columns ``reader_id, group, patient_id, call, score, kind, votes_positive, n_readers``:

- ``kind = "reader"`` rows are :attr:`Reads.table` unchanged (call 0/1, score or empty);
  ``votes_positive`` and ``n_readers`` are empty.
- ``kind = "majority"`` rows hold one group's consensus per patient: ``reader_id`` is
  ``"majority:<group>"``, ``call`` the majority vote, ``score`` the panel score (empty when
  the group gave no scores), ``votes_positive`` and ``n_readers`` the vote's counts (a tie
  has ``2 * votes_positive == n_readers``).

Filter on ``kind`` before computing agreement, so that the majority rows never count as
a reader. Rows come group by group (in :attr:`Reads.groups` order): the group's reads in
file order, then its majority rows in patient order.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from studykit import stats
from studykit.errors import InputError
from studykit.readers._csv import listed
from studykit.readers.reads import CALL, GROUP, MAJORITY_PREFIX, PATIENT_ID, READER_ID, SCORE, Reads
from studykit.vocab import (  # what a tied vote becomes (``stats.majority_vote``'s ``tie``)
    TIE_RULES,
    did_you_mean,
)

__all__ = [
    "KIND",
    "KIND_MAJORITY",
    "KIND_READER",
    "N_READERS",
    "READS_CSV_COLUMNS",
    "TIE_RULES",
    "VOTES_COLUMNS",
    "VOTES_POSITIVE",
    "majority_votes",
    "panel_scores",
    "reader_operating_points",
    "reads_csv_frame",
]

KIND, KIND_READER, KIND_MAJORITY = "kind", "reader", "majority"
VOTES_POSITIVE, N_READERS, FRACTION_POSITIVE, TIE = "votes_positive", "n_readers", "fraction_positive", "tie"
#: Columns of :func:`majority_votes`, in order.
VOTES_COLUMNS = (GROUP, PATIENT_ID, CALL, VOTES_POSITIVE, N_READERS, FRACTION_POSITIVE, TIE)
#: Columns of ``reads.csv``, in order.
READS_CSV_COLUMNS = (READER_ID, GROUP, PATIENT_ID, CALL, SCORE, KIND, VOTES_POSITIVE, N_READERS)
#: Rows of :func:`reader_operating_points` per reader.
OPERATING_METRICS = ("sensitivity", "specificity")


def majority_votes(reads: Reads, *, tie: str = "error") -> pd.DataFrame:
    """Each group's majority vote per patient (:func:`studykit.stats.majority_vote`).

    Parameters
    ----------
    reads : Reads
    tie : {"error", "positive", "negative"}
        What a tie (as many positive as negative calls; possible with an even number of
        readers or with missing reads) becomes: an error naming the group and patients,
        a positive call or a negative call.

    Returns
    -------
    DataFrame, one row per (group, patient that the group read), groups in
    :attr:`Reads.groups` order and patients in :attr:`Reads.patients` order: ``group,
    patient_id, call`` (1 = positive), ``votes_positive, n_readers`` (readers who read the
    patient), ``fraction_positive`` and ``tie`` (the call was decided by the tie rule).

    Notes
    -----
    call = 1 when votes_positive > n_readers / 2, 0 when below; ties follow ``tie``.
    """
    rule = _option("tie", tie, TIE_RULES)
    frames = [_group_votes(reads, group, rule) for group in reads.groups]
    return pd.concat(frames, ignore_index=True)[list(VOTES_COLUMNS)]


def _group_votes(reads: Reads, group: str, rule: str) -> pd.DataFrame:
    part = reads.group_table(group)
    try:
        votes = stats.majority_vote(part, PATIENT_ID, READER_ID, CALL, tie=rule)
    except InputError as exc:
        raise InputError(f"reader group {group!r}: {exc.message}", field="tie", hint=exc.hint) from None
    votes = votes.rename(columns={"n_raters": N_READERS})
    votes.insert(0, GROUP, group)
    return _in_patient_order(votes, reads.patients)


def panel_scores(reads: Reads) -> pd.DataFrame:
    """Each group's panel score per patient: the mean of its readers' scores.

    Parameters
    ----------
    reads : Reads

    Returns
    -------
    DataFrame, one row per (group, patient that the group read), ordered as
    :func:`majority_votes`: ``group, patient_id, score`` (mean of the non-missing scores;
    NaN when none) and ``n_readers`` (the readers whose score entered the mean).

    Notes
    -----
    The panel score is a continuous rating of the group, so its ROC curve and AUC
    (``stats.roc_auc(y, score)``) describe the panel beyond the single operating point
    of the majority vote.
    """
    frames = []
    for group in reads.groups:
        part = reads.group_table(group)
        summary = part.groupby(PATIENT_ID, sort=False)[SCORE].agg(["mean", "count"]).reset_index()
        frame = pd.DataFrame({GROUP: group, PATIENT_ID: summary[PATIENT_ID],
                              SCORE: summary["mean"].astype(np.float64),
                              N_READERS: summary["count"].astype(np.int64)})
        frames.append(_in_patient_order(frame, reads.patients))
    return pd.concat(frames, ignore_index=True)


def reader_operating_points(reads: Reads, truth: Mapping[str, Any] | pd.Series, *,
                            confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Each reader's sensitivity and specificity with CIs (:func:`studykit.stats.diagnostic_metrics`).

    Parameters
    ----------
    reads : Reads
    truth : mapping or Series
        Reference standard by patient id: 1/0, bool, or the reads' positive/negative words
        (e.g. ``manifest.labels`` or the manifest's label column indexed by patient id).
        Must cover every patient read.
    confidence : float
        Two-sided confidence level.
    method : {"wilson", "exact"}
        CI of the proportions (Wilson score or Clopper–Pearson).

    Returns
    -------
    DataFrame, two rows per reader (``sensitivity`` then ``specificity``), readers in
    :attr:`Reads.readers` order, with ``diagnostic_metrics``' columns (``estimate, ci_low,
    ci_high, p, method, n, ci_level, metric, numerator, denominator, tp, fp, fn, tn``)
    followed by ``reader_id`` and ``group``.
    """
    labels = _truth(reads, truth)
    frames = []
    for reader in reads.readers:
        part = reads.table[reads.table[READER_ID] == reader]
        result = _operating_point(labels.loc[part[PATIENT_ID]].to_numpy(), part[CALL].to_numpy(),
                                  confidence=confidence, method=method)
        result[READER_ID], result[GROUP] = reader, part[GROUP].iloc[0]
        frames.append(result)
    return pd.concat(frames, ignore_index=True)


def _operating_point(y: np.ndarray, call: np.ndarray, *, confidence: float, method: str) -> pd.DataFrame:
    """Sensitivity and specificity rows of ``diagnostic_metrics``; only their warnings pass on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", stats.UndefinedStatisticWarning)
        result = stats.diagnostic_metrics(y, call, confidence=confidence, method=method)
    for warning in caught:
        text = str(warning.message)
        if not issubclass(warning.category, stats.UndefinedStatisticWarning) or text.startswith(
                tuple(f"the {metric} " for metric in OPERATING_METRICS)):
            warnings.warn(text, warning.category, stacklevel=3)
    return result[result["metric"].isin(OPERATING_METRICS)].reset_index(drop=True)


def reads_csv_frame(reads: Reads, votes: pd.DataFrame) -> pd.DataFrame:
    """The ``reads.csv`` table: validated reads plus each group's majority vote (module docstring).

    Parameters
    ----------
    reads : Reads
    votes : DataFrame
        :func:`majority_votes` of ``reads`` (with the protocol's tie rule).

    Returns
    -------
    DataFrame with columns :data:`READS_CSV_COLUMNS`; ``votes_positive`` and ``n_readers``
    are nullable integers (empty on reader rows).
    """
    _check_votes(reads, votes)
    scores = panel_scores(reads).set_index([GROUP, PATIENT_ID])[SCORE]
    frames = []
    for group in reads.groups:
        own = reads.group_table(group).assign(**{KIND: KIND_READER})
        vote = votes[votes[GROUP] == group]
        majority = pd.DataFrame({
            READER_ID: f"{MAJORITY_PREFIX}{group}", GROUP: group, PATIENT_ID: vote[PATIENT_ID].to_numpy(),
            CALL: vote[CALL].to_numpy(dtype=np.int64),
            SCORE: scores.loc[group].reindex(vote[PATIENT_ID]).to_numpy(dtype=np.float64),
            KIND: KIND_MAJORITY, VOTES_POSITIVE: vote[VOTES_POSITIVE].to_numpy(),
            N_READERS: vote[N_READERS].to_numpy()})
        frames.extend([own, majority])
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.astype({VOTES_POSITIVE: "Int64", N_READERS: "Int64", CALL: np.int64, SCORE: np.float64})
    return frame[list(READS_CSV_COLUMNS)]


# --- helpers ----------------------------------------------------------------------------

def _option(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    raise InputError(f"must be one of {listed(allowed)}; got {value!r}.", field=name,
                     hint=did_you_mean(str(value), allowed, f"use one of {listed(allowed)}."))


def _in_patient_order(frame: pd.DataFrame, patients: tuple[str, ...]) -> pd.DataFrame:
    order = pd.Series(np.arange(len(patients)), index=pd.Index(patients))
    rank = order.reindex(frame[PATIENT_ID]).to_numpy()
    return frame.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def _truth(reads: Reads, truth: Mapping[str, Any] | pd.Series) -> pd.Series:
    """Reference standard as a 0/1 Series indexed by patient id; every read patient covered."""
    series = truth.copy() if isinstance(truth, pd.Series) else pd.Series(dict(truth), dtype=object)
    series.index = series.index.map(str)
    needed = pd.unique(reads.table[PATIENT_ID])
    absent = [p for p in needed if p not in series.index]
    if absent:
        raise InputError(f"has no label for {len(absent)} patient(s) that were read: {listed(absent)}.",
                         field="truth", hint="pass the reference standard of every included patient.")
    words = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0,
             reads.positive.lower(): 1, reads.negative.lower(): 0}
    coded = series.loc[needed].map(lambda v: words.get(str(v).strip().lower(), np.nan))
    bad = coded[coded.isna()]
    if not bad.empty:
        raise InputError(f"label {series.loc[bad.index[0]]!r} of patient {bad.index[0]!r} is not 1/0 or "
                         f"{reads.positive!r}/{reads.negative!r}.", field="truth",
                         hint="code the reference standard as 1 (positive) and 0, or with the reads' words.")
    return coded.astype(np.int64)


def _check_votes(reads: Reads, votes: pd.DataFrame) -> None:
    """``votes`` has the columns of :func:`majority_votes` and one row per (group, patient) read."""
    needed = [GROUP, PATIENT_ID, CALL, VOTES_POSITIVE, N_READERS]
    lacking = [c for c in needed if c not in votes.columns]
    if lacking:
        raise InputError(f"lacks column(s) {listed(lacking)}.", field="votes",
                         hint="pass the table returned by majority_votes(reads).")
    expected = reads.table[[GROUP, PATIENT_ID]].drop_duplicates()
    got = votes[[GROUP, PATIENT_ID]]
    if len(got) != len(expected) or got.duplicated().any() or not pd.MultiIndex.from_frame(got).isin(
            pd.MultiIndex.from_frame(expected)).all():
        raise InputError(f"does not hold one vote per (group, patient) of the reads: {len(got)} rows for "
                         f"{len(expected)} read (group, patient) pairs.", field="votes",
                         hint="pass majority_votes(reads) of these same reads.")
