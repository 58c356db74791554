"""One variable of the cohort table: its per-group summaries, the choice of its test, the test.

Continuous: the per-group Shapiro–Wilk tests that choose between mean ± SD with Student's t
(one-way ANOVA for three or more groups) and median [IQR] with Mann–Whitney U
(Kruskal–Wallis), the group summaries (mean and its t interval, SD, R type 7 quartiles,
range) and the four tests as a registry keyed by (summary kind, two groups?). Categorical:
a level's count, percent and Wilson interval, and Pearson's chi-square (Yates for 2 × 2)
or, when an expected count is below 5, Fisher's exact test (:mod:`studykit.stats._fisher`).
Each function returns the row fields it computes; :mod:`studykit.stats.cohort_table`
validates the inputs and assembles the rows.

References
----------
Shapiro SS, Wilk MB (1965). An analysis of variance test for normality (complete samples).
Biometrika 52:591–611. doi:10.1093/biomet/52.3-4.591
Student (1908). The probable error of a mean. Biometrika 6:1–25. doi:10.1093/biomet/6.1.1
Mann HB, Whitney DR (1947). On a test of whether one of two random variables is
stochastically larger than the other. Ann Math Stat 18:50–60. doi:10.1214/aoms/1177730491
Kruskal WH, Wallis WA (1952). Use of ranks in one-criterion variance analysis. J Am Stat
Assoc 47:583–621. doi:10.1080/01621459.1952.10483441
Pearson K (1900). On the criterion that a given system of deviations from the probable…
Philos Mag 50:157–175. doi:10.1080/14786440009463897
Yates F (1934). Contingency tables involving small numbers and the χ² test. Suppl J R Stat
Soc 1:217–235. doi:10.2307/2983604
Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats as sps

from studykit.stats import _columns as C
from studykit.stats._fisher import fisher_test
from studykit.stats._proportion import wilson_interval
from studykit.stats._result import warn_undefined
from studykit.stats.means import mean_interval

#: The ``kind`` of a variable's rows: how it is summarised.
MEAN_SD, MEDIAN_IQR, COUNT_PERCENT = "mean_sd", "median_iqr", "count_percent"

_EXACT_RANKS_BELOW = 50        # R's wilcox.test: exact p when both n < 50 and no ties
_MIN_EXPECTED = 5.0            # Fisher's exact test when any expected count is below this


# --------------------------------------------------------------------------- continuous

def shapiro(x: np.ndarray, group: Any) -> tuple[float, str]:
    """Shapiro–Wilk p of one group, or NaN and why it cannot be tested."""
    if x.size < 3:
        return np.nan, f"Shapiro–Wilk impossible in group {group!r} (n = {x.size} < 3): taken as non-normal"
    if np.ptp(x) == 0:
        return np.nan, f"Shapiro–Wilk impossible in group {group!r} (all values equal): taken as non-normal"
    note = "" if x.size <= 5000 else f"Shapiro–Wilk p approximate in group {group!r} (n > 5000)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(sps.shapiro(x).pvalue), note


def describe(x: np.ndarray, kind: str, level: float) -> dict[str, Any]:
    """One group's summary: n, SD, quartiles, mean, median, range and the ``kind``'s estimate."""
    n = int(x.size)
    if n == 0:
        return {C.N: 0}
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if n > 1 else np.nan
    q1, median, q3 = (float(q) for q in np.quantile(x, [0.25, 0.5, 0.75]))  # linear = R type 7
    out = {C.N: n, C.SD: sd, C.Q1: q1, C.Q3: q3, C.MEAN: mean, C.MEDIAN: median, C.MIN: float(x.min()),
           C.MAX: float(x.max())}
    if kind == MEDIAN_IQR:
        return {C.ESTIMATE: median, **out}
    low, high = (float(v) for v in mean_interval(mean, sd, n, confidence=level))
    return {C.ESTIMATE: mean, C.CI_LOW: low, C.CI_HIGH: high, **out}


def continuous_test(name: str, samples: list[np.ndarray], kind: str, groups: list[Any]) -> dict[str, Any]:
    """The ``kind``'s test of the groups' samples, or its name and why it is undefined (warns)."""
    test = _CONTINUOUS_TESTS[(kind, len(samples) == 2)]
    empty = [g for g, s in zip(groups, samples) if s.size == 0]
    if empty:
        why = f"group {empty[0]!r} has no non-missing value of {name!r}"
    elif all(s.size < 2 or np.ptp(s) == 0 for s in samples):
        why = f"{name!r} has zero variance in every group"
    else:
        return test(samples)
    warn_undefined(f"the test of {name!r}", why)
    return {C.METHOD: _TEST_NAMES[test], C.NOTE: f"test undefined: {why}"}


def _student_t(samples: list[np.ndarray]) -> dict[str, Any]:
    a, b = samples
    res = sps.ttest_ind(a, b, equal_var=True)
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(a.size + b.size - 2),
            C.METHOD: _TEST_NAMES[_student_t]}


def _anova(samples: list[np.ndarray]) -> dict[str, Any]:
    res = sps.f_oneway(*samples)
    n = sum(s.size for s in samples)
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(len(samples) - 1),
            C.DF2: float(n - len(samples)), C.METHOD: _TEST_NAMES[_anova]}


def _mann_whitney(samples: list[np.ndarray]) -> dict[str, Any]:
    a, b = samples
    pooled = np.concatenate(samples)
    exact = max(a.size, b.size) < _EXACT_RANKS_BELOW and np.unique(pooled).size == pooled.size
    res = sps.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                           method="exact" if exact else "asymptotic")
    how = "exact" if exact else "normal approximation, continuity correction"
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic),
            C.METHOD: f"{_TEST_NAMES[_mann_whitney]} ({how})"}


def _kruskal(samples: list[np.ndarray]) -> dict[str, Any]:
    res = sps.kruskal(*samples)
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(len(samples) - 1),
            C.METHOD: _TEST_NAMES[_kruskal]}


#: (summary kind, two groups?) → test; the selection rule as a registry.
_CONTINUOUS_TESTS: dict[tuple[str, bool], Callable[[list[np.ndarray]], dict[str, Any]]] = {
    (MEAN_SD, True): _student_t, (MEAN_SD, False): _anova,
    (MEDIAN_IQR, True): _mann_whitney, (MEDIAN_IQR, False): _kruskal,
}
_TEST_NAMES = {_student_t: "Student t (equal variances)", _anova: "One-way ANOVA",
               _mann_whitney: "Mann–Whitney U", _kruskal: "Kruskal–Wallis"}


# --------------------------------------------------------------------------- categorical

def proportion(count: int, n: int, level: float) -> dict[str, Any]:
    """Count, proportion and its Wilson score interval (shared with ``diagnostic_metrics``)."""
    if n == 0:
        return {C.N: 0, C.COUNT: count}
    low, high = wilson_interval(np.array(count), np.array(n), level)
    return {C.ESTIMATE: count / n, C.CI_LOW: float(low), C.CI_HIGH: float(high),
            C.N: n, C.COUNT: count, C.PERCENT: 100.0 * count / n}


def categorical_test(name: str, table: np.ndarray, groups: list[Any], seed: int) -> dict[str, Any]:
    """Chi-square or Fisher's test of a levels × groups count table (empty levels left out)."""
    used = table[table.sum(axis=1) > 0]
    empty = [g for g, n in zip(groups, table.sum(axis=0)) if n == 0]
    if empty or used.shape[0] < 2:
        why = (f"group {empty[0]!r} has no non-missing value of {name!r}" if empty
               else f"{name!r} has {used.shape[0]} observed level{'s' if used.shape[0] != 1 else ''}")
        warn_undefined(f"the test of {name!r}", why)
        return {C.METHOD: "Pearson chi-square", C.NOTE: f"test undefined: {why}"}
    expected = np.outer(used.sum(axis=1), used.sum(axis=0)) / used.sum()
    small = int((expected < _MIN_EXPECTED).sum())
    if small:
        note = f"expected count < {_MIN_EXPECTED:g} in {small} of {expected.size} cells"
        return {**fisher_test(used, seed), C.NOTE: note}
    res = sps.chi2_contingency(used, correction=True)  # Yates only when df = 1, i.e. 2 × 2
    method = "Pearson chi-square (Yates)" if used.shape == (2, 2) else "Pearson chi-square"
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(res.dof), C.METHOD: method}
