"""Long-format ratings (one row per target × rater) read and checked for the agreement statistics.

:func:`~studykit.stats.icc`, :func:`~studykit.stats.fleiss_kappa` and
:func:`~studykit.stats.majority_vote` all take pingouin's ``intraclass_corr`` layout: a
DataFrame and the names of its target, rater and rating columns. This module turns it into
dense codes once, with the checks the three share, and formats the ids their messages list.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats._validation import column, positions

SHOW = 5  # ids listed in a message


class Long(NamedTuple):
    """Long-format ratings with dense codes: target i of ``targets``, rater j of ``raters``."""

    target: np.ndarray
    targets: pd.Index
    rater: np.ndarray
    raters: pd.Index
    values: pd.Series


def long_ratings(data: pd.DataFrame, targets: str, raters: str, values: str, *, value_arg: str) -> Long:
    """The three columns, none missing, at most one row per (target, rater)."""
    cols = {arg: column(data, name, argument=arg)
            for arg, name in (("targets", targets), ("raters", raters), (value_arg, values))}
    if len(data) == 0:
        raise InputError("has no rows.", field="data", hint="pass one row per (target, rater) rating.")
    for arg, col in cols.items():
        missing = col.isna().to_numpy()
        if missing.any():
            raise InputError(f"column {col.name!r} contains {positions(missing)} that are missing.",
                             field=arg, hint="every row needs its target, rater and rating; drop "
                                             "incomplete rows first.")
    t_codes, t_ids = pd.factorize(cols["targets"])
    r_codes, r_ids = pd.factorize(cols["raters"])
    long = Long(t_codes, pd.Index(t_ids), r_codes, pd.Index(r_ids), cols[value_arg].reset_index(drop=True))
    _one_per_cell(long)
    return long


def _one_per_cell(long: Long) -> None:
    cell = long.target.astype(np.int64) * len(long.raters) + long.rater
    cells, counts = np.unique(cell, return_counts=True)
    repeated = cells[counts > 1]
    if repeated.size:
        shown = ", ".join(f"target {show(long.targets[c // len(long.raters)])} × rater "
                          f"{show(long.raters[c % len(long.raters)])} ({n} rows)"
                          for c, n in zip(repeated[:SHOW], counts[counts > 1][:SHOW], strict=True))
        more = ", …" if repeated.size > SHOW else ""
        raise InputError(f"must hold one rating per target and rater; {repeated.size} pair(s) appear "
                         f"more than once: {shown}{more}.", field="data",
                         hint="drop repeated rows, or average a rater's repeated ratings of a target first.")


def at_least_two(long: Long, *, raters_per_target: bool = False) -> None:
    """Raise unless there are two targets and two raters (or ratings per target)."""
    if len(long.targets) < 2:
        raise InputError(f"needs at least 2 targets; got {len(long.targets)} ({listed(long.targets)}).",
                         field="targets", hint="agreement is measured across several rated targets.")
    most = int(np.bincount(long.target).max()) if raters_per_target else len(long.raters)
    if most < 2:
        what = "ratings per target" if raters_per_target else "raters"
        raise InputError(f"needs at least 2 {what}; got {most}.", field="raters",
                         hint="agreement needs every target rated by two or more raters.")


def show(value: Any) -> str:
    """``repr`` of an id as the user wrote it (``3``, not ``np.int64(3)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def listed(ids: Any) -> str:
    """The first :data:`SHOW` ids, and how many there are in all when more."""
    ids = list(pd.Index(ids))
    shown = ", ".join(show(i) for i in ids[:SHOW])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > SHOW else "")
