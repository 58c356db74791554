"""Calibration of each model arm's patient-level probability: Brier score and reliability curve.

Methods
-------
Brier score B = (1/n) Σ (p_i − y_i)² over the common patients, with a percentile CI from a
nonparametric bootstrap of patients (seeded), and Spiegelhalter's (1986) z-test of calibration,
z = Σ (y_i − p_i)(1 − 2p_i) / √(Σ (1 − 2p_i)² p_i (1 − p_i)), two-sided normal p (H0: the
probabilities are calibrated; columns ``statistic`` and ``p`` of the Brier row).

Reliability curve: patients sorted by probability (ties by patient id) and cut into
``n_bins`` bins of equal count (``numpy.array_split``); per bin the observed fraction of
malignant patients with its Wilson score CI, against the expected (mean) probability.

References
----------
Brier GW (1950). Verification of forecasts expressed in terms of probability. Mon Weather Rev
78:1–3. doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2
Spiegelhalter DJ (1986). Probabilistic prediction in patient management and clinical trials.
Stat Med 5:421–433. doi:10.1002/sim.4780050506
Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
Wilson EB (1927). J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from studykit.analysis._common import concat, order_columns, restrict
from studykit.analysis._study import AnalysisOptions, prepare
from studykit.stats import columns as C
from studykit.stats import wilson_interval
from studykit.vocab import ARM, LABEL, PATIENT, PATIENT_UNIT, SCORE

__all__ = ["brier_score", "calibration_table"]

BIN, EXPECTED, P_MIN, P_MAX = "bin", "expected", "p_min", "p_max"


def calibration_table(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
                      manifest: pd.DataFrame | None = None, *,
                      options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Brier score and reliability curve of every model arm at patient level.

    Parameters
    ----------
    predictions, reads, manifest : DataFrame
        As :func:`studykit.analysis.performance_table` (reads only fix the common patients).
    options : AnalysisOptions
        ``n_bins``, ``n_boot``, ``seed``, ``confidence``, ``aggregation``.

    Returns
    -------
    DataFrame: per arm one ``metric = "brier"`` row (``estimate`` B, bootstrap CI, ``p`` and
    ``statistic`` of Spiegelhalter's z, ``se`` the bootstrap SD) and one ``metric =
    "reliability"`` row per bin (``estimate`` the observed fraction with its Wilson CI, ``n``
    the bin's patients, ``bin`` from 1, ``expected`` the mean probability, ``p_min, p_max``);
    ``method, ci_level, arm, unit`` ("patient") on all rows.
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    frames = []
    for arm in study.models:
        data = restrict(arm, study.patients)
        y, p = data[LABEL].to_numpy(float), data[SCORE].to_numpy(float)
        frames.append(brier_score(y, p, options=options).assign(**{ARM: arm.name}))
        curve = _reliability(y, p, data[PATIENT].astype(str).to_numpy(), options)
        frames.append(curve.assign(**{ARM: arm.name}))
    table = concat(frames)
    table[C.UNIT] = PATIENT_UNIT
    return order_columns(table, [ARM, C.UNIT, C.METRIC])


def brier_score(y: np.ndarray, p: np.ndarray, *, options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Brier score with a patient-bootstrap CI and Spiegelhalter's z-test (one row).

    Examples
    --------
    >>> brier_score(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.6, 0.5]))["estimate"].item()
    0.115
    """
    options = options or AnalysisOptions()
    y, p = np.asarray(y, float), np.asarray(p, float)
    brier = float(np.mean((p - y) ** 2))
    rng = np.random.default_rng(options.seed)
    idx = rng.integers(0, y.size, size=(options.n_boot, y.size))
    boot = np.mean((p[idx] - y[idx]) ** 2, axis=1)
    alpha = (1 - options.confidence) / 2
    var = float(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    z = float(np.sum((y - p) * (1 - 2 * p)) / math.sqrt(var)) if var > 0 else float("nan")
    return pd.DataFrame([{C.ESTIMATE: brier, C.CI_LOW: float(np.quantile(boot, alpha)),
                          C.CI_HIGH: float(np.quantile(boot, 1 - alpha)),
                          C.P: math.erfc(abs(z) / math.sqrt(2)) if var > 0 else float("nan"),
                          C.STATISTIC: z, C.SE: float(np.std(boot, ddof=1)),
                          C.METHOD: f"Brier score; patient bootstrap percentile CI ({options.n_boot} "
                                    f"replicates, seed {options.seed}); Spiegelhalter (1986) z-test",
                          C.N: y.size, C.CI_LEVEL: options.confidence, C.METRIC: "brier"}])


def _reliability(y: np.ndarray, p: np.ndarray, ids: np.ndarray, options: AnalysisOptions) -> pd.DataFrame:
    order = np.lexsort((ids, p))
    rows = []
    for k, members in enumerate(np.array_split(order, min(options.n_bins, y.size)), start=1):
        x, n = float(y[members].sum()), members.size
        low, high = wilson_interval(np.array([x]), np.array([n]), options.confidence)
        rows.append({C.ESTIMATE: x / n, C.CI_LOW: float(low[0]), C.CI_HIGH: float(high[0]), C.P: np.nan,
                     C.METHOD: "observed fraction, Wilson score CI; equal-count bins", C.N: n,
                     C.CI_LEVEL: options.confidence, C.METRIC: "reliability", BIN: k,
                     EXPECTED: float(p[members].mean()), P_MIN: float(p[members].min()),
                     P_MAX: float(p[members].max())})
    return pd.DataFrame(rows)
