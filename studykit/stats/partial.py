"""Parts of the ROC curve: the partial AUC, sensitivity at a fixed specificity (and the
reverse), and the paired bootstrap test of two (partial) AUCs — each as pROC computes it.

The curve is pROC's empirical one with ``direction = "<"`` (higher score = more likely
positive, never flipped), points joined by straight lines. Confidence intervals come from
the stratified bootstrap (positives and negatives resampled separately; whole clusters
when ``cluster`` is given), vectorised and seeded; numpy's draws differ from R's, so a CI
agrees with pROC's to Monte-Carlo error only, point estimates to rounding.

References
----------
McClish DK (1989). Analyzing a portion of the ROC curve. Med Decis Making 9:190–195.
doi:10.1177/0272989X8900900307
Hanley JA, McNeil BJ (1983). A method of comparing the areas under receiver operating
characteristic curves derived from the same cases. Radiology 148:839–843.
doi:10.1148/radiology.148.3.6878708
Carpenter J, Bithell J (2000). Bootstrap confidence intervals: when, which, what? Stat Med
19:1141–1164. doi:10.1002/(SICI)1097-0258(20000515)19:9<1141::AID-SIM479>3.0.CO;2-F
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77 (``auc(partial.auc = …)``,
``ci.auc``, ``ci.se``, ``ci.sp``, ``coords``, ``roc.test(method = "bootstrap")``).
doi:10.1186/1471-2105-12-77
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._bootstrap import bootstrap_aucs, bootstrap_design, percentile_interval
from studykit.stats._curve import bootstrap_curves, curve_points, partial_area, value_at
from studykit.stats._placements import placements
from studykit.stats._result import result_frame, wald_inference, warn_undefined
from studykit.stats._validation import (
    binary_inputs,
    check_confidence,
    check_option,
    check_positive_int,
    cluster_ids,
    from_data,
    paired_inputs,
)
from studykit.stats.delong import ALTERNATIVES
from studykit.stats.roc import enough_units

__all__ = ["bootstrap_test", "partial_auc", "sensitivity_at_specificity", "specificity_at_sensitivity"]

FOCUS = "focus"
RANGE_LOW = "range_low"
RANGE_HIGH = "range_high"
CORRECT = "correct"


@dataclass(frozen=True)
class AucRange:
    """A region of the ROC curve: ``low ≤ focus ≤ high``, McClish-corrected or not."""

    focus: str  # "specificity" | "sensitivity"
    low: float
    high: float
    correct: bool

    def raw(self, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
        """Uncorrected partial area of each curve (B,): ∫ se d(sp), or ∫ sp d(se)."""
        if self.focus == "specificity":
            return partial_area(sp, se, self.low, self.high)
        return partial_area(se[:, ::-1], sp[:, ::-1], self.low, self.high)

    @property
    def chance(self) -> float:
        """Area under the chance diagonal in the region (McClish's min), as pROC computes it."""
        return ((1 - self.high) + (1 - self.low)) * (self.high - self.low) / 2

    def value(self, raw: np.ndarray) -> np.ndarray:
        """McClish's standardisation when ``correct``: (1 + (A − min) / (max − min)) / 2."""
        if not self.correct:
            return raw
        return (1 + (raw - self.chance) / ((self.high - self.low) - self.chance)) / 2

    def below_chance(self, raw: float) -> bool:
        return self.correct and raw < self.chance

    def statistic(self, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
        return self.value(self.raw(se, sp))[:, None]

    def columns(self) -> dict[str, Any]:
        return {C.METRIC: "partial_auc_corrected" if self.correct else "partial_auc", FOCUS: self.focus,
                RANGE_LOW: self.low, RANGE_HIGH: self.high, CORRECT: self.correct}


def auc_range(specificity: Any, sensitivity: Any, correct: Any, *, required: bool) -> AucRange | None:
    """Validated region from ``specificity=(lo, hi)`` or ``sensitivity=(lo, hi)``, or ``None``."""
    if not isinstance(correct, (bool, np.bool_)):
        raise InputError(f"must be True or False; got {correct!r}.", field="correct")
    if specificity is not None and sensitivity is not None:
        raise InputError("and specificity both give a range; a partial AUC has one.", field="sensitivity",
                         hint="pass specificity=(0.8, 1.0) or sensitivity=(0.9, 1.0), not both.")
    if specificity is None and sensitivity is None:
        if required or correct:
            raise InputError("no range of the curve was given.", field="specificity",
                             hint="pass specificity=(0.8, 1.0) (the high-specificity region) or "
                                  "sensitivity=(0.9, 1.0); specificity=(0, 1) is the whole AUC.")
        return None
    focus, value = ("specificity", specificity) if specificity is not None else ("sensitivity", sensitivity)
    low, high = _pair(focus, value)
    return AucRange(focus, low, high, bool(correct))


def _pair(name: str, value: Any) -> tuple[float, float]:
    pair: list[float] | None
    try:
        pair = None if isinstance(value, str) else [float(v) for v in value]
    except (TypeError, ValueError):
        pair = None
    if pair is None or len(pair) != 2 or not all(0.0 <= v <= 1.0 for v in pair) or pair[0] == pair[1]:
        raise InputError(f"must be a pair of two different {name} values in [0, 1]; got {value!r}.",
                         field=name, hint=f"pass e.g. {name}=(0.8, 1.0); the order does not matter.")
    return min(pair), max(pair)


def _levels(name: str, values: Any) -> np.ndarray:
    """A fixed specificity (or sensitivity), or several: floats in [0, 1]."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.ndim != 1 or arr.size == 0 or not np.all((arr >= 0) & (arr <= 1)):
        raise InputError(f"must be a number in [0, 1] or a list of them; got {values!r}.", field=name,
                         hint=f"pass e.g. {name}=0.9, or {name}=[0.8, 0.9, 0.95].")
    return arr


def _common(y: np.ndarray, codes: np.ndarray | None, level: float) -> dict[str, Any]:
    row: dict[str, Any] = {C.N: y.size, C.CI_LEVEL: level, C.N_POS: int(y.sum()), C.N_NEG: int((~y).sum())}
    if codes is not None:
        row[C.N_CLUSTERS] = int(codes.max()) + 1
    return row


def _replicates(y: np.ndarray, codes: np.ndarray | None, total: int, kept: int, seed: int, *,
                what: str = "bootstrap, percentile") -> str:
    dropped = f", {total - kept} without both classes dropped" if kept < total else ""
    return f"{bootstrap_design(y, codes)} {what} ({kept} replicates{dropped}, seed {seed})"


def _percentile(boot: np.ndarray, level: float, y, codes, seed: int) -> dict[str, Any]:
    kept = boot[np.isfinite(boot)]
    low, high = percentile_interval(kept, level) if kept.size else (np.nan, np.nan)
    return {C.CI_LOW: low, C.CI_HIGH: high, C.SE: float(np.std(kept, ddof=1)) if kept.size > 1 else np.nan,
            C.METHOD: _replicates(y, codes, boot.size, kept.size, seed)}


def _options(confidence: float, n_boot: int, seed: int) -> tuple[float, int]:
    check_positive_int("seed", seed, minimum=0)
    return check_confidence(confidence), check_positive_int("n_boot", n_boot, minimum=2)


def partial_auc(y_true: Any, score: Any, *, data: pd.DataFrame | None = None, specificity: Any = None,
                sensitivity: Any = None, correct: bool = False, confidence: float = 0.95, n_boot: int = 2000,
                seed: int = 0, cluster: Any = None, pos_label: Any = None) -> pd.DataFrame:
    """Partial area under the empirical ROC curve over a range of specificity or sensitivity.

    Parameters
    ----------
    y_true, score : array-like (N,), or column names of ``data``
    specificity, sensitivity : pair of floats in [0, 1]
        The region, exactly one of them: ``specificity=(0.8, 1.0)`` integrates
        sensitivity over specificities 0.8–1 (pROC's ``partial.auc.focus =
        "specificity"``); ``sensitivity=(0.9, 1.0)`` integrates specificity over
        sensitivities 0.9–1. Proportions, not percent.
    correct : bool
        McClish's (1989) standardisation: 0.5 for the chance diagonal, 1 for a perfect
        test. Undefined (NaN, with a warning) for a curve below the diagonal in the region.
    confidence, n_boot, seed, cluster
        Percentile CI from ``n_boot`` stratified (cluster) bootstrap replicates.

    Returns
    -------
    One-row DataFrame: ``estimate, ci_low, ci_high, p`` (NaN), ``se`` (bootstrap SD),
    ``method, n, ci_level``, ``metric`` ("partial_auc" or "partial_auc_corrected"),
    ``focus, range_low, range_high, correct, n_pos, n_neg``. Uncorrected, the area is in
    units of sensitivity × specificity: at most ``range_high − range_low``.

    Notes
    -----
    pAUC = ∫ se(sp) d sp over [lo, hi] along the piecewise-linear curve: trapezoids between
    the curve's points, the curve interpolated linearly at each limit (pROC's
    ``auc(roc, partial.auc = c(hi, lo), partial.auc.focus, partial.auc.correct)``).
    McClish: (1 + (pAUC − min) / (max − min)) / 2, with max = hi − lo and min the area
    under the diagonal, ((1 − hi) + (1 − lo)) (hi − lo) / 2.

    Examples
    --------
    >>> r = partial_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], specificity=(0.5, 1.0))
    >>> round(r["estimate"].item(), 4)
    0.25
    """
    args = from_data(data, y_true=y_true, score=score, cluster=cluster)
    y, s = binary_inputs(args["y_true"], args["score"], pos_label=pos_label)
    codes = cluster_ids(args["cluster"], y.size)
    region = auc_range(specificity, sensitivity, correct, required=True)
    level, n_boot = _options(confidence, n_boot, seed)
    row = {**_common(y, codes, level), **region.columns(), C.METHOD: "percentile bootstrap"}
    if y.all() or not y.any():
        warn_undefined("the partial AUC", "y_true holds one class only")
        return result_frame([row], inference=[C.SE])
    row[C.ESTIMATE] = _region_estimate(region, y, s)
    if not enough_units(y, codes):
        warn_undefined("the partial AUC confidence interval", "fewer than two positives or negatives")
        return result_frame([row], inference=[C.SE])
    boot = bootstrap_curves(y, s[None, :], region.statistic, n_boot=n_boot, seed=seed, cluster=codes)
    row.update(_percentile(boot[:, 0, 0], level, y, codes, seed))
    return result_frame([row], inference=[C.SE])


def sensitivity_at_specificity(y_true: Any, score: Any, *, specificity: Any, data: pd.DataFrame | None = None,
                               confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                               cluster: Any = None, pos_label: Any = None) -> pd.DataFrame:
    """Sensitivity of the empirical ROC curve at fixed specificities, with bootstrap CIs.

    Parameters
    ----------
    y_true, score : array-like (N,), or column names of ``data``
    specificity : float in [0, 1], or a list of them (proportions, not percent)
    confidence, n_boot, seed, cluster
        Percentile CI from ``n_boot`` stratified (cluster) bootstrap replicates, as
        pROC's ``ci.se(roc, specificities = …)``.

    Returns
    -------
    One row per specificity: ``estimate`` (sensitivity), ``ci_low, ci_high, p`` (NaN),
    ``se`` (bootstrap SD), ``method, n, ci_level``, ``metric`` ("sensitivity"),
    ``specificity``, ``n_pos, n_neg``.

    Notes
    -----
    The estimate is pROC's ``coords(roc, x, input = "specificity", ret = "sensitivity")``:
    where the curve has points at that specificity, the highest of their sensitivities;
    elsewhere the sensitivity interpolated linearly between the two neighbouring points.
    pROC's ``ci.se`` reports the bootstrap median beside its CI; this is the estimate
    from the data themselves.

    Examples
    --------
    >>> r = sensitivity_at_specificity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], specificity=[0.5, 0.75])
    >>> r["estimate"].tolist()
    [1.0, 0.5]
    """
    return _at_fixed(y_true, score, specificity, "specificity", data, confidence, n_boot, seed, cluster,
                     pos_label)


def specificity_at_sensitivity(y_true: Any, score: Any, *, sensitivity: Any, data: pd.DataFrame | None = None,
                               confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                               cluster: Any = None, pos_label: Any = None) -> pd.DataFrame:
    """Specificity of the empirical ROC curve at fixed sensitivities, with bootstrap CIs.

    The mirror of :func:`sensitivity_at_specificity` (pROC's ``ci.sp`` and
    ``coords(input = "sensitivity", ret = "specificity")``): one row per sensitivity,
    ``estimate`` the specificity, ``metric`` "specificity", column ``sensitivity``.

    Examples
    --------
    >>> r = specificity_at_sensitivity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], sensitivity=0.5)
    >>> r["estimate"].item()
    1.0
    """
    return _at_fixed(y_true, score, sensitivity, "sensitivity", data, confidence, n_boot, seed, cluster,
                     pos_label)


def _at_fixed(y_true, score, values, given, data, confidence, n_boot, seed, cluster, pos_label):
    args = from_data(data, y_true=y_true, score=score, cluster=cluster)
    y, s = binary_inputs(args["y_true"], args["score"], pos_label=pos_label)
    codes = cluster_ids(args["cluster"], y.size)
    at = _levels(given, values)
    level, n_boot = _options(confidence, n_boot, seed)
    metric = "sensitivity" if given == "specificity" else "specificity"
    rows = [{**_common(y, codes, level), C.METRIC: metric, given: float(t), C.METHOD: "percentile bootstrap"}
            for t in at]
    if y.all() or not y.any():
        warn_undefined(f"the {metric} at a fixed {given}", "y_true holds one class only")
        return result_frame(rows, inference=[C.SE])

    def statistic(se: np.ndarray, sp: np.ndarray) -> np.ndarray:
        x, v = (sp, se) if given == "specificity" else (se, sp)
        return np.stack([value_at(x, v, t) for t in at], axis=1)

    estimates = statistic(*curve_points(y, s))[0]
    for row, estimate in zip(rows, estimates):
        row[C.ESTIMATE] = estimate
    if not enough_units(y, codes):
        warn_undefined(f"the {metric} confidence interval", "fewer than two positives or negatives")
        return result_frame(rows, inference=[C.SE])
    boot = bootstrap_curves(y, s[None, :], statistic, n_boot=n_boot, seed=seed, cluster=codes)[:, 0, :]
    for i, row in enumerate(rows):
        row.update(_percentile(boot[:, i], level, y, codes, seed))
    return result_frame(rows, inference=[C.SE])


def bootstrap_test(y_true: Any, score_a: Any, score_b: Any, *, data: pd.DataFrame | None = None,
                   specificity: Any = None, sensitivity: Any = None, correct: bool = False,
                   cluster: Any = None, confidence: float = 0.95, alternative: str = "two-sided",
                   n_boot: int = 2000, seed: int = 0, pos_label: Any = None) -> pd.DataFrame:
    """Paired bootstrap test of two AUCs (or partial AUCs) of two scores on the same cases.

    The sibling of :func:`studykit.stats.delong_test` that needs no variance formula, so
    it also compares partial AUCs: pROC's ``roc.test(roc_a, roc_b, method = "bootstrap",
    paired = TRUE)``.

    Parameters
    ----------
    y_true, score_a, score_b : array-like (N,), or column names of ``data``
    specificity, sensitivity, correct
        Optional region, as in :func:`partial_auc`; none compares the full AUCs.
    alternative : {"two-sided", "greater", "less"}
        "greater": H1 AUC_a > AUC_b.
    n_boot, seed, cluster
        Both scores are evaluated on the same ``n_boot`` stratified (cluster) replicates.

    Returns
    -------
    One-row DataFrame: ``estimate`` (AUC_a − AUC_b), ``ci_low, ci_high`` (estimate ±
    z·SE), ``p``, ``statistic`` (D), ``se`` (SD of the bootstrap differences), ``method,
    n, ci_level``, ``metric``, ``auc_a, auc_b, n_pos, n_neg`` (and the region's columns).

    Notes
    -----
    D = (AUC_a − AUC_b) / SD(AUC*_a − AUC*_b) over the replicates, referred to the standard
    normal (Hanley & McNeil 1983's z with a bootstrap SE). The draws differ from R's, so p
    agrees with pROC's to Monte-Carlo error.

    Examples
    --------
    >>> r = bootstrap_test([0, 0, 0, 1, 1, 1], [.1, .2, .6, .5, .7, .9], [.3, .1, .2, .4, .8, .5])
    >>> round(r["estimate"].item(), 4)
    -0.1111
    """
    args = from_data(data, y_true=y_true, score_a=score_a, score_b=score_b, cluster=cluster)
    y, a, b = paired_inputs(args["y_true"], args["score_a"], args["score_b"], pos_label=pos_label)
    codes = cluster_ids(args["cluster"], y.size)
    region = auc_range(specificity, sensitivity, correct, required=False)
    level, n_boot = _options(confidence, n_boot, seed)
    alternative = check_option("alternative", alternative, ALTERNATIVES)
    row = {**_common(y, codes, level), C.METHOD: "paired bootstrap test",
           **(region.columns() if region else {C.METRIC: "auc"})}
    if not enough_units(y, codes):
        warn_undefined("the bootstrap test", "it needs at least two positive and two negative cases "
                                             "(or clusters)")
        return result_frame([row], inference=[C.STATISTIC, C.SE])
    scores = np.stack([a, b])
    if region is None:
        auc = placements(y, scores)[2]
        boot = bootstrap_aucs(y, scores, n_boot=n_boot, seed=seed, cluster=codes)
    else:
        auc = np.array([_region_estimate(region, y, score) for score in scores])
        boot = bootstrap_curves(y, scores, region.statistic, n_boot=n_boot, seed=seed, cluster=codes)[..., 0]
    diffs = boot[:, 0] - boot[:, 1]
    kept = diffs[np.isfinite(diffs)]
    se = float(np.std(kept, ddof=1))
    if not se > 0:
        warn_undefined("the bootstrap test statistic", "the two scores give the same AUC in every replicate")
    method = "paired " + _replicates(y, codes, diffs.size, kept.size, seed, what="bootstrap test")
    row.update({C.ESTIMATE: auc[0] - auc[1], **wald_inference(auc[0] - auc[1], se, level,
                                                             alternative=alternative),
                C.METHOD: method, "auc_a": auc[0], "auc_b": auc[1]})
    return result_frame([row], inference=[C.STATISTIC, C.SE])


def _region_estimate(region: AucRange, y: np.ndarray, score: np.ndarray) -> float:
    raw = float(region.raw(*curve_points(y, score))[0])
    if region.below_chance(raw):
        warn_undefined("the McClish-corrected partial AUC", "the curve lies below the chance diagonal "
                       "in the region")
        return float("nan")
    return float(region.value(np.array([raw]))[0])
