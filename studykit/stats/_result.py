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


def warn_undefined(what: str, why: str, returning: str = "NaN") -> None:
    """Emit :class:`UndefinedStatisticWarning` (legal data, undefined statistic → ``returning``)."""
    warnings.warn(f"{what} is undefined: {why}; returning {returning}.", UndefinedStatisticWarning,
                  stacklevel=3)


def z_critical(confidence: float) -> float:
    """Two-sided standard-normal critical value for a ``confidence`` level in (0, 1)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2.0))


def wald_inference(estimate: float, se: float, level: float, *, alternative: str = "two-sided",
                   df: float = float("inf"), bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """``ci_low, ci_high, statistic, p, se`` of a Wald test of ``estimate`` = 0.

    statistic = estimate / se, referred to the standard normal (``df`` infinite) or to
    Student's t with ``df``; CI = estimate ± q_{(1+level)/2} · se, clipped to ``bounds``
    when given. A non-positive or NaN ``se`` leaves the CI, statistic and p NaN (the caller
    warns); the caller keeps the estimate.
    """
    from scipy.stats import norm
    from scipy.stats import t as student_t

    if not se > 0:
        return {C.SE: se}
    dist = norm if np.isinf(df) else student_t(df)
    half = float(dist.ppf(0.5 + level / 2.0)) * se
    low, high = estimate - half, estimate + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    stat = estimate / se
    p = {"two-sided": 2 * dist.sf(abs(stat)), "greater": dist.sf(stat), "less": dist.cdf(stat)}[alternative]
    return {C.CI_LOW: low, C.CI_HIGH: high, C.STATISTIC: stat, C.P: float(p), C.SE: se}
