"""Build result DataFrames in the one shape every public statistic returns."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import UndefinedStatisticWarning
from studykit.stats import _columns as C


def result_frame(rows: Iterable[Mapping[str, Any]], *, inference: Iterable[str] = ()) -> pd.DataFrame:
    """Rows → DataFrame with ``estimate, ci_low, ci_high, p`` first.

    ``inference`` names which of ``statistic, df, se`` apply to this statistic; they are
    always present (NaN where a row lacks them) and follow the leading columns, then
    ``method, n, ci_level``, then every other key in first-seen order.
    """
    rows = list(rows)
    wanted = set(inference)
    ordered = list(C.LEADING) + [c for c in C.INFERENCE if c in wanted or c in (C.METHOD, C.N, C.CI_LEVEL)]
    extras: list[str] = []
    for row in rows:
        for key in row:
            if key not in ordered and key not in extras:
                extras.append(key)
    frame = pd.DataFrame([{k: row.get(k, np.nan) for k in ordered + extras} for row in rows],
                         columns=ordered + extras)
    for col in (C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.P):
        frame[col] = frame[col].astype(float)
    return frame


def warn_undefined(what: str, why: str) -> None:
    """Emit :class:`UndefinedStatisticWarning` (legal data, undefined statistic → NaN)."""
    warnings.warn(f"{what} is undefined: {why}; returning NaN.", UndefinedStatisticWarning,
                  stacklevel=3)


def z_critical(confidence: float) -> float:
    """Two-sided standard-normal critical value for a ``confidence`` level in (0, 1)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2.0))
