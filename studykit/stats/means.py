"""Confidence interval of a mean from its summary statistics (Student's t).

``mean ± t(1 − α/2; n − 1) · sd / √n`` with ``sd`` the sample SD (ddof = 1): exact for normal
data, and the interval Table 1 gives a mean and the TIC figures draw as their band.

References
----------
Student (1908). The probable error of a mean. Biometrika 6:1–25. doi:10.1093/biomet/6.1.1
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from studykit.stats._validation import check_confidence

__all__ = ["mean_interval"]


def mean_interval(mean, sd, n, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t limits of a mean from its sample ``mean``, ``sd`` (ddof = 1) and size ``n``.

    Parameters
    ----------
    mean, sd, n : scalars or arrays (broadcast together).
    confidence : float
        Two-sided level, e.g. 0.95.

    Returns
    -------
    (ci_low, ci_high) : float arrays of the broadcast shape; NaN where ``n < 2`` (no SD).

    Examples
    --------
    >>> low, high = mean_interval(10.0, 2.0, 5)
    >>> round(float(low), 3), round(float(high), 3)
    (7.517, 12.483)
    """
    level = check_confidence(confidence)
    mean, sd, n = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float), np.asarray(n, float))
    defined = n >= 2
    df = np.where(defined, n - 1.0, 1.0)
    half = sps.t.ppf(0.5 + level / 2.0, df) * sd / np.sqrt(np.where(defined, n, 1.0))
    return np.where(defined, mean - half, np.nan), np.where(defined, mean + half, np.nan)
