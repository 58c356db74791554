"""Cohort table ("Table 1"): every clinical variable summarised per group and compared.

A continuous variable is summarised as mean ± SD and compared by Student's t test (one-way
ANOVA for three or more groups) when Shapiro–Wilk finds every group normal, else as median
[IQR] and compared by Mann–Whitney U (Kruskal–Wallis). A categorical variable is summarised
as count (percent) per level and compared by Pearson's chi-square, or by Fisher's exact test
when any expected count is below 5. The test used is named on every row.

This module validates the inputs and assembles each variable's rows. A variable's
summaries and the choice and running of its test are in :mod:`studykit.stats._cohort_stats`
(with the tests' references), Fisher's exact test of an r × c table in
:mod:`studykit.stats._fisher`.

References
----------
Pollard TJ, Johnson AEW, Raffa JD, Mark RG (2018). tableone: an open source Python package
for producing summary statistics for research papers. JAMIA Open 1:26–31.
doi:10.1093/jamiaopen/ooy012
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._cohort_stats import (
    COUNT_PERCENT,
    MEAN_SD,
    MEDIAN_IQR,
    categorical_test,
    continuous_test,
    describe,
    proportion,
    shapiro,
)
from studykit.stats._result import result_frame
from studykit.stats._validation import (
    check_confidence,
    check_positive_int,
    check_unit_interval,
    column,
    positions,
)

__all__ = ["compare_groups"]

# the columns' names are defined in ``_columns``; they stay importable from here
VARIABLE, LEVEL, KIND, SD, Q1, Q3 = C.VARIABLE, C.LEVEL, C.KIND, C.SD, C.Q1, C.Q3
COUNT, PERCENT, MISSING, NORMALITY_P = C.COUNT, C.PERCENT, C.MISSING, C.NORMALITY_P
MEAN, MEDIAN, MIN, MAX, DF2, NOTE = C.MEAN, C.MEDIAN, C.MIN, C.MAX, C.DF2, C.NOTE

#: Identifying and descriptive columns after ``method, n, ci_level``, in this order.
EXTRAS = (VARIABLE, LEVEL, C.GROUP, KIND, SD, Q1, Q3, COUNT, PERCENT, MISSING, NORMALITY_P,
          MEAN, MEDIAN, MIN, MAX, DF2, NOTE)
#: The ``group`` value of the rows that pool every group.
OVERALL = "overall"


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


# --------------------------------------------------------------------------- rows of one variable

def _continuous_rows(name: str, series: pd.Series, codes: np.ndarray, ctx: _Context) -> list[dict]:
    x = _numeric(series, name)
    samples = [x[(codes == k) & ~np.isnan(x)] for k in range(len(ctx.groups))]
    missing = [int(np.isnan(x[codes == k]).sum()) for k in range(len(ctx.groups))]
    normality = [shapiro(s, g) for s, g in zip(samples, ctx.groups)]
    normal = all(p >= ctx.alpha for p, _ in normality)  # NaN (untestable) compares False
    kind = MEAN_SD if normal else MEDIAN_IQR
    test = continuous_test(name, samples, kind, ctx.groups)
    notes = "; ".join(filter(None, [note for _, note in normality] + [test.pop(NOTE, "")]))
    base = {C.CI_LEVEL: ctx.level, VARIABLE: name, KIND: kind, **test, NOTE: notes}
    rows = [_row(base, group=g, normality_p=p, missing=m, **describe(s, kind, ctx.level))
            for g, s, (p, _), m in zip(ctx.groups, samples, normality, missing)]
    if ctx.overall:
        pooled = x[~np.isnan(x)]
        rows.append(_row(base, group=OVERALL, missing=sum(missing), **describe(pooled, kind, ctx.level)))
    return rows

def _categorical_rows(name: str, series: pd.Series, codes: np.ndarray, ctx: _Context) -> list[dict]:
    levels = _levels(series)
    present = ~series.isna().to_numpy()
    level_codes = pd.Categorical(series, categories=levels).codes.astype(np.int64)
    table = np.zeros((len(levels), len(ctx.groups)), dtype=np.int64)
    np.add.at(table, (level_codes[present], codes[present]), 1)
    missing = np.bincount(codes[~present], minlength=len(ctx.groups))
    base = {C.CI_LEVEL: ctx.level, VARIABLE: name, KIND: COUNT_PERCENT,
            **categorical_test(name, table, ctx.groups, ctx.seed)}
    columns = list(zip(ctx.groups, table.T, missing))
    if ctx.overall:
        columns.append((OVERALL, table.sum(axis=1), int(missing.sum())))
    return [_row(base, level=lv, group=g, missing=int(m),
                 **proportion(int(counts[i]), int(counts.sum()), ctx.level))
            for i, lv in enumerate(levels) for g, counts, m in columns]

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
