"""Intraclass correlation coefficients: the six Shrout–Fleiss forms with their F-test CIs.

:func:`icc` and its ANOVA kernels (mean squares, the six estimates, the F tests and the
bounds that invert them, McGraw & Wong's Satterthwaite df for ICC2), reproducing
``psych::ICC(x, lmer = FALSE)``. Importable as :func:`studykit.stats.icc` and from
:mod:`studykit.stats.agreement`; the long-format input checks it shares with Fleiss' kappa
are in :mod:`studykit.stats._ratings`.

References
----------
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 86:420–428. doi:10.1037/0033-2909.86.2.420
McGraw KO, Wong SP (1996). Forming inferences about some intraclass correlation
coefficients. Psychol Methods 1:30–46. doi:10.1037/1082-989X.1.1.30
Revelle W (2022). psych: Procedures for Psychological, Psychometric, and Personality
Research, version 2.2.9 (``ICC``). https://CRAN.R-project.org/package=psych
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import f as f_dist

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._ratings import SHOW, Long, at_least_two, listed, long_ratings, show
from studykit.stats._result import result_frame, warn_undefined
from studykit.stats._validation import check_confidence, finite_scores
from studykit.vocab import ICC_FORMS as FORM_NAMES

_ONE = "one-way random effects, absolute agreement"
_ABS = "two-way random effects, absolute agreement"
_CON = "two-way mixed effects, consistency"
_F_CI = "F-test CI (Shrout & Fleiss 1979)"
_MW_CI = "CI with approximate df (McGraw & Wong 1996)"
_ICC_DETAILS = (  # psych's description and the method, per form in psych's order
    ("Single_raters_absolute", f"{_ONE}, single rater; {_F_CI}"),
    ("Single_random_raters", f"{_ABS}, single rater; {_MW_CI}"),
    ("Single_fixed_raters", f"{_CON}, single rater; {_F_CI}"),
    ("Average_raters_absolute", f"{_ONE}, mean of k raters; {_F_CI}"),
    ("Average_random_raters", f"{_ABS}, mean of k raters; {_MW_CI}"),
    ("Average_fixed_raters", f"{_CON}, mean of k raters; {_F_CI}"),
)
#: The six Shrout–Fleiss forms (names from :data:`studykit.vocab.ICC_FORMS`, psych's order):
#: (form, psych's description, method).
ICC_FORMS = tuple((form, *details) for form, details in zip(FORM_NAMES, _ICC_DETAILS, strict=True))


def icc(data: pd.DataFrame, targets: str, raters: str, ratings: str, *,
        confidence: float = 0.95) -> pd.DataFrame:
    """Intraclass correlation coefficients: all six Shrout & Fleiss (1979) forms.

    Reproduces ``psych::ICC(x, lmer = FALSE)`` (the ANOVA estimates): the same
    estimates, F statistics, degrees of freedom, p-values and confidence bounds.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (target, rater): every rater rates every target once.
    targets, raters, ratings : str
        Column names: target ids, rater ids and the numeric ratings (booleans allowed).
    confidence : float
        Two-sided confidence level of the intervals.

    Returns
    -------
    DataFrame with six rows (``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k``) and columns
    ``estimate, ci_low, ci_high, p`` (F-test of ICC = 0), ``statistic`` (F), ``df1, df2``
    (its degrees of freedom), ``method``, ``n`` (targets), ``ci_level``, ``form``,
    ``description`` (psych's row name) and ``n_raters``.
    All ratings equal (zero variance): a warning and NaN estimates.

    Notes
    -----
    With n targets and k raters, the two-way ANOVA gives MSR (targets, df n − 1), MSC
    (raters, k − 1), MSE (residual, (n − 1)(k − 1)) and MSW = (SSC + SSE) / (n(k − 1))
    (within targets). Then

    - ICC1 = (MSR − MSW) / (MSR + (k − 1) MSW);  ICC1k = (MSR − MSW) / MSR
    - ICC2 = (MSR − MSE) / (MSR + (k − 1) MSE + k (MSC − MSE) / n);
      ICC2k = (MSR − MSE) / (MSR + (MSC − MSE) / n)
    - ICC3 = (MSR − MSE) / (MSR + (k − 1) MSE);  ICC3k = (MSR − MSE) / MSR

    ICC1 and ICC1k are tested with F = MSR/MSW on (n − 1, n(k − 1)) df, the others with
    F = MSR/MSE on (n − 1, (n − 1)(k − 1)) df. Their CIs invert the F test: with
    F_L = F / F_{1−α/2}(df1, df2) and F_U = F · F_{1−α/2}(df2, df1), single-rater bounds
    are (F − 1) / (F + k − 1) and k-rater bounds 1 − 1/F. ICC2's bounds use
    Satterthwaite's approximate df ν (McGraw & Wong 1996, Table 7, as psych), and
    ICC2k's are ICC2's stepped up by Spearman–Brown. When a mean square in a
    denominator is exactly zero (ratings perfectly consistent), F is infinite and the
    bounds take their limit, 1 (psych returns NaN there, Inf/Inf, or rounding noise).
    Sums of squares within rounding error of zero count as zero.

    psych's default ``lmer = TRUE`` estimates the variance components by REML instead:
    for complete data it agrees with these ANOVA estimates only to the optimiser's
    tolerance (about 1e-6), and truncates negative components at zero.

    References
    ----------
    Shrout & Fleiss (1979), doi:10.1037/0033-2909.86.2.420; McGraw & Wong (1996),
    doi:10.1037/1082-989X.1.1.30; psych ``ICC`` (Revelle 2022).

    Examples
    --------
    >>> table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> long = pd.DataFrame([(t, j, x) for t, row in enumerate(table) for j, x in enumerate(row)],
    ...                     columns=["target", "judge", "rating"])
    >>> icc(long, "target", "judge", "rating")[["form", "estimate"]].round(2).values.tolist()
    [['ICC1', 0.17], ['ICC2', 0.29], ['ICC3', 0.71], ['ICC1k', 0.44], ['ICC2k', 0.62], ['ICC3k', 0.91]]
    """
    level = check_confidence(confidence)
    long = long_ratings(data, targets, raters, ratings, value_arg="ratings")
    at_least_two(long)
    x = _complete_table(long, _numeric_ratings(long.values))
    n, k = x.shape
    common = {C.N: n, C.CI_LEVEL: level}
    stats = _icc_stats(x, level)
    df1 = np.full(6, n - 1)
    df2 = np.array([n * (k - 1), (n - 1) * (k - 1), (n - 1) * (k - 1)] * 2)
    rows = [{**{name: values[i] for name, values in stats.items()}, C.METHOD: method, **common,
             C.FORM: form, C.DESCRIPTION: description, C.N_RATERS: k, C.DF1: int(df1[i]), C.DF2: int(df2[i])}
            for i, (form, description, method) in enumerate(ICC_FORMS)]
    frame = result_frame(rows, inference=[C.STATISTIC])
    first = [*C.LEADING, C.STATISTIC, C.DF1, C.DF2]  # the F test's two df stand where ``df`` would
    return frame[first + [col for col in frame.columns if col not in first]]


# --- input checks ----------------------------------------------------------------------

def _numeric_ratings(values: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(values):
        example = next((v for v in values if not isinstance(v, (int, float, np.number))), values.iloc[0])
        raise InputError(f"column {values.name!r} must hold numbers (or booleans); got "
                         f"non-numeric values such as {show(example)}.", field="ratings",
                         hint="code the ratings as numbers; for categorical calls use fleiss_kappa.")
    return finite_scores(values.to_numpy(dtype=np.float64, na_value=np.nan), name="ratings")


def _complete_table(long: Long, values: np.ndarray) -> np.ndarray:
    """targets × raters matrix; raise naming the targets that lack a rater's rating."""
    x = np.full((len(long.targets), len(long.raters)), np.nan)
    x[long.target, long.rater] = values
    holes = np.isnan(x)
    incomplete = np.flatnonzero(holes.any(axis=1))
    if incomplete.size:
        shown = "; ".join(f"target {show(long.targets[i])} lacks rater(s) {listed(long.raters[holes[i]])}"
                          for i in incomplete[:SHOW])
        more = "; …" if incomplete.size > SHOW else ""
        raise InputError(f"must hold a rating from every rater for every target (a complete design); "
                         f"{incomplete.size} target(s) are incomplete: {shown}{more}.", field="data",
                         hint="drop the incomplete targets (or the raters who skipped them) before "
                              "computing the ICC.")
    return x


# --- kernels ---------------------------------------------------------------------------

def _mean_squares(x: np.ndarray) -> tuple[float, float, float, float]:
    """MSR (targets), MSC (raters), MSE (residual), MSW (within targets) of an n × k table.

    A sum of squares no larger than rounding error (nk · (16 ε max|x − x̄|)²) is set to
    exactly zero, so that perfectly consistent ratings give the exact limits.
    """
    n, k = x.shape
    x = x - x.mean()
    rows, cols = x.mean(axis=1), x.mean(axis=0)
    ss_r, ss_c = k * np.sum(rows**2), n * np.sum(cols**2)
    ss_e = np.sum((x - rows[:, None] - cols[None, :]) ** 2)
    rounding = x.size * (16.0 * np.finfo(np.float64).eps * np.max(np.abs(x))) ** 2
    ss_r, ss_c, ss_e = (0.0 if ss <= rounding else ss for ss in (ss_r, ss_c, ss_e))
    return ss_r / (n - 1), ss_c / (k - 1), ss_e / ((n - 1) * (k - 1)), (ss_c + ss_e) / (n * (k - 1))


def _single(f: float, k: int) -> float:
    return 1.0 if np.isposinf(f) else (f - 1.0) / (f + k - 1.0)


def _average(f: float) -> float:
    return 1.0 if np.isposinf(f) else 1.0 - 1.0 / f


def _icc_stats(x: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """The kernel's columns, or NaN with a warning where the data leave a form undefined."""
    if np.ptp(x) == 0:
        warn_undefined("the ICC", "every rating is equal (zero variance)")
        return {name: np.full(6, np.nan) for name in (C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.P, C.STATISTIC)}
    stats = _icc_kernel(x, level)
    undefined = [form for (form, _, _), value in zip(ICC_FORMS, stats[C.ESTIMATE], strict=True)
                 if np.isnan(value)]
    if undefined:
        warn_undefined(", ".join(undefined), "the targets' and the residual mean squares are both zero")
    return stats


def _icc_kernel(x: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Estimates, F, p and CI bounds of the six forms, in ``ICC_FORMS`` order (as psych)."""
    n, k = x.shape
    msr, msc, mse, msw = (np.float64(v) for v in _mean_squares(x))
    q = 0.5 + level / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        estimates = [(msr - msw) / (msr + (k - 1) * msw), icc2, (msr - mse) / (msr + (k - 1) * mse),
                     (msr - msw) / msr, (msr - mse) / (msr + (msc - mse) / n), (msr - mse) / msr]
        f1, f3 = msr / msw, msr / mse
        df_w, df_e = n * (k - 1), (n - 1) * (k - 1)
        f1l, f1u = f1 / f_dist.ppf(q, n - 1, df_w), f1 * f_dist.ppf(q, df_w, n - 1)
        f3l, f3u = f3 / f_dist.ppf(q, n - 1, df_e), f3 * f_dist.ppf(q, df_e, n - 1)
        low2, high2 = _icc2_bounds(n, k, msr, msc, mse, icc2, q)
        lows = [_single(f1l, k), low2, _single(f3l, k),
                _average(f1l), _spearman_brown(low2, k), _average(f3l)]
        highs = [_single(f1u, k), high2, _single(f3u, k),
                 _average(f1u), _spearman_brown(high2, k), _average(f3u)]
    p1, p3 = f_dist.sf(f1, n - 1, df_w), f_dist.sf(f3, n - 1, df_e)
    return {C.ESTIMATE: np.array(estimates), C.CI_LOW: np.array(lows), C.CI_HIGH: np.array(highs),
            C.P: np.array([p1, p3, p3] * 2), C.STATISTIC: np.array([f1, f3, f3] * 2)}


def _icc2_bounds(n, k, msr, msc, mse, icc2, q) -> tuple[float, float]:
    """McGraw & Wong's (1996) ICC(A,1) bounds with Satterthwaite's df, as psych computes them."""
    if mse == 0:
        v = np.float64(k - 1)  # the limit of psych's v as MSC/MSE → ∞ (bounds are 1 when MSC = 0 too)
    else:
        fj = msc / mse
        a = n * (1 + (k - 1) * icc2) - k * icc2
        v = (k - 1) * (n - 1) * (k * icc2 * fj + a) ** 2 / ((n - 1) * k**2 * icc2**2 * fj**2 + a**2)
    f_upper, f_lower = f_dist.ppf(q, n - 1, v), f_dist.ppf(q, v, n - 1)
    spread = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_upper * mse) / (f_upper * spread + n * msr)
    high = n * (f_lower * msr - mse) / (spread + n * f_lower * msr)
    return low, high


def _spearman_brown(r: float, k: int) -> float:
    return r * k / (1.0 + r * (k - 1))
