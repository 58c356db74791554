"""Cohort table ("Table 1"): every clinical variable summarised per group and compared.

A continuous variable is summarised as mean ± SD and compared by Student's t test (one-way
ANOVA for three or more groups) when Shapiro–Wilk finds every group normal, else as median
[IQR] and compared by Mann–Whitney U (Kruskal–Wallis). A categorical variable is summarised
as count (percent) per level and compared by Pearson's chi-square, or by Fisher's exact test
when any expected count is below 5. The test used is named on every row.

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
Fisher RA (1922). On the interpretation of χ² from contingency tables, and the calculation
of P. J R Stat Soc 85:87–94. doi:10.2307/2340521
Yates F (1934). Contingency tables involving small numbers and the χ² test. Suppl J R Stat
Soc 1:217–235. doi:10.2307/2983604
Mehta CR, Patel NR (1983). A network algorithm for performing Fisher's exact test in r × c
contingency tables. J Am Stat Assoc 78:427–434. doi:10.1080/01621459.1983.10477989
Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
Pollard TJ, Johnson AEW, Raffa JD, Mark RG (2018). tableone: an open source Python package
for producing summary statistics for research papers. JAMIA Open 1:26–31.
doi:10.1093/jamiaopen/ooy012
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import gammaln

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._proportion import wilson_interval
from studykit.stats._result import result_frame, warn_undefined
from studykit.stats._validation import (
    check_confidence,
    check_positive_int,
    check_unit_interval,
    column,
    positions,
)

__all__ = ["compare_groups"]

VARIABLE = "variable"
LEVEL = "level"
KIND = "kind"
SD = "sd"
Q1 = "q1"
Q3 = "q3"
COUNT = "count"
PERCENT = "percent"
MISSING = "missing"
NORMALITY_P = "normality_p"
MEAN = "mean"
MEDIAN = "median"
MIN = "min"
MAX = "max"
DF2 = "df2"
NOTE = "note"

#: Identifying and descriptive columns after ``method, n, ci_level``, in this order.
EXTRAS = (VARIABLE, LEVEL, C.GROUP, KIND, SD, Q1, Q3, COUNT, PERCENT, MISSING, NORMALITY_P,
          MEAN, MEDIAN, MIN, MAX, DF2, NOTE)
#: The ``group`` value of the rows that pool every group.
OVERALL = "overall"
MEAN_SD, MEDIAN_IQR, COUNT_PERCENT = "mean_sd", "median_iqr", "count_percent"

_EXACT_RANKS_BELOW = 50        # R's wilcox.test: exact p when both n < 50 and no ties
_MIN_EXPECTED = 5.0            # Fisher's exact test when any expected count is below this
_FISHER_REL_ERR = 1e-7         # R's fisher.test: tables with P <= P_obs·(1 + 1e-7) are as extreme
_FISHER_MAX_TABLES = 2_000_000  # moves or partial paths held by the exact network before Monte Carlo
_FISHER_RESAMPLES = 100_000    # Monte Carlo tables when the exact enumeration is too large


@dataclass(frozen=True)
class _Context:
    groups: list[Any]
    alpha: float
    level: float
    seed: int
    overall: bool


def compare_groups(data: pd.DataFrame, group: str, *, continuous: Sequence[str] | str = (),
                   categorical: Sequence[str] | str = (), normality_alpha: float = 0.05,
                   confidence: float = 0.95, seed: int = 0, overall: bool = True) -> pd.DataFrame:
    """Cohort table ("Table 1"): summarise each variable per group and test the difference.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    group : str
        Column of ``data`` holding the group (e.g. ``label``: benign/malignant); two or more
        groups, no missing values. Groups are ordered as the column's categories when it is
        a pandas Categorical, else sorted.
    continuous, categorical : sequence of str
        Columns summarised as numbers (mean ± SD or median [IQR]) and as levels (count,
        percent). Strings, booleans and Categoricals are categorical; a Categorical's
        category order (unused categories included, with count 0) gives the level order,
        else levels are sorted. Rows follow the order of the columns in ``data``.
    normality_alpha : float
        Level of the per-group Shapiro–Wilk tests that choose the summary and the test.
    confidence : float
        Level of the t interval of a mean and the Wilson interval of a proportion.
    seed : int
        Seeds the Monte Carlo Fisher p-value, used only when an exact one is too large to
        enumerate (the method then says so).
    overall : bool
        Add rows with ``group = "overall"`` pooling all groups (descriptive only).

    Returns
    -------
    DataFrame, one row per (variable, level, group): ``estimate`` (mean for ``mean_sd``,
    median for ``median_iqr``, proportion 0–1 for ``count_percent``), ``ci_low, ci_high``
    (t interval of the mean, Wilson interval of the proportion, NaN for the median),
    ``p, statistic, df`` (the variable's test, repeated on all its rows: t, F, U, H or X²
    and its df; NaN statistic for Fisher, NaN df for U), ``method`` (the test's name),
    ``n`` (non-missing in the group), ``ci_level``, then ``variable, level`` (NaN when
    continuous), ``group, kind, sd, q1, q3, count, percent`` (of the non-missing),
    ``missing, normality_p`` (Shapiro–Wilk, per group), ``mean, median, min, max``,
    ``df2`` (denominator df of the ANOVA F) and ``note`` (why a group was taken as
    non-normal, why Fisher was chosen, why a test is undefined; ``""`` when none).
    The ``"overall"`` rows describe all groups pooled (``normality_p`` NaN). Nothing is
    rounded.

    Notes
    -----
    Continuous: each group with n ≥ 3 and two distinct values gets a Shapiro–Wilk test; a
    group without one counts as non-normal (the note says so). If every group has
    p ≥ ``normality_alpha``: ``mean_sd`` and Student's t with pooled variance,
    t = (x̄₁ − x̄₂) / (s_p √(1/n₁ + 1/n₂)), df = n₁ + n₂ − 2 (three or more groups: one-way
    ANOVA, F = MS_between / MS_within, df = (k − 1, N − k)). Otherwise ``median_iqr`` and
    the Mann–Whitney U of the first group, U₁ = R₁ − n₁(n₁ + 1)/2 (R's W): exact p when
    both n < 50 and there are no ties, else the normal approximation with tie and
    continuity correction, as R's ``wilcox.test(exact = NULL, correct = TRUE)`` (three or
    more groups: Kruskal–Wallis H with tie correction, df = k − 1). Quartiles are R's
    type 7. Mean CI: x̄ ± t_{n−1} s/√n.

    Categorical: missing values are counted, never a level; levels no patient has are
    left out of the test. Expected counts E = row total × column total / N; if any
    E < 5, Fisher's exact test (two-sided; the p-value sums the probabilities of all tables
    with the observed margins that are at most as probable as the observed one, with R's
    relative tolerance 1e-7; exact for any r × c by the network algorithm of Mehta & Patel;
    where that would hold over 2 000 000 moves or paths, a seeded Monte Carlo p-value
    from 100 000 random tables, named so in ``method``). Otherwise Pearson's X² = Σ (|O − E| − c)² / E,
    df = (r − 1)(c − 1), with Yates' c = min(0.5, |O − E|) for 2 × 2 tables and c = 0
    otherwise, as R's ``chisq.test``. Proportion CI: Wilson score interval.

    A variable with a group lacking any value, one observed level only, or zero variance
    in every group warns :class:`~studykit.errors.UndefinedStatisticWarning` and gets NaN
    ``p`` and ``statistic``.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["benign"] * 4 + ["malignant"] * 4,
    ...                    "age": [50, 52, 47, 55, 60, 58, 63, 61],
    ...                    "sex": ["F", "M", "F", "F", "M", "M", "F", "M"]})
    >>> t1 = compare_groups(df, "label", continuous=["age"], categorical=["sex"])
    >>> t1.loc[t1.group != "overall", ["variable", "level", "group", "kind", "estimate", "sd"]].round(2)
      variable level      group           kind  estimate    sd
    0      age   NaN     benign        mean_sd     51.00  3.37
    1      age   NaN  malignant        mean_sd     60.50  2.08
    3      sex     F     benign  count_percent      0.75   NaN
    4      sex     F  malignant  count_percent      0.25   NaN
    6      sex     M     benign  count_percent      0.25   NaN
    7      sex     M  malignant  count_percent      0.75   NaN
    >>> t1.drop_duplicates("variable")[["variable", "method", "p"]].round(4)
      variable                       method       p
    0      age  Student t (equal variances)  0.0030
    3      sex                 Fisher exact  0.4857
    """
    codes, groups = _group_codes(data, group)
    variables = _variables(data, group, continuous, categorical)
    if overall and any(_is_overall(g) for g in groups):
        raise InputError(f"column {group!r} has a group named {OVERALL!r}, the name of the pooled rows.",
                         field="group", hint="rename that group, or pass overall=False.")
    alpha = check_unit_interval("normality_alpha", normality_alpha, example="normality_alpha=0.05")
    ctx = _Context(groups=groups, alpha=alpha, level=check_confidence(confidence),
                   seed=check_positive_int("seed", seed, minimum=0), overall=bool(overall))
    rows: list[dict[str, Any]] = []
    for name, kind in variables:
        rows.extend(_KERNELS[kind](name, data[name], codes, ctx))
    return result_frame(rows, inference=[C.STATISTIC, C.DF])


# --------------------------------------------------------------------------- validation

def _is_overall(value: Any) -> bool:
    return isinstance(value, str) and value == OVERALL


def _sorted_levels(values: Iterable[Any]) -> list[Any]:
    values = list(values)
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by type name, then text
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def _levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    return _sorted_levels(series.dropna().unique())


def _group_codes(data: pd.DataFrame, group: str) -> tuple[np.ndarray, list[Any]]:
    values = column(data, group, argument="group")
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(f"column {group!r} has {positions(missing)} that are missing.", field="group",
                         hint="every patient needs a group: fill it in or drop those rows.")
    levels = _levels(values)
    codes = pd.Categorical(values, categories=levels).codes.astype(np.int64)
    sizes = np.bincount(codes, minlength=len(levels))
    if sizes.size and (sizes == 0).any():
        empty = levels[int(np.flatnonzero(sizes == 0)[0])]
        raise InputError(f"group {empty!r} of column {group!r} has no rows.", field="group",
                         hint="drop unused categories with .cat.remove_unused_categories().")
    if len(levels) < 2:
        raise InputError(f"column {group!r} must hold at least two groups to compare; got {len(levels)}"
                         f"{': ' + repr(levels[0]) if levels else ''}.", field="group",
                         hint="pass the column that splits the cohort, e.g. the reference-standard label.")
    return codes, levels


def _names(value: Sequence[str] | str, argument: str) -> list[str]:
    names = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(f"lists column {name!r} twice.", field=argument, hint="list each column once.")
        seen.add(name)
    return names


def _variables(data: pd.DataFrame, group: str, continuous: Sequence[str] | str,
               categorical: Sequence[str] | str) -> list[tuple[str, str]]:
    kinds: dict[str, str] = {}
    for argument in ("continuous", "categorical"):
        for name in _names(continuous if argument == "continuous" else categorical, argument):
            column(data, name, argument=argument)
            if name == group:
                raise InputError(f"lists {name!r}, the group column.", field=argument,
                                 hint="the group column defines the table's columns; leave it out.")
            if name in kinds:
                raise InputError(f"column {name!r} is listed as both continuous and categorical.",
                                 field=argument, hint="list it under one of them only.")
            kinds[name] = argument
    if not kinds:
        raise InputError("no variables to summarise.", field="continuous",
                         hint="name columns with continuous= and/or categorical=.")
    return [(name, kinds[name]) for name in data.columns if name in kinds]


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    """A continuous column as float64 with NaN for missing; raise on anything else."""
    hint = f"convert {name!r} to numbers (pd.to_numeric), or list it under categorical=."
    if pd.api.types.is_bool_dtype(series):
        raise InputError(f"column {name!r} is boolean, not continuous.", field="continuous", hint=hint)
    missing = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        bad = np.array([not m and not (isinstance(v, numbers.Real) and not isinstance(v, bool))
                        for v, m in zip(series, missing)], dtype=bool)
        if bad.any():
            example = series.iloc[int(np.flatnonzero(bad)[0])]
            raise InputError(f"column {name!r} must be numeric; it holds {positions(bad)} that are not "
                             f"numbers, e.g. {example!r}.", field="continuous", hint=hint)
        values = np.array([np.nan if m else float(v) for v, m in zip(series, missing)], dtype=np.float64)
    infinite = np.isinf(values)
    if infinite.any():
        raise InputError(f"column {name!r} holds {positions(infinite)} that are infinite.",
                         field="continuous", hint="replace them with NaN (missing) or a finite value.")
    return values


# --------------------------------------------------------------------------- continuous

def _continuous_rows(name: str, series: pd.Series, codes: np.ndarray, ctx: _Context) -> list[dict]:
    x = _numeric(series, name)
    samples = [x[(codes == k) & ~np.isnan(x)] for k in range(len(ctx.groups))]
    missing = [int(np.isnan(x[codes == k]).sum()) for k in range(len(ctx.groups))]
    normality = [_shapiro(s, g) for s, g in zip(samples, ctx.groups)]
    normal = all(p >= ctx.alpha for p, _ in normality)  # NaN (untestable) compares False
    kind = MEAN_SD if normal else MEDIAN_IQR
    test = _continuous_test(name, samples, kind, ctx.groups)
    notes = "; ".join(filter(None, [note for _, note in normality] + [test.pop(NOTE, "")]))
    base = {C.CI_LEVEL: ctx.level, VARIABLE: name, KIND: kind, **test, NOTE: notes}
    rows = [_row(base, group=g, normality_p=p, missing=m, **_describe(s, kind, ctx.level))
            for g, s, (p, _), m in zip(ctx.groups, samples, normality, missing)]
    if ctx.overall:
        pooled = x[~np.isnan(x)]
        rows.append(_row(base, group=OVERALL, missing=sum(missing), **_describe(pooled, kind, ctx.level)))
    return rows


def _shapiro(x: np.ndarray, group: Any) -> tuple[float, str]:
    """Shapiro–Wilk p of one group, or NaN and why it cannot be tested."""
    if x.size < 3:
        return np.nan, f"Shapiro–Wilk impossible in group {group!r} (n = {x.size} < 3): taken as non-normal"
    if np.ptp(x) == 0:
        return np.nan, f"Shapiro–Wilk impossible in group {group!r} (all values equal): taken as non-normal"
    note = "" if x.size <= 5000 else f"Shapiro–Wilk p approximate in group {group!r} (n > 5000)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(sps.shapiro(x).pvalue), note


def _describe(x: np.ndarray, kind: str, level: float) -> dict[str, Any]:
    n = int(x.size)
    if n == 0:
        return {C.N: 0}
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if n > 1 else np.nan
    q1, median, q3 = (float(q) for q in np.quantile(x, [0.25, 0.5, 0.75]))  # linear = R type 7
    out = {C.N: n, SD: sd, Q1: q1, Q3: q3, MEAN: mean, MEDIAN: median, MIN: float(x.min()),
           MAX: float(x.max())}
    if kind == MEDIAN_IQR:
        return {C.ESTIMATE: median, **out}
    half = float(sps.t.ppf(0.5 + level / 2.0, n - 1)) * sd / np.sqrt(n) if n > 1 else np.nan
    return {C.ESTIMATE: mean, C.CI_LOW: mean - half, C.CI_HIGH: mean + half, **out}


def _continuous_test(name: str, samples: list[np.ndarray], kind: str, groups: list[Any]) -> dict[str, Any]:
    test = _CONTINUOUS_TESTS[(kind, len(samples) == 2)]
    empty = [g for g, s in zip(groups, samples) if s.size == 0]
    if empty:
        why = f"group {empty[0]!r} has no non-missing value of {name!r}"
    elif all(s.size < 2 or np.ptp(s) == 0 for s in samples):
        why = f"{name!r} has zero variance in every group"
    else:
        return test(samples)
    warn_undefined(f"the test of {name!r}", why)
    return {C.METHOD: _TEST_NAMES[test], NOTE: f"test undefined: {why}"}


def _student_t(samples: list[np.ndarray]) -> dict[str, Any]:
    a, b = samples
    res = sps.ttest_ind(a, b, equal_var=True)
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(a.size + b.size - 2),
            C.METHOD: _TEST_NAMES[_student_t]}


def _anova(samples: list[np.ndarray]) -> dict[str, Any]:
    res = sps.f_oneway(*samples)
    n = sum(s.size for s in samples)
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(len(samples) - 1),
            DF2: float(n - len(samples)), C.METHOD: _TEST_NAMES[_anova]}


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

def _categorical_rows(name: str, series: pd.Series, codes: np.ndarray, ctx: _Context) -> list[dict]:
    levels = _levels(series)
    present = ~series.isna().to_numpy()
    level_codes = pd.Categorical(series, categories=levels).codes.astype(np.int64)
    table = np.zeros((len(levels), len(ctx.groups)), dtype=np.int64)
    np.add.at(table, (level_codes[present], codes[present]), 1)
    missing = np.bincount(codes[~present], minlength=len(ctx.groups))
    base = {C.CI_LEVEL: ctx.level, VARIABLE: name, KIND: COUNT_PERCENT,
            **_categorical_test(name, table, ctx)}
    columns = list(zip(ctx.groups, table.T, missing))
    if ctx.overall:
        columns.append((OVERALL, table.sum(axis=1), int(missing.sum())))
    return [_row(base, level=lv, group=g, missing=int(m),
                 **_proportion(int(counts[i]), int(counts.sum()), ctx.level))
            for i, lv in enumerate(levels) for g, counts, m in columns]


def _proportion(count: int, n: int, level: float) -> dict[str, Any]:
    """Count, proportion and its Wilson score interval (shared with ``diagnostic_metrics``)."""
    if n == 0:
        return {C.N: 0, COUNT: count}
    low, high = wilson_interval(np.array(count), np.array(n), level)
    return {C.ESTIMATE: count / n, C.CI_LOW: float(low), C.CI_HIGH: float(high),
            C.N: n, COUNT: count, PERCENT: 100.0 * count / n}


def _categorical_test(name: str, table: np.ndarray, ctx: _Context) -> dict[str, Any]:
    used = table[table.sum(axis=1) > 0]
    empty = [g for g, n in zip(ctx.groups, table.sum(axis=0)) if n == 0]
    if empty or used.shape[0] < 2:
        why = (f"group {empty[0]!r} has no non-missing value of {name!r}" if empty
               else f"{name!r} has {used.shape[0]} observed level{'s' if used.shape[0] != 1 else ''}")
        warn_undefined(f"the test of {name!r}", why)
        return {C.METHOD: "Pearson chi-square", NOTE: f"test undefined: {why}"}
    expected = np.outer(used.sum(axis=1), used.sum(axis=0)) / used.sum()
    small = int((expected < _MIN_EXPECTED).sum())
    if small:
        note = f"expected count < {_MIN_EXPECTED:g} in {small} of {expected.size} cells"
        return {**_fisher(used, ctx.seed), NOTE: note}
    res = sps.chi2_contingency(used, correction=True)  # Yates only when df = 1, i.e. 2 × 2
    method = "Pearson chi-square (Yates)" if used.shape == (2, 2) else "Pearson chi-square"
    return {C.P: float(res.pvalue), C.STATISTIC: float(res.statistic), C.DF: float(res.dof), C.METHOD: method}


def _fisher(table: np.ndarray, seed: int) -> dict[str, Any]:
    p = _fisher_exact_p(table)
    if p is not None:
        return {C.P: p, C.METHOD: "Fisher exact"}
    mc = sps.MonteCarloMethod(n_resamples=_FISHER_RESAMPLES, rng=np.random.default_rng(seed))
    p = float(sps.fisher_exact(table, method=mc).pvalue)
    return {C.P: p, C.METHOD: f"Fisher exact (Monte Carlo, {_FISHER_RESAMPLES} tables, seed {seed})"}


def _fisher_exact_p(table: np.ndarray, max_paths: int | None = None) -> float | None:
    """Two-sided Fisher exact p of an r × c table (R's ``fisher.test``), or ``None`` if too big.

    The network algorithm (Mehta & Patel 1983): tables with the observed margins are paths
    through a network whose stage-j nodes are the row totals left after filling j columns
    (smallest columns first, the largest last). A path's log-weight is −Σ log x!; the
    exact longest and shortest completions of every node decide whole sub-networks at
    once: a partial path whose every completion is at most as probable as the observed
    table adds its total completion mass S!/(Π sᵢ! Π c_j!) in closed form, one whose every
    completion is more probable is dropped, and only the rest are extended (paths reaching
    one node with equal weights merged). The p-value sums P(T) over tables with
    P(T) ≤ P(observed)·(1 + 1e-7), as R does. Returns ``None`` when more than
    ``max_paths`` moves or partial paths would be held at once.
    """
    cap = _FISHER_MAX_TABLES if max_paths is None else max_paths
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 1.0
    t = t if t.shape[0] <= t.shape[1] else t.T
    rows, cols = t.sum(axis=1), np.sort(t.sum(axis=0))
    network = _fisher_network(rows, cols, cap)
    if network is None:
        return None
    states, moves = network
    longest, shortest = _completions(states, moves)
    const = gammaln(rows + 1.0).sum() + gammaln(cols + 1.0).sum() - gammaln(rows.sum() + 1.0)
    threshold = -gammaln(t + 1.0).sum() + np.log1p(_FISHER_REL_ERR)
    tail = np.cumsum(gammaln(cols + 1.0)[::-1])[::-1]  # Σ log c_l! over the columns still to fill
    node, past, weight, p = np.zeros(1, np.int64), np.zeros(1), np.ones(1), 0.0
    for j, left in enumerate(states):
        s = left[node]
        done = past + longest[j][node] <= threshold
        mass = gammaln(s.sum(axis=1) + 1.0) - gammaln(s + 1.0).sum(axis=1) - tail[j]
        p += float(np.sum(weight[done] * np.exp(const + past[done] + mass[done])))
        alive = ~done & (past + shortest[j][node] <= threshold)
        if j == len(moves) or not alive.any():
            break
        extended = _extend(node[alive], past[alive], weight[alive], moves[j], cap)
        if extended is None:
            return None
        node, past, weight = extended
    return min(1.0, p)


def _fisher_network(rows: np.ndarray, cols: np.ndarray, cap: int):
    """Nodes (remaining row totals) per stage and the moves (src, dst, log-weight) between them."""
    states, moves = [rows[None, :]], []
    for total in cols[:-1]:
        left = states[-1]
        if left.shape[0] * comb(int(total) + rows.size - 1, rows.size - 1) > cap:
            return None
        parts = _compositions(int(total), rows)
        src, k = np.nonzero(np.all(parts[None, :, :] <= left[:, None, :], axis=2))
        nodes, dst = np.unique(left[src] - parts[k], axis=0, return_inverse=True)
        order = np.argsort(src, kind="stable")
        moves.append((src[order], dst.ravel()[order], -gammaln(parts[k][order] + 1.0).sum(axis=1)))
        states.append(nodes)
    return states, moves


def _completions(states: list[np.ndarray], moves: list[tuple]) -> tuple[list, list]:
    """Longest and shortest completion (max and min future log-weight) of every node."""
    last = -gammaln(states[-1] + 1.0).sum(axis=1)  # the last column is what remains
    longest, shortest = [last], [last]
    for j in range(len(moves) - 1, -1, -1):
        src, dst, w = moves[j]
        high = np.full(states[j].shape[0], -np.inf)
        low = np.full(states[j].shape[0], np.inf)
        np.maximum.at(high, src, w + longest[0][dst])
        np.minimum.at(low, src, w + shortest[0][dst])
        longest.insert(0, high)
        shortest.insert(0, low)
    return longest, shortest


def _extend(node: np.ndarray, past: np.ndarray, weight: np.ndarray, move: tuple, cap: int):
    """Every partial path one column further, paths meeting at a node with equal weight merged."""
    src, dst, w = move  # sorted by src
    start, stop = np.searchsorted(src, node, "left"), np.searchsorted(src, node, "right")
    counts = stop - start
    total = int(counts.sum())
    if total > cap:
        return None
    path = np.repeat(np.arange(node.size), counts)
    idx = np.repeat(start, counts) + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return _merge(dst[idx], past[path] + w[idx], weight[path])


def _compositions(total: int, bounds: np.ndarray) -> np.ndarray:
    """Every way to split ``total`` into ``len(bounds)`` non-negative parts, part i ≤ bounds[i]."""
    if bounds.size == 1:
        return np.array([[total]], dtype=np.int64) if total <= bounds[0] else np.empty((0, 1), np.int64)
    blocks = []
    for first in range(min(total, int(bounds[0])) + 1):
        rest = _compositions(total - first, bounds[1:])
        blocks.append(np.column_stack([np.full(rest.shape[0], first, dtype=np.int64), rest]))
    return np.vstack(blocks) if blocks else np.empty((0, bounds.size), np.int64)


def _merge(node: np.ndarray, past: np.ndarray, weight: np.ndarray):
    """Merge partial paths at the same node with the same log-weight (to 1e-9)."""
    keys = np.column_stack([node, np.round(past * 1e9).astype(np.int64)])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return node[first], past[first], np.bincount(inverse.ravel(), weights=weight)


# --------------------------------------------------------------------------- rows

def _row(base: dict[str, Any], **values: Any) -> dict[str, Any]:
    """One result row with every extra column present, in :data:`EXTRAS` order."""
    merged = {**base, **values}
    row = {key: merged[key] for key in (C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.P, C.STATISTIC, C.DF,
                                         C.METHOD, C.N) if key in merged}
    row[C.CI_LEVEL] = merged.get(C.CI_LEVEL, np.nan)
    row.update({key: merged.get(key, np.nan) for key in EXTRAS})
    row[NOTE] = merged.get(NOTE, "") or ""
    return row


_KERNELS: dict[str, Callable[[str, pd.Series, np.ndarray, _Context], list[dict]]] = {
    "continuous": _continuous_rows, "categorical": _categorical_rows,
}
