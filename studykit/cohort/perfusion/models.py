"""Bolus models of a contrast time–intensity curve and their least-squares fits.

Two indicator-dilution forms, both zero before the arrival ``t0`` (s) and written in the
linear intensity (∝ microbubble concentration) of :func:`~studykit.cohort.perfusion.linearize`:

* **gamma variate** (Madsen 1992), ``g(t) = peak · u^α · exp(α(1 − u))``, ``u = (t − t0)/ttp``:
  peak ``peak`` at ``t0 + ttp``; a gamma density of shape ``α + 1`` and scale ``ttp/α``, so its
  mean transit time after ``t0`` is ``(α + 1)·ttp/α``.
* **lognormal** (Strouthos et al. 2010; the bolus model of VueBox),
  ``f(t) = auc / (√(2π)·σ·(t − t0)) · exp(−(ln(t − t0) − μ)² / (2σ²))``: area ``auc``, mode at
  ``t0 + exp(μ − σ²)``, mean transit time after ``t0`` ``exp(μ + σ²/2)``.

:func:`fit_bolus` fits either with :func:`scipy.optimize.least_squares` (trust-region
reflective, bounds), from starts read off the curve itself (its peak, and its arrival as the
last sample below 10 % of the peak before it), best of three arrival starts. Standard errors
are the square roots of the diagonal of ``(JᵀJ)⁻¹·s²`` with ``J`` the Jacobian at the
solution and ``s² = RSS/(n − p)``; R² = 1 − RSS/TSS. A fit whose R² is below ``min_r2``
(default :data:`R2_FLOOR`) is returned with status ``"poor fit"``, one that cannot be made
(too few samples, no enhancement, a solver failure) with status ``"failed"`` — always with
the reason, never dropped.

Derived perfusion parameters of a fitted curve (the VueBox definitions; Dietrich et al. 2012):
PE (peak enhancement), ``peak_time_s`` (s since injection), TTP (``time_to_peak_s``, arrival
to peak), RT (rise time, 5 % → 95 % of PE on the wash-in), mTT (mean transit time after the
arrival), WiR (wash-in rate, the steepest rise, intensity/s), WiAUC (area from the arrival to
the peak), WoR (wash-out rate, the steepest fall after the peak, a negative slope), AUC (the
whole curve's area) and ``washout_30s`` (the fraction of PE lost 30 s after the peak, the
synthetic generator's wash-out).

References
----------
Madsen MT (1992). A simplified formulation of the gamma variate function. Phys Med Biol
37:1597–1600. doi:10.1088/0031-9155/37/7/010
Strouthos C, Lampaskis M, Sboros V, McNeilly A, Averkiou M (2010). Indicator dilution models
for the quantification of microvascular blood flow with bolus administration of ultrasound
contrast agents. IEEE Trans Ultrason Ferroelectr Freq Control 57:1296–1310.
doi:10.1109/TUFFC.2010.1550
Dietrich CF, Averkiou MA, Correas JM, Lassau N, Leen E, Piscaglia F (2012). An EFSUMB
introduction into dynamic contrast-enhanced ultrasound (DCE-US) for quantification of tumour
perfusion. Ultraschall Med 33:344–351. doi:10.1055/s-0032-1313026
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import trapezoid
from scipy.optimize import least_squares

from studykit.errors import InputError

__all__ = ["MODELS", "R2_FLOOR", "BolusFit", "derived_parameters", "fit_bolus", "gamma_variate", "lognormal"]

#: Fits with R² below this are reported as ``"poor fit"``.
R2_FLOOR = 0.8
#: Wash-out fraction horizon after the peak, s (the generator's ``washout``).
WASHOUT_WINDOW_S = 30.0


def gamma_variate(t: np.ndarray, t0: float, ttp: float, peak: float = 1.0, alpha: float = 3.0) -> np.ndarray:
    """Gamma variate ``peak · u^α · exp(α(1 − u))``, ``u = (t − t0)/ttp`` for ``t > t0``, else 0.

    ``t``, ``t0``, ``ttp`` in s; peaks at ``peak`` at ``t0 + ttp`` (Madsen 1992). Same shape as ``t``.
    """
    u = np.clip((np.asarray(t, float) - t0) / ttp, 0.0, None)
    with np.errstate(divide="ignore"):
        return peak * np.where(u > 0, np.exp(alpha * (np.log(np.where(u > 0, u, 1.0)) + 1.0 - u)), 0.0)


def lognormal(t: np.ndarray, t0: float, mu: float, sigma: float, auc: float) -> np.ndarray:
    """Lognormal bolus ``auc/(√(2π)σ(t − t0))·exp(−(ln(t − t0) − μ)²/(2σ²))`` for ``t > t0``, else 0.

    ``t``, ``t0`` in s, ``μ`` in ln(s), ``σ`` dimensionless, ``auc`` in intensity·s
    (Strouthos et al. 2010). Same shape as ``t``.
    """
    s = np.asarray(t, float) - t0
    safe = np.where(s > 0, s, 1.0)
    density = np.exp(-(np.log(safe) - mu) ** 2 / (2.0 * sigma ** 2))
    value = auc * density / (math.sqrt(2.0 * math.pi) * sigma * safe)
    return np.where(s > 0, value, 0.0)


@dataclass(frozen=True)
class _Model:
    function: object
    names: tuple[str, ...]


#: Model name → its function and parameter names (in the function's order).
MODELS = {"gamma": _Model(gamma_variate, ("t0", "ttp", "peak", "alpha")),
          "lognormal": _Model(lognormal, ("t0", "mu", "sigma", "auc"))}


@dataclass(frozen=True)
class BolusFit:
    """One curve's fit: ``status`` is ``"ok"``, ``"poor fit"`` (R² < floor) or ``"failed"``.

    ``params`` and ``se`` map parameter names to values and standard errors (NaN when not
    estimable); ``derived`` holds the perfusion parameters (see the module notes); ``baseline``
    is the intensity subtracted before the fit; ``n`` the number of samples.
    """

    model: str
    status: str
    reason: str = ""
    params: dict[str, float] = field(default_factory=dict)
    se: dict[str, float] = field(default_factory=dict)
    r2: float = math.nan
    derived: dict[str, float] = field(default_factory=dict)
    baseline: float = 0.0
    n: int = 0

    def curve(self, t: np.ndarray) -> np.ndarray:
        """The fitted curve (baseline added back) at times ``t`` (s since injection)."""
        if not self.params:
            raise InputError(f"the {self.model} fit has no parameters ({self.status}: {self.reason}).",
                             field="fit", hint="check fit.status before evaluating the curve.")
        return self.baseline + MODELS[self.model].function(np.asarray(t, float), *self.params.values())


def fit_bolus(time_s, intensity, model: str = "lognormal", *, baseline: float | None = None,
              min_r2: float = R2_FLOOR, first_pass_s: float | None = None) -> BolusFit:
    """Fit a bolus model to a time–intensity curve by bounded least squares.

    Parameters
    ----------
    time_s : array (n,), s since injection.
    intensity : array (n,), linear intensity (∝ concentration); NaNs are dropped.
    model : ``"lognormal"`` or ``"gamma"``.
    baseline : intensity before the contrast arrives, subtracted before the fit; default the
        mean of the samples before injection (``time_s < 0``), 0 when there are none.
    min_r2 : R² below which the fit's status is ``"poor fit"``.
    first_pass_s : fit only the samples up to this many s after the highest sample (the first
        pass, for curves whose late plateau or recirculation no bolus model has); default all.

    Returns
    -------
    BolusFit (see the module notes for the method).
    """
    if model not in MODELS:
        raise InputError(f"model {model!r} is not one of {', '.join(MODELS)}.", field="model",
                         hint="use model='lognormal' or model='gamma'.")
    t, y = np.asarray(time_s, float).ravel(), np.asarray(intensity, float).ravel()
    if t.shape != y.shape:
        raise InputError(f"time_s has {t.size} values but intensity {y.size}.", field="intensity",
                         hint="pass one intensity per frame time.")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    base = float(np.mean(y[t < 0])) if baseline is None and np.any(t < 0) else float(baseline or 0.0)
    y = y - base
    if first_pass_s is not None and t.size:
        keep = t <= t[int(np.argmax(y))] + first_pass_s
        t, y = t[keep], y[keep]
    spec = MODELS[model]
    n, p = t.size, len(spec.names)
    if n <= p:
        return BolusFit(model, "failed", f"too few samples: {n} (a {model} fit needs more than {p})",
                        baseline=base, n=n)
    if not np.max(y) > 0:
        return BolusFit(model, "failed", "no enhancement above the baseline", baseline=base, n=n)
    try:
        solution = _solve(spec, model, t, y)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        return BolusFit(model, "failed", f"the solver failed: {exc}", baseline=base, n=n)
    if solution is None:
        return BolusFit(model, "failed", "the solver did not converge from any start", baseline=base, n=n)
    return _result(spec, model, solution, t, y, base, min_r2)


def _starts(model: str, t: np.ndarray, y: np.ndarray
            ) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Starting points (three arrival guesses) and bounds, from the curve's peak and arrival."""
    span = max(float(t[-1] - t[0]), 1e-3)
    i = int(np.argmax(y))
    t_peak, y_peak = float(t[i]), float(y[i])
    below = np.flatnonzero(y[:i] < 0.1 * y_peak)
    t_arrive = float(t[below[-1]]) if below.size else float(t[0]) - 0.1 * span
    low_t0, high_t0 = float(t[0]) - span, t_peak - 1e-6
    guesses = [t_arrive, t_arrive + 0.5 * (t_peak - t_arrive), t_arrive - 0.25 * (t_peak - t_arrive)]
    starts = []
    for t0 in guesses:
        t0 = float(np.clip(t0, low_t0 + 1e-6, high_t0 - 1e-3 * span))
        rise = max(t_peak - t0, 1e-2 * span)
        if model == "gamma":
            starts.append(np.array([t0, rise, y_peak, 3.0]))
        else:
            sigma = 0.6
            mu = math.log(rise) + sigma ** 2
            auc = y_peak * math.sqrt(2 * math.pi) * sigma * rise * math.exp(sigma ** 2 / 2)
            starts.append(np.array([t0, mu, sigma, auc]))
    if model == "gamma":
        bounds = (np.array([low_t0, 1e-3 * span, 0.0, 0.3]),
                  np.array([high_t0, 4.0 * span, 20.0 * y_peak, 40.0]))
    else:
        bounds = (np.array([low_t0, math.log(1e-3 * span), 0.03, 0.0]),
                  np.array([high_t0, math.log(20.0 * span), 4.0, np.inf]))
    return starts, bounds


def _solve(spec: _Model, model: str, t: np.ndarray, y: np.ndarray):
    """Best converged ``least_squares`` solution over the starts, or None."""
    starts, bounds = _starts(model, t, y)

    def residuals(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return np.nan_to_num(spec.function(t, *x) - y, nan=1e6, posinf=1e6, neginf=-1e6)

    best = None
    for x0 in starts:
        x0 = np.clip(x0, bounds[0], bounds[1])
        result = least_squares(residuals, x0, bounds=bounds, method="trf", x_scale="jac", max_nfev=2000)
        if result.status > 0 and (best is None or result.cost < best.cost):
            best = result
    return best


def _result(spec: _Model, model: str, solution, t: np.ndarray, y: np.ndarray, base: float,
            min_r2: float) -> BolusFit:
    x, n, p = solution.x, t.size, len(spec.names)
    rss = float(np.sum(solution.fun ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else math.nan
    se = _standard_errors(solution.jac, rss, n, p)
    params = {name: float(v) for name, v in zip(spec.names, x)}
    derived = derived_parameters(model, params)
    status, reason = "ok", ""
    if not r2 >= min_r2:
        status, reason = "poor fit", f"R² = {r2:.3f} is below the floor {min_r2:g}"
    return BolusFit(model, status, reason, params, dict(zip(spec.names, se)), r2, derived, base, n)


def _standard_errors(jac: np.ndarray, rss: float, n: int, p: int) -> list[float]:
    """√diag((JᵀJ)⁻¹·s²), s² = RSS/(n − p); NaN where JᵀJ is singular."""
    jtj = jac.T @ jac
    if np.linalg.matrix_rank(jtj) < p:
        return [math.nan] * p
    cov = np.linalg.inv(jtj) * (rss / (n - p))
    return [float(math.sqrt(v)) if v >= 0 else math.nan for v in np.diag(cov)]


def derived_parameters(model: str, params: dict[str, float]) -> dict[str, float]:
    """PE, peak time, TTP, RT, mTT, WiR, WiAUC, WoR, AUC and the 30-s wash-out of a fitted curve.

    Peak, mTT and AUC in closed form; RT, WiR, WiAUC and WoR on a grid of 4001 points over the
    wash-in (and over the 60 s after the peak for WoR and the wash-out).
    """
    f = MODELS[model].function
    values = list(params.values())
    t0 = params["t0"]
    if model == "gamma":
        ttp, peak, alpha = params["ttp"], params["peak"], params["alpha"]
        mode, pe = ttp, peak
        mtt = (alpha + 1.0) / alpha * ttp
        auc = peak * math.exp(alpha) * ttp * math.gamma(alpha + 1.0) / alpha ** (alpha + 1.0)
    else:
        mu, sigma = params["mu"], params["sigma"]
        mode = math.exp(mu - sigma ** 2)
        mtt, auc = math.exp(mu + sigma ** 2 / 2.0), params["auc"]
        pe = float(f(np.array([t0 + mode]), *values)[0])
    rise = np.linspace(t0, t0 + mode, 4001)
    curve = f(rise, *values)
    slope = np.gradient(curve, rise)
    # the wash-in rises monotonically, so the level crossings interpolate
    crossed = [float(np.interp(level * pe, curve, rise)) for level in (0.05, 0.95)]
    fall = np.linspace(t0 + mode, t0 + mode + 60.0, 4001)
    late = float(f(np.array([t0 + mode + WASHOUT_WINDOW_S]), *values)[0])
    return {"pe": pe, "peak_time_s": t0 + mode, "time_to_peak_s": mode,
            "rise_time_s": crossed[1] - crossed[0],
            "mtt_s": mtt, "wir": float(slope.max()), "wiauc": float(trapezoid(curve, rise)),
            "wor": float(np.gradient(f(fall, *values), fall).min()), "auc": auc,
            "washout_30s": 1.0 - late / pe if pe > 0 else math.nan, "arrival_s": t0}
