"""ROC analysis of one score: the curve, the Youden threshold and the AUC with its CI.

The AUC is the empirical (Mann–Whitney) area, ties counting 1/2, never flipped: a score
that ranks positives *below* negatives has AUC < 0.5 (pROC's ``direction = "<"``).

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two or more
correlated ROC curves. Biometrics 44:837–845. doi:10.2307/2531595
Sun X, Xu W (2014). Fast implementation of DeLong's algorithm. IEEE Signal Process Lett
21:1389–1393. doi:10.1109/LSP.2014.2337313
Obuchowski NA (1997). Nonparametric analysis of clustered ROC curve data. Biometrics
53:567–578. doi:10.2307/2533958
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77. doi:10.1186/1471-2105-12-77
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from studykit.stats import _columns as C
from studykit.stats._bootstrap import (
    bca_interval,
    bootstrap_aucs,
    bootstrap_design,
    jackknife_aucs,
    percentile_interval,
)
from studykit.stats._placements import clustered_covariance, delong_covariance, placements
from studykit.stats._result import result_frame, wald_inference, warn_undefined
from studykit.stats._validation import (
    binary_inputs,
    check_confidence,
    check_option,
    check_positive_int,
    cluster_ids,
    from_data,
)

__all__ = ["roc_auc", "roc_curve", "youden_threshold"]

AUC_METHODS = ("delong", "bootstrap")
INTERVALS = ("bca", "percentile")


def roc_curve(y_true: Any, score: Any, *, data: pd.DataFrame | None = None,
              pos_label: Any = None) -> pd.DataFrame:
    """Empirical ROC curve: every operating point of the rule ``score >= threshold``.

    Thresholds are pROC's (``roc.utils.thresholds``): ``-inf``, the midpoints between
    consecutive distinct scores, and ``+inf`` (decreasing here, so the curve runs from (0, 0)
    to (1, 1)). As in pROC, a midpoint beyond ±1e100 is computed as a/2 + b/2 (so scores near
    ±1.8e308 do not overflow to ±inf), and a midpoint that rounds onto the lower of its two
    scores (scores one ulp apart) is replaced by the upper one, so that ``score >= threshold``
    gives exactly the (tp, fp) of its row.

    Parameters
    ----------
    y_true : array-like (N,)
        Binary reference standard (0/1, bool, or two values with ``pos_label``).
    score : array-like (N,)
        Higher = more likely positive.
    data : DataFrame, optional
        When given, ``y_true`` and ``score`` name its columns.

    Returns
    -------
    DataFrame with columns ``threshold, sensitivity, specificity, fpr, tpr, tp, fp``,
    one row per threshold (distinct scores + 1).

    Examples
    --------
    >>> roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[["threshold", "tpr", "fpr"]].iloc[1].round(12).tolist()
    [0.6, 0.5, 0.0]
    """
    args = from_data(data, y_true=y_true, score=score)
    y, s = binary_inputs(args["y_true"], args["score"], pos_label=pos_label)
    values, inverse = np.unique(s, return_inverse=True)
    tp_at = np.bincount(inverse, weights=y, minlength=values.size)[::-1]
    all_at = np.bincount(inverse, minlength=values.size)[::-1]
    tp = np.concatenate([[0.0], np.cumsum(tp_at)])
    fp = np.concatenate([[0.0], np.cumsum(all_at - tp_at)])
    mids = _midpoints(values[:-1], values[1:])
    thresholds = np.concatenate([[np.inf], mids[::-1], [-np.inf]])
    m, n = y.sum(), (~y).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr, fpr = tp / m, fp / n
    if m == 0 or n == 0:
        warn_undefined("the ROC curve", "y_true holds one class only")
    return pd.DataFrame({"threshold": thresholds, "sensitivity": tpr, "specificity": 1 - fpr,
                         "fpr": fpr, "tpr": tpr, "tp": tp.astype(int), "fp": fp.astype(int)})


def _midpoints(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Thresholds between consecutive distinct scores ``low < high``, pROC's rule (see roc_curve)."""
    with np.errstate(over="ignore"):
        mids = (low + high) / 2.0
    mids = np.where(np.abs(mids) > 1e100, low / 2.0 + high / 2.0, mids)
    return np.where(mids == low, high, mids)


def youden_threshold(y_true: Any, score: Any, *, data: pd.DataFrame | None = None,
                     pos_label: Any = None) -> float:
    """Threshold that maximises Youden's J = sensitivity + specificity − 1.

    The rule is ``score >= threshold``; the threshold is a midpoint between observed
    scores (pROC's ``coords(roc, "best", best.method = "youden")``). When several
    thresholds reach the maximum, the highest one (the most specific) is returned.
    Returns NaN with a warning when ``y_true`` holds one class only.
    """
    curve = roc_curve(y_true, score, data=data, pos_label=pos_label)
    j = (curve["sensitivity"] + curve["specificity"] - 1.0).to_numpy()
    if np.all(np.isnan(j)):
        return float("nan")
    best = int(np.flatnonzero(np.isclose(j, np.nanmax(j), rtol=0, atol=1e-12))[0])
    threshold = float(curve["threshold"].iloc[best])
    if np.isinf(threshold):
        warn_undefined("a finite Youden threshold", "no threshold beats calling every case alike (J = 0)",
                       returning=f"{threshold}")
    return threshold


def roc_auc(y_true: Any, score: Any, *, data: pd.DataFrame | None = None,
            confidence: float = 0.95, method: str = "delong", cluster: Any = None,
            n_boot: int = 2000, seed: int = 0, interval: str = "bca",
            pos_label: Any = None) -> pd.DataFrame:
    """Empirical AUC with its confidence interval.

    Parameters
    ----------
    y_true, score : array-like (N,), or column names of ``data``
    confidence : float
        Two-sided confidence level.
    method : {"delong", "bootstrap"}
        ``delong``: fast DeLong variance (Sun & Xu 2014), normal CI clipped to [0, 1]
        (as pROC's ``ci.auc(method = "delong")``). With ``cluster``, Obuchowski's (1997)
        clustered variance. ``bootstrap``: ``n_boot`` replicates stratified by class
        (whole clusters resampled when ``cluster`` is given), vectorised, seeded.
    cluster : array-like (N,), optional
        Cluster of each observation (patient ids for image-level data).
    interval : {"bca", "percentile"}
        Bootstrap interval only: bias-corrected and accelerated (jackknife
        acceleration) or percentile (pROC's).

    Returns
    -------
    One-row DataFrame: ``estimate, ci_low, ci_high, p`` (NaN), ``se``, ``method``,
    ``n``, ``ci_level``, ``metric`` ("auc"), ``n_pos``, ``n_neg``, ``n_clusters``.

    Notes
    -----
    AUC = (1/mn) Σ_i Σ_j ψ(X_i, Y_j), ψ = 1 if X > Y, 1/2 if equal, else 0, over m
    positive scores X and n negative scores Y. DeLong: Var = S10/m + S01/n, S the
    sample variances (ddof 1) of the placements.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["estimate"].item()
    0.75
    """
    args = from_data(data, y_true=y_true, score=score, cluster=cluster)
    y, s = binary_inputs(args["y_true"], args["score"], pos_label=pos_label)
    codes = cluster_ids(args["cluster"], y.size)
    level = check_confidence(confidence)
    check_option("method", method, AUC_METHODS)
    check_option("interval", interval, INTERVALS)
    check_positive_int("seed", seed, minimum=0)
    n_boot = check_positive_int("n_boot", n_boot, minimum=2)
    row: dict[str, Any] = {C.N: y.size, C.CI_LEVEL: level, C.METRIC: "auc",
                           C.N_POS: int(y.sum()), C.N_NEG: int((~y).sum())}
    if codes is not None:
        row[C.N_CLUSTERS] = int(codes.max()) + 1
    if y.all() or not y.any():
        warn_undefined("the AUC", "y_true holds one class only")
        return result_frame([{**row, C.METHOD: method}], inference=[C.SE])
    if not enough_units(y, codes):
        unit = "cases" if codes is None else "clusters"
        warn_undefined("the AUC variance", f"fewer than two {unit} hold positives or negatives")
        row.update({C.ESTIMATE: placements(y, s[None, :])[2][0], C.METHOD: method})
    elif method == "delong":
        row.update(_delong_auc(y, s, codes, level))
    else:
        row.update(_bootstrap_auc(y, s, codes, level, n_boot, seed, interval))
    return result_frame([row], inference=[C.SE])


def auc_variance(y: np.ndarray, scores: np.ndarray, codes: np.ndarray | None):
    """AUCs (k,) and their covariance (k, k): DeLong, or Obuchowski when clustered."""
    v10, v01, auc = placements(y, scores)
    if codes is None:
        return auc, delong_covariance(v10, v01)
    return auc, clustered_covariance(v10, v01, auc, codes[y], codes[~y])


def enough_units(y: np.ndarray, codes: np.ndarray | None) -> bool:
    """Whether a variance is estimable: ≥ 2 positive and ≥ 2 negative cases (or clusters)."""
    if codes is None:
        return y.sum() >= 2 and (~y).sum() >= 2
    return np.unique(codes[y]).size >= 2 and np.unique(codes[~y]).size >= 2


def _delong_auc(y, s, codes, level) -> dict[str, Any]:
    name = "DeLong (Sun & Xu 2014)" if codes is None else "Obuchowski clustered (1997)"
    auc, cov = auc_variance(y, s[None, :], codes)
    se = float(np.sqrt(max(cov[0, 0], 0.0)))
    if se == 0:
        warn_undefined("the AUC confidence interval", "the DeLong variance is 0 (every positive–negative "
                                                      "pair is ordered alike, e.g. perfect separation)")
    inference = wald_inference(auc[0], se, level, bounds=(0.0, 1.0))
    return {C.ESTIMATE: auc[0], C.CI_LOW: inference.get(C.CI_LOW, np.nan),
            C.CI_HIGH: inference.get(C.CI_HIGH, np.nan), C.SE: se, C.METHOD: name}


def _bootstrap_auc(y, s, codes, level, n_boot, seed, interval) -> dict[str, Any]:
    auc = float(placements(y, s[None, :])[2][0])
    boot = bootstrap_aucs(y, s[None, :], n_boot=n_boot, seed=seed, cluster=codes)[:, 0]
    kept = boot[np.isfinite(boot)]
    if interval == "percentile":
        low, high = percentile_interval(kept, level)
    else:
        low, high = bca_interval(kept, auc, jackknife_aucs(y, s, codes), level)
        if np.isnan(low):
            warn_undefined("the BCa interval", "every bootstrap AUC lies on one side of the estimate")
    design = bootstrap_design(y, codes)
    dropped = f", {boot.size - kept.size} without both classes dropped" if kept.size < boot.size else ""
    name = f"{design} bootstrap, {interval} ({kept.size} replicates{dropped}, seed {seed})"
    return {C.ESTIMATE: auc, C.CI_LOW: low, C.CI_HIGH: high, C.SE: float(np.std(kept, ddof=1)),
            C.METHOD: name}
