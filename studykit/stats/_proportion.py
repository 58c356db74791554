"""Confidence limits of binomial proportions and of a paired difference of proportions.

The interval kernels every proportion in :mod:`studykit.stats` uses: the Wilson score and
Clopper–Pearson limits of x successes in n trials (``diagnostic_metrics``, the cohort
table's percentages, calibration bins) and Newcombe's square-and-add limits of the
difference of two proportions on the same cases (``mcnemar``). Arrays in, arrays out; the
callers validate and warn.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the
case of the binomial. Biometrika 26:404–413. doi:10.1093/biomet/26.4.404
Newcombe RG (1998). Improved confidence intervals for the difference between binomial
proportions based on paired data. Stat Med 17:2635–2650.
doi:10.1002/(SICI)1097-0258(19981130)17:22<2635::AID-SIM954>3.0.CO;2-C
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

from studykit.stats._result import z_critical
from studykit.vocab import PROPORTION_METHODS


def wilson_interval(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score limits for x successes in n trials (n > 0), exact at 0 and n."""
    x, n = np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64)
    z2 = z_critical(level) ** 2
    centre = (x + z2 / 2.0) / (n + z2)
    half = np.sqrt(z2) * np.sqrt(x * (n - x) / n + z2 / 4.0) / (n + z2)
    return np.where(x == 0, 0.0, centre - half), np.where(x == n, 1.0, centre + half)


def clopper_pearson_interval(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson (1934) exact limits (n > 0): beta quantiles, 0 at x = 0, 1 at x = n."""
    x, n = np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64)
    tail = (1.0 - level) / 2.0
    low = beta.ppf(tail, np.maximum(x, 1.0), n - x + 1.0)
    high = beta.isf(tail, x + 1.0, np.maximum(n - x, 1.0))
    return np.where(x == 0, 0.0, low), np.where(x == n, 1.0, high)


#: Proportion CI methods by name (the names: :data:`studykit.vocab.PROPORTION_METHODS`) → (limits, label).
INTERVALS = dict(zip(PROPORTION_METHODS, ((wilson_interval, "Wilson score"),
                                          (clopper_pearson_interval, "Clopper-Pearson exact")), strict=True))


def newcombe_paired_interval(a: int, b: int, c: int, d: int, level: float) -> tuple[float, float]:
    """Newcombe (1998) method 10 limits for p₁ − p₂ = (b − c)/n from a paired 2 × 2 table.

    ``a``: both positive, ``b``: first only, ``c``: second only, ``d``: neither (n > 0).
    """
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, l2), (u1, u2) = wilson_interval(np.array([a + b, a + c]), np.array([n, n]), level)
    margins = float(a + b) * float(c + d) * float(a + c) * float(b + d)
    cross = float(a) * d - float(b) * c
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    else:
        phi = (cross - n / 2 if cross > 0 else cross) / np.sqrt(margins)
    theta = p1 - p2
    lower = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    upper = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return float(theta - np.sqrt(max(lower, 0.0))), float(theta + np.sqrt(max(upper, 0.0)))
