"""Kernels of the MRMC analyses: AUC covariances, OR and DBM mean squares, per-analysis inference.

Notation (Hillis 2007; Hillis, Berbaum & Metz 2008): t modalities i, r readers j, c cases k;
θ_ij the empirical AUC of modality i read by reader j. Score rows are ordered ``i * r + j``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from studykit.stats._bootstrap import bootstrap_aucs, jackknife_aucs
from studykit.stats._placements import delong_covariance, placements
from studykit.vocab import MRMC_COVARIANCES

# ---------------------------------------------------------------- AUC covariance estimators


def jackknife_matrix(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Leave-one-case-out AUCs (k, c) of k scores, closed form per score."""
    return np.stack([jackknife_aucs(y, s) for s in scores])


def jackknife_covariance(y: np.ndarray, scores: np.ndarray, **_) -> np.ndarray:
    """(c − 1)/c Σ_k (θ_(k) − θ_(·))(θ_(k) − θ_(·))ᵀ over leave-one-case-out AUCs."""
    loo = jackknife_matrix(y, scores)
    dev = loo - loo.mean(axis=1, keepdims=True)
    return (y.size - 1) / y.size * (dev @ dev.T)


def delong_cov(y: np.ndarray, scores: np.ndarray, **_) -> np.ndarray:
    """DeLong covariance S10/m + S01/n of all scores, from their placements on the same cases."""
    v10, v01, _auc = placements(y, scores)
    return delong_covariance(v10, v01)


def bootstrap_covariance(y: np.ndarray, scores: np.ndarray, *, n_boot: int, seed: int, **_) -> np.ndarray:
    """Sample covariance (ddof 1) of AUCs over case bootstrap replicates stratified by truth."""
    boot = bootstrap_aucs(y, scores, n_boot=n_boot, seed=seed)
    return np.atleast_2d(np.cov(boot, rowvar=False, ddof=1))


#: Covariance estimators by name (the names: :data:`studykit.vocab.MRMC_COVARIANCES`).
COVARIANCES = dict(zip(MRMC_COVARIANCES, (jackknife_covariance, delong_cov, bootstrap_covariance),
                       strict=True))


def aucs(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Empirical (Wilcoxon) AUC of each score row, ties 1/2."""
    return placements(y, scores)[2]


# ---------------------------------------------------------------- OR: mean squares and covariances


class ORComponents(NamedTuple):
    theta: np.ndarray          # (t, r) AUCs
    ms_t: float
    ms_r: float
    ms_tr: float
    var: float
    cov1: float
    cov2: float
    cov3: float
    ms_r_i: np.ndarray         # (t,) reader mean square within each modality
    var_i: np.ndarray          # (t,) error variance within each modality
    cov2_i: np.ndarray         # (t,) Cov2 within each modality


#: Variances (AUC² scale) at or below this are zero to rounding: a test with such an error term is undefined.
TINY_VARIANCE = 1e-20


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def or_components(theta: np.ndarray, cov: np.ndarray) -> ORComponents:
    """Treatment × reader ANOVA of the AUCs and the averaged OR error covariances."""
    t, r = theta.shape
    mod, rdr = np.repeat(np.arange(t), r), np.tile(np.arange(r), t)
    same_m, same_r = mod[:, None] == mod[None, :], rdr[:, None] == rdr[None, :]
    m_i, m_j, m = theta.mean(axis=1), theta.mean(axis=0), theta.mean()
    resid = theta - m_i[:, None] - m_j[None, :] + m
    with np.errstate(invalid="ignore", divide="ignore"):
        ms_t = r * np.sum((m_i - m) ** 2) / (t - 1)
        ms_tr = np.sum(resid**2) / ((t - 1) * (r - 1))
    blocks = [cov[i * r:(i + 1) * r, i * r:(i + 1) * r] for i in range(t)]
    off = ~np.eye(r, dtype=bool)
    return ORComponents(
        theta, float(ms_t), float(t * np.sum((m_j - m) ** 2) / (r - 1)), float(ms_tr),
        float(np.diag(cov).mean()), _mean(cov[~same_m & same_r]), _mean(cov[same_m & ~same_r]),
        _mean(cov[~same_m & ~same_r]), theta.var(axis=1, ddof=1),
        np.array([np.diag(b).mean() for b in blocks]), np.array([b[off].mean() for b in blocks]))


def or_variance_components(c: ORComponents) -> dict[str, float]:
    """Moment estimators σ²_R = (MS_R − MS_TR)/t − Cov1 + Cov3, σ²_TR = MS_TR − Var + Cov1 + Cov2 − Cov3."""
    t = c.theta.shape[0]
    return {"var_r": (c.ms_r - c.ms_tr) / t - c.cov1 + c.cov3,
            "var_tr": c.ms_tr - c.var + c.cov1 + c.cov2 - c.cov3}


class Inference(NamedTuple):
    """What an analysis needs: the F denominator and its df, and the single-modality SEs and dfs."""

    ms_t: float                # numerator mean square
    den: float                 # denominator of F = ms_t / den
    ddf: float                 # denominator df (inf: chi-square / normal)
    diff_var: float            # variance of a difference of two reader-averaged AUCs
    modality_se: np.ndarray    # (t,) SE of each reader-averaged AUC
    modality_df: np.ndarray    # (t,) its df (inf: normal)


def hillis_df(den, ms, df_ms):
    """Satterthwaite-type ddf_H = den² / (ms² / df_ms); inf when ms is 0 (to rounding) and den > 0."""
    den, ms = np.asarray(den, float), np.asarray(ms, float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(ms > 1e-12 * den, den**2 / (ms**2 / df_ms), np.where(den > 0, np.inf, np.nan))


def or_rrrc(c: ORComponents) -> Inference:
    t, r = c.theta.shape
    den = c.ms_tr + r * max(c.cov2 - c.cov3, 0.0)
    single = c.ms_r_i + r * np.maximum(c.cov2_i, 0.0)
    return Inference(c.ms_t, den, float(hillis_df(den, c.ms_tr, (t - 1) * (r - 1))), 2 * den / r,
                     np.sqrt(single / r), hillis_df(single, c.ms_r_i, r - 1))


def or_frrc(c: ORComponents) -> Inference:
    t, r = c.theta.shape
    den = c.var - c.cov1 + (r - 1) * max(c.cov2 - c.cov3, 0.0)
    single = (c.var_i + (r - 1) * np.maximum(c.cov2_i, 0.0)) / r
    return Inference(c.ms_t, den, np.inf, 2 * den / r, np.sqrt(single), np.full(t, np.inf))


def or_rrfc(c: ORComponents) -> Inference:
    t, r = c.theta.shape
    return Inference(c.ms_t, c.ms_tr, float((t - 1) * (r - 1)), 2 * c.ms_tr / r,
                     np.sqrt(c.ms_r_i / r), np.full(t, float(r - 1)))


OR_ANALYSES = {"RRRC": or_rrrc, "FRRC": or_frrc, "RRFC": or_rrfc}


# ---------------------------------------------------------------- DBM: pseudovalue ANOVA


class DBMComponents(NamedTuple):
    theta: np.ndarray          # (t, r) AUCs
    ms: dict[str, float]       # T, R, C, TR, TC, RC, TRC
    ms_r_i: np.ndarray         # (t,) per-modality reader, case and reader × case mean squares
    ms_c_i: np.ndarray
    ms_rc_i: np.ndarray


def pseudovalues(theta: np.ndarray, loo: np.ndarray) -> np.ndarray:
    """Y_ijk = c θ_ij − (c − 1) θ_ij(k), shifted so that mean_k Y_ijk = θ_ij (as RJafroc and OR-DBM MRMC)."""
    c = loo.shape[-1]
    y = c * theta[..., None] - (c - 1) * loo
    return y + (theta - y.mean(axis=-1))[..., None]


def _two_way(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-modality reader × case ANOVA mean squares of pseudovalues y (t, r, c)."""
    _t, r, c = y.shape
    m_j, m_k, m = y.mean(axis=2), y.mean(axis=1), y.mean(axis=(1, 2))
    ms_r = c * np.sum((m_j - m[:, None]) ** 2, axis=1) / (r - 1)
    ms_c = r * np.sum((m_k - m[:, None]) ** 2, axis=1) / (c - 1)
    resid = y - m_j[:, :, None] - m_k[:, None, :] + m[:, None, None]
    return ms_r, ms_c, np.sum(resid**2, axis=(1, 2)) / ((r - 1) * (c - 1))


def dbm_components(theta: np.ndarray, y: np.ndarray) -> DBMComponents:
    """Three-way (modality × reader × case) ANOVA mean squares of the pseudovalues."""
    t, r, c = y.shape
    g = y.mean()
    mi, mj, mk = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=(0, 1))
    mij, mik, mjk = y.mean(axis=2), y.mean(axis=1), y.mean(axis=0)
    ss = {"T": r * c * np.sum((mi - g) ** 2), "R": t * c * np.sum((mj - g) ** 2),
          "C": t * r * np.sum((mk - g) ** 2),
          "TR": c * np.sum((mij - mi[:, None] - mj[None, :] + g) ** 2),
          "TC": r * np.sum((mik - mi[:, None] - mk[None, :] + g) ** 2),
          "RC": t * np.sum((mjk - mj[:, None] - mk[None, :] + g) ** 2)}
    resid = (y - mij[:, :, None] - mik[:, None, :] - mjk[None, :, :] + mi[:, None, None]
             + mj[None, :, None] + mk[None, None, :] - g)
    ss["TRC"] = np.sum(resid**2)
    df = {"T": t - 1, "R": r - 1, "C": c - 1, "TR": (t - 1) * (r - 1), "TC": (t - 1) * (c - 1),
          "RC": (r - 1) * (c - 1), "TRC": (t - 1) * (r - 1) * (c - 1)}
    with np.errstate(invalid="ignore", divide="ignore"):
        ms = {k: float(ss[k] / df[k]) for k in ss}
    return DBMComponents(theta, ms, *_two_way(y))


def dbm_df(shape: tuple[int, int, int]) -> dict[str, int]:
    t, r, c = shape
    return {"T": t - 1, "R": r - 1, "C": c - 1, "TR": (t - 1) * (r - 1), "TC": (t - 1) * (c - 1),
            "RC": (r - 1) * (c - 1), "TRC": (t - 1) * (r - 1) * (c - 1)}


def dbm_variance_components(d: DBMComponents, c: int) -> dict[str, float]:
    """Dorfman et al. (1992) moment estimators of the pseudovalue variance components."""
    ms, (t, r) = d.ms, d.theta.shape
    return {"var_r": (ms["R"] - ms["TR"] - ms["RC"] + ms["TRC"]) / (t * c),
            "var_c": (ms["C"] - ms["TC"] - ms["RC"] + ms["TRC"]) / (t * r),
            "var_tr": (ms["TR"] - ms["TRC"]) / c, "var_tc": (ms["TC"] - ms["TRC"]) / r,
            "var_rc": (ms["RC"] - ms["TRC"]) / t, "var_error": ms["TRC"]}


def dbm_rrrc(d: DBMComponents, c: int) -> Inference:
    t, r = d.theta.shape
    den = d.ms["TR"] + max(d.ms["TC"] - d.ms["TRC"], 0.0)
    single = d.ms_r_i + np.maximum(d.ms_c_i - d.ms_rc_i, 0.0)
    return Inference(d.ms["T"], den, float(hillis_df(den, d.ms["TR"], (t - 1) * (r - 1))),
                     2 * den / (r * c), np.sqrt(single / (r * c)), hillis_df(single, d.ms_r_i, r - 1))


def dbm_frrc(d: DBMComponents, c: int) -> Inference:
    t, r = d.theta.shape
    return Inference(d.ms["T"], d.ms["TC"], float((t - 1) * (c - 1)), 2 * d.ms["TC"] / (r * c),
                     np.sqrt(d.ms_c_i / (r * c)), np.full(t, float(c - 1)))


def dbm_rrfc(d: DBMComponents, c: int) -> Inference:
    t, r = d.theta.shape
    return Inference(d.ms["T"], d.ms["TR"], float((t - 1) * (r - 1)), 2 * d.ms["TR"] / (r * c),
                     np.sqrt(d.ms_r_i / (r * c)), np.full(t, float(r - 1)))


DBM_ANALYSES = {"RRRC": dbm_rrrc, "FRRC": dbm_frrc, "RRFC": dbm_rrfc}
