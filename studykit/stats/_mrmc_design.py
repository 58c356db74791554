"""Reader-study reads (long table) → a fully crossed ratings cube, with validation.

One row per (modality, reader, case) read. Every check raises :class:`InputError` naming the
argument, the offending values and the fix (STYLE.md conventions 3 and 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats._validation import binary_labels, column, finite_scores

_SHOW = 5  # offending cells listed in a message


@dataclass(frozen=True)
class Design:
    """A fully crossed reader study: ``ratings[i, j, k]`` of modality i, reader j, case k."""

    ratings: np.ndarray       # (t, r, c) float64
    truth: np.ndarray         # (c,) bool, True = diseased
    modalities: list[Any]
    readers: list[Any]
    cases: list[Any]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.ratings.shape  # type: ignore[return-value]

    def scores(self) -> np.ndarray:
        """Ratings as (t·r, c): row ``i * r + j`` is modality i, reader j."""
        t, r, c = self.ratings.shape
        return self.ratings.reshape(t * r, c)


def build_design(data: pd.DataFrame, *, modality: str | None, reader: str, case: str, truth: str,
                 rating: str, fully_crossed: bool = True, pos_label: Any = None) -> Design:
    """Validate the long table of reads and pivot it to a :class:`Design`.

    ``modality=None`` treats every read as one modality (single-modality analyses).
    """
    ids = {"reader": column(data, reader, argument="reader"), "case": column(data, case, argument="case")}
    if modality is not None:
        ids = {"modality": column(data, modality, argument="modality"), **ids}
    y = binary_labels(column(data, truth, argument="truth").to_numpy(), name="truth", pos_label=pos_label)
    score = finite_scores(column(data, rating, argument="rating").to_numpy(), name="rating")
    codes, levels = {}, {}
    for name, values in ids.items():
        codes[name], levels[name] = _factor(values, name)
    if modality is None:
        codes["modality"], levels["modality"] = np.zeros(len(data), np.int64), [None]
    shape = (len(levels["modality"]), len(levels["reader"]), len(levels["case"]))
    cell = np.ravel_multi_index((codes["modality"], codes["reader"], codes["case"]), shape)
    counts = np.bincount(cell, minlength=int(np.prod(shape)))
    _check_duplicates(counts, shape, levels)
    _check_missing(counts, shape, levels, fully_crossed)
    case_truth = _case_truth(codes["case"], y, levels["case"])
    ratings = np.empty(int(np.prod(shape)))
    ratings[cell] = score
    return Design(ratings.reshape(shape), case_truth, levels["modality"], levels["reader"], levels["case"])


def _factor(values: pd.Series, name: str) -> tuple[np.ndarray, list[Any]]:
    """Dense integer codes in sorted label order (first-seen order when labels do not sort)."""
    missing = pd.isna(values.to_numpy())
    if missing.any():
        raise InputError(f"column {values.name!r} has {int(missing.sum())} missing value(s), first at row "
                         f"position {int(np.flatnonzero(missing)[0])}.", field=name,
                         hint=f"every read needs its {name} id.")
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), list(uniques)


def _cells(flat: np.ndarray, shape: tuple[int, int, int], levels: dict[str, list[Any]]) -> str:
    """``(modality, reader, case) (1, 2, 17), …`` naming at most five cells."""
    single = levels["modality"] == [None]
    i, j, k = np.unravel_index(flat[:_SHOW], shape)
    shown = ", ".join("(" + ("" if single else f"{levels['modality'][a]!r}, ")
                      + f"{levels['reader'][b]!r}, {levels['case'][c]!r})" for a, b, c in zip(i, j, k))
    header = "(reader, case)" if single else "(modality, reader, case)"
    return f"{header} {shown}" + (", …" if flat.size > _SHOW else "")


def _check_duplicates(counts, shape, levels) -> None:
    dup = np.flatnonzero(counts > 1)
    if dup.size:
        single = levels["modality"] == [None]
        hint = ("this analysis takes the reads of one modality: filter out the others, and keep one read "
                "per reader per case." if single else
                "keep exactly one read per reader per case in each modality.")
        raise InputError(f"has {dup.size} cell(s) read more than once: {_cells(dup, shape, levels)}.",
                         field="data", hint=hint)


def _check_missing(counts, shape, levels, fully_crossed: bool) -> None:
    missing = np.flatnonzero(counts == 0)
    if not missing.size:
        return
    if fully_crossed:
        raise InputError(f"is missing {missing.size} read(s) of a fully crossed design (every reader reads "
                         f"every case in every modality): {_cells(missing, shape, levels)}.", field="data",
                         hint="add the missing reads, or pass fully_crossed=False if the design is "
                              "deliberately not fully crossed.")
    raise InputError(f"declares a design that is not fully crossed ({missing.size} of {counts.size} cells "
                     f"unread, e.g. {_cells(missing, shape, levels)}); only fully crossed designs can be "
                     "analysed yet.", field="fully_crossed",
                     hint="restrict the reads to a fully crossed subset of readers and cases.")


def _case_truth(case_codes: np.ndarray, y: np.ndarray, cases: list[Any]) -> np.ndarray:
    n = len(cases)
    pos = np.bincount(case_codes, weights=y.astype(float), minlength=n)
    size = np.bincount(case_codes, minlength=n)
    mixed = np.flatnonzero((pos > 0) & (pos < size))
    if mixed.size:
        shown = ", ".join(repr(cases[k]) for k in mixed[:_SHOW]) + (", …" if mixed.size > _SHOW else "")
        raise InputError(f"is inconsistent within {mixed.size} case(s): {shown} (both 0 and 1 recorded).",
                         field="truth", hint="a case has one reference-standard label in every read.")
    truth = pos > 0
    if truth.sum() < 2 or (~truth).sum() < 2:
        raise InputError(f"needs at least two diseased and two non-diseased cases; got {int(truth.sum())} "
                         f"diseased and {int((~truth).sum())} non-diseased.", field="truth",
                         hint="an MRMC analysis of the AUC needs cases of both classes.")
    return truth
