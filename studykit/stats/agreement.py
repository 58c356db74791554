"""Agreement among raters: intraclass correlations, Fleiss' kappa and the majority vote.

All three take long-format ratings: a DataFrame with one row per (target, rater) and the
names of its target, rater and rating columns (pingouin's ``intraclass_corr`` layout).
A target is what is rated (a patient, a lesion); a rater is a reader, a model or a method.

References
----------
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 86:420–428. doi:10.1037/0033-2909.86.2.420
McGraw KO, Wong SP (1996). Forming inferences about some intraclass correlation
coefficients. Psychol Methods 1:30–46. doi:10.1037/1082-989X.1.1.30
Fleiss JL (1971). Measuring nominal scale agreement among many raters. Psychol Bull
76:378–382. doi:10.1037/h0031619
Fleiss JL, Nee JCM, Landis JR (1979). Large sample variance of kappa in the case of
different sets of raters. Psychol Bull 86:974–977. doi:10.1037/0033-2909.86.5.974
Efron B, Stein C (1981). The jackknife estimate of variance. Ann Stat 9:586–596.
doi:10.1214/aos/1176345462
Revelle W (2022). psych: Procedures for Psychological, Psychometric, and Personality
Research, version 2.2.9 (``ICC``). https://CRAN.R-project.org/package=psych
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import f as f_dist
from scipy.stats import norm

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._result import result_frame, warn_undefined, z_critical
from studykit.stats._validation import (
    binary_labels,
    check_confidence,
    check_option,
    column,
    finite_scores,
    positions,
)
from studykit.vocab import ICC_FORMS as FORM_NAMES
from studykit.vocab import TIE_RULES

__all__ = ["fleiss_kappa", "icc", "majority_vote"]

FORM, DESCRIPTION, DF1, DF2 = C.FORM, C.DESCRIPTION, C.DF1, C.DF2
N_RATERS, N_CATEGORIES, SE_NULL = C.N_RATERS, C.N_CATEGORIES, C.SE_NULL
AGREEMENT_OBSERVED, AGREEMENT_CHANCE = C.AGREEMENT_OBSERVED, C.AGREEMENT_CHANCE

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
FLEISS_METHOD = ("Fleiss (1971) kappa; jackknife SE over targets, normal CI (Efron & Stein 1981); "
                 "z-test of kappa = 0 with the Fleiss-Nee-Landis (1979) null SE")

_SHOW = 5  # ids listed in a message


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
    long = _long_ratings(data, targets, raters, ratings, value_arg="ratings")
    _at_least_two(long)
    x = _complete_table(long, _numeric_ratings(long.values))
    n, k = x.shape
    common = {C.N: n, C.CI_LEVEL: level}
    stats = _icc_stats(x, level)
    df1 = np.full(6, n - 1)
    df2 = np.array([n * (k - 1), (n - 1) * (k - 1), (n - 1) * (k - 1)] * 2)
    rows = [{**{name: values[i] for name, values in stats.items()}, C.METHOD: method, **common,
             FORM: form, DESCRIPTION: description, N_RATERS: k, DF1: int(df1[i]), DF2: int(df2[i])}
            for i, (form, description, method) in enumerate(ICC_FORMS)]
    frame = result_frame(rows, inference=[C.STATISTIC])
    first = [*C.LEADING, C.STATISTIC, DF1, DF2]  # the F test's two df stand where ``df`` would
    return frame[first + [col for col in frame.columns if col not in first]]


def fleiss_kappa(data: pd.DataFrame, targets: str, raters: str, ratings: str, *,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Fleiss' (1971) kappa: chance-corrected agreement of m raters on nominal calls.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (target, rater). Every target needs the same number m ≥ 2
        of ratings; the raters may differ between targets (Fleiss's design).
    targets, raters, ratings : str
        Column names: target ids, rater ids and the categorical ratings (binary calls,
        strings, integers or booleans; at least two categories for kappa to be defined).
    confidence : float
        Two-sided confidence level of the interval.

    Returns
    -------
    One-row DataFrame: ``estimate, ci_low, ci_high, p`` (two-sided test of kappa = 0),
    ``statistic`` (z), ``se`` (jackknife), ``method``, ``n`` (targets), ``ci_level``,
    ``n_raters`` (m), ``n_categories``, ``se_null`` (the SE under kappa = 0 that the z
    uses), ``agreement_observed`` (P̄) and ``agreement_chance`` (P_e).
    A single category in all ratings leaves kappa undefined: a warning and NaN.

    Notes
    -----
    With N targets, n_ij the number of ratings of target i in category j,
    p_j = Σ_i n_ij / (N m), P_i = (Σ_j n_ij² − m) / (m (m − 1)), P̄ = mean P_i and
    P_e = Σ_j p_j²: κ = (P̄ − P_e) / (1 − P_e).

    The test of κ = 0 (as R's ``irr::kappam.fleiss``) uses Fleiss, Nee & Landis's (1979)
    null variance, with q_j = 1 − p_j:
    SE₀² = 2 [(Σ p_j q_j)² − Σ p_j q_j (q_j − p_j)] / [N m (m − 1) (Σ p_j q_j)²],
    z = κ / SE₀. That SE holds only under κ = 0, so the CI uses the jackknife over
    targets instead (valid for any κ, no model of the raters): κ_(−i) leaves target i
    out, SE_J² = (N − 1)/N Σ_i (κ_(−i) − κ̄_(·))², and CI = κ ± z_{1−α/2} SE_J,
    clipped to [−1, 1]. Zapf et al. (2016, doi:10.1186/s12874-016-0200-9) advise
    resampling intervals for Fleiss' kappa; the jackknife is the deterministic one.

    References
    ----------
    Fleiss (1971), doi:10.1037/h0031619; Fleiss, Nee & Landis (1979),
    doi:10.1037/0033-2909.86.5.974; Efron & Stein (1981), doi:10.1214/aos/1176345462.

    Examples
    --------
    >>> calls = pd.DataFrame({"patient": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
    ...                       "reader": ["a", "b", "c"] * 4,
    ...                       "call": [1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0]})
    >>> round(fleiss_kappa(calls, "patient", "reader", "call")["estimate"].item(), 4)
    0.6571
    """
    level = check_confidence(confidence)
    long = _long_ratings(data, targets, raters, ratings, value_arg="ratings")
    _at_least_two(long, raters_per_target=True)
    counts = _category_counts(long)
    n, m = counts.shape[0], int(counts[0].sum())
    row: dict[str, Any] = {C.METHOD: FLEISS_METHOD, C.N: n, C.CI_LEVEL: level, N_RATERS: m,
                           N_CATEGORIES: counts.shape[1]}
    if counts.shape[1] < 2:
        warn_undefined("Fleiss' kappa", "every rating falls in one category")
        return result_frame([row], inference=[C.STATISTIC, C.SE])
    kappa, observed, chance = _kappa(counts)
    se_null = _kappa_null_se(counts)
    z = kappa / se_null
    se = _jackknife_se(counts)
    if np.isnan(se):
        warn_undefined("the jackknife CI of Fleiss' kappa",
                       "leaving out one target leaves ratings in a single category")
    half = z_critical(level) * se
    low, high = np.clip([kappa - half, kappa + half], -1.0, 1.0)  # NaN stays NaN
    row.update({C.ESTIMATE: kappa, C.CI_LOW: low, C.CI_HIGH: high,
                C.P: float(2.0 * norm.sf(abs(z))), C.STATISTIC: z, C.SE: se, SE_NULL: se_null,
                AGREEMENT_OBSERVED: observed, AGREEMENT_CHANCE: chance})
    return result_frame([row], inference=[C.STATISTIC, C.SE])


def majority_vote(data: pd.DataFrame, targets: str, raters: str, calls: str, *,
                  tie: str = "error", pos_label: Any = None) -> pd.DataFrame:
    """Per target, the binary call that most raters made (a reader panel's consensus).

    Not a statistic with a CI, so it returns a plain per-target table rather than the
    ``estimate, ci_low, ci_high, p`` result shape.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (target, rater); targets may have different numbers
        of raters.
    targets, raters, calls : str
        Column names: target ids, rater ids and the binary calls (0/1, bool, or two
        values with ``pos_label``).
    tie : {"error", "positive", "negative"}
        What a tie (as many positive as negative calls) becomes: an error listing the
        tied targets, a positive call or a negative call.
    pos_label : optional
        The positive call when ``calls`` holds two non-0/1 values (e.g. "malignant").

    Returns
    -------
    DataFrame, one row per target in order of first appearance, with columns
    ``<targets>`` (the target id, under the ``targets`` column's name), ``call`` (1 =
    positive, 0 = negative), ``votes_positive``, ``n_raters``, ``fraction_positive``
    and ``tie`` (bool: the call was decided by the ``tie`` rule).

    Notes
    -----
    call = 1 when votes_positive > n_raters / 2, 0 when votes_positive < n_raters / 2;
    ties follow ``tie``. With an odd number of raters per target there are no ties.

    Examples
    --------
    >>> reads = pd.DataFrame({"patient": ["p1"] * 3 + ["p2"] * 3, "reader": ["a", "b", "c"] * 2,
    ...                       "call": ["malignant", "benign", "malignant", "benign", "benign", "malignant"]})
    >>> majority_vote(reads, "patient", "reader", "call", pos_label="malignant")["call"].tolist()
    [1, 0]
    """
    rule = check_option("tie", tie, TIE_RULES)
    long = _long_ratings(data, targets, raters, calls, value_arg="calls")
    positive = binary_labels(long.values.to_numpy(), name="calls", pos_label=pos_label)
    size = len(long.targets)
    votes = np.bincount(long.target, weights=positive, minlength=size).astype(np.int64)
    n_raters = np.bincount(long.target, minlength=size)
    tied = 2 * votes == n_raters
    if tied.any() and rule == "error":
        raise InputError(f"{tied.sum()} target(s) have as many positive as negative calls: "
                         f"{_listed(long.targets[tied])}.", field="tie",
                         hint="set tie='positive' or tie='negative', or use an odd number of raters.")
    call = (2 * votes > n_raters) | (tied & (rule == "positive"))
    return pd.DataFrame({targets: long.targets, "call": call.astype(np.int64), "votes_positive": votes,
                         "n_raters": n_raters, "fraction_positive": votes / n_raters, "tie": tied})


# --- input checks ----------------------------------------------------------------------

class _Long(NamedTuple):
    """Long-format ratings with dense codes: target i of ``targets``, rater j of ``raters``."""

    target: np.ndarray
    targets: pd.Index
    rater: np.ndarray
    raters: pd.Index
    values: pd.Series


def _long_ratings(data: pd.DataFrame, targets: str, raters: str, values: str, *, value_arg: str) -> _Long:
    """The three columns, none missing, at most one row per (target, rater)."""
    cols = {arg: column(data, name, argument=arg)
            for arg, name in (("targets", targets), ("raters", raters), (value_arg, values))}
    if len(data) == 0:
        raise InputError("has no rows.", field="data", hint="pass one row per (target, rater) rating.")
    for arg, col in cols.items():
        missing = col.isna().to_numpy()
        if missing.any():
            raise InputError(f"column {col.name!r} contains {positions(missing)} that are missing.",
                             field=arg, hint="every row needs its target, rater and rating; drop "
                                             "incomplete rows first.")
    t_codes, t_ids = pd.factorize(cols["targets"])
    r_codes, r_ids = pd.factorize(cols["raters"])
    long = _Long(t_codes, pd.Index(t_ids), r_codes, pd.Index(r_ids), cols[value_arg].reset_index(drop=True))
    _one_per_cell(long)
    return long


def _one_per_cell(long: _Long) -> None:
    cell = long.target.astype(np.int64) * len(long.raters) + long.rater
    cells, counts = np.unique(cell, return_counts=True)
    repeated = cells[counts > 1]
    if repeated.size:
        shown = ", ".join(f"target {_show(long.targets[c // len(long.raters)])} × rater "
                          f"{_show(long.raters[c % len(long.raters)])} ({n} rows)"
                          for c, n in zip(repeated[:_SHOW], counts[counts > 1][:_SHOW], strict=True))
        more = ", …" if repeated.size > _SHOW else ""
        raise InputError(f"must hold one rating per target and rater; {repeated.size} pair(s) appear "
                         f"more than once: {shown}{more}.", field="data",
                         hint="drop repeated rows, or average a rater's repeated ratings of a target first.")


def _at_least_two(long: _Long, *, raters_per_target: bool = False) -> None:
    if len(long.targets) < 2:
        raise InputError(f"needs at least 2 targets; got {len(long.targets)} ({_listed(long.targets)}).",
                         field="targets", hint="agreement is measured across several rated targets.")
    most = int(np.bincount(long.target).max()) if raters_per_target else len(long.raters)
    if most < 2:
        what = "ratings per target" if raters_per_target else "raters"
        raise InputError(f"needs at least 2 {what}; got {most}.", field="raters",
                         hint="agreement needs every target rated by two or more raters.")


def _numeric_ratings(values: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(values):
        example = next((v for v in values if not isinstance(v, (int, float, np.number))), values.iloc[0])
        raise InputError(f"column {values.name!r} must hold numbers (or booleans); got "
                         f"non-numeric values such as {_show(example)}.", field="ratings",
                         hint="code the ratings as numbers; for categorical calls use fleiss_kappa.")
    return finite_scores(values.to_numpy(dtype=np.float64, na_value=np.nan), name="ratings")


def _complete_table(long: _Long, values: np.ndarray) -> np.ndarray:
    """targets × raters matrix; raise naming the targets that lack a rater's rating."""
    x = np.full((len(long.targets), len(long.raters)), np.nan)
    x[long.target, long.rater] = values
    holes = np.isnan(x)
    incomplete = np.flatnonzero(holes.any(axis=1))
    if incomplete.size:
        shown = "; ".join(f"target {_show(long.targets[i])} lacks rater(s) {_listed(long.raters[holes[i]])}"
                          for i in incomplete[:_SHOW])
        more = "; …" if incomplete.size > _SHOW else ""
        raise InputError(f"must hold a rating from every rater for every target (a complete design); "
                         f"{incomplete.size} target(s) are incomplete: {shown}{more}.", field="data",
                         hint="drop the incomplete targets (or the raters who skipped them) before "
                              "computing the ICC.")
    return x


def _category_counts(long: _Long) -> np.ndarray:
    """(targets, categories) counts; raise when targets have different numbers of ratings."""
    category, levels = pd.factorize(long.values)
    counts = np.zeros((len(long.targets), len(levels)))
    np.add.at(counts, (long.target, category), 1.0)
    per_target = counts.sum(axis=1).astype(np.int64)
    usual = int(np.bincount(per_target).argmax())
    odd = np.flatnonzero(per_target != usual)
    if odd.size:
        shown = ", ".join(f"{_show(long.targets[i])} has {per_target[i]}" for i in odd[:_SHOW])
        more = ", …" if odd.size > _SHOW else ""
        raise InputError(f"must give every target the same number of ratings; most have {usual}, but "
                         f"{odd.size} target(s) differ: {shown}{more}.", field="data",
                         hint="drop the targets with a different number of ratings (Fleiss' kappa needs "
                              "m ratings per target).")
    return counts


def _show(value: Any) -> str:
    """``repr`` of an id as the user wrote it (``3``, not ``np.int64(3)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _listed(ids: Any) -> str:
    ids = list(pd.Index(ids))
    shown = ", ".join(_show(i) for i in ids[:_SHOW])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > _SHOW else "")


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


def _kappa(counts: np.ndarray) -> tuple[float, float, float]:
    """Fleiss' kappa, observed agreement P̄ and chance agreement P_e of a counts table."""
    n, m = counts.shape[0], counts[0].sum()
    p = counts.sum(axis=0) / (n * m)
    observed = float(np.mean((np.sum(counts**2, axis=1) - m) / (m * (m - 1))))
    chance = float(np.sum(p**2))
    return (observed - chance) / (1.0 - chance), observed, chance


def _kappa_null_se(counts: np.ndarray) -> float:
    """Fleiss, Nee & Landis (1979) SE of kappa under kappa = 0 (irr::kappam.fleiss)."""
    n, m = counts.shape[0], counts[0].sum()
    p = counts.sum(axis=0) / (n * m)
    pq = p * (1.0 - p)
    total = pq.sum()
    return float(np.sqrt(2.0 * (total**2 - np.sum(pq * (1.0 - 2.0 * p))) / (total**2 * n * m * (m - 1))))


def _jackknife_se(counts: np.ndarray) -> float:
    """Jackknife SE of kappa over targets, all N leave-one-out estimates at once."""
    n, m = counts.shape[0], counts[0].sum()
    agreement = (np.sum(counts**2, axis=1) - m) / (m * (m - 1))
    observed = (agreement.sum() - agreement) / (n - 1)
    p = (counts.sum(axis=0)[None, :] - counts) / ((n - 1) * m)
    chance = np.sum(p**2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = (observed - chance) / (1.0 - chance)
    if not np.all(np.isfinite(kappas)):
        return float("nan")
    return float(np.sqrt((n - 1) / n * np.sum((kappas - kappas.mean()) ** 2)))
