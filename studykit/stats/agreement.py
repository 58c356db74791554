"""Agreement among raters: Fleiss' kappa and the majority vote here; intraclass correlations re-exported.

All three take long-format ratings: a DataFrame with one row per (target, rater) and the
names of its target, rater and rating columns (pingouin's ``intraclass_corr`` layout).
A target is what is rated (a patient, a lesion); a rater is a reader, a model or a method.
The ICC (six Shrout–Fleiss forms, ANOVA kernels) lives in :mod:`studykit.stats._icc` and the
long-format checks all three share in :mod:`studykit.stats._ratings`; :func:`icc` and
:data:`ICC_FORMS` stay importable from here.

References
----------
Fleiss JL (1971). Measuring nominal scale agreement among many raters. Psychol Bull
76:378–382. doi:10.1037/h0031619
Fleiss JL, Nee JCM, Landis JR (1979). Large sample variance of kappa in the case of
different sets of raters. Psychol Bull 86:974–977. doi:10.1037/0033-2909.86.5.974
Efron B, Stein C (1981). The jackknife estimate of variance. Ann Stat 9:586–596.
doi:10.1214/aos/1176345462
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._icc import ICC_FORMS as ICC_FORMS  # re-exported, as is icc
from studykit.stats._icc import icc
from studykit.stats._ratings import SHOW, Long, at_least_two, listed, long_ratings, show
from studykit.stats._result import result_frame, warn_undefined, z_critical
from studykit.stats._validation import binary_labels, check_confidence, check_option
from studykit.vocab import TIE_RULES

__all__ = ["fleiss_kappa", "icc", "majority_vote"]

FORM, DESCRIPTION, DF1, DF2 = C.FORM, C.DESCRIPTION, C.DF1, C.DF2
N_RATERS, N_CATEGORIES, SE_NULL = C.N_RATERS, C.N_CATEGORIES, C.SE_NULL
AGREEMENT_OBSERVED, AGREEMENT_CHANCE = C.AGREEMENT_OBSERVED, C.AGREEMENT_CHANCE

FLEISS_METHOD = ("Fleiss (1971) kappa; jackknife SE over targets, normal CI (Efron & Stein 1981); "
                 "z-test of kappa = 0 with the Fleiss-Nee-Landis (1979) null SE")


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
    long = long_ratings(data, targets, raters, ratings, value_arg="ratings")
    at_least_two(long, raters_per_target=True)
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
    long = long_ratings(data, targets, raters, calls, value_arg="calls")
    positive = binary_labels(long.values.to_numpy(), name="calls", pos_label=pos_label)
    size = len(long.targets)
    votes = np.bincount(long.target, weights=positive, minlength=size).astype(np.int64)
    n_raters = np.bincount(long.target, minlength=size)
    tied = 2 * votes == n_raters
    if tied.any() and rule == "error":
        raise InputError(f"{tied.sum()} target(s) have as many positive as negative calls: "
                         f"{listed(long.targets[tied])}.", field="tie",
                         hint="set tie='positive' or tie='negative', or use an odd number of raters.")
    call = (2 * votes > n_raters) | (tied & (rule == "positive"))
    return pd.DataFrame({targets: long.targets, "call": call.astype(np.int64), "votes_positive": votes,
                         "n_raters": n_raters, "fraction_positive": votes / n_raters, "tie": tied})


# --- input checks ----------------------------------------------------------------------

def _category_counts(long: Long) -> np.ndarray:
    """(targets, categories) counts; raise when targets have different numbers of ratings."""
    category, levels = pd.factorize(long.values)
    counts = np.zeros((len(long.targets), len(levels)))
    np.add.at(counts, (long.target, category), 1.0)
    per_target = counts.sum(axis=1).astype(np.int64)
    usual = int(np.bincount(per_target).argmax())
    odd = np.flatnonzero(per_target != usual)
    if odd.size:
        shown = ", ".join(f"{show(long.targets[i])} has {per_target[i]}" for i in odd[:SHOW])
        more = ", …" if odd.size > SHOW else ""
        raise InputError(f"must give every target the same number of ratings; most have {usual}, but "
                         f"{odd.size} target(s) differ: {shown}{more}.", field="data",
                         hint="drop the targets with a different number of ratings (Fleiss' kappa needs "
                              "m ratings per target).")
    return counts


# --- kernels ---------------------------------------------------------------------------

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
