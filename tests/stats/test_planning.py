"""Power and sample size (stats.planning) against pROC's power.roc.test, closed forms and
properties.

Golden fixture ``golden/proc_power.json`` holds pROC's answers for seeded pilots and
planning grids; the live tests (marker ``r``) rerun R on generated ones. Agreement: 1e-9
relative on power and sizes, 1e-9 on the binormal parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rbridge import golden_case, require_r, run_r, write_golden

from studykit import stats
from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats.planning import binormal_fit, obuchowski_variance

R_POWER = r"""
library(pROC)
one <- inputs$one; d <- inputs$d; plan <- inputs$plan
power_one <- mapply(function(auc, m, n, alpha)
  power.roc.test(auc = auc, ncases = m, ncontrols = n, sig.level = alpha)$power,
  one$auc, one$n_pos, one$n_neg, one$alpha)
n_pos_one <- mapply(function(auc, p, k, alpha)
  power.roc.test(auc = auc, power = p, kappa = k, sig.level = alpha)$ncases,
  one$auc, one$power, one$ratio, one$alpha)
mk <- function(s) roc(d$y, s, direction = "<", levels = c(0, 1), quiet = TRUE)
ra <- mk(d$a); rb <- mk(d$b)
paired <- function(m, ...) power.roc.test(ra, rb, method = m, sig.level = plan$alpha, ...)
bn <- function(r) unname(coefficients(smooth(r, method = "binormal")$model))
A <- bn(ra); B <- bn(rb)
pars <- list(A1 = A[1], B1 = A[2], A2 = B[1], B2 = B[2], ra = cor(ra$cases, rb$cases),
             rn = cor(ra$controls, rb$controls), delta = as.numeric(auc(ra) - auc(rb)))
size_obu <- paired("obuchowski", power = plan$power); size_del <- paired("delong", power = plan$power)
result <- list(
  power_one = power_one, n_pos_one = n_pos_one,
  obu_power = paired("obuchowski")$power, obu_n_pos = size_obu$ncases, obu_n_neg = size_obu$ncontrols,
  delong_power = paired("delong")$power, delong_n_pos = size_del$ncases, delong_n_neg = size_del$ncontrols,
  binormal = unname(unlist(pars[1:6])),
  obu_power_planned = power.roc.test(pars, ncases = plan$n_pos, ncontrols = plan$n_neg,
                                     sig.level = plan$alpha)$power)
"""


def studykit_answers(one: pd.DataFrame, d: pd.DataFrame, plan: pd.DataFrame) -> dict[str, object]:
    """The quantities of R_POWER, from studykit."""
    p = plan.iloc[0]
    power_one = [stats.auc_power(r.auc, r.n_pos, r.n_neg, alpha=r.alpha)["power"].item()
                 for r in one.itertuples()]
    n_pos_one = [stats.auc_sample_size(r.auc, r.power, ratio=r.ratio, alpha=r.alpha)["n_pos"].item()
                 for r in one.itertuples()]
    m, n = int(d["y"].sum()), int((1 - d["y"]).sum())
    out: dict[str, object] = {"power_one": power_one, "n_pos_one": n_pos_one}
    for method, key in (("obuchowski", "obu"), ("delong", "delong")):
        at_pilot = stats.auc_power_paired(d["y"], d["a"], d["b"], n_pos=m, n_neg=n, alpha=p.alpha,
                                          method=method)
        size = stats.auc_power_paired(d["y"], d["a"], d["b"], power=p.power, alpha=p.alpha, method=method)
        out.update({f"{key}_power": at_pilot["power"].item(), f"{key}_n_pos": size["n_pos"].item(),
                    f"{key}_n_neg": size["n_neg"].item()})
    planned = stats.auc_power_paired(d["y"], d["a"], d["b"], n_pos=p.n_pos, n_neg=p.n_neg, alpha=p.alpha)
    out["binormal"] = planned[["A_a", "B_a", "A_b", "B_b", "r_pos", "r_neg"]].iloc[0].tolist()
    out["obu_power_planned"] = planned["power"].item()
    return out


def assert_agrees(ours: dict, r: dict, rtol: float = 1e-9) -> None:
    for key, expected in r.items():
        np.testing.assert_allclose(np.asarray(ours[key], float), np.asarray(expected, float),
                                   rtol=rtol, atol=1e-12, err_msg=key)


def seeded_case(seed: int, n_pos: int, n_neg: int, levels: int | None) -> dict[str, pd.DataFrame]:
    """A pilot (correlated scores a, b), a planned study, and a one-AUC planning grid."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    a = rng.normal(size=y.size) * (1 + 0.3 * y) + 1.1 * y
    b = 0.5 * a + rng.normal(size=y.size) * 0.9 + 0.4 * y
    if levels:
        a, b = (np.digitize(v, np.quantile(v, np.linspace(0, 1, levels + 1)[1:-1])) for v in (a, b))
    k = 4
    one = pd.DataFrame({"auc": rng.uniform(0.52, 0.97, k), "n_pos": rng.integers(5, 300, k),
                        "n_neg": rng.integers(5, 300, k), "alpha": rng.choice([0.01, 0.05, 0.1], k),
                        "power": rng.uniform(0.5, 0.95, k), "ratio": rng.choice([0.5, 1.0, 2.5], k)})
    plan = pd.DataFrame({"n_pos": [int(rng.integers(50, 400))], "n_neg": [int(rng.integers(50, 400))],
                         "alpha": [0.05], "power": [float(rng.choice([0.8, 0.9]))]})
    return {"one": one, "d": pd.DataFrame({"y": y, "a": a, "b": b}), "plan": plan}


GOLDEN_CASES = [(11, 40, 60, None), (12, 25, 25, 6), (13, 90, 30, None), (14, 15, 45, 12)]


def regenerate_golden():
    cases = [seeded_case(*args) for args in GOLDEN_CASES]
    return [write_golden(__file__, "proc_power", R_POWER, ("pROC",), cases)]


@pytest.mark.parametrize("index", range(len(GOLDEN_CASES)))
def test_matches_proc_golden(index):
    frames, r = golden_case(__file__, "proc_power", R_POWER, index, seeded_case(*GOLDEN_CASES[index]))
    assert_agrees(studykit_answers(frames["one"], frames["d"], frames["plan"]), r)


@pytest.mark.r
@settings(max_examples=3)
@given(st.integers(0, 10_000), st.integers(12, 60), st.integers(12, 60), st.sampled_from([None, 8]))
def test_matches_proc_live_on_generated_data(seed, n_pos, n_neg, levels):
    require_r("pROC")
    frames = seeded_case(seed, n_pos, n_neg, levels)
    d = frames["d"]
    if stats.roc_auc(d["y"], d["a"])["estimate"].item() == stats.roc_auc(d["y"], d["b"])["estimate"].item():
        return  # δ = 0: pROC's sample size is Inf, ours NaN with a warning (tested below)
    assert_agrees(studykit_answers(*frames.values()), run_r(R_POWER, frames))


# ---------------------------------------------------------------- one AUC: closed forms
def test_variance_at_chance_is_the_null_variance():
    for ratio in (0.5, 1.0, 3.0):
        assert obuchowski_variance(0.5, ratio) == pytest.approx(0.0792 * (1 + 1 / ratio), rel=1e-15)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_power_at_chance_is_half_alpha(alpha):
    """pROC's power is the one-tail approximation Φ(z_β): at AUC = 0.5 it is α/2."""
    for n_pos, n_neg in ((10, 10), (40, 400)):
        assert stats.auc_power(0.5, n_pos, n_neg, alpha=alpha)["power"].item() == pytest.approx(alpha / 2)


def test_power_tends_to_one_with_n():
    powers = [stats.auc_power(0.6, n, 2 * n)["power"].item() for n in (10, 100, 1000, 10**5)]
    assert np.all(np.diff(powers) > 0) and powers[-1] == pytest.approx(1.0, abs=1e-12)


def test_known_values_from_proc():
    """pROC 1.18: ``power.roc.test(auc = 0.8, power = 0.9)$ncases`` = 16.619199202101981 (its
    documented example) and ``power.roc.test(auc = 0.8, ncases = 30, ncontrols = 50)$power``."""
    r = stats.auc_sample_size(0.8, 0.9)
    assert r["n_pos"].item() == pytest.approx(16.619199202101981, rel=1e-12)
    assert r["n_neg"].item() == r["n_pos"].item()
    assert r[["n_pos_ceil", "n_neg_ceil"]].iloc[0].tolist() == [17.0, 17.0]
    assert list(r.columns) == ["power", "n_pos", "n_neg", "n_pos_ceil", "n_neg_ceil", "alpha", "auc",
                               "method"]
    assert stats.auc_power(0.8, 30, 50)["power"].item() == pytest.approx(0.99852839384642156, rel=1e-12)


@given(st.floats(0.55, 0.99), st.floats(0.05, 0.99), st.floats(0.2, 5.0), st.sampled_from([0.01, 0.05, 0.1]))
def test_sample_size_inverts_power(auc, power, ratio, alpha):
    size = stats.auc_sample_size(auc, power, ratio=ratio, alpha=alpha).iloc[0]
    assert size["n_neg"] == pytest.approx(ratio * size["n_pos"], rel=1e-12)
    back = stats.auc_power(auc, size["n_pos"], size["n_neg"], alpha=alpha)["power"].item()
    assert back == pytest.approx(power, rel=1e-9)
    rounded_up = stats.auc_power(auc, size["n_pos_ceil"], size["n_neg_ceil"], alpha=alpha)["power"].item()
    assert rounded_up >= back - 1e-12


@given(st.floats(0.51, 0.99), st.integers(2, 500), st.integers(2, 500))
def test_power_grows_with_auc_and_n(auc, n_pos, n_neg):
    base = stats.auc_power(auc, n_pos, n_neg)["power"].item()
    assert stats.auc_power(auc, n_pos + 5, n_neg + 5)["power"].item() >= base
    assert stats.auc_power(min(auc + 0.005, 0.995), n_pos, n_neg)["power"].item() >= base


# ---------------------------------------------------------------- two paired AUCs
def pilot(seed=3, n_pos=40, n_neg=60):
    d = seeded_case(seed, n_pos, n_neg, None)["d"]
    return d["y"].to_numpy(), d["a"].to_numpy(), d["b"].to_numpy()


@pytest.mark.parametrize("method", ["obuchowski", "delong"])
def test_paired_sample_size_inverts_power(method):
    y, a, b = pilot()
    size = stats.auc_power_paired(y, a, b, power=0.85, method=method).iloc[0]
    assert size["n_neg"] / size["n_pos"] == pytest.approx(60 / 40)
    back = stats.auc_power_paired(y, a, b, n_pos=size["n_pos"], n_neg=size["n_neg"], method=method)
    assert back["power"].item() == pytest.approx(0.85, rel=1e-9)


def test_paired_power_tends_to_one_and_data_frame_way_in():
    y, a, b = pilot()
    big = stats.auc_power_paired(y, a, b, n_pos=1e7, n_neg=1e7)
    assert big["power"].item() == pytest.approx(1.0)
    frame = pd.DataFrame({"truth": y, "m1": a, "m2": b})
    via_data = stats.auc_power_paired("truth", "m1", "m2", data=frame, power=0.8)
    pd.testing.assert_frame_equal(via_data, stats.auc_power_paired(y, a, b, power=0.8))
    assert via_data[["pilot_n_pos", "pilot_n_neg"]].iloc[0].tolist() == [40, 60]


@pytest.mark.parametrize("method", ["obuchowski", "delong"])
def test_paired_planned_effect_scales_the_size_by_the_squared_ratio(method):
    """``effect=`` replaces the pilot's δ only: n_pos = (z_α√V0 + z_β√VA)² / δ² scales by (δ / effect)²."""
    y, a, b = pilot()
    own = stats.auc_power_paired(y, a, b, power=0.8, method=method).iloc[0]
    delta = abs(own["auc_a"] - own["auc_b"])
    assert own["effect"] == pytest.approx(delta, rel=1e-15)
    same = stats.auc_power_paired(y, a, b, power=0.8, method=method, effect=delta).iloc[0]
    assert same["n_pos"] == pytest.approx(own["n_pos"], rel=1e-12)
    planned = stats.auc_power_paired(y, a, b, power=0.8, method=method, effect=0.05).iloc[0]
    assert planned["n_pos"] == pytest.approx(own["n_pos"] * (delta / 0.05) ** 2, rel=1e-12)
    assert planned["effect"] == 0.05
    with pytest.raises(InputError, match="strictly between 0 and 1") as err:
        stats.auc_power_paired(y, a, b, power=0.8, effect=-0.05)
    assert err.value.field == "effect"


def test_delong_method_scales_the_placement_variances():
    """At other sizes the DeLong variance is S10/n_pos + S01/n_neg of the pilot placements."""
    from scipy.stats import norm

    from studykit.stats._placements import placements

    y, a, b = pilot()
    v10, v01, auc = placements(y.astype(bool), np.stack([a, b]))
    s10, s01 = np.cov(v10), np.cov(v01)
    m2, n2 = 120, 480
    cov = s10 / m2 + s01 / n2
    v0, va = 2 * cov[0, 0] - 2 * cov[0, 1], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    expected = norm.cdf((abs(auc[0] - auc[1]) - norm.ppf(0.975) * np.sqrt(v0)) / np.sqrt(va))
    got = stats.auc_power_paired(y, a, b, n_pos=m2, n_neg=n2, method="delong")["power"].item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_binormal_fit_recovers_a_binormal_population():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(4000, bool), np.zeros(4000, bool)]
    s = np.where(y, rng.normal(1.2, 1.0, y.size), rng.normal(0.0, 1.0, y.size))
    intercept, slope = binormal_fit(y, s)
    assert intercept == pytest.approx(1.2, abs=0.08) and slope == pytest.approx(-1.0, abs=0.05)


def test_equal_pilot_aucs_warn_and_give_nan_size():
    y, a, _ = pilot()
    with pytest.warns(UndefinedStatisticWarning, match="pilot AUCs are equal"):
        r = stats.auc_power_paired(y, a, a + 1.0, power=0.8)
    assert np.isnan(r["n_pos"].item()) and np.isnan(r["n_neg_ceil"].item())


def test_tiny_pilot_warns():
    with pytest.warns(UndefinedStatisticWarning, match="at least two positive"):
        r = stats.auc_power_paired([0, 0, 1], [0.1, 0.2, 0.3], [0.3, 0.1, 0.2], n_pos=50, n_neg=50)
    assert np.isnan(r["power"].item()) and r["n_pos"].item() == 50


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(("call", "field", "message"), [
    (lambda: stats.auc_sample_size(0.5, 0.8), "auc", "strictly between 0.5 and 1; got 0.5"),
    (lambda: stats.auc_sample_size(0.45, 0.8), "auc", "strictly between 0.5 and 1"),
    (lambda: stats.auc_power(1.0, 10, 10), "auc", "strictly between 0 and 1; got 1.0"),
    (lambda: stats.auc_power("high", 10, 10), "auc", "strictly between 0 and 1"),
    (lambda: stats.auc_power(0.8, -3, 10), "n_pos", "must be a positive number; got -3"),
    (lambda: stats.auc_power(0.8, 10, None), "n_neg", "must be a positive number"),
    (lambda: stats.auc_power(0.8, 10, 10, alpha=1.0), "alpha", "strictly between 0 and 1"),
    (lambda: stats.auc_sample_size(0.8, 1.2), "power", "strictly between 0 and 1; got 1.2"),
    (lambda: stats.auc_sample_size(0.8, 0.8, ratio=0), "ratio", "must be a positive number; got 0"),
])
def test_one_auc_errors_name_the_field(call, field, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert info.value.field == field and info.value.hint


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"power": 0.8, "n_pos": 50, "n_neg": 50}, "power", "and n_pos/n_neg were both given"),
    ({"power": 0.8, "n_neg": 50}, "power", "and n_pos/n_neg were both given"),
    ({}, "power", "nor n_pos/n_neg was given"),
    ({"n_pos": 50}, "n_neg", "is missing: a power needs both n_pos and n_neg"),
    ({"n_neg": 50}, "n_pos", "is missing"),
    ({"power": 0.8, "method": "delong2"}, "method", "must be one of 'obuchowski', 'delong'"),
    ({"power": 0.8, "alpha": 0}, "alpha", "strictly between 0 and 1"),
])
def test_paired_errors_name_the_field(kwargs, field, message):
    y, a, b = pilot()
    with pytest.raises(InputError, match=message) as info:
        stats.auc_power_paired(y, a, b, **kwargs)
    assert info.value.field == field
    if field == "power":
        assert "the pilot's are n_pos=40, n_neg=60" in info.value.hint
