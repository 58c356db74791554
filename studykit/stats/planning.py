"""Planning ROC studies: power and sample size for one AUC and for two paired AUCs.

Both follow pROC's ``power.roc.test``: a two-sided level-α z-test whose power is the
one-tail approximation Φ(z_β) with

    z_β = (√n_pos · |δ| − z_{1−α/2} · √V0) / √VA,

δ the AUC difference under the alternative, V0 and VA the variances of the AUC (or of
the difference) under the null and the alternative, per positive case (n_pos · Var), as
functions of the ratio κ = n_neg / n_pos. The sample size inverts it,
n_pos = (z_{1−α/2} √V0 + z_β √VA)² / δ², unrounded; ``n_pos_ceil`` and
``n_neg_ceil`` round both up.

References
----------
Obuchowski NA (1994). Computing sample size for receiver operating characteristic
studies. Invest Radiol 29:238–243. doi:10.1097/00004424-199402000-00020
Obuchowski NA, McClish DK (1997). Sample size determination for diagnostic accuracy
studies involving binormal ROC curve indices. Stat Med 16:1529–1542.
doi:10.1002/(SICI)1097-0258(19970715)16:13<1529::AID-SIM565>3.0.CO;2-H
Obuchowski NA, Lieber ML, Wians FH (2004). ROC curves in Clinical Chemistry: uses,
misuses, and possible solutions. Clin Chem 50:1118–1125. doi:10.1373/clinchem.2004.031823
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77. doi:10.1186/1471-2105-12-77
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from studykit.errors import InputError
from studykit.stats import _columns as C
from studykit.stats._curve import curve_points
from studykit.stats._placements import placements
from studykit.stats._result import warn_undefined
from studykit.stats._validation import (
    check_option,
    check_unit_interval,
    from_data,
    paired_inputs,
)
from studykit.stats.roc import enough_units

__all__ = ["auc_power", "auc_power_paired", "auc_sample_size"]

POWER = "power"
ALPHA = "alpha"
AUC = "auc"
N_POS_CEIL = "n_pos_ceil"
N_NEG_CEIL = "n_neg_ceil"

_CHANCE_VARIANCE = 0.0792  # Obuchowski's V at AUC 0.5, per (1 + 1/κ): 0.0099 · 8


def obuchowski_variance(auc: float, ratio: float) -> float:
    """n_pos · Var(AUC) of a binormal curve with equal variances (Obuchowski 1994, eq. 5).

    A = 1.414 · Φ⁻¹(AUC); V = 0.0099 e^{−A²/2} ((5A² + 8) + (A² + 8) / κ). pROC's
    ``var.theta.obuchowski``, with its rounded √2.
    """
    a = ndtri(auc) * 1.414
    return float(0.0099 * np.exp(-a**2 / 2) * ((5 * a**2 + 8) + (a**2 + 8) / ratio))


def _z_beta(n_pos: float, z_alpha: float, v0: float, va: float, delta: float) -> float:
    return float((np.sqrt(n_pos * delta**2) - z_alpha * np.sqrt(v0)) / np.sqrt(va))


def _n_pos(z_alpha: float, z_beta: float, v0: float, va: float, delta: float) -> float:
    return float((z_alpha * np.sqrt(v0) + z_beta * np.sqrt(va)) ** 2 / delta**2)


def _z_alpha(alpha: Any) -> tuple[float, float]:
    alpha = check_unit_interval("alpha", alpha, example="alpha=0.05 (two-sided)")
    return alpha, float(ndtri(1 - alpha / 2))


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and number > 0) or isinstance(value, bool):
        raise InputError(f"must be a positive number; got {value!r}.", field=name,
                         hint="pass a count of cases (fractions are allowed in planning).")
    return number


def _planned_auc(auc: Any, *, sizing: bool) -> float:
    try:
        number = float(auc)
    except (TypeError, ValueError):
        number = float("nan")
    low = 0.5 if sizing else 0.0
    if not low < number < 1.0:
        why = ("a sample size is planned to show AUC > 0.5, so the AUC under the alternative must "
               "exceed 0.5" if sizing else "the Obuchowski variance needs 0 < AUC < 1")
        raise InputError(f"must lie strictly between {low:g} and 1; got {auc!r}.", field="auc",
                         hint=f"{why}; a score that ranks positives lower should be negated first.")
    return number


def _row(power: float, n_pos: float, n_neg: float, alpha: float, method: str, **extra: Any) -> pd.DataFrame:
    return pd.DataFrame([{POWER: power, C.N_POS: n_pos, C.N_NEG: n_neg,
                          N_POS_CEIL: _ceil(n_pos), N_NEG_CEIL: _ceil(n_neg), ALPHA: alpha,
                          **extra, C.METHOD: method}])


def _ceil(n: float) -> float:
    """Round a planned size up, forgiving float noise (100.00000000001 → 100)."""
    return float(np.ceil(n - 1e-9 * max(1.0, n))) if np.isfinite(n) else float("nan")


_ONE = "Obuchowski (1994) variance, two-sided z-test of AUC = 0.5 (pROC power.roc.test)"


def auc_power(auc: float, n_pos: float, n_neg: float, *, alpha: float = 0.05) -> pd.DataFrame:
    """Power to show that an AUC exceeds 0.5 with ``n_pos`` positives and ``n_neg`` negatives.

    Parameters
    ----------
    auc : float in (0, 1)
        The AUC expected under the alternative.
    n_pos, n_neg : float > 0
        Planned numbers of positive (diseased) and negative cases.
    alpha : float
        Two-sided significance level.

    Returns
    -------
    One-row DataFrame: ``power, n_pos, n_neg, n_pos_ceil, n_neg_ceil, alpha, auc, method``.

    Notes
    -----
    δ = AUC − 0.5, VA = :func:`obuchowski_variance` (AUC, κ), V0 = 0.0792 (1 + 1/κ) (the same
    variance at AUC 0.5), κ = n_neg / n_pos; power = Φ(z_β) (module docstring), as pROC's
    ``power.roc.test(auc =, ncases =, ncontrols =)``. Being one-tailed, the power at
    AUC = 0.5 is α/2, not α.

    Examples
    --------
    >>> round(auc_power(0.8, 30, 50)["power"].item(), 4)
    0.9985
    """
    auc = _planned_auc(auc, sizing=False)
    n_pos, n_neg = _positive("n_pos", n_pos), _positive("n_neg", n_neg)
    alpha, z_alpha = _z_alpha(alpha)
    ratio = n_neg / n_pos
    z_beta = _z_beta(n_pos, z_alpha, _CHANCE_VARIANCE * (1 + 1 / ratio), obuchowski_variance(auc, ratio),
                     auc - 0.5)
    return _row(float(ndtr(z_beta)), n_pos, n_neg, alpha, _ONE, **{AUC: auc})


def auc_sample_size(auc: float, power: float, *, ratio: float = 1.0, alpha: float = 0.05) -> pd.DataFrame:
    """Numbers of positive and negative cases to show that an AUC exceeds 0.5.

    Parameters
    ----------
    auc : float in (0.5, 1)
        The AUC expected under the alternative.
    power : float in (0, 1)
    ratio : float > 0
        n_neg / n_pos (pROC's ``kappa``).
    alpha : float
        Two-sided significance level.

    Returns
    -------
    One-row DataFrame as :func:`auc_power`; ``n_pos, n_neg`` unrounded (as pROC's
    ``power.roc.test(auc =, power =, kappa =)``), ``n_pos_ceil, n_neg_ceil`` rounded up.
    ``auc_power(auc, n_pos, n_neg)`` with the unrounded sizes gives ``power`` back.

    Examples
    --------
    >>> r = auc_sample_size(0.8, 0.9, ratio=2)
    >>> round(r["n_pos"].item(), 3), r["n_pos_ceil"].item(), r["n_neg_ceil"].item()
    (12.808, 13.0, 26.0)
    """
    auc = _planned_auc(auc, sizing=True)
    power = check_unit_interval("power", power, example="power=0.8")
    ratio = _positive("ratio", ratio)
    alpha, z_alpha = _z_alpha(alpha)
    n_pos = _n_pos(z_alpha, float(ndtri(power)), _CHANCE_VARIANCE * (1 + 1 / ratio),
                   obuchowski_variance(auc, ratio), auc - 0.5)
    return _row(power, n_pos, ratio * n_pos, alpha, _ONE, **{AUC: auc})


PAIRED_METHODS = ("obuchowski", "delong")


def auc_power_paired(y_true: Any, score_a: Any, score_b: Any, *, n_pos: float | None = None,
                     n_neg: float | None = None, power: float | None = None, alpha: float = 0.05,
                     method: str = "obuchowski", effect: float | None = None,
                     data: pd.DataFrame | None = None, pos_label: Any = None) -> pd.DataFrame:
    """Power or sample size to show that two paired AUCs differ, planned from pilot data.

    The pilot (two scores on the same cases) gives the AUC difference δ = AUC_a − AUC_b
    (empirical AUCs) and the variances; give ``n_pos`` and ``n_neg`` for the power, or
    ``power`` for the sample size (at the pilot's ratio n_neg / n_pos).

    Parameters
    ----------
    y_true, score_a, score_b : array-like (N,), or column names of ``data``
        The pilot study.
    n_pos, n_neg : float > 0, optional
        Planned numbers of positive and negative cases (both, or ``power``).
    power : float in (0, 1), optional
    alpha : float
        Two-sided significance level.
    method : {"obuchowski", "delong"}
        ``obuchowski``: Obuchowski & McClish (1997) variances of binormal curves, with the
        binormal parameters (A, B) of each pilot curve and the correlations of the two
        scores among positives and among negatives (pROC's ``power.roc.test(roc_a,
        roc_b, method = "obuchowski")``). ``delong``: the pilot's DeLong covariance
        (pROC's default method).
    effect : float in (0, 1), optional
        The AUC difference to detect, in place of the pilot's δ (its sign does not matter);
        the variances stay the pilot's. Default: the pilot's own difference (pROC).

    Returns
    -------
    One-row DataFrame: ``power, n_pos, n_neg, n_pos_ceil, n_neg_ceil, alpha, auc_a,
    auc_b``, for ``obuchowski`` also ``A_a, B_a, A_b, B_b, r_pos, r_neg``, then
    ``pilot_n_pos, pilot_n_neg``, ``effect`` (|δ| planned for: the pilot's or the one
    given), ``method``. Sizes unrounded (pROC's) and rounded up.

    Notes
    -----
    V0 = 2 V_a − 2 C_ab and VA = V_a + V_b − 2 C_ab, per positive case, at κ = n_neg / n_pos.
    Binormal (pROC's ``smooth(method = "binormal")``): A and B are the intercept and slope
    of the least-squares line Φ⁻¹(sp) = A + B Φ⁻¹(se) through the pilot curve's points
    (those with 0 < se, sp < 1); V = f² (1 + B²/κ + A²/2) + g² B² (1 + κ) / (2κ) and
    C = f_a f_b (r₊ + r₋ B_a B_b / κ + r₊² A_a A_b / 2) + g_a g_b B_a B_b (r₋² + κ r₊²) / (2κ)
    + f_a g_b r₊² A_a B_b / 2 + f_b g_a r₊² A_b B_a / 2, with f = e^{−A²/(2(1+B²))} /
    √(2π(1+B²)), g = −f A B / (1 + B²), r₊ and r₋ Pearson correlations of the scores
    among positives and negatives. DeLong: per-case covariance S10 + S01 / κ. At the
    pilot's own sizes the power is pROC's exactly; at others pROC's ``power.roc.test``
    on the same parameters (``method = "obuchowski"``). Equal pilot AUCs (δ = 0) admit no
    sample size: NaN with a warning (pROC: Inf, or ~1e32 from rounding in its AUCs).

    Examples
    --------
    >>> y = [0] * 6 + [1] * 6
    >>> a = [.1, .3, .2, .5, .4, .6, .45, .7, .55, .9, .8, .65]
    >>> b = [.2, .1, .4, .3, .6, .5, .35, .45, .7, .55, .8, .6]
    >>> r = auc_power_paired(y, a, b, power=0.8)
    >>> round(r["n_pos"].item(), 1), r["pilot_n_pos"].item()
    (96.6, 6)
    """
    args = from_data(data, y_true=y_true, score_a=score_a, score_b=score_b)
    y, a, b = paired_inputs(args["y_true"], args["score_a"], args["score_b"], pos_label=pos_label)
    alpha, z_alpha = _z_alpha(alpha)
    method = check_option("method", method, PAIRED_METHODS)
    planned_effect = None if effect is None else _planned_effect(effect)
    pilot_m, pilot_n = int(y.sum()), int((~y).sum())
    planned = _paired_mode(n_pos, n_neg, power, pilot_m, pilot_n)
    solving_size = not isinstance(planned, tuple)
    name, pilot = _PAIRED_NAMES[method], {"pilot_n_pos": pilot_m, "pilot_n_neg": pilot_n}
    if not enough_units(y, None):
        warn_undefined("the paired power", "the pilot needs at least two positive and two negative cases")
        power, sizes = (planned, (np.nan, np.nan)) if solving_size else (np.nan, planned)
        return _row(power, *sizes, alpha, name, auc_a=np.nan, auc_b=np.nan, **pilot,
                    effect=np.nan if planned_effect is None else planned_effect)
    scores = np.stack([a, b])
    auc = placements(y, scores)[2]
    delta = float(auc[0] - auc[1]) if planned_effect is None else planned_effect
    per_case, fitted = _PILOTS[method](y, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        if solving_size:
            ratio = pilot_n / pilot_m
            n_plan = _n_pos(z_alpha, float(ndtri(planned)), *_null_and_alternative(per_case(ratio)), delta) \
                if delta != 0 else np.nan
            power, sizes = planned, (n_plan, ratio * n_plan)
        else:
            v0, va = _null_and_alternative(per_case(planned[1] / planned[0]))
            power, sizes = float(ndtr(_z_beta(planned[0], z_alpha, v0, va, delta))), planned
    if not (np.isfinite(power) and np.isfinite(sizes[0])):
        warn_undefined("the paired sample size" if solving_size else "the paired power",
                       "the pilot AUCs are equal (δ = 0)" if delta == 0 and solving_size else
                       "the pilot's variances could not be estimated (e.g. too few distinct scores for a "
                       "binormal fit, or a score constant within a class)")
    return _row(power, *sizes, alpha, name, auc_a=auc[0], auc_b=auc[1], **fitted, **pilot,
                effect=abs(delta))


def _planned_effect(effect: Any) -> float:
    try:
        number = float(effect)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 < number < 1.0 or isinstance(effect, bool):
        raise InputError(f"must be an AUC difference strictly between 0 and 1; got {effect!r}.",
                         field="effect",
                         hint="pass the smallest difference worth detecting, e.g. effect=0.05 (its sign "
                              "does not matter), or leave it out to plan for the pilot's own difference.")
    return number


def _paired_mode(n_pos, n_neg, power, pilot_m: int, pilot_n: int) -> float | tuple[float, float]:
    """``power`` (sample-size mode) or ``(n_pos, n_neg)`` (power mode), validated."""
    sizes_given = n_pos is not None or n_neg is not None
    hint = (f"pass power=0.8 for the sample size, or n_pos= and n_neg= for the power "
            f"(the pilot's are n_pos={pilot_m}, n_neg={pilot_n}).")
    if power is not None and sizes_given:
        raise InputError("and n_pos/n_neg were both given; one of them is solved for.", field="power",
                         hint=hint)
    if power is None and not sizes_given:
        raise InputError("nor n_pos/n_neg was given; one of them is needed.", field="power", hint=hint)
    if power is not None:
        return check_unit_interval("power", power, example="power=0.8")
    if n_pos is None or n_neg is None:
        missing = "n_pos" if n_pos is None else "n_neg"
        raise InputError("is missing: a power needs both n_pos and n_neg.", field=missing, hint=hint)
    return _positive("n_pos", n_pos), _positive("n_neg", n_neg)


def _null_and_alternative(cov: tuple[float, float, float]) -> tuple[float, float]:
    var_a, var_b, cov_ab = cov
    return 2 * var_a - 2 * cov_ab, var_a + var_b - 2 * cov_ab


def binormal_fit(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """pROC's binormal smoothing: intercept and slope of Φ⁻¹(sp) on Φ⁻¹(se), least squares."""
    se, sp = curve_points(y, score)
    x, z = ndtri(se[0]), ndtri(sp[0])
    keep = np.isfinite(x) & np.isfinite(z)
    x, z = x[keep], z[keep]
    if x.size < 2 or np.all(x == x[0]):
        return float("nan"), float("nan")
    slope = float(np.sum((x - x.mean()) * (z - z.mean())) / np.sum((x - x.mean()) ** 2))
    return float(z.mean() - slope * x.mean()), slope


def _f_g(a: float, b: float) -> tuple[float, float]:
    """pROC's f.full and g.full: ∂AUC/∂A and ∂AUC/∂B of a binormal curve."""
    e = np.exp(-a**2 / (2 * (1 + b**2)))
    f = e * (2 * np.pi * (1 + b**2)) ** -0.5
    g = -e * a * b * (2 * np.pi * (1 + b**2) ** 3) ** -0.5
    return float(f), float(g)


def _binormal_pilot(y: np.ndarray, scores: np.ndarray):
    (a1, b1), (a2, b2) = (binormal_fit(y, s) for s in scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_pos = float(np.corrcoef(scores[:, y])[0, 1])
        r_neg = float(np.corrcoef(scores[:, ~y])[0, 1])
    (f1, g1), (f2, g2) = _f_g(a1, b1), _f_g(a2, b2)

    def per_case(k: float) -> tuple[float, float, float]:
        var1 = f1**2 * (1 + b1**2 / k + a1**2 / 2) + g1**2 * b1**2 * (1 + k) / (2 * k)
        var2 = f2**2 * (1 + b2**2 / k + a2**2 / 2) + g2**2 * b2**2 * (1 + k) / (2 * k)
        cov = (f1 * f2 * (r_pos + r_neg * b1 * b2 / k + r_pos**2 * a1 * a2 / 2)
               + g1 * g2 * (b1 * b2 * (r_neg**2 + k * r_pos**2) / (2 * k))
               + f1 * g2 * (r_pos**2 * a1 * b2 / 2) + f2 * g1 * (r_pos**2 * a2 * b1 / 2))
        return var1, var2, cov

    return per_case, {"A_a": a1, "B_a": b1, "A_b": a2, "B_b": b2, "r_pos": r_pos, "r_neg": r_neg}


def _delong_pilot(y: np.ndarray, scores: np.ndarray):
    v10, v01, _ = placements(y, scores)
    s10, s01 = np.cov(v10, ddof=1), np.cov(v01, ddof=1)

    def per_case(k: float) -> tuple[float, float, float]:
        cov = s10 + s01 / k
        return float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])

    return per_case, {}


_PILOTS = {"obuchowski": _binormal_pilot, "delong": _delong_pilot}
_PAIRED_NAMES = {
    "obuchowski": "Obuchowski & McClish (1997) binormal variances from the pilot, two-sided z-test of "
                  "AUC_a = AUC_b (pROC power.roc.test, method 'obuchowski')",
    "delong": "DeLong covariance of the pilot, two-sided z-test of AUC_a = AUC_b "
              "(pROC power.roc.test, method 'delong')",
}
