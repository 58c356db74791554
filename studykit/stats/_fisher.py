"""Fisher's exact test of an r × c contingency table, two-sided, as R's ``fisher.test``.

The cohort table's test of a categorical variable when an expected count is below 5
(:func:`studykit.stats.compare_groups`). The p-value is exact for any r × c table, by the
network algorithm of Mehta & Patel; a table whose network would hold more than
:data:`_MAX_TABLES` moves or partial paths gets a seeded Monte Carlo p-value from
:data:`_RESAMPLES` random tables instead, and its method says so.

References
----------
Fisher RA (1922). On the interpretation of χ² from contingency tables, and the calculation
of P. J R Stat Soc 85:87–94. doi:10.2307/2340521
Mehta CR, Patel NR (1983). A network algorithm for performing Fisher's exact test in r × c
contingency tables. J Am Stat Assoc 78:427–434. doi:10.1080/01621459.1983.10477989
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.special import gammaln

from studykit.stats import _columns as C

_REL_ERR = 1e-7         # R's fisher.test: tables with P <= P_obs·(1 + 1e-7) are as extreme
_MAX_TABLES = 2_000_000  # moves or partial paths held by the exact network before Monte Carlo
_RESAMPLES = 100_000    # Monte Carlo tables when the exact enumeration is too large


def fisher_test(table: np.ndarray, seed: int) -> dict[str, Any]:
    """``p`` and ``method`` of Fisher's test: exact, or Monte Carlo seeded with ``seed`` if too big."""
    p = fisher_exact_p(table)
    if p is not None:
        return {C.P: p, C.METHOD: "Fisher exact"}
    mc = sps.MonteCarloMethod(n_resamples=_RESAMPLES, rng=np.random.default_rng(seed))
    p = float(sps.fisher_exact(table, method=mc).pvalue)
    return {C.P: p, C.METHOD: f"Fisher exact (Monte Carlo, {_RESAMPLES} tables, seed {seed})"}


def fisher_exact_p(table: np.ndarray, max_paths: int | None = None) -> float | None:
    """Two-sided Fisher exact p of an r × c table (R's ``fisher.test``), or ``None`` if too big.

    The network algorithm (Mehta & Patel 1983): tables with the observed margins are paths
    through a network whose stage-j nodes are the row totals left after filling j columns
    (smallest columns first, the largest last). A path's log-weight is −Σ log x!; the
    exact longest and shortest completions of every node decide whole sub-networks at
    once: a partial path whose every completion is at most as probable as the observed
    table adds its total completion mass S!/(Π sᵢ! Π c_j!) in closed form, one whose every
    completion is more probable is dropped, and only the rest are extended (paths reaching
    one node with equal weights merged). The p-value sums P(T) over tables with
    P(T) ≤ P(observed)·(1 + 1e-7), as R does. Returns ``None`` when more than
    ``max_paths`` moves or partial paths would be held at once.
    """
    cap = _MAX_TABLES if max_paths is None else max_paths
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 1.0
    t = t if t.shape[0] <= t.shape[1] else t.T
    rows, cols = t.sum(axis=1), np.sort(t.sum(axis=0))
    network = _fisher_network(rows, cols, cap)
    if network is None:
        return None
    states, moves = network
    longest, shortest = _completions(states, moves)
    const = gammaln(rows + 1.0).sum() + gammaln(cols + 1.0).sum() - gammaln(rows.sum() + 1.0)
    threshold = -gammaln(t + 1.0).sum() + np.log1p(_REL_ERR)
    tail = np.cumsum(gammaln(cols + 1.0)[::-1])[::-1]  # Σ log c_l! over the columns still to fill
    node, past, weight, p = np.zeros(1, np.int64), np.zeros(1), np.ones(1), 0.0
    for j, left in enumerate(states):
        s = left[node]
        done = past + longest[j][node] <= threshold
        mass = gammaln(s.sum(axis=1) + 1.0) - gammaln(s + 1.0).sum(axis=1) - tail[j]
        p += float(np.sum(weight[done] * np.exp(const + past[done] + mass[done])))
        alive = ~done & (past + shortest[j][node] <= threshold)
        if j == len(moves) or not alive.any():
            break
        extended = _extend(node[alive], past[alive], weight[alive], moves[j], cap)
        if extended is None:
            return None
        node, past, weight = extended
    return min(1.0, p)


def _fisher_network(rows: np.ndarray, cols: np.ndarray, cap: int):
    """Nodes (remaining row totals) per stage and the moves (src, dst, log-weight) between them."""
    states, moves = [rows[None, :]], []
    for total in cols[:-1]:
        left = states[-1]
        if left.shape[0] * comb(int(total) + rows.size - 1, rows.size - 1) > cap:
            return None
        parts = _compositions(int(total), rows)
        src, k = np.nonzero(np.all(parts[None, :, :] <= left[:, None, :], axis=2))
        nodes, dst = np.unique(left[src] - parts[k], axis=0, return_inverse=True)
        order = np.argsort(src, kind="stable")
        moves.append((src[order], dst.ravel()[order], -gammaln(parts[k][order] + 1.0).sum(axis=1)))
        states.append(nodes)
    return states, moves


def _completions(states: list[np.ndarray], moves: list[tuple]) -> tuple[list, list]:
    """Longest and shortest completion (max and min future log-weight) of every node."""
    last = -gammaln(states[-1] + 1.0).sum(axis=1)  # the last column is what remains
    longest, shortest = [last], [last]
    for j in range(len(moves) - 1, -1, -1):
        src, dst, w = moves[j]
        high = np.full(states[j].shape[0], -np.inf)
        low = np.full(states[j].shape[0], np.inf)
        np.maximum.at(high, src, w + longest[0][dst])
        np.minimum.at(low, src, w + shortest[0][dst])
        longest.insert(0, high)
        shortest.insert(0, low)
    return longest, shortest


def _extend(node: np.ndarray, past: np.ndarray, weight: np.ndarray, move: tuple, cap: int):
    """Every partial path one column further, paths meeting at a node with equal weight merged."""
    src, dst, w = move  # sorted by src
    start, stop = np.searchsorted(src, node, "left"), np.searchsorted(src, node, "right")
    counts = stop - start
    total = int(counts.sum())
    if total > cap:
        return None
    path = np.repeat(np.arange(node.size), counts)
    idx = np.repeat(start, counts) + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return _merge(dst[idx], past[path] + w[idx], weight[path])


def _compositions(total: int, bounds: np.ndarray) -> np.ndarray:
    """Every way to split ``total`` into ``len(bounds)`` non-negative parts, part i ≤ bounds[i]."""
    if bounds.size == 1:
        return np.array([[total]], dtype=np.int64) if total <= bounds[0] else np.empty((0, 1), np.int64)
    blocks = []
    for first in range(min(total, int(bounds[0])) + 1):
        rest = _compositions(total - first, bounds[1:])
        blocks.append(np.column_stack([np.full(rest.shape[0], first, dtype=np.int64), rest]))
    return np.vstack(blocks) if blocks else np.empty((0, bounds.size), np.int64)


def _merge(node: np.ndarray, past: np.ndarray, weight: np.ndarray):
    """Merge partial paths at the same node with the same log-weight (to 1e-9)."""
    keys = np.column_stack([node, np.round(past * 1e9).astype(np.int64)])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return node[first], past[first], np.bincount(inverse.ravel(), weights=weight)
