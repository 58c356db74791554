"""Kernels: empirical AUC, DeLong placements and their covariance, in O(N log N).

Placements (DeLong et al. 1988; Sun & Xu 2014) of one score:

* for a positive case i, ``V10[i]`` = fraction of negatives with a lower score, ties
  counting 1/2;
* for a negative case j, ``V01[j]`` = fraction of positives with a higher score, ties 1/2.

Both means equal the Mann–Whitney AUC. One sort of the pooled scores gives all of them
(Sun & Xu 2014 obtain the same numbers from three mid-rankings; counting the opposite
class below each run of tied values in the pooled order needs just one).
"""

from __future__ import annotations

import numpy as np


def _sorted_runs(score: np.ndarray, group: np.ndarray | None):
    """Sort order, and for each sorted element whether it starts a run of equal values
    (within ``group`` when given) and whether it starts a new group."""
    if group is None:
        order = np.argsort(score, kind="stable")
        ss = score[order]
        run_start = np.empty(ss.size, dtype=bool)
        run_start[:1] = True
        np.not_equal(ss[1:], ss[:-1], out=run_start[1:])
        group_start = np.zeros(ss.size, dtype=bool)
        group_start[:1] = True
        return order, run_start, group_start
    order = np.lexsort((score, group))
    ss, gs = score[order], group[order]
    group_start = np.empty(ss.size, dtype=bool)
    group_start[:1] = True
    np.not_equal(gs[1:], gs[:-1], out=group_start[1:])
    run_start = group_start.copy()
    run_start[1:] |= ss[1:] != ss[:-1]
    return order, run_start, group_start


def _count_below(flags: np.ndarray, run_start: np.ndarray, group_start: np.ndarray):
    """For each sorted element: how many ``flags`` lie strictly below its run of ties (within
    its group) and how many lie inside the run. Returns two float arrays."""
    cum = np.cumsum(flags, dtype=np.int64)
    before = cum - flags                                   # flags strictly before element
    run_id = np.cumsum(run_start) - 1
    run_first = np.flatnonzero(run_start)
    run_last = np.append(run_first[1:], flags.size) - 1
    before_run = before[run_first][run_id]
    in_run = (cum[run_last] - before[run_first])[run_id]
    group_id = np.cumsum(group_start) - 1
    before_group = before[np.flatnonzero(group_start)][group_id]
    return (before_run - before_group).astype(np.float64), in_run.astype(np.float64)


def pair_counts(y: np.ndarray, score: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """For each case, the number of opposite-class cases it beats (ties 1/2).

    A positive counts negatives with a lower score; a negative counts positives with a
    higher score. With ``group``, only cases of the same group are counted.

    Parameters
    ----------
    y : bool array, shape (N,)
    score : float array, shape (N,)
    group : int array, shape (N,), optional

    Returns
    -------
    float array, shape (N,), in the input order.
    """
    order, run_start, group_start = _sorted_runs(score, group)
    pos = y[order]
    neg_below, neg_tied = _count_below(~pos, run_start, group_start)
    pos_below, pos_tied = _count_below(pos, run_start, group_start)
    if group is None:
        pos_in_group = np.full(pos.size, float(pos.sum()))
    else:
        pos_in_group = np.bincount(group, weights=y.astype(np.float64))[group[order]]
    beats = np.where(pos, neg_below + 0.5 * neg_tied, pos_in_group - pos_below - 0.5 * pos_tied)
    out = np.empty_like(beats)
    out[order] = beats
    return out


def placements(y: np.ndarray, scores: np.ndarray):
    """DeLong placements of k scores.

    Parameters
    ----------
    y : bool array, shape (N,)
        True for positive cases (m of them), False for negatives (n).
    scores : float array, shape (k, N)

    Returns
    -------
    v10 : array (k, m); v01 : array (k, n); auc : array (k,)
    """
    m = int(y.sum())
    n = y.size - m
    v10 = np.empty((scores.shape[0], m))
    v01 = np.empty((scores.shape[0], n))
    for r, score in enumerate(scores):
        beats = pair_counts(y, score)
        v10[r] = beats[y] / n
        v01[r] = beats[~y] / m
    return v10, v01, v10.mean(axis=1)


def delong_covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """DeLong covariance matrix (k, k) of k correlated AUCs: S10/m + S01/n (ddof = 1)."""
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return s10 / v10.shape[1] + s01 / v01.shape[1]


def clustered_covariance(v10: np.ndarray, v01: np.ndarray, auc: np.ndarray,
                         cluster_pos: np.ndarray, cluster_neg: np.ndarray) -> np.ndarray:
    """Obuchowski (1997) covariance (k, k) of k AUCs from clustered data.

    ``cluster_pos`` (m,) and ``cluster_neg`` (n,) give the cluster code (0..I-1) of each
    positive and negative unit. With V10(i), V01(i) the per-cluster sums of placements
    and m_i, n_i the per-cluster counts (Obuchowski 1997, Biometrics 53:567–578, eq. 3–5):

        S10 = I10 / ((I10 - 1) m) Σ_i (V10(i) - m_i θ)(V10(i) - m_i θ)ᵀ
        S01 = I01 / ((I01 - 1) n) Σ_i (V01(i) - n_i θ)(V01(i) - n_i θ)ᵀ
        S11 = I / (I - 1)        Σ_i (V10(i) - m_i θ)(V01(i) - n_i θ)ᵀ
        Cov = S10 / m + S01 / n + (S11 + S11ᵀ) / (m n)

    I10, I01 count clusters holding positives, negatives; I all clusters. With one unit
    per cluster this is exactly the DeLong covariance.
    """
    n_clusters = int(max(cluster_pos.max(initial=-1), cluster_neg.max(initial=-1))) + 1
    m, n = v10.shape[1], v01.shape[1]
    m_i = np.bincount(cluster_pos, minlength=n_clusters)
    n_i = np.bincount(cluster_neg, minlength=n_clusters)
    d10 = np.stack([np.bincount(cluster_pos, weights=row, minlength=n_clusters) for row in v10])
    d01 = np.stack([np.bincount(cluster_neg, weights=row, minlength=n_clusters) for row in v01])
    d10 -= auc[:, None] * m_i
    d01 -= auc[:, None] * n_i
    i10, i01 = int((m_i > 0).sum()), int((n_i > 0).sum())
    s10 = i10 / ((i10 - 1) * m) * (d10 @ d10.T)
    s01 = i01 / ((i01 - 1) * n) * (d01 @ d01.T)
    s11 = n_clusters / (n_clusters - 1) * (d10 @ d01.T)
    return s10 / m + s01 / n + (s11 + s11.T) / (m * n)
