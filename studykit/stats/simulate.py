"""Simulated diagnostic data with a known true AUC, for coverage and power studies.

Binormal model: negatives' scores ~ N(0, 1), positives' ~ N(μ, 1), so the population
AUC is Φ(μ / √2) (Hanley 1988, Stat Med 7:1067). The clustered variant adds a shared
patient effect: image score = μ·y_i + b_i + e_ij with b_i ~ N(0, σ_b²), e_ij ~ N(0, σ_e²)
and σ_b² + σ_e² = 1, so pairs of images from different patients still have AUC
Φ(μ / √2) while images of one patient are correlated (intra-class correlation σ_b²).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import norm

from studykit.stats._placements import clustered_covariance, delong_covariance, placements
from studykit.stats._result import z_critical

__all__ = ["binormal_sample", "binormal_shift", "ci_coverage", "clustered_binormal_sample"]


def binormal_shift(auc: float) -> float:
    """The mean shift μ that gives population AUC ``auc`` under the unit binormal model."""
    return float(np.sqrt(2.0) * norm.ppf(auc))


def binormal_sample(n_pos: int, n_neg: int, auc: float, rng: np.random.Generator):
    """``(y, score)``: ``n_pos`` positives then ``n_neg`` negatives, population AUC ``auc``."""
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    score = rng.standard_normal(y.size) + binormal_shift(auc) * y
    return y, score


def clustered_binormal_sample(n_patients: int, auc: float, rng: np.random.Generator, *,
                              images: tuple[int, int] = (5, 20), icc: float = 0.5,
                              prevalence: float = 0.5):
    """``(y, score, patient)`` for image-level data clustered by patient.

    Each patient is positive with probability ``prevalence`` (at least one of each class
    is guaranteed), has between ``images[0]`` and ``images[1]`` images (uniform), and
    contributes a shared effect with variance ``icc``; image noise has variance 1 − icc.
    """
    label = rng.random(n_patients) < prevalence
    label[0], label[-1] = True, False
    counts = rng.integers(images[0], images[1] + 1, size=n_patients)
    patient = np.repeat(np.arange(n_patients), counts)
    effect = rng.standard_normal(n_patients) * np.sqrt(icc)
    y = label[patient]
    score = binormal_shift(auc) * y + effect[patient] + rng.standard_normal(patient.size) * np.sqrt(1 - icc)
    return y, score, patient


def ci_coverage(sampler: Callable[[np.random.Generator], tuple], true_auc: float, *,
                n_reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Share of DeLong CIs (naive and, for clustered samples, Obuchowski) covering ``true_auc``.

    ``sampler(rng)`` returns ``(y, score)`` or ``(y, score, cluster)``. Each replicate
    draws a sample, computes the AUC with its normal CI (not clipped to [0, 1], so the
    check is of the variance itself) and records whether it covers ``true_auc``.

    Returns one row per variance method: ``estimate`` (coverage) with its Wilson CI over
    the replicates, ``mean_width``, ``n`` (replicates), ``method``.
    """
    rng = np.random.default_rng(seed)
    z = z_critical(confidence)
    hits: dict[str, list[bool]] = {}
    widths: dict[str, list[float]] = {}
    for _ in range(n_reps):
        y, score, *rest = sampler(rng)
        v10, v01, auc = placements(y, score[None, :])
        variances = {"DeLong (naive)": delong_covariance(v10, v01)[0, 0]}
        if rest:
            codes = rest[0]
            variances["Obuchowski clustered"] = clustered_covariance(v10, v01, auc, codes[y], codes[~y])[0, 0]
        for name, var in variances.items():
            half = z * np.sqrt(var)
            hits.setdefault(name, []).append(abs(auc[0] - true_auc) <= half)
            widths.setdefault(name, []).append(2 * half)
    return pd.DataFrame([_coverage_row(name, np.array(hits[name]), widths[name], confidence)
                         for name in hits])


def _coverage_row(name: str, hit: np.ndarray, width: list[float], confidence: float) -> dict:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(hit.sum(), hit.size, alpha=1 - confidence, method="wilson")
    return {"estimate": hit.mean(), "ci_low": low, "ci_high": high, "method": name,
            "n": hit.size, "mean_width": float(np.mean(width)), "nominal": confidence}
