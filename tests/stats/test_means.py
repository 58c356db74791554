"""stats.mean_interval: the Student-t interval of a mean against scipy's t.interval (a peer)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from studykit import stats
from studykit.errors import InputError


def test_mean_interval_matches_scipy_t_interval_and_broadcasts() -> None:
    mean, sd, n = np.array([10.0, -2.0, 0.5]), np.array([2.0, 0.3, 1.0]), np.array([5, 2, 40])
    low, high = stats.mean_interval(mean, sd, n, confidence=0.9)
    want = sps.t.interval(0.9, n - 1, loc=mean, scale=sd / np.sqrt(n))
    np.testing.assert_allclose(low, want[0], rtol=1e-12)
    np.testing.assert_allclose(high, want[1], rtol=1e-12)
    scalar = stats.mean_interval(10.0, 2.0, 5)  # t(0.975; 4) = 2.776445105
    np.testing.assert_allclose(scalar, (10 - 2.776445105 * 2 / np.sqrt(5), 10 + 2.776445105 * 2 / np.sqrt(5)))


def test_mean_interval_is_nan_below_two_observations_and_checks_the_level() -> None:
    low, high = stats.mean_interval([1.0, 3.0], [np.nan, 1.0], [1, 0])
    assert np.isnan(low).all() and np.isnan(high).all()
    with pytest.raises(InputError, match="confidence"):
        stats.mean_interval(1.0, 1.0, 3, confidence=95)
