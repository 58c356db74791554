"""DeLong tests comparing AUCs: paired (same cases), unpaired, and all pairs of k scores.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845.
doi:10.2307/2531595
Sun X, Xu W (2014). IEEE Signal Process Lett 21:1389–1393. doi:10.1109/LSP.2014.2337313
Obuchowski NA (1997). Biometrics 53:567–578 (clustered covariance). doi:10.2307/2533958
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65–70.
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77 (``roc.test``; the unpaired test's
Welch–Satterthwaite df). doi:10.1186/1471-2105-12-77
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._placements import delong_covariance, placements
from studykit.stats._result import result_frame, wald_inference, warn_undefined
from studykit.stats._validation import (
    binary_inputs,
    binary_labels,
    check_confidence,
    check_option,
    cluster_ids,
    finite_scores,
    from_data,
    paired_inputs,
    same_length,
)
from studykit.stats.roc import auc_variance, enough_units

__all__ = ["compare_aucs", "delong_test", "delong_test_unpaired", "holm_adjust"]

ALTERNATIVES = ("two-sided", "greater", "less")
ADJUSTMENTS = ("holm", "bonferroni", "none")


def delong_test(y_true: Any, score_a: Any, score_b: Any, *, data: pd.DataFrame | None = None,
                cluster: Any = None, confidence: float = 0.95, alternative: str = "two-sided",
                pos_label: Any = None) -> pd.DataFrame:
    """Paired DeLong test of two correlated AUCs (two scores on the same cases).

    Reproduces pROC's ``roc.test(roc_a, roc_b, method = "delong", paired = TRUE)`` with
    both curves at ``direction = "<"``: z = (AUC_a − AUC_b) / SE, SE from the DeLong
    covariance of the two AUCs (Obuchowski's clustered covariance when ``cluster`` is
    given), CI = difference ± z_{1−α/2}·SE.

    Parameters
    ----------
    y_true, score_a, score_b : array-like (N,), or column names of ``data``
    cluster : array-like (N,), optional
        Cluster of each observation (patient ids for image-level data).
    alternative : {"two-sided", "greater", "less"}
        "greater": H1 AUC_a > AUC_b.

    Returns
    -------
    One-row DataFrame: ``estimate`` (AUC_a − AUC_b), ``ci_low, ci_high, p, statistic``
    (z), ``se``, ``method, n, ci_level``, ``auc_a, auc_b``, ``n_pos, n_neg``.
    When both scores order every pair identically, SE = 0 and the test is undefined:
    a warning, and NaN statistic and p (pROC reports z = 0, p = 1 then).

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [.1, .2, .6, .5, .7, .9], [.3, .1, .2, .4, .8, .5])
    >>> round(r["estimate"].item(), 4)
    -0.1111
    """
    args = from_data(data, y_true=y_true, score_a=score_a, score_b=score_b, cluster=cluster)
    y, a, b = paired_inputs(args["y_true"], args["score_a"], args["score_b"], pos_label=pos_label)
    result = _pairwise(y, np.stack([a, b]), ["a", "b"], cluster_ids(args["cluster"], y.size),
                       check_confidence(confidence), check_option("alternative", alternative, ALTERNATIVES))
    return result.drop(columns=["arm_a", "arm_b"])


def compare_aucs(y_true: Any, scores: Mapping[str, Any] | Sequence[str], *,
                 data: pd.DataFrame | None = None, cluster: Any = None, confidence: float = 0.95,
                 adjust: str = "holm", alternative: str = "two-sided", pos_label: Any = None) -> pd.DataFrame:
    """Paired DeLong tests of every pair among k scores, with multiplicity adjustment.

    One pass computes the placements of all k scores and their k × k DeLong (or
    clustered) covariance; each pair (a, b), in the order of ``scores``, is then tested
    as in :func:`delong_test`.

    Parameters
    ----------
    scores : mapping name → array-like (N,)
        At least two scores on the same cases. With ``data``: a list of column names, or a
        mapping display name → column name (and ``y_true``, ``cluster`` name columns too).
    adjust : {"holm", "bonferroni", "none"}
        Family-wise adjustment of the p-values across all pairs (column ``p_adjusted``).

    Returns
    -------
    One row per pair: ``estimate`` (AUC_a − AUC_b), CI, ``p``, ``p_adjusted``,
    ``statistic`` (z), ``se``, ``method``, ``n``, ``ci_level``, ``arm_a, arm_b, auc_a, auc_b``.
    """
    if data is not None:
        columns = scores if isinstance(scores, Mapping) else {str(c): c for c in scores}
        picked = from_data(data, y_true=y_true, cluster=cluster, **{f"scores[{k!r}]": v for k, v in
                                                                   columns.items()})
        y_true, cluster = picked["y_true"], picked["cluster"]
        scores = {k: picked[f"scores[{k!r}]"] for k in columns}
    y = binary_labels(y_true, pos_label=pos_label)
    if not isinstance(scores, Mapping) or len(scores) < 2:
        raise InputError("must map at least two names to score arrays.", field="scores",
                         hint="pass e.g. {'MUF-Net': p1, 'CEUS-Net': p2}.")
    names = [str(name) for name in scores]
    arrays = {f"scores[{k!r}]": finite_scores(v, name=f"scores[{k!r}]") for k, v in scores.items()}
    same_length(y_true=y, **arrays)
    matrix = np.stack(list(arrays.values()))
    result = _pairwise(y, matrix, names, cluster_ids(cluster, y.size), check_confidence(confidence),
                       check_option("alternative", alternative, ALTERNATIVES))
    method = check_option("adjust", adjust, ADJUSTMENTS)
    result.insert(4, C.P_ADJUSTED, _ADJUST[method](result[C.P].to_numpy()))
    result["adjust"] = method
    return result


def _pairwise(y: np.ndarray, scores: np.ndarray, names: list[str], codes: np.ndarray | None,
              level: float, alternative: str) -> pd.DataFrame:
    """Tests of every pair of rows of ``scores`` from one covariance matrix."""
    base = {C.N: y.size, C.CI_LEVEL: level, C.N_POS: int(y.sum()), C.N_NEG: int((~y).sum())}
    if codes is not None:
        base[C.N_CLUSTERS] = int(codes.max()) + 1
    method = "DeLong paired z-test" + ("" if codes is None else ", Obuchowski clustered covariance")
    if not enough_units(y, codes):
        warn_undefined("the DeLong test", "it needs at least two positive and two negative cases"
                       if codes is None else "it needs positives in at least two clusters and negatives "
                                             "in at least two clusters")
        auc = placements(y, scores)[2] if y.any() and not y.all() else np.full(len(names), np.nan)
        cov = np.full((len(names), len(names)), np.nan)
    else:
        auc, cov = auc_variance(y, scores, codes)
    rows = []
    for i, j in combinations(range(len(names)), 2):
        diff = auc[i] - auc[j]
        se = float(np.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0)))
        rows.append({**base, **_z_test(diff, se, level, alternative), C.METHOD: method,
                     "arm_a": names[i], "arm_b": names[j], "auc_a": auc[i], "auc_b": auc[j]})
    return result_frame(rows, inference=[C.STATISTIC, C.SE])


def _z_test(diff: float, se: float, level: float, alternative: str) -> dict[str, float]:
    if se == 0:
        warn_undefined("the DeLong test statistic",
                       "the two scores rank every pair of cases alike, so the SE of the difference is 0")
    return {C.ESTIMATE: diff, **wald_inference(diff, se, level, alternative=alternative)}


def delong_test_unpaired(y_a: Any, score_a: Any, y_b: Any, score_b: Any, *,
                         confidence: float = 0.95, alternative: str = "two-sided",
                         pos_label: Any = None) -> pd.DataFrame:
    """DeLong test of two AUCs on independent samples (pROC ``paired = FALSE``).

    D = (AUC_a − AUC_b) / sqrt(V_a + V_b), V the DeLong variances; compared with a t
    distribution with Welch–Satterthwaite df = (V_a + V_b)² / (V_a²/(N_a − 1) + V_b²/(N_b − 1)),
    N the sample sizes (pROC's ``delong.unpaired.test``). The CI of the difference uses
    the same t quantile.

    Returns
    -------
    One-row DataFrame: ``estimate`` (AUC_a − AUC_b), CI, ``p``, ``statistic`` (D), ``df``,
    ``se``, ``method, n`` (N_a + N_b), ``ci_level``, ``auc_a, auc_b, n_a, n_b``.
    """
    ya, sa = binary_inputs(y_a, score_a, pos_label=pos_label, score_name="score_a")
    yb, sb = binary_inputs(y_b, score_b, pos_label=pos_label, score_name="score_b")
    level = check_confidence(confidence)
    alternative = check_option("alternative", alternative, ALTERNATIVES)
    base = {C.N: ya.size + yb.size, C.CI_LEVEL: level, C.METHOD: "DeLong unpaired test (Welch df)",
            "n_a": ya.size, "n_b": yb.size}
    parts = []
    for y, s in ((ya, sa), (yb, sb)):
        if y.sum() < 2 or (~y).sum() < 2:
            warn_undefined("the unpaired DeLong test",
                           "each sample needs two positive and two negative cases")
            return result_frame([base], inference=[C.STATISTIC, C.DF, C.SE])
        v10, v01, auc = placements(y, s[None, :])
        parts.append((auc[0], float(delong_covariance(v10, v01)[0, 0]), y.size))
    (auc_a, var_a, n_a), (auc_b, var_b, n_b) = parts
    se = float(np.sqrt(var_a + var_b))
    df = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)) if se > 0 else np.nan
    row = {**base, C.ESTIMATE: auc_a - auc_b, "auc_a": auc_a, "auc_b": auc_b, C.SE: se, C.DF: df}
    if not se > 0:
        warn_undefined("the unpaired DeLong test", "both AUC variances are 0")
        return result_frame([row], inference=[C.STATISTIC, C.DF, C.SE])
    row.update(wald_inference(auc_a - auc_b, se, level, alternative=alternative, df=df))
    return result_frame([row], inference=[C.STATISTIC, C.DF, C.SE])


def holm_adjust(p: Any) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order; NaN stays NaN.

    p_(i) adjusted = max_{j ≤ i} min(1, (k − j + 1) p_(j)) over the k non-missing p sorted
    ascending (R's ``p.adjust(method = "holm")``).
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    k = order.size
    stepped = np.minimum(1.0, (k - np.arange(k)) * p[order])
    out[order] = np.maximum.accumulate(stepped)
    return out


_ADJUST = {
    "holm": holm_adjust,
    "bonferroni": lambda p: np.minimum(np.asarray(p, dtype=float) * np.sum(~np.isnan(p)), 1.0),
    "none": lambda p: np.asarray(p, dtype=float),
}
