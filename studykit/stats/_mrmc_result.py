"""The result of an MRMC analysis: :class:`MRMCResult` and the tidy tables it holds.

Builds, from the per-analysis inference of :mod:`studykit.stats._mrmc_kernels`, the
``aucs``, ``reader_aucs``, ``differences``, ``tests`` and ``variance_components`` tables
of :func:`~studykit.stats.or_analysis` and :func:`~studykit.stats.dbm_analysis`: t or normal
intervals (normal where the df are infinite), the t test of a difference, and the global
test of equal modality AUCs, F = MS_T / D on (t − 1, ddf) df or, where the ddf are
infinite (fixed readers), X² = (t − 1)·F on t − 1 df (Obuchowski & Rockette 1995; Hillis
2007). Undefined standard errors and error terms warn and leave NaN.
:mod:`studykit.stats.mrmc` re-exports :class:`MRMCResult` and the column names.

References
----------
Obuchowski NA, Rockette HE (1995). Commun Stat Simul Comput 24:285–308.
doi:10.1080/03610919508813243
Hillis SL (2007). Stat Med 26:596–619. doi:10.1002/sim.2532
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm
from scipy.stats import f as f_dist
from scipy.stats import t as student_t

from studykit.stats import _columns as C
from studykit.stats import _mrmc_kernels as K
from studykit.stats._mrmc_design import Design
from studykit.stats._result import result_frame, warn_undefined

MODALITY, READER, ANALYSIS, COMPONENT = "modality", "reader", "analysis", "component"


@dataclass(frozen=True)
class MRMCResult:
    """Tidy results of an MRMC analysis, one DataFrame per kind of estimate.

    Attributes
    ----------
    aucs : DataFrame
        Reader-averaged AUC of each modality, one row per modality and analysis, with its
        CI (``se``, ``df``; ``df = inf`` means a normal interval), clipped to [0, 1].
    reader_aucs : DataFrame
        AUC of each modality × reader with a normal CI from the covariance estimator.
    differences : DataFrame
        ``modality_a − modality_b`` of the reader-averaged AUCs for every pair (in sorted
        modality order) and analysis: ``estimate, ci_low, ci_high, p, statistic`` (t, or z
        where ``df = inf``), ``df, se``.
    tests : DataFrame
        Global test of equal modality AUCs per analysis: ``statistic`` is F with ``df_num``,
        ``df`` (denominator), or a chi-square with ``df`` where the denominator df is infinite.
    variance_components : DataFrame
        Mean squares (with ``df``), variance components and error covariances (column
        ``component``; per-modality rows carry ``modality``). ANOVA moment estimates: they
        can be negative.
    """

    aucs: pd.DataFrame
    reader_aucs: pd.DataFrame
    differences: pd.DataFrame
    tests: pd.DataFrame
    variance_components: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The five tables by name (for writing CSV/LaTeX)."""
        return {name: getattr(self, name) for name in
                ("aucs", "reader_aucs", "differences", "tests", "variance_components")}


def _quantile(level: float, df: float) -> float:
    return float(norm.ppf(0.5 + level / 2) if np.isinf(df) else student_t.ppf(0.5 + level / 2, df))


def _interval(estimate: float, se: float, df: float, level: float, what: str,
              clip: bool = False) -> dict[str, float]:
    """``estimate ± q·se`` (t with ``df``, normal when infinite); undefined SE warns → NaN."""
    if not (np.isfinite(se) and se**2 > K.TINY_VARIANCE and not np.isnan(df)):
        warn_undefined(what, "its standard error is 0 or undefined")
        return {C.ESTIMATE: estimate, C.SE: se, C.DF: df}
    half = _quantile(level, df) * se
    low, high = estimate - half, estimate + half
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    return {C.ESTIMATE: estimate, C.CI_LOW: low, C.CI_HIGH: high, C.SE: se, C.DF: df}


def t_test(estimate: float, se: float, df: float, level: float, what: str) -> dict[str, float]:
    row = _interval(estimate, se, df, level, what)
    if C.CI_LOW in row:
        stat = estimate / se
        row[C.STATISTIC] = stat
        row[C.P] = 2 * (norm.sf(abs(stat)) if np.isinf(df) else student_t.sf(abs(stat), df))
    return row


def _global_test(inf: K.Inference, t: int, analysis: str) -> dict[str, Any]:
    """F = MS_T / D with (t−1, ddf) df, or X² = (t−1)·F, chi-square (t−1), when ddf is infinite."""
    if not (np.isfinite(inf.den) and inf.den > K.TINY_VARIANCE):
        warn_undefined(f"the {analysis} test", "its error term is 0 or undefined")
        return {"test": "F"}
    stat = inf.ms_t / inf.den
    if np.isinf(inf.ddf):
        return {C.STATISTIC: (t - 1) * stat, C.DF: t - 1, C.P: chi2.sf((t - 1) * stat, t - 1),
                "test": "chi-square"}
    return {C.STATISTIC: stat, C.DF: inf.ddf, "df_num": t - 1, C.P: f_dist.sf(stat, t - 1, inf.ddf),
            "test": "F"}


def inference_frames(design: Design, theta: np.ndarray, inference: dict[str, K.Inference],
                      methods: dict[str, str], base: dict[str, Any], level: float):
    """The ``aucs``, ``differences`` and ``tests`` tables of every analysis."""
    means, t = theta.mean(axis=1), theta.shape[0]
    aucs, diffs, tests = [], [], []
    for analysis, inf in inference.items():
        tag = {**base, C.METHOD: methods[analysis], ANALYSIS: analysis}
        for i, name in enumerate(design.modalities):
            row = _interval(float(means[i]), float(inf.modality_se[i]), float(inf.modality_df[i]), level,
                            f"the {analysis} CI of modality {name!r}", clip=True)
            aucs.append({**tag, **row, C.METRIC: "auc", MODALITY: name})
        se = float(np.sqrt(inf.diff_var)) if inf.diff_var >= 0 else float("nan")
        for a, b in combinations(range(t), 2):
            row = t_test(float(means[a] - means[b]), se, inf.ddf, level, f"the {analysis} difference")
            pair = {"modality_a": design.modalities[a], "modality_b": design.modalities[b]}
            diffs.append({**tag, **row, **pair})
        tests.append({**tag, **_global_test(inf, t, analysis)})
    return {"aucs": result_frame(aucs, inference=[C.DF, C.SE]),
            "differences": result_frame(diffs, inference=[C.STATISTIC, C.DF, C.SE]),
            "tests": result_frame(tests, inference=[C.STATISTIC, C.DF])}


def reader_frame(design: Design, theta: np.ndarray, variances: np.ndarray, base: dict[str, Any],
                  level: float, method: str) -> pd.DataFrame:
    t, r = theta.shape
    rows = []
    for i in range(t):
        for j in range(r):
            se = float(np.sqrt(max(variances[i * r + j], 0.0)))
            row = _interval(float(theta[i, j]), se, np.inf, level,
                            f"the CI of reader {design.readers[j]!r}", clip=True)
            rows.append({**base, **row, C.METHOD: method, C.METRIC: "auc",
                         MODALITY: design.modalities[i], READER: design.readers[j]})
    frame = result_frame(rows, inference=[C.SE])
    return frame.drop(columns=[C.DF], errors="ignore")


def or_variance_frame(design: Design, comps: K.ORComponents, base: dict[str, Any],
                       method: str) -> pd.DataFrame:
    t, r, _c = design.shape
    tag = {**base, C.METHOD: method}
    rows = [{**tag, COMPONENT: f"ms_{k}", C.ESTIMATE: getattr(comps, f"ms_{k}"), C.DF: df}
            for k, df in (("t", t - 1), ("r", r - 1), ("tr", (t - 1) * (r - 1)))]
    rows += [{**tag, COMPONENT: k, C.ESTIMATE: v} for k, v in K.or_variance_components(comps).items()]
    rows += [{**tag, COMPONENT: k, C.ESTIMATE: getattr(comps, k),
              "correlation": getattr(comps, k) / comps.var if k != "var" and comps.var > 0 else np.nan}
             for k in ("var", "cov1", "cov2", "cov3")]
    for i, name in enumerate(design.modalities):
        rows += [{**tag, COMPONENT: "ms_r", C.ESTIMATE: comps.ms_r_i[i], C.DF: r - 1, MODALITY: name},
                 {**tag, COMPONENT: "var", C.ESTIMATE: comps.var_i[i], MODALITY: name},
                 {**tag, COMPONENT: "cov2", C.ESTIMATE: comps.cov2_i[i], MODALITY: name}]
    return _labelled(result_frame(rows, inference=[C.DF]), rows, MODALITY)


def dbm_variance_frame(design: Design, comps: K.DBMComponents, base: dict[str, Any]) -> pd.DataFrame:
    tag = {**base, C.METHOD: "Dorfman-Berbaum-Metz, jackknife pseudovalues"}
    dfs = K.dbm_df(design.shape)
    rows = [{**tag, COMPONENT: f"ms_{k.lower()}", C.ESTIMATE: v, C.DF: dfs[k]} for k, v in comps.ms.items()]
    rows += [{**tag, COMPONENT: k, C.ESTIMATE: v}
             for k, v in K.dbm_variance_components(comps, design.shape[2]).items()]
    for i, name in enumerate(design.modalities):
        rows += [{**tag, COMPONENT: f"ms_{k}", C.ESTIMATE: float(v[i]), C.DF: dfs[k.upper()], MODALITY: name}
                 for k, v in (("r", comps.ms_r_i), ("c", comps.ms_c_i), ("rc", comps.ms_rc_i))]
    return _labelled(result_frame(rows, inference=[C.DF]), rows, MODALITY)


def _labelled(frame: pd.DataFrame, rows: list[dict[str, Any]], name: str) -> pd.DataFrame:
    """Keep the original labels of an identifying column (``None`` where absent), not floats."""
    frame[name] = pd.Series([row.get(name) for row in rows], dtype=object, index=frame.index)
    return frame
