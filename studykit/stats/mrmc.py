"""Multi-reader multi-case (MRMC) analyses: readers and cases both random samples.

Obuchowski–Rockette (OR) with Hillis's denominator degrees of freedom, Dorfman–Berbaum–Metz
(DBM) on jackknife pseudovalues, and a standalone algorithm against a reader panel
(single-modality OR, Hillis 2007 §5.3; Chakraborty's "CAD vs RAD", 1T-RRRC). The figure of
merit is the empirical (Wilcoxon) AUC, ties 1/2; a binary call's AUC is (sens + spec) / 2.

This module validates the options and runs each analysis; the reads become a ratings cube in
:mod:`~studykit.stats._mrmc_design`, the covariances, mean squares and per-analysis
inference are computed in :mod:`~studykit.stats._mrmc_kernels`, and :class:`MRMCResult` with
its tables is built in :mod:`~studykit.stats._mrmc_result` (re-exported here).

References
----------
Obuchowski NA, Rockette HE (1995). Hypothesis testing of diagnostic accuracy for multiple readers
and multiple tests: an ANOVA approach with dependent observations. Commun Stat Simul Comput
24:285–308. doi:10.1080/03610919508813243
Dorfman DD, Berbaum KS, Metz CE (1992). Receiver operating characteristic rating analysis:
generalization to the population of readers and patients with the jackknife method. Invest
Radiol 27:723–731. doi:10.1097/00004424-199209000-00015
Hillis SL, Obuchowski NA, Schartz KM, Berbaum KS (2005). A comparison of the Dorfman–Berbaum–Metz
and Obuchowski–Rockette methods for receiver operating characteristic (ROC) data. Stat Med
24:1579–1607. doi:10.1002/sim.2024
Hillis SL (2007). A comparison of denominator degrees of freedom methods for multiple observer
ROC analysis. Stat Med 26:596–619. doi:10.1002/sim.2532
Hillis SL, Berbaum KS, Metz CE (2008). Recent developments in the Dorfman–Berbaum–Metz procedure
for multireader ROC study analysis. Acad Radiol 15:647–661. doi:10.1016/j.acra.2007.12.015
Chakraborty DP (2017). Observer Performance Methods for Diagnostic Imaging: Foundations, Modeling,
and Applications with R-Based Examples. CRC Press, ISBN 9781482214840 (standalone CAD vs
radiologists; RJafroc ``StSignificanceTestingCadVsRad``, method "1T-RRRC").
Hupse R, Samulski M, Lobbes M, et al. (2013). Standalone computer-aided detection compared to
radiologists' performance for the detection of mammographic masses. Eur Radiol 23:93–100.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats import _mrmc_kernels as K
from studykit.stats._mrmc_design import Design, build_design
from studykit.stats._mrmc_result import (
    ANALYSIS,
    MRMCResult,
    dbm_variance_frame,
    inference_frames,
    or_variance_frame,
    reader_frame,
    t_test,
)
from studykit.stats._mrmc_result import COMPONENT as COMPONENT  # the column names stay importable here
from studykit.stats._mrmc_result import MODALITY as MODALITY
from studykit.stats._mrmc_result import READER as READER
from studykit.stats._result import result_frame
from studykit.stats._validation import check_confidence, check_option, check_positive_int
from studykit.vocab import did_you_mean

__all__ = ["MRMCResult", "dbm_analysis", "model_vs_readers", "or_analysis"]

ANALYSES = ("RRRC", "FRRC", "RRFC")
FOMS = ("wilcoxon",)
COVARIANCES = tuple(K.COVARIANCES)


def or_analysis(data: pd.DataFrame, modality: str = "modality", reader: str = "reader",
                case: str = "case", truth: str = "truth", rating: str = "rating", *,
                fom: str = "wilcoxon", cov: str = "jackknife", analysis: str | Sequence[str] = "RRRC",
                confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                fully_crossed: bool = True, pos_label: Any = None) -> MRMCResult:
    """Obuchowski–Rockette MRMC comparison of modalities, Hillis (2007) denominator df.

    Parameters
    ----------
    data : DataFrame
        One row per read: modality, reader, case, truth and rating columns (names given by
        the next five arguments). Fully crossed: every reader reads every case in every
        modality. Ratings: ordinal or continuous scores, or binary calls (0/1).
    modality, reader, case, truth, rating : str
        Column names. ``truth`` is 0/1 (1 = diseased), or any two values with ``pos_label``
        naming the diseased one; it must agree across a case's reads.
    fom : {"wilcoxon"}
        Figure of merit: empirical AUC, ties 1/2.
    cov : {"jackknife", "delong", "bootstrap"}
        Estimator of the covariance of the t·r AUCs over cases: jackknife (scaled
        (c − 1)/c), DeLong (placements of every score on the same cases), or a bootstrap of
        cases stratified by truth (``n_boot`` replicates, ``seed``).
    analysis : {"RRRC", "FRRC", "RRFC", "all"} or a list of them
        Random readers and cases; fixed readers (chi-square); fixed cases.
    confidence : float
        Two-sided confidence level of every interval.
    fully_crossed : bool
        Missing reads raise unless this is False; designs that are not fully crossed (split
        plot, missing reads) are recognised but not yet analysable, and raise saying so.

    Returns
    -------
    MRMCResult with ``aucs, reader_aucs, differences, tests, variance_components``.

    Notes
    -----
    θ_ij: AUC of modality i (t), reader j (r), c cases. MS_T, MS_R, MS_T×R: the two-way
    ANOVA mean squares of θ. Var, Cov1, Cov2, Cov3: averages of the estimated AUC
    covariance over pairs with the same (modality, reader), same reader only, same modality
    only, neither.

    * RRRC: F = MS_T / D, D = MS_T×R + r·max(Cov2 − Cov3, 0), ddf_H = D² / [MS_T×R² / ((t−1)(r−1))];
      a difference θ_a· − θ_b· has SE √(2D/r) and a t(ddf_H) CI. Single modality i:
      SE² = [MS_R(i) + r·max(Cov2_i, 0)] / r, df = (MS_R(i) + r·max(Cov2_i, 0))² / [MS_R(i)² / (r−1)].
    * FRRC: X² = (t−1)·MS_T / D, D = Var − Cov1 + (r−1)·max(Cov2 − Cov3, 0), chi-square with
      t − 1 df; SE √(2D/r), z intervals; single modality SE² = [Var_i + (r−1)·max(Cov2_i, 0)] / r.
    * RRFC: F = MS_T / MS_T×R with ((t−1), (t−1)(r−1)) df; SE √(2 MS_T×R / r); single SE² = MS_R(i)/r.

    Variance components: σ²_R = (MS_R − MS_T×R)/t − Cov1 + Cov3, σ²_T×R = MS_T×R − Var + Cov1 +
    Cov2 − Cov3 (Hillis 2005). Jackknife covariance: (c−1)/c Σ_k (θ_(k) − θ_(·))(θ_(k) − θ_(·))ᵀ.

    References
    ----------
    Obuchowski & Rockette (1995), doi:10.1080/03610919508813243; Hillis (2007),
    doi:10.1002/sim.2532; Hillis, Berbaum & Metz (2008), doi:10.1016/j.acra.2007.12.015.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 30)
    >>> reads = pd.DataFrame([(m, r, k, truth[k], truth[k] * (0.5 + m) + rng.normal())
    ...                       for m in (1, 2) for r in range(5) for k in range(60)],
    ...                      columns=["modality", "reader", "case", "truth", "rating"])
    >>> res = or_analysis(reads)
    >>> res.differences[["estimate", "ci_low", "ci_high", "p"]].round(3).values.tolist()
    [[-0.122, -0.193, -0.051, 0.005]]
    """
    level = check_confidence(confidence)
    check_option("fom", fom, FOMS)
    cov = check_option("cov", cov, COVARIANCES)
    analyses = _analyses(analysis, ANALYSES)
    boot = {"n_boot": check_positive_int("n_boot", n_boot, minimum=2),
            "seed": check_positive_int("seed", seed, minimum=0)}
    design = _design(data, modality, reader, case, truth, rating, fully_crossed, pos_label, min_modalities=2)
    t, r, _c = design.shape
    y, scores = design.truth, design.scores()
    theta, covariance = K.aucs(y, scores).reshape(t, r), K.COVARIANCES[cov](y, scores, **boot)
    comps = K.or_components(theta, covariance)
    cov_name = _cov_name(cov, n_boot, seed)
    methods = {a: f"Obuchowski-Rockette {a}" + (" (Hillis ddf)" if a == "RRRC" else "")
               + f", {cov_name} covariance" for a in analyses}
    inference = {a: K.OR_ANALYSES[a](comps) for a in analyses}
    base = _base(design, level)
    return MRMCResult(**inference_frames(design, theta, inference, methods, base, level),
                      reader_aucs=reader_frame(design, theta, np.diag(covariance), base, level,
                                                f"empirical AUC, {cov_name} SE"),
                      variance_components=or_variance_frame(design, comps, base,
                                                             f"Obuchowski-Rockette, {cov_name} covariance"))


def dbm_analysis(data: pd.DataFrame, modality: str = "modality", reader: str = "reader",
                 case: str = "case", truth: str = "truth", rating: str = "rating", *,
                 fom: str = "wilcoxon", analysis: str | Sequence[str] = "RRRC",
                 confidence: float = 0.95, fully_crossed: bool = True, pos_label: Any = None) -> MRMCResult:
    """Dorfman–Berbaum–Metz MRMC comparison on jackknife pseudovalues, Hillis (2008) df.

    Same inputs and result tables as :func:`or_analysis` (no ``cov``: DBM is defined on
    the jackknife). Under the jackknife its RRRC and RRFC results equal OR's exactly
    (Hillis et al. 2005); its FRRC test is an F test with (t−1)(c−1) denominator df.

    Notes
    -----
    Pseudovalues Y_ijk = c·θ_ij − (c−1)·θ_ij(k), θ_ij(k) the AUC without case k, shifted so
    that their mean over cases is θ_ij. Three-way ANOVA mean squares MS_T … MS_TRC of Y.

    * RRRC: F = MS_T / D, D = MS_TR + max(MS_TC − MS_TRC, 0), ddf_H = D² / [MS_TR² / ((t−1)(r−1))];
      SE of a difference √(2D / (r c)). Single modality: SE² = [MS_R(i) + max(MS_C(i) − MS_RC(i), 0)] / (r c),
      df = (MS_R(i) + max(MS_C(i) − MS_RC(i), 0))² / [MS_R(i)² / (r−1)].
    * FRRC: F = MS_T / MS_TC with (t−1)(c−1) ddf; single SE² = MS_C(i) / (r c), c − 1 df.
    * RRFC: F = MS_T / MS_TR with (t−1)(r−1) ddf; single SE² = MS_R(i) / (r c), r − 1 df.

    Variance components (pseudovalue scale): σ²_R = (MS_R − MS_TR − MS_RC + MS_TRC)/(t c),
    σ²_C = (MS_C − MS_TC − MS_RC + MS_TRC)/(t r), σ²_TR = (MS_TR − MS_TRC)/c,
    σ²_TC = (MS_TC − MS_TRC)/r, σ²_RC = (MS_RC − MS_TRC)/t, σ²_ε = MS_TRC.

    References
    ----------
    Dorfman, Berbaum & Metz (1992), doi:10.1097/00004424-199209000-00015; Hillis et al.
    (2005), doi:10.1002/sim.2024; Hillis, Berbaum & Metz (2008), doi:10.1016/j.acra.2007.12.015.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 30)
    >>> reads = pd.DataFrame([(m, r, k, truth[k], truth[k] * (0.5 + m) + rng.normal())
    ...                       for m in (1, 2) for r in range(5) for k in range(60)],
    ...                      columns=["modality", "reader", "case", "truth", "rating"])
    >>> round(dbm_analysis(reads).tests["statistic"].item(), 2)
    16.64
    """
    level = check_confidence(confidence)
    check_option("fom", fom, FOMS)
    analyses = _analyses(analysis, ANALYSES)
    design = _design(data, modality, reader, case, truth, rating, fully_crossed, pos_label, min_modalities=2)
    t, r, c = design.shape
    y, scores = design.truth, design.scores()
    theta, loo = K.aucs(y, scores).reshape(t, r), K.jackknife_matrix(y, scores).reshape(t, r, c)
    comps = K.dbm_components(theta, K.pseudovalues(theta, loo))
    methods = {a: f"Dorfman-Berbaum-Metz {a}" + (" (Hillis ddf)" if a == "RRRC" else "")
               + ", jackknife pseudovalues" for a in analyses}
    inference = {a: K.DBM_ANALYSES[a](comps, c) for a in analyses}
    base = _base(design, level)
    loo_var = (c - 1) / c * ((loo - loo.mean(axis=2, keepdims=True)) ** 2).sum(axis=2).ravel()
    return MRMCResult(**inference_frames(design, theta, inference, methods, base, level),
                      reader_aucs=reader_frame(design, theta, loo_var, base, level,
                                                "empirical AUC, jackknife SE"),
                      variance_components=dbm_variance_frame(design, comps, base))


def model_vs_readers(data: pd.DataFrame, reader: str = "reader", case: str = "case",
                     truth: str = "truth", rating: str = "rating", *, model_reader: Any,
                     fom: str = "wilcoxon", cov: str = "jackknife", analysis: str | Sequence[str] = "all",
                     confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                     fully_crossed: bool = True, pos_label: Any = None) -> pd.DataFrame:
    """A standalone algorithm against a reader panel on the same cases, in one modality.

    The algorithm is entered as one more "reader" (``model_reader`` names it in the reader
    column); it has no reader variability. The difference ψ_j = θ_j − θ_model of each
    human reader j (r of them) is the figure of merit of a single-modality OR analysis
    (Hillis 2007 §5.3; Chakraborty's 1T-RRRC), which accounts for reader and case variability.

    Parameters
    ----------
    data : DataFrame
        One row per read of one modality: reader, case, truth and rating columns.
    model_reader : scalar
        The value of the reader column that identifies the algorithm.
    cov : {"jackknife", "delong", "bootstrap"}
        Covariance estimator of the AUCs over cases, as in :func:`or_analysis`.
    analysis : {"RRRC", "FRRC", "RRFC", "all"} or a list of them

    Returns
    -------
    DataFrame, one row per analysis: ``estimate`` (mean reader AUC − model AUC), CI, ``p``,
    ``statistic`` (t; z where ``df = inf``), ``df``, ``se``, ``method``, ``n`` (cases),
    ``ci_level``, ``analysis``, ``auc_model``, ``auc_readers`` (mean) with its CI
    (``auc_readers_ci_low``, ``auc_readers_ci_high``), ``ms_r``, ``var``, ``cov2``.

    Notes
    -----
    With ψ̄ the mean of ψ_j, MS_R = Σ_j (ψ_j − ψ̄)² / (r − 1), and Var, Cov2 the mean
    variance and the mean covariance of distinct pairs of the ψ_j's estimated covariance:

    * RRRC: t = ψ̄ / √(D / r), D = MS_R + r·max(Cov2, 0), df = D² / [MS_R² / (r − 1)];
    * FRRC: z = ψ̄ / √{[Var + (r − 1)·max(Cov2, 0)] / r};
    * RRFC: t = ψ̄ / √(MS_R / r) with r − 1 df (the paired t-test of Hupse et al. 2013).

    References
    ----------
    Hillis (2007), doi:10.1002/sim.2532; Chakraborty (2017), ISBN 9781482214840, chapter
    "Standalone CAD vs. Radiologists"; Hupse et al. (2013), Eur Radiol 23:93–100.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> truth = np.repeat([0, 1], 40)
    >>> reads = pd.DataFrame([(r, k, truth[k], truth[k] * (1.5 if r == "AI" else 1.0) + rng.normal())
    ...                       for r in ["AI", "r1", "r2", "r3", "r4"] for k in range(80)],
    ...                      columns=["reader", "case", "truth", "rating"])
    >>> res = model_vs_readers(reads, model_reader="AI", analysis="RRRC")
    >>> res[["estimate", "p"]].round(3).values.tolist()
    [[-0.105, 0.092]]
    """
    level = check_confidence(confidence)
    check_option("fom", fom, FOMS)
    cov = check_option("cov", cov, COVARIANCES)
    analyses = _analyses(analysis, ANALYSES)
    boot = {"n_boot": check_positive_int("n_boot", n_boot, minimum=2),
            "seed": check_positive_int("seed", seed, minimum=0)}
    design = _design(data, None, reader, case, truth, rating, fully_crossed, pos_label, with_model=True)
    y, scores = design.truth, design.scores()
    theta, covariance = K.aucs(y, scores), K.COVARIANCES[cov](y, scores, **boot)
    psi, cov_psi, model = reader_minus_model(design, theta, covariance, model_reader)
    cov_name = _cov_name(cov, n_boot, seed)
    base = {**_base(design, level), "n_readers": psi.size, "model_reader": design.readers[model],
            "auc_model": float(theta[model]), "auc_readers": float(psi.mean() + theta[model])}
    del base["n_modalities"]
    rows = [_single_row(psi, cov_psi, a, level, base, cov_name) for a in analyses]
    return result_frame(rows, inference=[C.STATISTIC, C.DF, C.SE])


# ---------------------------------------------------------------- helpers


def _analyses(analysis: str | Sequence[str], allowed: Sequence[str]) -> list[str]:
    if isinstance(analysis, str):
        choice = check_option("analysis", analysis, (*allowed, "all"))
        return list(allowed) if choice == "all" else [choice]
    chosen = [check_option("analysis", a, allowed) for a in analysis]
    if not chosen:
        raise InputError("names no analysis.", field="analysis",
                         hint=f"pass one of {', '.join(map(repr, allowed))} or 'all'.")
    return list(dict.fromkeys(chosen))


def _design(data, modality, reader, case, truth, rating, fully_crossed, pos_label, *, min_modalities=1,
            with_model=False) -> Design:
    """Validated design with enough modalities and at least two (human) readers."""
    design = build_design(data, modality=modality, reader=reader, case=case, truth=truth, rating=rating,
                          fully_crossed=fully_crossed, pos_label=pos_label)
    t, r, _c = design.shape
    if t < min_modalities:
        raise InputError(f"needs at least {min_modalities} modalities; column {modality!r} has {t}: "
                         f"{design.modalities!r}.", field="modality",
                         hint="to compare an algorithm with readers in one modality use model_vs_readers().")
    if r - with_model < 2:
        what = "readers besides the model" if with_model else "readers"
        raise InputError(f"needs at least 2 {what}; column {reader!r} has {r} reader(s) in all: "
                         f"{design.readers!r}.", field="reader",
                         hint="an MRMC analysis treats readers as a random sample: it needs several.")
    return design


def reader_minus_model(design: Design, theta: np.ndarray, covariance: np.ndarray,
                       model_reader: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """ψ_j = θ_j − θ_model of every human reader, their covariance, and the model's reader index."""
    model = _model_index(design.readers, model_reader)
    contrast = np.delete(np.eye(theta.size), model, axis=0)
    contrast[:, model] = -1.0
    return contrast @ theta, contrast @ covariance @ contrast.T, model


def single_modality_components(psi: np.ndarray, cov_psi: np.ndarray) -> tuple[float, float, float]:
    """MS_R of the r figures of merit ψ, the mean of their variances (Var) and of the covariances of
    distinct pairs (Cov2), from their estimated covariance (single-modality OR, Hillis 2007 §5.3)."""
    r = psi.size
    return (float(psi.var(ddof=1)), float(np.diag(cov_psi).mean()),
            float(cov_psi[~np.eye(r, dtype=bool)].mean()))


def _model_index(readers: list[Any], model_reader: Any) -> int:
    if model_reader in readers:
        return readers.index(model_reader)
    as_text = [str(r) for r in readers]
    if as_text.count(str(model_reader)) == 1:
        return as_text.index(str(model_reader))
    raise InputError(f"{model_reader!r} is not a reader in the data; readers are "
                     f"{', '.join(map(repr, readers[:10]))}{', …' if len(readers) > 10 else ''}.",
                     field="model_reader",
                     hint=did_you_mean(model_reader, as_text, "pass model_reader= the value of the reader "
                                                              "column that marks the algorithm's reads."))


def _cov_name(cov: str, n_boot: int, seed: int) -> str:
    return {"jackknife": "jackknife", "delong": "DeLong",
            "bootstrap": f"bootstrap ({n_boot} replicates, seed {seed})"}[cov]


def _base(design: Design, level: float) -> dict[str, Any]:
    t, r, c = design.shape
    return {C.N: c, C.CI_LEVEL: level, "n_readers": r, "n_modalities": t,
            C.N_POS: int(design.truth.sum()), C.N_NEG: int((~design.truth).sum())}


def _single_row(psi: np.ndarray, cov_psi: np.ndarray, analysis: str, level: float,
                base: dict[str, Any], cov_name: str) -> dict[str, Any]:
    """One single-modality OR analysis of the reader-minus-model differences ψ."""
    r = psi.size
    ms_r, var, cov2 = single_modality_components(psi, cov_psi)
    if analysis == "RRRC":
        den = ms_r + r * max(cov2, 0.0)
        se, df = np.sqrt(den / r), float(K.hillis_df(den, ms_r, r - 1))
    elif analysis == "FRRC":
        se, df = np.sqrt((var + (r - 1) * max(cov2, 0.0)) / r), np.inf
    else:
        se, df = np.sqrt(ms_r / r), float(r - 1)
    row = t_test(float(psi.mean()), float(se), df, level, f"the {analysis} reader-minus-model difference")
    shift = base["auc_model"]
    extras = {"auc_readers_ci_low": row.get(C.CI_LOW, np.nan) + shift,
              "auc_readers_ci_high": row.get(C.CI_HIGH, np.nan) + shift, "ms_r": ms_r}
    if analysis != "RRFC":
        extras.update({"var": var, "cov2": cov2})
    method = {"RRRC": "single-modality Obuchowski-Rockette RRRC (Hillis 2007 §5.3, 1T-RRRC)",
              "FRRC": "single-modality Obuchowski-Rockette FRRC",
              "RRFC": "paired t-test of reader-minus-model AUCs (1T-RRFC)"}[analysis]
    if analysis != "RRFC":
        method += f", {cov_name} covariance"
    return {**base, **row, **extras, C.METHOD: method, ANALYSIS: analysis}
