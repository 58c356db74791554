"""Accuracy of binary calls: the 2 × 2 metrics, a binary call's AUC and McNemar's paired test.

A *call* is a binary prediction (a reader's benign/malignant verdict, a model's thresholded
probability). Each function takes the reference standard ``y_true`` and one or two calls
on the same cases and returns the tidy result shape of :mod:`studykit.stats`. The
proportions' confidence limits (Wilson, Clopper–Pearson, Newcombe's paired difference) are
computed in :mod:`studykit.stats._proportion`, with their references, and are importable from
here as before.

References
----------
Simel DL, Samsa GP, Matchar DB (1991). Likelihood ratios with confidence: sample size
estimation for diagnostic test studies. J Clin Epidemiol 44:763–770.
doi:10.1016/0895-4356(91)90128-V
McNemar Q (1947). Note on the sampling error of the difference between correlated
proportions or percentages. Psychometrika 12:153–157. doi:10.1007/BF02295996
Stevenson M, Sergeant E et al. epiR: tools for the analysis of epidemiological data
(``epi.tests``). R package 2.0.57. doi:10.32614/CRAN.package.epiR
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._proportion import INTERVALS, newcombe_paired_interval
from studykit.stats._proportion import clopper_pearson_interval as clopper_pearson_interval  # re-exported
from studykit.stats._proportion import wilson_interval as wilson_interval  # re-exported
from studykit.stats._result import result_frame, warn_undefined, z_critical
from studykit.stats._validation import (
    as_1d,
    binary_labels,
    check_confidence,
    check_option,
    from_data,
    same_length,
)
from studykit.stats.roc import roc_auc
from studykit.vocab import PROPORTION_METHODS

__all__ = ["binary_call_auc", "diagnostic_metrics", "mcnemar"]

SUBSETS = ("positives", "negatives", "all")
#: Rows of :func:`diagnostic_metrics`, in order.
METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "prevalence",
           "youden_index", "lr_positive", "lr_negative")
#: Below this many discordant pairs McNemar's test is exact (DESIGN.md).
EXACT_BELOW = 25

_CELLS = ("tp", "fp", "fn", "tn")
#: metric → (cells summed in the numerator, cells summed in the denominator, why it can be 0/0)
_PROPORTIONS = {
    "sensitivity": (("tp",), ("tp", "fn"), "y_true has no positive cases"),
    "specificity": (("tn",), ("tn", "fp"), "y_true has no negative cases"),
    "ppv": (("tp",), ("tp", "fp"), "no case was called positive"),
    "npv": (("tn",), ("tn", "fn"), "no case was called negative"),
    "accuracy": (("tp", "tn"), _CELLS, "there are no cases"),
    "prevalence": (("tp", "fn"), _CELLS, "there are no cases"),
}
#: likelihood ratio → (positive-class cell, negative-class cell, what a zero denominator means)
_RATIOS = {
    "lr_positive": ("tp", "fp", "no false positives (specificity = 1)"),
    "lr_negative": ("fn", "tn", "no true negatives (specificity = 0)"),
}
_SUBSET_METRIC = {"positives": "sensitivity", "negatives": "specificity", "all": "accuracy"}


def diagnostic_metrics(y_true: Any, y_pred: Any, *, data: pd.DataFrame | None = None,
                       confidence: float = 0.95, method: str = "wilson",
                       pos_label: Any = None) -> pd.DataFrame:
    """Sensitivity, specificity, PPV, NPV, accuracy, prevalence, Youden's J and likelihood ratios.

    Parameters
    ----------
    y_true : array-like (N,), or a column name of ``data``
        Binary reference standard (0/1, bool, or two values with ``pos_label``).
    y_pred : array-like (N,), or a column name of ``data``
        Binary calls coded like ``y_true`` (0/1, bool, or its labels with ``pos_label``).
    confidence : float
        Two-sided confidence level.
    method : {"wilson", "exact"}
        CI of the six proportions: Wilson score (no continuity correction) or
        Clopper–Pearson exact. Both are exact at the ends: x = 0 gives lower limit 0,
        x = n gives upper limit 1.
    pos_label : optional
        The positive value of ``y_true`` and ``y_pred`` when they are not 0/1 or bool.

    Returns
    -------
    DataFrame, one row per metric in the order ``sensitivity, specificity, ppv, npv,
    accuracy, prevalence, youden_index, lr_positive, lr_negative``: ``estimate, ci_low,
    ci_high, p`` (NaN), ``method``, ``n`` (all cases), ``ci_level``, ``metric``,
    ``numerator, denominator`` (the proportion's counts; NaN for Youden and the likelihood
    ratios) and the table ``tp, fp, fn, tn`` on every row. A metric whose denominator is
    0 (no predicted positives → PPV) is NaN, with an :class:`UndefinedStatisticWarning`.

    Notes
    -----
    With z = z_{1−α/2} and p = x/n, Wilson: (x + z²/2)/(n + z²) ± z/(n + z²) ·
    sqrt(x(n − x)/n + z²/4). Clopper–Pearson: [B(α/2; x, n − x + 1), B(1 − α/2; x + 1, n − x)],
    B the beta quantile.

    Youden's J = sens + spec − 1 with epiR's ``epi.tests`` limits [sens_low + spec_low − 1,
    sens_high + spec_high − 1] from the chosen proportion CIs. They add the two
    half-widths instead of combining the variances, so they are wider than a delta-method
    CI; they are kept for comparability with epiR.

    LR+ = sens/(1 − spec), LR− = (1 − sens)/spec, with the log method of Simel, Samsa &
    Matchar (1991) as in epiR: for LR = (x₁/n₁)/(x₂/n₂), var(log LR) = (n₁ − x₁)/(n₁x₁) +
    (n₂ − x₂)/(n₂x₂), limits exp(log LR ± z·sqrt(var)). A zero denominator (no false
    positives for LR+, no true negatives for LR−) leaves the ratio undefined (epiR: Inf);
    a zero numerator gives LR = 0 whose log-method CI is undefined (NaN limits; epiR:
    lower 0, upper NaN). Both warn.

    References
    ----------
    Wilson EB (1927). J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
    Clopper CJ, Pearson ES (1934). Biometrika 26:404–413. doi:10.1093/biomet/26.4.404
    Simel DL, Samsa GP, Matchar DB (1991). J Clin Epidemiol 44:763–770.
    doi:10.1016/0895-4356(91)90128-V
    Youden WJ (1950). Index for rating diagnostic tests. Cancer 3:32–35.
    doi:10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3
    Stevenson M et al. epiR (``epi.tests``), R package 2.0.57. doi:10.32614/CRAN.package.epiR

    Examples
    --------
    >>> r = diagnostic_metrics([1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 1])
    >>> r.set_index("metric").loc["sensitivity", ["estimate", "numerator", "denominator"]].tolist()
    [0.75, 3.0, 4.0]
    """
    args = from_data(data, y_true=y_true, y_pred=y_pred)
    y, call = _truth_and_calls(args["y_true"], {"y_pred": args["y_pred"]}, pos_label)
    level = check_confidence(confidence)
    method = check_option("method", method, PROPORTION_METHODS)
    counts = _counts(y, call["y_pred"])
    rows = _proportion_rows(counts, method, level)
    rows.append(_youden_row(rows[0], rows[1], method))
    rows.extend(_ratio_row(name, counts, level) for name in _RATIOS)
    base = {C.N: int(y.size), C.CI_LEVEL: level}
    frame = result_frame([{**base, **row, **counts} for row in rows])
    return frame.astype({C.NUMERATOR: float, C.DENOMINATOR: float})


def binary_call_auc(y_true: Any, calls: Any, *, data: pd.DataFrame | None = None,
                    confidence: float = 0.95, pos_label: Any = None) -> pd.DataFrame:
    """AUC of a binary call, (sensitivity + specificity)/2, with its DeLong CI.

    A reader's benign/malignant verdict has a one-point ROC "curve"; its empirical AUC
    (the area under the two segments through that point) is (sens + spec)/2. It is
    computed by :func:`studykit.stats.roc_auc` on the 0/1 call as a score, so its CI is
    DeLong's (pROC's ``ci.auc`` of a binary predictor, ``direction = "<"``).

    Parameters
    ----------
    y_true, calls : array-like (N,), or column names of ``data``
        Reference standard and binary calls (0/1, bool, or two labels with ``pos_label``).
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    One-row DataFrame as :func:`roc_auc`'s (``estimate, ci_low, ci_high, p`` (NaN),
    ``se, method, n, ci_level``, ``metric`` = "auc_binary", ``n_pos, n_neg``) plus
    ``sensitivity`` and ``specificity``.

    Notes
    -----
    With one threshold, AUC = P(X > Y) + ½P(X = Y) = sens·spec + ½[sens(1 − spec) +
    (1 − sens)spec] = (sens + spec)/2. Each positive's placement is (1 + spec)/2 or
    spec/2 and each negative's (1 + sens)/2 or sens/2, so the DeLong variance (sample
    variances, ddof 1) is sens(1 − sens)/(4(m − 1)) + spec(1 − spec)/(4(n − 1)) for m
    positives and n negatives.

    References
    ----------
    DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845.
    doi:10.2307/2531595
    Robin X et al. (2011). pROC. BMC Bioinformatics 12:77. doi:10.1186/1471-2105-12-77

    Examples
    --------
    >>> binary_call_auc([1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 1])["estimate"].item()
    0.75
    """
    args = from_data(data, y_true=y_true, calls=calls)
    y, call = _truth_and_calls(args["y_true"], {"calls": args["calls"]}, pos_label)
    result = roc_auc(y, call["calls"].astype(np.float64), confidence=confidence)
    counts = _counts(y, call["calls"])
    result[C.METRIC] = "auc_binary"
    result["sensitivity"] = _share(counts["tp"], counts["tp"] + counts["fn"])
    result["specificity"] = _share(counts["tn"], counts["tn"] + counts["fp"])
    return result


def mcnemar(y_true: Any, pred_a: Any, pred_b: Any, *, data: pd.DataFrame | None = None,
            subset: str = "positives", confidence: float = 0.95,
            pos_label: Any = None) -> pd.DataFrame:
    """McNemar's test of two binary classifiers' sensitivity, specificity or accuracy on paired cases.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like (N,), or column names of ``data``
        Reference standard and the calls of classifiers A and B on the same cases.
    subset : {"positives", "negatives", "all"}
        Cases compared: those with y = 1 (sensitivity), y = 0 (specificity) or all
        (accuracy).
    confidence : float
        Two-sided level of the CI of the difference.

    Returns
    -------
    One-row DataFrame: ``estimate`` (proportion correct A − B on the subset), ``ci_low,
    ci_high`` (Newcombe 1998 method 10), ``p``, ``statistic``, ``df`` (1 for chi-square,
    NaN for exact), ``method``, ``n`` (cases in the subset), ``ci_level``, ``metric``
    (sensitivity | specificity | accuracy), ``estimate_a, estimate_b``, ``b`` (A right,
    B wrong), ``c`` (A wrong, B right). An empty subset warns and gives NaN.

    Notes
    -----
    With a = both right, d = both wrong and n = a + b + c + d: estimate θ = (b − c)/n.

    Test: when b + c < 25, exact binomial, statistic = min(b, c), p = min(1, 2·P(X ≤
    min(b, c))), X ~ Bin(b + c, ½) (statsmodels' ``mcnemar(exact=True)``); b + c = 0 gives
    p = 1 (no discordant pair, no evidence of a difference; R's ``mcnemar.test`` returns
    NaN). Otherwise chi-square with continuity correction, statistic = max(|b − c| − 1,
    0)²/(b + c), df = 1. The max(·, 0) matters only when b = c: it then gives statistic
    0 and p = 1, as R's ``mcnemar.test(correct = TRUE)`` (which drops the correction when
    b = c) and unlike statsmodels, whose 1/(b + c) overshoots.

    CI (Newcombe 1998, method 10, "square-and-add" of Wilson intervals): with p₁ = (a + b)/n,
    p₂ = (a + c)/n, their Wilson limits (l₁, u₁), (l₂, u₂) and φ the correlation of the
    two calls corrected as Newcombe's: A = ad − bc; φ = (A − n/2)/√(efgh) if A > n/2,
    0 if 0 ≤ A ≤ n/2, A/√(efgh) if A < 0, and 0 when a margin e, f, g, h is 0:
    L = θ − √((p₁ − l₁)² − 2φ(p₁ − l₁)(u₂ − p₂) + (u₂ − p₂)²),
    U = θ + √((u₁ − p₁)² − 2φ(u₁ − p₁)(p₂ − l₂) + (p₂ − l₂)²).

    References
    ----------
    McNemar Q (1947). Psychometrika 12:153–157. doi:10.1007/BF02295996
    Newcombe RG (1998). Stat Med 17:2635–2650.
    doi:10.1002/(SICI)1097-0258(19981130)17:22<2635::AID-SIM954>3.0.CO;2-C
    Wilson EB (1927). J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953

    Examples
    --------
    >>> y = [1] * 10
    >>> a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    >>> b = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    >>> r = mcnemar(y, a, b)
    >>> r[["estimate", "p"]].iloc[0].tolist(), r[["b", "c"]].iloc[0].tolist()
    ([0.3, 0.375], [4, 1])
    """
    args = from_data(data, y_true=y_true, pred_a=pred_a, pred_b=pred_b)
    y, call = _truth_and_calls(args["y_true"], {"pred_a": args["pred_a"], "pred_b": args["pred_b"]},
                               pos_label)
    subset = check_option("subset", subset, SUBSETS)
    level = check_confidence(confidence)
    keep = {"positives": y, "negatives": ~y, "all": np.ones_like(y)}[subset]
    right_a, right_b = (call["pred_a"] == y)[keep], (call["pred_b"] == y)[keep]
    a, b = int(np.sum(right_a & right_b)), int(np.sum(right_a & ~right_b))
    c, d = int(np.sum(~right_a & right_b)), int(np.sum(~right_a & ~right_b))
    n = a + b + c + d
    row: dict[str, Any] = {C.N: n, C.CI_LEVEL: level, C.METRIC: _SUBSET_METRIC[subset],
                           "estimate_a": np.nan, "estimate_b": np.nan, "b": b, "c": c}
    if n == 0:
        warn_undefined("McNemar's test", f"subset={subset!r} holds no cases")
        return result_frame([{**row, C.METHOD: "McNemar"}], inference=[C.STATISTIC, C.DF])
    low, high = newcombe_paired_interval(a, b, c, d, level)
    row.update({C.ESTIMATE: (b - c) / n, C.CI_LOW: low, C.CI_HIGH: high,
                "estimate_a": (a + b) / n, "estimate_b": (a + c) / n, **_mcnemar_test(b, c)})
    return result_frame([row], inference=[C.STATISTIC, C.DF])


# --- validation -------------------------------------------------------------------------


def _truth_and_calls(y_true: Any, calls: dict[str, Any], pos_label: Any):
    """Boolean ``y`` and boolean calls of equal length, coded like ``y_true``."""
    y = binary_labels(y_true, pos_label=pos_label)
    out = {name: _binary_calls(values, name=name, y_true=y_true, pos_label=pos_label)
           for name, values in calls.items()}
    same_length(y_true=y, **out)
    return y, out


def _binary_calls(values: Any, *, name: str, y_true: Any, pos_label: Any) -> np.ndarray:
    """Calls as booleans; with ``pos_label``, their labels must be ``y_true``'s labels."""
    arr = as_1d(values, name=name)
    if pos_label is not None and arr.dtype != bool:
        labels = {_plain(v) for v in pd.unique(as_1d(y_true, name="y_true"))}
        seen = [_plain(v) for v in pd.unique(arr) if not pd.isna(v)]
        extra = [v for v in seen if v not in labels]
        if len(labels) == 2 and extra:
            raise InputError(f"has values {', '.join(map(repr, extra[:3]))} that are not labels of "
                             f"y_true ({', '.join(map(repr, sorted(labels, key=str)))}).", field=name,
                             hint="code the calls with the same two labels as y_true.")
    return binary_labels(arr, name=name, pos_label=pos_label)


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value, so messages show 'B', not np.str_('B')."""
    return value.item() if isinstance(value, np.generic) else value


# --- kernels ----------------------------------------------------------------------------


def _counts(y: np.ndarray, call: np.ndarray) -> dict[str, int]:
    """The 2 × 2 table of calls against the reference standard."""
    return {"tp": int(np.sum(y & call)), "fp": int(np.sum(~y & call)),
            "fn": int(np.sum(y & ~call)), "tn": int(np.sum(~y & ~call))}


def _share(x: int, n: int) -> float:
    """x/n, NaN when n = 0 (the caller has already warned)."""
    return x / n if n else float("nan")


def _proportion_rows(counts: dict[str, int], method: str, level: float) -> list[dict[str, Any]]:
    interval, label = INTERVALS[method]
    rows = []
    for metric, (top, bottom, why) in _PROPORTIONS.items():
        x, n = sum(counts[k] for k in top), sum(counts[k] for k in bottom)
        row = {C.METHOD: label, C.METRIC: metric, C.NUMERATOR: x, C.DENOMINATOR: n}
        if n == 0:
            warn_undefined(f"the {metric}", f"its denominator is 0 ({why})")
        else:
            low, high = interval(x, n, level)
            row.update({C.ESTIMATE: x / n, C.CI_LOW: float(low), C.CI_HIGH: float(high)})
        rows.append(row)
    return rows


def _youden_row(sens: dict[str, Any], spec: dict[str, Any], method: str) -> dict[str, Any]:
    row = {C.METHOD: f"sum of {INTERVALS[method][1]} limits of sensitivity and specificity (epiR)",
           C.METRIC: "youden_index"}
    if C.ESTIMATE not in sens or C.ESTIMATE not in spec:
        warn_undefined("Youden's index", "sensitivity or specificity is undefined")
        return row
    return {**row, **{key: sens[key] + spec[key] - 1.0 for key in (C.ESTIMATE, C.CI_LOW, C.CI_HIGH)}}


def _ratio_row(name: str, counts: dict[str, int], level: float) -> dict[str, Any]:
    """LR = (x₁/n₁)/(x₂/n₂) with the Simel et al. (1991) log-method CI."""
    top, bottom, zero_why = _RATIOS[name]
    x1, n1 = counts[top], counts["tp"] + counts["fn"]
    x2, n2 = counts[bottom], counts["fp"] + counts["tn"]
    row = {C.METHOD: "log method (Simel et al. 1991)", C.METRIC: name}
    if n1 == 0 or n2 == 0:
        warn_undefined(f"the {name}", "y_true holds one class only")
        return row
    if x2 == 0:
        warn_undefined(f"the {name}", f"its denominator is 0 ({zero_why})")
        return row
    row[C.ESTIMATE] = (x1 / n1) / (x2 / n2)
    if x1 == 0:
        warn_undefined(f"the CI of the {name}", "the ratio is 0, so its log-method limits are not finite")
        return row
    half = z_critical(level) * np.sqrt((n1 - x1) / (n1 * x1) + (n2 - x2) / (n2 * x2))
    log_lr = np.log(row[C.ESTIMATE])
    return {**row, C.CI_LOW: float(np.exp(log_lr - half)), C.CI_HIGH: float(np.exp(log_lr + half))}


def _mcnemar_test(b: int, c: int) -> dict[str, Any]:
    """Exact binomial below :data:`EXACT_BELOW` discordant pairs, else corrected chi-square."""
    if b + c < EXACT_BELOW:
        p = min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5)))
        return {C.P: p, C.STATISTIC: float(min(b, c)),
                C.METHOD: f"McNemar exact binomial (b + c < {EXACT_BELOW}); Newcombe (1998) CI"}
    stat = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    return {C.P: float(chi2.sf(stat, 1)), C.STATISTIC: stat, C.DF: 1.0,
            C.METHOD: f"McNemar chi-square, continuity-corrected (b + c ≥ {EXACT_BELOW}); Newcombe (1998) CI"}
