"""What the figures draw, as tidy tables: ROC curves, bootstrap ROC bands, legend AUCs, the
readers' operating points and reliability bins (the report layer only draws them).

Every function takes patient-level scores (one row per patient and arm: ``arm``, ``label``
0/1 and a score column, e.g. :func:`studykit.analysis.aggregate_patients`) or reads, and
returns one DataFrame with an ``arm`` (or ``group``) column, arms in order of appearance.

ROC confidence band
-------------------
Pointwise percentile band of sensitivity at fixed specificities (a grid of 101 values),
from ``n_boot`` bootstrap replicates stratified by class (positives and negatives
resampled separately, as pROC's ``ci.se(boot.stratified = TRUE)``), seeded and vectorised.
At specificity sp the replicate's sensitivity is that of the lowest threshold keeping at
least ⌈sp·n⌉ negatives below it, i.e. the fraction of positives scoring above the
⌈sp·n⌉-th smallest negative score. The band is pointwise, not simultaneous, and resamples
patients: pass one score per patient.

Reliability bins
----------------
Equal-width bins of the predicted probability; per bin its count, mean predicted
probability, observed fraction positive and that fraction's Wilson 95% CI.

References
----------
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77. doi:10.1186/1471-2105-12-77
Wilson EB (1927). J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studykit import stats
from studykit.errors import InputError
from studykit.vocab import ARM, CALL, GROUP, LABEL, PATIENT, PROB, READER, require_table_columns

__all__ = ["reader_points", "reliability_bins", "roc_aucs", "roc_band", "roc_bands", "roc_curves"]

#: Wilson's z of the reliability bins' 95% CIs.
_Z95 = 1.959963984540054


def _arms(scores: pd.DataFrame, arm: str, label: str, score: str):
    """(name, labels, scores) of each arm, in order of appearance; the columns checked first."""
    require_table_columns(scores, "scores", [arm, label, score])
    for name, part in scores.groupby(arm, sort=False):
        yield name, part[label].to_numpy(), part[score].to_numpy()


def roc_curves(scores: pd.DataFrame, *, score: str = PROB, label: str = LABEL,
               arm: str = ARM) -> pd.DataFrame:
    """Each arm's empirical ROC curve (:func:`studykit.stats.roc_curve`) with its ``arm`` first."""
    parts = [stats.roc_curve(y, s).assign(**{ARM: name}) for name, y, s in _arms(scores, arm, label, score)]
    return _arm_first(parts)


def roc_bands(scores: pd.DataFrame, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0,
              score: str = PROB, label: str = LABEL, arm: str = ARM) -> pd.DataFrame:
    """Each arm's pointwise bootstrap band (:func:`roc_band`); the i-th arm is seeded ``seed + i``."""
    parts = [roc_band(y, s, n_boot=n_boot, confidence=confidence, seed=seed + i).assign(**{ARM: name})
             for i, (name, y, s) in enumerate(_arms(scores, arm, label, score))]
    return _arm_first(parts)


def roc_aucs(scores: pd.DataFrame, *, confidence: float = 0.95, score: str = PROB, label: str = LABEL,
             arm: str = ARM) -> pd.DataFrame:
    """Each arm's AUC with its DeLong CI (:func:`studykit.stats.roc_auc`) with ``arm`` added."""
    parts = [stats.roc_auc(y, s, confidence=confidence).assign(**{ARM: name})
             for name, y, s in _arms(scores, arm, label, score)]
    return pd.concat(parts, ignore_index=True)


def _arm_first(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True)
    return frame[[ARM, *[c for c in frame.columns if c != ARM]]]


def roc_band(
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    specificity: np.ndarray | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Pointwise bootstrap CI of sensitivity at fixed specificities (stratified, seeded).

    Returns ``specificity, sensitivity, ci_low, ci_high`` (one row per grid value);
    ``sensitivity`` is the empirical curve's at that specificity.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    grid = np.linspace(0, 1, 101) if specificity is None else np.asarray(specificity, float)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        raise InputError("the ROC band needs positives and negatives; y_true holds one class", field="y_true")
    rng = np.random.default_rng(seed)
    boot_pos = np.sort(pos[rng.integers(0, pos.size, (n_boot, pos.size))], axis=1)
    boot_neg = np.sort(neg[rng.integers(0, neg.size, (n_boot, neg.size))], axis=1)
    sens = _sens_at(boot_pos, boot_neg, grid)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(sens, [alpha, 1 - alpha], axis=0)
    point = _sens_at(np.sort(pos)[None], np.sort(neg)[None], grid)[0]
    return pd.DataFrame({"specificity": grid, "sensitivity": point, "ci_low": low, "ci_high": high})


def _sens_at(pos: np.ndarray, neg: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(B, G) sensitivity at each specificity of ``grid`` for sorted (B, m) and (B, n) scores."""
    b, m = pos.shape
    k = np.ceil(grid * neg.shape[1] - 1e-9).astype(int)
    cut = np.where(k > 0, neg[:, np.maximum(k - 1, 0)], -np.inf)  # (B, G)
    values = np.unique(np.concatenate([pos.ravel(), cut.ravel()]))
    width = values.size + 1
    offset = np.arange(b)[:, None] * width
    keys_pos = (np.searchsorted(values, pos) + offset).ravel()
    keys_cut = np.searchsorted(values, cut) + offset
    at_or_below = np.searchsorted(keys_pos, keys_cut, side="right") - np.arange(b)[:, None] * m
    return (m - at_or_below) / m


def reader_points(
    reads: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    confidence: float = 0.95,
    majority_id: str = "majority",
    tie: str = "positive",
) -> pd.DataFrame:
    """Each reader's and each group's majority-vote operating point with Wilson CIs.

    Parameters
    ----------
    reads : DataFrame
        ``reader_id, group, patient_id, call`` (call 0/1). Rows whose ``reader_id`` is
        ``majority_id`` are taken as the group's vote; without them the vote is computed
        with :func:`studykit.stats.majority_vote` (``tie`` rule).
    truth : DataFrame
        ``patient_id, label`` (label 0/1).

    Returns
    -------
    ``group, reader_id, majority`` (bool), ``sensitivity, sens_ci_low, sens_ci_high,
    specificity, spec_ci_low, spec_ci_high, n``.
    """
    require_table_columns(reads, "reads", [READER, GROUP, PATIENT, CALL])
    require_table_columns(truth, "truth", [PATIENT, LABEL])
    label = truth.set_index(PATIENT)[LABEL]
    rows = []
    for group, part in reads.groupby(GROUP, sort=False):
        votes = part[part[READER] == majority_id]
        if votes.empty:
            votes = stats.majority_vote(part, PATIENT, READER, CALL, tie=tie).assign(reader_id=majority_id)
        everyone = pd.concat([part[part[READER] != majority_id], votes])
        for reader, calls in everyone.groupby(READER, sort=False):
            y = label.loc[calls[PATIENT]].to_numpy()
            dm = stats.diagnostic_metrics(y, calls[CALL].to_numpy(), confidence=confidence)
            dm = dm.set_index("metric")
            rows.append({GROUP: group, READER: reader, "majority": reader == majority_id,
                         **_point(dm, "sensitivity", "sens"), **_point(dm, "specificity", "spec"),
                         "n": len(y)})
    return pd.DataFrame(rows)


def _point(dm: pd.DataFrame, metric: str, short: str) -> dict:
    r = dm.loc[metric]
    return {metric: r["estimate"], f"{short}_ci_low": r["ci_low"], f"{short}_ci_high": r["ci_high"]}


def reliability_bins(scores: pd.DataFrame, *, n_bins: int = 10, score: str = PROB, label: str = LABEL,
                     arm: str = ARM) -> pd.DataFrame:
    """Each arm's reliability curve over ``n_bins`` equal-width bins of the predicted probability.

    Returns one row per arm and bin: ``arm, bin`` (0-based), ``bin_low, bin_high`` (edges),
    ``n`` (cases in the bin), ``predicted`` (mean predicted probability), ``observed``
    (fraction positive), ``ci_low, ci_high`` (its Wilson 95% CI) and ``ci_level``; the last
    five are NaN for an empty bin. A probability of exactly 1 falls in the last bin.
    """
    edges = np.linspace(0, 1, n_bins + 1)
    parts = [_reliability(y, p, edges).assign(**{ARM: name})
             for name, y, p in _arms(scores, arm, label, score)]
    return _arm_first(parts)


def _reliability(y: np.ndarray, p: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1
    n = np.bincount(idx, minlength=nb)
    k = np.bincount(idx, weights=y.astype(float), minlength=nb)
    mean_p = np.bincount(idx, weights=p, minlength=nb)
    z = _Z95
    with np.errstate(invalid="ignore", divide="ignore"):
        obs, pred = k / n, mean_p / n
        centre = (k + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(k * (n - k) / n + z * z / 4)
    frame = pd.DataFrame({"bin": np.arange(nb), "bin_low": edges[:-1], "bin_high": edges[1:], "n": n,
                          "predicted": pred, "observed": obs, "ci_low": centre - half,
                          "ci_high": centre + half, "ci_level": 0.95})
    frame.loc[n == 0, ["predicted", "observed", "ci_low", "ci_high", "ci_level"]] = np.nan
    return frame
