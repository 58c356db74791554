"""Coverage simulations: the DeLong CI and the clustered CI hold their nominal level.

Marked slow (a few seconds each); benchmarks/bench_coverage.py prints the same figures.
"""

from __future__ import annotations

import pytest

from studykit.stats import simulate


@pytest.mark.slow
def test_delong_ci_covers_binormal_auc_at_nominal_rate():
    table = simulate.ci_coverage(lambda rng: simulate.binormal_sample(50, 50, 0.7, rng), 0.7,
                                 n_reps=2000, seed=0)
    assert table["method"].tolist() == ["DeLong (naive)"]
    assert 0.94 <= table["estimate"].item() <= 0.96


@pytest.mark.slow
def test_clustered_ci_holds_coverage_where_naive_fails():
    table = simulate.ci_coverage(
        lambda rng: simulate.clustered_binormal_sample(100, 0.7, rng, icc=0.3), 0.7, n_reps=2000, seed=0)
    coverage = dict(zip(table["method"], table["estimate"]))
    assert 0.94 <= coverage["Obuchowski clustered"] <= 0.96
    assert coverage["DeLong (naive)"] < 0.80
