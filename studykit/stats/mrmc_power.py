"""Planning MRMC reader studies: power and number of cases from a pilot's OR variance components.

The pilot (a fully crossed reader study of two modalities, or an algorithm against a reader
panel in one modality) gives the Obuchowski–Rockette (OR) variance components of its
figure of merit, the empirical AUC (:func:`~studykit.stats.or_analysis`'s kernels, jackknife,
DeLong or bootstrap covariance). They are extrapolated to J readers and K cases as Hillis,
Obuchowski & Berbaum (2011) and RJafroc's ``SsPowerGivenJK`` / ``SsSampleSizeKGivenJ`` do: the
error variance and covariances scale by K*/K (K* the pilot's cases, same case mix), the
modality × reader variance does not. With d the AUC difference to detect, e = Var − Cov1,
c = max(Cov2 − Cov3, 0) and σ²_TR = max(MS_T×R − Var + Cov1 + c, 0) (Hillis 2011, eq. 9):

* RRRC: D = σ²_TR + (K*/K)(e + (J − 1)c), ncp λ = J d² / (2D), ddf_H = D² (J − 1) /
  [σ²_TR + (K*/K)(e − c)]², power = P(F(1, ddf_H; λ) > F_{1−α}(1, ddf_H));
* FRRC: D = (K*/K)(e + (J − 1)c), power = P(χ²(1; λ) > χ²_{1−α}(1));
* RRFC: D = σ²_TR + (K*/K)(e − c), F(1, J − 1; λ).

At the pilot's own J and K and its observed difference, λ is the pilot's F statistic and
ddf_H its Hillis df (whenever σ²_TR ≥ 0): the plan extrapolates exactly the test the pilot ran.

An algorithm against readers (``model_reader=``) is the same model with the algorithm as a
modality whose AUC does not vary over readers: ψ_j = θ_j − θ_model of each reader j has the
single-modality OR components (Hillis 2007 §5.3) MS_R(ψ), Var(ψ), Cov2(ψ), and maps onto the
two-modality ones as σ²_TR = max(MS_R − Var + max(Cov2, 0), 0) / 2, e = Var / 2,
c = max(Cov2, 0) / 2 (the error of a difference of two modalities is 2(Var − Cov1), its
covariance over readers 2(Cov2 − Cov3)); at the pilot's size λ = t² of
:func:`~studykit.stats.model_vs_readers`.

References
----------
Hillis SL, Berbaum KS (2004). Power estimation for the Dorfman–Berbaum–Metz method. Acad Radiol
11:1260–1273. doi:10.1016/j.acra.2004.08.009
Hillis SL, Obuchowski NA, Berbaum KS (2011). Power estimation for multireader ROC methods: an
updated and unified approach. Acad Radiol 18:129–142. doi:10.1016/j.acra.2010.09.007
Hillis SL (2007). A comparison of denominator degrees of freedom methods for multiple observer
ROC analysis. Stat Med 26:596–619. doi:10.1002/sim.2532
Chakraborty DP (2017). Observer Performance Methods for Diagnostic Imaging, chapter 11 (sample
size estimation). CRC Press, ISBN 9781482214840; RJafroc 2.1.3 ``SsPowerGivenJK``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import chi2, ncf, ncx2
from scipy.stats import f as f_dist

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats import _mrmc_kernels as K
from studykit.stats._result import warn_undefined
from studykit.stats._validation import check_option, check_positive_int, check_unit_interval
from studykit.stats.mrmc import (
    ANALYSES,
    COVARIANCES,
    _analyses,
    _cov_name,
    _design,
    reader_minus_model,
    single_modality_components,
)

__all__ = ["mrmc_power", "mrmc_sample_size"]

POWER, READERS, CASES, EFFECT, ALPHA, ANALYSIS = "power", "readers", "cases", "effect", "alpha", "analysis"
DDF = "ddf"  # denominator degrees of freedom of the F test (inf: chi-square)
UNREACHABLE = ("raise", "nan")
#: Largest number of cases :func:`mrmc_sample_size` searches by default.
CASES_MAX = 100_000


class Pilot(NamedTuple):
    """What a plan takes from the pilot: the three variance terms of the difference and the pilot's size."""

    var_tr: float      # σ²_TR (clipped at 0): modality × reader variance, not reduced by more cases
    error: float       # e = Var − Cov1 at the pilot's K* cases
    corr: float        # c = max(Cov2 − Cov3, 0) at K* cases
    cases: int         # K*
    readers: int       # J* (human readers)
    n_pos: int
    n_neg: int
    effect: float      # the pilot's difference (modality 1 − 2, or mean reader − model)
    components: dict[str, float]   # the variance components as reported
    method: str


def pilot_components(reads: pd.DataFrame, modality: str | None = "modality", reader: str = "reader",
                     case: str = "case", truth: str = "truth", rating: str = "rating", *,
                     cov: str = "jackknife", model_reader: Any = None, n_boot: int = 2000, seed: int = 0,
                     pos_label: Any = None) -> Pilot:
    """The pilot's OR components: two modalities, or (``model_reader``) an algorithm vs readers."""
    cov = check_option("cov", cov, COVARIANCES)
    boot = {"n_boot": check_positive_int("n_boot", n_boot, minimum=2),
            "seed": check_positive_int("seed", seed, minimum=0)}
    if model_reader is not None:
        design = _design(reads, None, reader, case, truth, rating, True, pos_label, with_model=True)
    else:
        design = _design(reads, modality, reader, case, truth, rating, True, pos_label, min_modalities=2)
        if design.shape[0] != 2:
            raise InputError(f"plans the comparison of two modalities; column {modality!r} has "
                             f"{design.shape[0]}: {design.modalities!r}.", field="modality",
                             hint="keep the reads of the two modalities to be compared.")
    y, scores = design.truth, design.scores()
    theta, covariance = K.aucs(y, scores), K.COVARIANCES[cov](y, scores, **boot)
    sizes = {"cases": design.shape[2], "n_pos": int(y.sum()), "n_neg": int((~y).sum())}
    name = _cov_name(cov, n_boot, seed)
    if model_reader is not None:
        return _model_pilot(design, theta, covariance, sizes, name, model_reader)
    comps = K.or_components(theta.reshape(design.shape[:2]), covariance)
    corr = max(comps.cov2 - comps.cov3, 0.0)
    var_tr = comps.ms_tr - comps.var + comps.cov1 + corr
    means = comps.theta.mean(axis=1)
    reported = {"var_tr": var_tr, "var": comps.var, "cov1": comps.cov1, "cov2": comps.cov2,
                "cov3": comps.cov3, "ms_tr": comps.ms_tr}
    return Pilot(max(var_tr, 0.0), comps.var - comps.cov1, corr, readers=design.shape[1],
                 effect=float(means[0] - means[1]), components=reported,
                 method=f"Obuchowski-Rockette components of the pilot ({name} covariance)", **sizes)


def _model_pilot(design, theta, covariance, sizes, cov_name, model_reader) -> Pilot:
    psi, cov_psi, _model = reader_minus_model(design, theta, covariance, model_reader)
    ms_r, var, cov2 = single_modality_components(psi, cov_psi)
    corr = max(cov2, 0.0)
    var_r = ms_r - var + corr
    reported = {"var_r": var_r, "var": var, "cov2": cov2, "ms_r": ms_r}
    return Pilot(max(var_r, 0.0) / 2, var / 2, corr / 2, readers=psi.size, effect=float(psi.mean()),
                 components=reported,
                 method=f"single-modality Obuchowski-Rockette components of reader-minus-model AUCs "
                        f"({cov_name} covariance; the model's reader variance is zero)", **sizes)


# ---------------------------------------------------------------- kernels


def _terms(p: Pilot, readers: np.ndarray, cases: np.ndarray, analysis: str) -> tuple[np.ndarray, np.ndarray]:
    """The denominator D and its ddf at J ``readers`` and K ``cases`` (arrays broadcast)."""
    scale = p.cases / cases
    if analysis == "RRRC":
        den = p.var_tr + scale * (p.error + (readers - 1) * p.corr)
        return den, K.hillis_df(den, p.var_tr + scale * (p.error - p.corr), readers - 1)
    if analysis == "FRRC":
        return scale * (p.error + (readers - 1) * p.corr), np.full(np.broadcast(readers, cases).shape, np.inf)
    den = p.var_tr + scale * (p.error - p.corr)
    return den, np.broadcast_to(readers - 1.0, np.broadcast(readers, cases).shape).astype(float)


def _power(ncp: np.ndarray, ddf: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """P(F(1, ddf; ncp) > F_{1−α}) (chi-square with 1 df where ddf is infinite) and the critical value."""
    ncp, ddf = np.broadcast_arrays(np.asarray(ncp, float), np.asarray(ddf, float))
    power, crit = np.full(ncp.shape, np.nan), np.full(ncp.shape, np.nan)
    chi = np.isinf(ddf) & np.isfinite(ncp)
    fin = np.isfinite(ddf) & (ddf > 0) & np.isfinite(ncp)
    crit[chi] = chi2.ppf(1 - alpha, 1)
    power[chi] = ncx2.sf(crit[chi], 1, ncp[chi])
    crit[fin] = f_dist.ppf(1 - alpha, 1, ddf[fin])
    power[fin] = ncf.sf(crit[fin], 1, ddf[fin], ncp[fin])
    return power, crit


def _evaluate(p: Pilot, effect: float, readers, cases, analysis: str, alpha: float) -> dict[str, np.ndarray]:
    readers, cases = np.asarray(readers, float), np.asarray(cases, float)
    den, ddf = _terms(p, readers, cases, analysis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncp = np.where(den > K.TINY_VARIANCE, readers * effect**2 / (2 * den), np.nan)
    power, crit = _power(ncp, ddf, alpha)
    return {POWER: power, "ncp": ncp, DDF: ddf, "critical_value": crit}


def _power_max(p: Pilot, effect: float, readers: int, analysis: str, alpha: float) -> float:
    """The power as the number of cases grows without bound (1 unless σ²_TR > 0 bounds it)."""
    if analysis == "FRRC" or p.var_tr <= K.TINY_VARIANCE:
        return 1.0
    ncp = readers * effect**2 / (2 * p.var_tr)
    return float(_power(np.array([ncp]), np.array([readers - 1.0]), alpha)[0][0])


def _first_reaching(p: Pilot, effect: float, readers: int, analysis: str, alpha: float, target: float,
                    cases_max: int) -> tuple[int | None, dict[str, np.ndarray] | None]:
    """The smallest K in 2 … cases_max whose power reaches ``target`` (chunks of doubling size)."""
    low = 2
    while low <= cases_max:
        ks = np.arange(low, min(2 * low + 62, cases_max) + 1)
        values = _evaluate(p, effect, readers, ks, analysis, alpha)
        hit = np.flatnonzero(values[POWER] >= target)
        if hit.size:
            return int(ks[hit[0]]), {k: v[hit[0]] for k, v in values.items()}
        low = int(ks[-1]) + 1
    return None, None


# ---------------------------------------------------------------- validation and rows


def _effect(effect: Any, pilot: Pilot) -> float:
    if isinstance(effect, str) and effect == "observed":
        return abs(pilot.effect)
    try:
        number = float(effect)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and 0 < number < 1) or isinstance(effect, bool):
        raise InputError(f"must be an AUC difference strictly between 0 and 1, or 'observed'; "
                         f"got {effect!r}.", field="effect",
                         hint="pass the smallest difference worth detecting, e.g. effect=0.05 (its sign "
                              "does not matter to the power).")
    return number


def _counts(name: str, values: int | Sequence[int], minimum: int) -> list[int]:
    items = [values] if isinstance(values, (int, np.integer)) and not isinstance(values, bool) else values
    try:
        items = list(items)
    except TypeError:
        items = [values]
    if not items:
        raise InputError("is empty.", field=name, hint=f"pass a count (≥ {minimum}) or a list of them.")
    return [check_positive_int(name, v, minimum=minimum) for v in items]


def _base(p: Pilot, effect: float, alpha: float, analysis: str) -> dict[str, Any]:
    return {EFFECT: effect, ALPHA: alpha, ANALYSIS: analysis, **p.components,
            "pilot_readers": p.readers, "pilot_cases": p.cases, "pilot_n_pos": p.n_pos,
            "pilot_n_neg": p.n_neg, "pilot_effect": p.effect}


def _method(p: Pilot, analysis: str) -> str:
    test = {"RRRC": "F test, Hillis ddf", "FRRC": "chi-square test", "RRFC": "F test, J - 1 ddf"}[analysis]
    return (f"{analysis} power, Hillis, Obuchowski & Berbaum (2011) non-centrality ({test}); "
            f"{p.method}, scaled by pilot cases / planned cases")


def _warn_undefined_power(rows: list[dict[str, Any]], what: str) -> None:
    if any(not np.isfinite(r[POWER]) for r in rows):
        warn_undefined(what, "the pilot's error variance of the difference is 0 or negative")


# ---------------------------------------------------------------- public


def mrmc_power(reads: pd.DataFrame, modality: str = "modality", reader: str = "reader", case: str = "case",
               truth: str = "truth", rating: str = "rating", *, effect: float | str,
               readers: int | Sequence[int], cases: int | Sequence[int], alpha: float = 0.05,
               cov: str = "jackknife", analysis: str | Sequence[str] = "RRRC", model_reader: Any = None,
               n_boot: int = 2000, seed: int = 0, pos_label: Any = None) -> pd.DataFrame:
    """Power of an MRMC reader study of J readers and K cases, planned from a pilot.

    Parameters
    ----------
    reads : DataFrame
        The pilot: one row per read, as :func:`~studykit.stats.or_analysis` (two modalities,
        fully crossed), or, with ``model_reader``, as :func:`~studykit.stats.model_vs_readers`
        (one modality; the algorithm's scores are the reads of reader ``model_reader``;
        ``modality`` is then not used).
    modality, reader, case, truth, rating : str
        Column names.
    effect : float in (0, 1), or "observed"
        The AUC difference to detect (modality 1 − 2, or mean reader − model; its sign does
        not matter). ``"observed"`` takes the pilot's own difference (RJafroc's default,
        usually too optimistic: Chakraborty 2017, ch. 11).
    readers, cases : int ≥ 2, or lists of them
        Planned numbers of (human) readers J and of cases K; one row per combination.
    alpha : float
        Two-sided significance level.
    cov : {"jackknife", "delong", "bootstrap"}
        Covariance estimator of the pilot's AUCs (``n_boot``, ``seed`` for the bootstrap).
    analysis : {"RRRC", "FRRC", "RRFC", "all"} or a list of them
    model_reader : scalar, optional
        The reader-column value of the algorithm (planning an algorithm against readers).

    Returns
    -------
    DataFrame, one row per (analysis, readers, cases): ``power, readers, cases, effect, alpha,
    analysis, ncp, ddf`` (the denominator df; inf for FRRC's chi-square), ``critical_value``,
    ``power_max`` (the power as cases → ∞ at these readers), the pilot's variance components
    (``var_tr, var, cov1, cov2, cov3, ms_tr``; algorithm vs readers: ``var_r, var, cov2, ms_r``
    of ψ), ``pilot_readers, pilot_cases, pilot_n_pos, pilot_n_neg, pilot_effect, method``.

    Notes
    -----
    The formulas are in the module docstring (Hillis et al. 2011; RJafroc
    ``SsPowerGivenJKOrVarCom``, which clips σ²_TR at 0 as here). Planned cases keep the pilot's
    case mix (prevalence). A pilot whose error variance of the difference is not positive
    (e.g. identical modalities) leaves the power undefined: NaN with a warning.

    References
    ----------
    Hillis, Obuchowski & Berbaum (2011), doi:10.1016/j.acra.2010.09.007; Hillis & Berbaum
    (2004), doi:10.1016/j.acra.2004.08.009.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 40)
    >>> reads = pd.DataFrame([(m, r, k, truth[k], truth[k] * (1 + 0.3 * m) + rng.normal())
    ...                       for m in (0, 1) for r in range(4) for k in range(80)],
    ...                      columns=["modality", "reader", "case", "truth", "rating"])
    >>> res = mrmc_power(reads, effect=0.05, readers=[4, 8], cases=200)
    >>> res[["readers", "cases", "power"]].round(3).values.tolist()
    [[4.0, 200.0, 0.336], [8.0, 200.0, 0.727]]
    """
    alpha = check_unit_interval("alpha", alpha, example="alpha=0.05 (two-sided)")
    analyses = _analyses(analysis, ANALYSES)
    js, ks = _counts("readers", readers, 2), _counts("cases", cases, 2)
    p = pilot_components(reads, modality, reader, case, truth, rating, cov=cov, model_reader=model_reader,
                         n_boot=n_boot, seed=seed, pos_label=pos_label)
    effect = _effect(effect, p)
    rows = []
    for a, j, k in itertools.product(analyses, js, ks):
        values = {name: float(v) for name, v in _evaluate(p, effect, j, k, a, alpha).items()}
        rows.append({POWER: values.pop(POWER), READERS: j, CASES: k, **values,
                     "power_max": _power_max(p, effect, j, a, alpha), **_base(p, effect, alpha, a),
                     C.METHOD: _method(p, a)})
    _warn_undefined_power(rows, "the MRMC power")
    return _frame(rows)


def mrmc_sample_size(reads: pd.DataFrame, modality: str = "modality", reader: str = "reader",
                     case: str = "case", truth: str = "truth", rating: str = "rating", *,
                     effect: float | str, readers: int | Sequence[int], power: float = 0.8,
                     alpha: float = 0.05, cov: str = "jackknife", analysis: str | Sequence[str] = "RRRC",
                     model_reader: Any = None, cases_max: int = CASES_MAX, unreachable: str = "raise",
                     n_boot: int = 2000, seed: int = 0, pos_label: Any = None) -> pd.DataFrame:
    """Number of cases an MRMC reader study of J readers needs for the target power.

    Parameters
    ----------
    reads, modality, reader, case, truth, rating, effect, alpha, cov, analysis, model_reader
        As :func:`mrmc_power`.
    readers : int ≥ 2, or a list of them
        Planned numbers of (human) readers; one row per count (and analysis).
    power : float in (0, 1)
        Target power.
    cases_max : int
        Largest number of cases searched.
    unreachable : {"raise", "nan"}
        What to do when the target cannot be reached with these readers (the power as cases →
        ∞, ``power_max``, is below it; RRRC and RRFC are bounded by the modality × reader
        variance) or not within ``cases_max`` cases: raise :class:`~studykit.errors.InputError`,
        or return that row with ``cases`` and ``power`` NaN.

    Returns
    -------
    DataFrame as :func:`mrmc_power`, one row per (analysis, readers): ``cases`` the smallest
    K ≥ 2 whose power reaches ``power`` (the search of RJafroc's ``SsSampleSizeKGivenJ``,
    which reports the first K past it), ``power`` the power at K, ``target_power``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 40)
    >>> reads = pd.DataFrame([(m, r, k, truth[k], truth[k] * (1 + 0.3 * m) + rng.normal())
    ...                       for m in (0, 1) for r in range(4) for k in range(80)],
    ...                      columns=["modality", "reader", "case", "truth", "rating"])
    >>> res = mrmc_sample_size(reads, effect=0.08, readers=[6, 10])
    >>> res[["readers", "cases"]].values.tolist()
    [[6.0, 138.0], [10.0, 73.0]]
    """
    target = check_unit_interval("power", power, example="power=0.8")
    alpha = check_unit_interval("alpha", alpha, example="alpha=0.05 (two-sided)")
    unreachable = check_option("unreachable", unreachable, UNREACHABLE)
    cases_max = check_positive_int("cases_max", cases_max, minimum=2)
    analyses, js = _analyses(analysis, ANALYSES), _counts("readers", readers, 2)
    p = pilot_components(reads, modality, reader, case, truth, rating, cov=cov, model_reader=model_reader,
                         n_boot=n_boot, seed=seed, pos_label=pos_label)
    effect = _effect(effect, p)
    rows = []
    for a, j in itertools.product(analyses, js):
        ceiling = _power_max(p, effect, j, a, alpha)
        k, values = (None, None) if ceiling < target else _first_reaching(p, effect, j, a, alpha, target,
                                                                          cases_max)
        if k is None:
            _unreachable(unreachable, a, j, target, ceiling, cases_max)
            values = {POWER: np.nan, "ncp": np.nan, DDF: np.nan, "critical_value": np.nan}
        values = {name: float(v) for name, v in values.items()}
        rows.append({POWER: values.pop(POWER), READERS: j, CASES: np.nan if k is None else k,
                     "target_power": target, **values, "power_max": ceiling, **_base(p, effect, alpha, a),
                     C.METHOD: _method(p, a) + "; smallest number of cases reaching the target power"})
    return _frame(rows)


def _unreachable(mode: str, analysis: str, readers: int, target: float, ceiling: float,
                 cases_max: int) -> None:
    if mode == "nan":
        return
    if ceiling < target:
        why = (f"the {analysis} power with {readers} readers tends to {ceiling:.3f} as the cases grow (the "
               "modality × reader variance does not shrink with more cases)")
    else:
        why = f"{cases_max} cases give the {analysis} power with {readers} readers less than that"
    raise InputError(f"{target:g} cannot be reached: {why}.", field="power",
                     hint="plan more readers, a larger effect or a lower power, or pass unreachable='nan' "
                          "(and cases_max= for a longer search).")


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame[POWER], frame[CASES] = frame[POWER].astype(float), frame[CASES].astype(float)
    return frame
