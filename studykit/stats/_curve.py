"""Kernels: empirical ROC points of (bootstrap-weighted) data, areas and values along them.

pROC's arithmetic, so that results agree with it to rounding: at each threshold between
consecutive distinct scores (and at ±inf), sensitivity = tp / m and specificity =
(n − fp) / n, with tp, fp the (weighted) counts at or above the threshold; thresholds
ascend, so specificity rises from 0 to 1 and sensitivity falls from 1 to 0. The curve
between its points is the straight line pROC interpolates along.

Bootstrap replicates are integer weights per case (how often a case is drawn). All
replicates share the distinct scores of the original data as thresholds; a score absent
from a replicate only repeats the previous point, which changes no area and no
interpolated value, so each replicate's answer equals that of the resampled data itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from studykit.stats._bootstrap import _BLOCK_CELLS, _resampling_weights


def curve_points(y: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None):
    """Sensitivity and specificity at every threshold, ascending.

    Parameters
    ----------
    y : bool array (N,)
    score : float array (N,)
    weights : array (B, N) of counts, optional (default: each case once, B = 1)

    Returns
    -------
    se, sp : float arrays (B, K + 1), K the number of distinct scores; NaN in a row
    whose weights leave no positive (se) or no negative (sp).
    """
    w = np.ones((1, y.size)) if weights is None else weights.astype(np.float64)
    values, inverse = np.unique(score, return_inverse=True)
    k, b = values.size, w.shape[0]
    flat = (np.arange(b) * k)[:, None] + inverse[None, :]
    counts = {}
    for name, members in (("pos", y), ("neg", ~y)):
        per_value = np.bincount(flat[:, members].ravel(), weights=w[:, members].ravel(),
                                minlength=b * k).reshape(b, k)
        at_or_above = np.zeros((b, k + 1))
        at_or_above[:, :k] = np.cumsum(per_value[:, ::-1], axis=1)[:, ::-1]
        counts[name] = at_or_above
    tp, fp = counts["pos"], counts["neg"]
    m, n = tp[:, :1], fp[:, :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / m, (n - fp) / n


def _interpolate(t, x0, y0, x1, y1):
    """y at x = t on the line through (x0, y0) and (x1, y1), anchored at the second point
    as pROC writes it: y1 + (t − x1) / (x0 − x1) · (y0 − y1); the endpoints exactly."""
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = y1 + (t - x1) / (x0 - x1) * (y0 - y1)
    return np.where(t == x0, y0, np.where(t == x1, y1, inner))


def partial_area(x: np.ndarray, y: np.ndarray, low: float, high: float) -> np.ndarray:
    """∫ y dx over ``low ≤ x ≤ high`` along the piecewise-linear curve, per row (B,).

    ``x`` must be non-decreasing along each row (B, K + 1). This is pROC's ``auc.roc`` with
    ``partial.auc``: trapezoids of the points inside, plus the pieces up to each limit
    interpolated on the segment that crosses it.
    """
    x0, x1, y0, y1 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    a, b = np.maximum(x0, low), np.minimum(x1, high)
    inside = b > a
    ya, yb = _interpolate(a, x0, y0, x1, y1), _interpolate(b, x0, y0, x1, y1)
    pieces = np.where(inside, (ya + yb) / 2 * (b - a), 0.0)
    area = pieces.sum(axis=1)
    return np.where(np.isnan(x).any(axis=1) | np.isnan(y).any(axis=1), np.nan, area)


def value_at(x: np.ndarray, y: np.ndarray, t: float) -> np.ndarray:
    """y where the curve passes x = t, per row (B,): pROC's ``coords(input = x)``.

    On a vertical run (several points at x = t) the largest y is taken, as pROC does;
    between points, the segment crossing t is interpolated linearly.
    """
    exact = np.where(x == t, y, -np.inf).max(axis=1)
    x0, x1, y0, y1 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    crossing = (np.minimum(x0, x1) < t) & (t < np.maximum(x0, x1))
    between = np.where(crossing, _interpolate(t, x0, y0, x1, y1), -np.inf).max(axis=1)
    out = np.maximum(exact, between)
    return np.where(np.isfinite(out), out, np.nan)


def bootstrap_curves(y: np.ndarray, scores: np.ndarray, statistic: Callable, *, n_boot: int, seed: int,
                     cluster: np.ndarray | None = None) -> np.ndarray:
    """``statistic(se, sp)`` of ``n_boot`` stratified (cluster) bootstrap curves, (n_boot, k, j).

    ``scores`` (k, N) are resampled together (paired); ``statistic`` maps curve arrays
    (B, K + 1) to values (B, j). Draws are those of :func:`_bootstrap.bootstrap_aucs` for
    the same seed and data.
    """
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // y.size)
    out: np.ndarray | None = None
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        weights = _resampling_weights(rng, size, y, cluster)
        values = np.stack([statistic(*curve_points(y, score, weights)) for score in scores], axis=1)
        if out is None:
            out = np.empty((n_boot, *values.shape[1:]))
        out[start:start + size] = values
    return out
