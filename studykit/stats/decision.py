"""Decision curve analysis: the net benefit of acting on a model's predicted probabilities.

A patient is treated (biopsied, operated on) when the model's probability of disease
reaches a threshold probability p_t, the risk at which a clinician is indifferent between
treating and not. The net benefit of that rule counts true positives against false
positives weighed by the odds p_t / (1 − p_t): the harm of an unneeded treatment relative
to the benefit of a needed one that the threshold itself implies. A decision curve is the
net benefit over a range of thresholds, beside the two reference strategies, treat all and
treat none. Results agree with the Python ``dcurves`` package (Sjoberg) to rounding.

References
----------
Vickers AJ, Elkin EB (2006). Decision curve analysis: a novel method for evaluating
prediction models. Med Decis Making 26:565–574. doi:10.1177/0272989X06295361
Vickers AJ, Cronin AM, Elkin EB, Gonen M (2008). Extensions to decision curve analysis, a
novel method for evaluating diagnostic tests, prediction models and molecular markers.
BMC Med Inform Decis Mak 8:53 (net interventions avoided; bootstrap bands).
doi:10.1186/1472-6947-8-53
Vickers AJ, van Calster B, Steyerberg EW (2016). Net benefit approaches to the evaluation
of prediction models, molecular markers, and diagnostic tests. BMJ 352:i6.
doi:10.1136/bmj.i6
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._bootstrap import _BLOCK_CELLS, _resampling_weights, bootstrap_design
from studykit.stats._result import result_frame
from studykit.stats._validation import (
    binary_labels,
    check_confidence,
    check_positive_int,
    cluster_ids,
    finite_scores,
    from_data,
    positions,
    same_length,
)

__all__ = ["decision_curve"]

# result columns of decision_curve, defined once in _columns (the report layer draws them)
MODEL, THRESHOLD, TP_RATE, FP_RATE = C.MODEL, C.THRESHOLD, C.TP_RATE, C.FP_RATE
MINUS_ALL, MINUS_ALL_CI_LOW, MINUS_ALL_CI_HIGH = (C.NET_BENEFIT_MINUS_ALL, C.NET_BENEFIT_MINUS_ALL_CI_LOW,
                                                  C.NET_BENEFIT_MINUS_ALL_CI_HIGH)
AVOIDED = C.NET_INTERVENTIONS_AVOIDED

#: The ``model`` of the reference strategies' rows.
TREAT_ALL, TREAT_NONE = C.TREAT_ALL, C.TREAT_NONE

_ORDER = (C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.SE, C.METHOD, C.N, C.CI_LEVEL, C.METRIC, MODEL, THRESHOLD,
          TP_RATE, FP_RATE, MINUS_ALL, MINUS_ALL_CI_LOW, MINUS_ALL_CI_HIGH, AVOIDED, C.N_POS, C.N_NEG,
          C.N_CLUSTERS)

#: Threshold probabilities used when none are given: 0.01, 0.02, …, 0.99.
DEFAULT_THRESHOLDS = np.arange(1, 100) / 100


def decision_curve(y_true: Any, prob: Any, *, thresholds: Any = None, data: pd.DataFrame | None = None,
                   pos_label: Any = None, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                   cluster: Any = None) -> pd.DataFrame:
    """Net benefit of treating when ``prob >= p_t``, at each threshold probability p_t.

    Parameters
    ----------
    y_true : array-like (N,), or a column name of ``data``
        Binary reference standard (0/1, bool, or two values with ``pos_label``).
    prob : array-like (N,), or a mapping name → array-like (N,)
        Predicted probabilities of the positive class, in [0, 1]; several models at once
        as a mapping (as :func:`studykit.stats.compare_aucs` takes). With ``data``: a
        column name, a list of them, or a mapping display name → column name. A single
        array is reported as model ``"model"``.
    thresholds : array-like of floats in (0, 1), optional
        Threshold probabilities p_t (proportions, not percent), in the order given;
        default 0.01, 0.02, …, 0.99.
    confidence, n_boot, seed, cluster
        Percentile bands from ``n_boot`` bootstrap replicates, positives and negatives
        resampled separately; with ``cluster`` (patient ids of image-level rows) whole
        patients are resampled. Every model is evaluated on the same replicates.

    Returns
    -------
    Tidy DataFrame, one row per (model, threshold), models in the order given, then the
    rows of ``model`` "treat_all" and "treat_none". Columns ``estimate`` (net benefit, in
    true positives per patient), ``ci_low, ci_high``, ``p`` (NaN), ``se`` (bootstrap SD),
    ``method, n, ci_level``, ``metric`` ("net_benefit"), ``model, threshold``,
    ``tp_rate, fp_rate`` (TP / N and FP / N: shares of all N patients, not sensitivity),
    ``net_benefit_minus_all`` with its band ``net_benefit_minus_all_ci_low, _ci_high``,
    ``net_interventions_avoided_per_100``, ``n_pos, n_neg`` (and ``n_clusters``).
    The reference rows carry no band (see Notes).

    Notes
    -----
    NB(p_t) = TP/N − FP/N · p_t / (1 − p_t), TP and FP counted among the N patients with
    ``prob >= p_t`` (Vickers & Elkin 2006). Treat all: NB = π − (1 − π) p_t / (1 − p_t),
    π = prevalence; treat none: NB = 0. Net interventions avoided per 100 patients:
    (NB − NB_all) / (p_t / (1 − p_t)) · 100 (Vickers et al. 2008; ``dcurves``'
    ``net_intervention_avoided`` with ``nper = 100``). The bands are percentiles of the
    replicates (R's quantile type 7). Resampling each class separately holds the
    prevalence at its observed value, so the bands are conditional on it and treat all,
    a function of the prevalence alone, has no band; ``net_benefit_minus_all`` carries
    the uncertainty of the comparison with it.

    Examples
    --------
    >>> r = decision_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], thresholds=[0.2, 0.5], n_boot=200)
    >>> print(r[["model", "threshold", "estimate", "net_benefit_minus_all"]].to_string(index=False))
         model  threshold  estimate  net_benefit_minus_all
         model        0.2    0.4375                 0.0625
         model        0.5    0.2500                 0.2500
     treat_all        0.2    0.3750                 0.0000
     treat_all        0.5    0.0000                 0.0000
    treat_none        0.2    0.0000                -0.3750
    treat_none        0.5    0.0000                 0.0000
    """
    y, names, probs, codes = _inputs(y_true, prob, data, cluster, pos_label)
    grid = _thresholds(thresholds)
    level = check_confidence(confidence)
    check_positive_int("seed", seed, minimum=0)
    n_boot = check_positive_int("n_boot", n_boot, minimum=2)
    tp, fp, nb = (part[0] for part in _curves(y, probs, grid, np.ones((1, y.size))))
    boot = _bootstrap_net_benefit(y, probs, grid, n_boot=n_boot, seed=seed, cluster=codes)
    alpha = 1.0 - level
    quantiles = [alpha / 2, 1 - alpha / 2]  # as _bootstrap.percentile_interval
    band = np.quantile(boot[:, :-1], quantiles, axis=0)  # (2, k, K)
    gain_band = np.quantile(boot[:, :-1] - boot[:, -1:], quantiles, axis=0)
    common: dict[str, Any] = {C.N: y.size, C.CI_LEVEL: level, C.METRIC: "net_benefit",
                              C.N_POS: int(y.sum()), C.N_NEG: int((~y).sum())}
    if codes is not None:
        common[C.N_CLUSTERS] = int(codes.max()) + 1
    design = f"{bootstrap_design(y, codes)} bootstrap, percentile ({n_boot} replicates, seed {seed})"
    blocks = [_block(grid, nb[r], nb[-1], tp[r] / y.size, fp[r] / y.size, common, name,
                     f"net benefit (Vickers & Elkin 2006); {design}",
                     {C.CI_LOW: band[0, r], C.CI_HIGH: band[1, r], C.SE: np.std(boot[:, r], axis=0, ddof=1),
                      MINUS_ALL_CI_LOW: gain_band[0, r], MINUS_ALL_CI_HIGH: gain_band[1, r]})
              for r, name in enumerate(names)]
    zero = np.zeros(grid.size)
    blocks.append(_block(grid, nb[-1], nb[-1], tp[-1] / y.size, fp[-1] / y.size, common, TREAT_ALL,
                         "treat all (reference strategy, no band)"))
    blocks.append(_block(grid, zero, nb[-1], zero, zero, common, TREAT_NONE,
                         "treat none (reference strategy, no band)"))
    frame = pd.concat(blocks, ignore_index=True)
    return result_frame(frame[[c for c in _ORDER if c in frame]].to_dict("records"), inference=[C.SE])


def _block(grid: np.ndarray, nb: np.ndarray, nb_all: np.ndarray, tp_rate: np.ndarray, fp_rate: np.ndarray,
           common: dict[str, Any], name: str, method: str, bands: dict[str, np.ndarray] | None = None):
    """The rows of one model (or reference strategy, without ``bands``): one per threshold."""
    nan = np.full(grid.size, np.nan)
    banded = (C.CI_LOW, C.CI_HIGH, C.SE, MINUS_ALL_CI_LOW, MINUS_ALL_CI_HIGH)
    bands = {key: nan for key in banded} | (bands or {})
    odds = grid / (1 - grid)
    return pd.DataFrame({C.ESTIMATE: nb, **bands, C.METHOD: method, **common, MODEL: name, THRESHOLD: grid,
                         TP_RATE: tp_rate, FP_RATE: fp_rate, MINUS_ALL: nb - nb_all,
                         AVOIDED: (nb - nb_all) / odds * 100})


# ---------------------------------------------------------------- inputs
def _inputs(y_true, prob, data, cluster, pos_label):
    """Validated ``(y, names, probs (k, N), cluster codes or None)``."""
    models = _models(prob, data)  # argument name → (model name, scores or column name)
    if data is not None:
        picked = from_data(data, y_true=y_true, cluster=cluster,
                           **{field: column for field, (_, column) in models.items()})
        y_true, cluster = picked["y_true"], picked["cluster"]
        models = {field: (name, picked[field]) for field, (name, _) in models.items()}
    y = binary_labels(y_true, pos_label=pos_label)
    arrays = {field: _probabilities(values, field) for field, (_, values) in models.items()}
    same_length(y_true=y, **arrays)
    names = [name for name, _ in models.values()]
    return y, names, np.stack(list(arrays.values())), cluster_ids(cluster, y.size)


def _models(prob: Any, data: pd.DataFrame | None) -> dict[str, tuple[str, Any]]:
    """Argument name (``prob`` or ``prob['name']``) → (model name, scores or, with ``data``, column)."""
    if data is not None and isinstance(prob, str):
        return {"prob": (prob, prob)}
    if data is not None and isinstance(prob, Sequence):
        prob = {str(column): column for column in prob}
    if not isinstance(prob, Mapping):
        return {"prob": ("model", prob)}
    if len(prob) == 0:
        raise InputError("must map at least one model name to its probabilities; got an empty mapping.",
                         field="prob", hint="pass e.g. {'MUF-Net': p1, 'CEUS-Net': p2}.")
    clash = [str(name) for name in prob if str(name) in (TREAT_ALL, TREAT_NONE)]
    if clash:
        raise InputError(f"names a model {clash[0]!r}, the name of a reference strategy's rows.",
                         field="prob", hint="rename that model; 'treat_all' and 'treat_none' are reserved.")
    return {f"prob[{str(name)!r}]": (str(name), values) for name, values in prob.items()}


def _probabilities(values: Any, field: str) -> np.ndarray:
    """Finite floats in [0, 1], else an error naming the field and where the offenders are."""
    arr = finite_scores(values, name=field)
    outside = (arr < 0) | (arr > 1)
    if outside.any():
        raise InputError(f"must hold probabilities in [0, 1]; {positions(outside)} are outside, "
                         f"e.g. {arr[outside][0].item()!r}.", field=field,
                         hint="pass predicted probabilities (e.g. calibrated by logistic regression), "
                              "not raw scores or logits.")
    return arr


def _thresholds(thresholds: Any) -> np.ndarray:
    """Threshold probabilities: a non-empty 1-D float array, every value strictly in (0, 1)."""
    if thresholds is None:
        return DEFAULT_THRESHOLDS.copy()
    hint = "pass e.g. thresholds=np.arange(1, 50) / 100 (p_t = 0.01 … 0.49); p_t / (1 − p_t) is " \
           "0 at p_t = 0 and infinite at 1."
    try:
        grid = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"must be numbers strictly between 0 and 1; got {thresholds!r}.",
                         field="thresholds", hint=hint) from None
    if grid.ndim != 1 or grid.size == 0:
        raise InputError(f"must be a non-empty list of threshold probabilities; got an array of shape "
                         f"{grid.shape}.", field="thresholds", hint=hint)
    outside = ~((grid > 0) & (grid < 1))
    if outside.any():
        raise InputError(f"must be probabilities strictly between 0 and 1; {positions(outside)} are not, "
                         f"e.g. {grid[outside][0].item()!r}.", field="thresholds", hint=hint)
    return grid


# ---------------------------------------------------------------- kernels
def _curves(y: np.ndarray, probs: np.ndarray, grid: np.ndarray, weights: np.ndarray):
    """Weighted TP, FP and net benefit of each score and of treat-all, each (B, k + 1, K).

    ``weights`` (B, N) count how often each case enters each of B samples (ones: the data
    themselves). Row k of the second axis is treat-all (every case treated).
    """
    order = np.argsort(grid, kind="stable")
    # bin of each case: how many (sorted) thresholds it reaches, prob >= p_t
    bins = [np.searchsorted(grid[order], p, side="right") for p in probs] + [np.full(y.size, grid.size)]
    w = weights.astype(np.float64)
    tp = np.stack([_treated(w[:, y], b[y], grid.size) for b in bins], axis=1)
    fp = np.stack([_treated(w[:, ~y], b[~y], grid.size) for b in bins], axis=1)
    unsort = np.argsort(order)
    tp, fp = tp[..., unsort], fp[..., unsort]
    n = w.sum(axis=1)[:, None, None]
    return tp, fp, tp / n - grid / (1 - grid) * (fp / n)


def _treated(weights: np.ndarray, bins: np.ndarray, k: int) -> np.ndarray:
    """(B, k): total weight of the cases at or above each sorted threshold (bin > index)."""
    b = weights.shape[0]
    flat = (np.arange(b) * (k + 1))[:, None] + bins[None, :]
    per_bin = np.bincount(flat.ravel(), weights=weights.ravel(), minlength=b * (k + 1)).reshape(b, k + 1)
    return np.cumsum(per_bin[:, :0:-1], axis=1)[:, ::-1]


def _bootstrap_net_benefit(y: np.ndarray, probs: np.ndarray, grid: np.ndarray, *, n_boot: int, seed: int,
                           cluster: np.ndarray | None) -> np.ndarray:
    """Net benefit of each score and of treat-all in ``n_boot`` replicates, (n_boot, k + 1, K).

    The replicates are those of :func:`studykit.stats._bootstrap.bootstrap_aucs` for the
    same seed and data (stratified; whole clusters with ``cluster``), drawn in blocks.
    """
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // y.size)
    out = np.empty((n_boot, probs.shape[0] + 1, grid.size))
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        out[start:start + size] = _curves(y, probs, grid, _resampling_weights(rng, size, y, cluster))[2]
    return out
