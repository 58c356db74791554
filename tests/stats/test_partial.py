"""Partial AUC, sensitivity at a fixed specificity (and the reverse) and the paired bootstrap
test (stats.partial) against pROC, a line-by-line port of pROC's algorithms, and properties.

Golden fixture ``golden/proc_partial.json`` holds pROC's answers for seeded data; the live
tests (marker ``r``) rerun R on generated data. Point estimates agree to 1e-10 relative.
Bootstrap results (CIs, the test's D and p) agree only to Monte-Carlo error, R's draws not
being numpy's: a CI bound within a quarter of the CI's width (+0.02), D within 15% (+0.15).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rbridge import golden_case, require_r, run_r, write_golden

from studykit import stats
from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats._bootstrap import _resampling_weights
from studykit.stats._curve import curve_points, partial_area, value_at
from studykit.stats._placements import placements
from studykit.stats.partial import AucRange

R_PARTIAL = r"""
library(pROC)
d <- inputs$d; reg <- inputs$regions; at <- inputs$at; o <- inputs$opts
mk <- function(s, i = NULL) {
  if (is.null(i)) return(roc(d$y, s, direction = "<", levels = c(0, 1), quiet = TRUE))
  roc(d$y, s, direction = "<", levels = c(0, 1), quiet = TRUE, partial.auc = c(reg$high[i], reg$low[i]),
      partial.auc.focus = reg$focus[i], partial.auc.correct = as.logical(reg$correct[i]))
}
ra <- mk(d$a); rb <- mk(d$b)
pauc <- function(s) sapply(seq_len(nrow(reg)), function(i) suppressWarnings(as.numeric(mk(s, i)$auc)))
set.seed(o$seed); i <- o$ci_region + 1
ci_p <- as.numeric(ci.auc(mk(d$a, i), method = "bootstrap", boot.n = o$boot_n, conf.level = 0.9))
ci_se <- ci.se(ra, specificities = at$specificity, boot.n = o$boot_n)
ci_sp <- ci.sp(ra, sensitivities = at$sensitivity, boot.n = o$boot_n)
t_full <- roc.test(ra, rb, method = "bootstrap", boot.n = o$boot_n)
t_part <- roc.test(mk(d$a, i), mk(d$b, i), method = "bootstrap", boot.n = o$boot_n)
result <- list(
  pauc_a = pauc(d$a), pauc_b = pauc(d$b),
  se_at = coords(ra, at$specificity, input = "specificity", ret = "sensitivity",
                 transpose = FALSE)$sensitivity,
  sp_at = coords(ra, at$sensitivity, input = "sensitivity", ret = "specificity",
                 transpose = FALSE)$specificity,
  ci_p = ci_p[c(1, 3)], ci_se_low = unname(ci_se[, 1]), ci_se_high = unname(ci_se[, 3]),
  ci_sp_low = unname(ci_sp[, 1]), ci_sp_high = unname(ci_sp[, 3]),
  D_full = unname(t_full$statistic), D_part = unname(t_part$statistic))
"""

EXACT = ("pauc_a", "pauc_b", "se_at", "sp_at")


def _quiet(call, *args, **kwargs):
    """Run ``call`` where pROC answers NA or a degenerate value and studykit warns with NaN: a
    corrected pAUC below the diagonal (pROC NA), or two curves alike in every replicate
    (pROC D = 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedStatisticWarning)
        return call(*args, **kwargs)


def studykit_answers(frames: dict[str, pd.DataFrame], n_boot: int = 2000) -> dict[str, object]:
    d, reg, at = frames["d"], frames["regions"], frames["at"]
    regions = [{r.focus: (r.low, r.high), "correct": bool(r.correct)} for r in reg.itertuples()]
    pauc = {key: [_quiet(stats.partial_auc, d["y"], d[col], n_boot=2, **region)["estimate"].item()
                  for region in regions] for key, col in (("pauc_a", "a"), ("pauc_b", "b"))}
    chosen = regions[int(frames["opts"]["ci_region"].item())]
    ci_p = _quiet(stats.partial_auc, d["y"], d["a"], confidence=0.9, n_boot=n_boot, **chosen)
    se_at = stats.sensitivity_at_specificity(d["y"], d["a"], specificity=at["specificity"], n_boot=n_boot)
    sp_at = stats.specificity_at_sensitivity(d["y"], d["a"], sensitivity=at["sensitivity"], n_boot=n_boot)
    full = _quiet(stats.bootstrap_test, d["y"], d["a"], d["b"], n_boot=n_boot)
    part = _quiet(stats.bootstrap_test, d["y"], d["a"], d["b"], n_boot=n_boot, **chosen)
    return {**pauc, "se_at": se_at["estimate"].tolist(), "sp_at": sp_at["estimate"].tolist(),
            "ci_p": ci_p[["ci_low", "ci_high"]].iloc[0].tolist(),
            "ci_se_low": se_at["ci_low"].tolist(), "ci_se_high": se_at["ci_high"].tolist(),
            "ci_sp_low": sp_at["ci_low"].tolist(), "ci_sp_high": sp_at["ci_high"].tolist(),
            "D_full": full["statistic"].item(), "D_part": part["statistic"].item()}


def assert_agrees(ours: dict, r: dict) -> None:
    for key in EXACT:
        np.testing.assert_allclose(np.asarray(ours[key], float), np.asarray(r[key], float),
                                   rtol=1e-10, atol=1e-13, err_msg=key)
    for low, high in (("ci_se_low", "ci_se_high"), ("ci_sp_low", "ci_sp_high")):
        width = np.asarray(r[high]) - np.asarray(r[low])
        for key in (low, high):
            gap = np.abs(np.asarray(ours[key]) - np.asarray(r[key]))
            assert np.all(gap <= 0.25 * width + 0.02), (key, ours[key], r[key])
    gap, width = np.abs(np.subtract(ours["ci_p"], r["ci_p"])), r["ci_p"][1] - r["ci_p"][0]
    assert np.all(gap <= 0.25 * width + 0.02), (ours["ci_p"], r["ci_p"])
    for key in ("D_full", "D_part"):
        if r[key] == 0 and np.isnan(ours[key]):  # identical in every replicate: pROC D = 0, we warn
            continue
        if np.isfinite(r[key]):
            assert abs(ours[key] - r[key]) <= 0.15 * abs(r[key]) + 0.15, (key, ours[key], r[key])


def seeded_case(seed: int, n_pos: int, n_neg: int, levels: int | None,
                boot_n: int = 2000) -> dict[str, pd.DataFrame]:
    """Correlated scores a, b; regions whose limits fall on and between curve points."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    a = rng.normal(size=y.size) + 1.2 * y
    b = 0.6 * a + rng.normal(size=y.size) * 0.8 + 0.2 * y
    if levels:
        a, b = (np.digitize(v, np.quantile(v, np.linspace(0, 1, levels + 1)[1:-1])) for v in (a, b))
    on_sp, on_se = 1 - 3 / n_neg, 1 - 2 / n_pos  # curve points at these, exactly
    regions = pd.DataFrame([("specificity", 0.8, 1.0, 0), ("specificity", 0.9, 1.0, 1),
                            ("sensitivity", 0.9, 1.0, 0), ("sensitivity", 0.8, 0.95, 1),
                            ("specificity", 0.5, on_sp, 0), ("specificity", 0.0, 1.0, 0),
                            ("sensitivity", 0.0, on_se, 1), ("specificity", 0.62, 0.63, 0)],
                           columns=["focus", "low", "high", "correct"])
    at = pd.DataFrame({"specificity": [0.8, 0.9, on_sp, 0.0], "sensitivity": [0.8, 0.95, on_se, 1.0]})
    opts = pd.DataFrame({"seed": [seed], "boot_n": [boot_n], "ci_region": [1]})
    return {"d": pd.DataFrame({"y": y, "a": a, "b": b}), "regions": regions, "at": at, "opts": opts}


GOLDEN_CASES = [(21, 30, 40, None), (22, 45, 20, 6), (23, 20, 60, None), (24, 50, 50, 4)]


def regenerate_golden():
    cases = [seeded_case(*args) for args in GOLDEN_CASES]
    return [write_golden(__file__, "proc_partial", R_PARTIAL, ("pROC",), cases)]


@pytest.mark.parametrize("index", range(len(GOLDEN_CASES)))
def test_matches_proc_golden(index):
    frames, r = golden_case(__file__, "proc_partial", R_PARTIAL, index, seeded_case(*GOLDEN_CASES[index]))
    assert_agrees(studykit_answers(frames), r)


@pytest.mark.r
@settings(max_examples=2)
@given(st.integers(0, 10_000), st.integers(20, 60), st.integers(20, 60), st.sampled_from([None, 5]))
def test_matches_proc_live_on_generated_data(seed, n_pos, n_neg, levels):
    require_r("pROC")
    frames = seeded_case(seed, n_pos, n_neg, levels, boot_n=500)
    assert_agrees(studykit_answers(frames), run_r(R_PARTIAL, frames))


# ---------------------------------------------------------------- a port of pROC's own loops
def proc_curve(y, s):
    """pROC's ``roc``: thresholds -inf, midpoints, +inf; se = tp/m, sp = (n − fp)/n."""
    values = np.unique(s)
    thresholds = np.r_[-np.inf, (values[1:] + values[:-1]) / 2, np.inf]
    m, n = y.sum(), (~y).sum()
    se = np.array([np.sum(s[y] > t) for t in thresholds]) / m
    sp = np.array([n - np.sum(s[~y] > t) for t in thresholds]) / n
    return se, sp


def proc_partial_auc(se, sp, focus, low, high):
    """pROC 1.18 ``auc.roc`` with ``partial.auc = c(high, low)``, branch for branch."""
    x, y = (sp, se) if focus == "specificity" else (se[::-1], sp[::-1])
    inc = (x <= high) & (x >= low)
    xi, yi = x[inc], y[inc]
    auc = np.sum((yi[1:] + yi[:-1]) / 2 * (xi[1:] - xi[:-1]))
    if xi.size == 0:
        hi = int(np.argmax(~(x < high)))
        lo = hi - 1
        y_hi = y[hi] + (x[hi] - high) / (x[hi] - x[lo]) * (y[lo] - y[hi])
        y_lo = y[lo] - (low - x[lo]) / (x[hi] - x[lo]) * (y[lo] - y[hi])
        return (y_hi + y_lo) / 2 * (high - low)
    if high not in xi:
        out = int(np.argmax(~(x < high)))
        y_int = y[out] + (high - x[out]) / (x[out - 1] - x[out]) * (y[out - 1] - y[out])
        auc += (high - x[out - 1]) * (y[out - 1] + y_int) / 2
    if low not in xi:
        out = int(np.argmax(x > low)) - 1
        y_int = y[out + 1] + (x[out + 1] - low) / (x[out + 1] - x[out]) * (y[out] - y[out + 1])
        auc += (x[out + 1] - low) * (y[out + 1] + y_int) / 2
    return auc


def proc_coords(se, sp, given_name, t):
    """pROC 1.18 ``coords(roc, t, input = given_name)``, branch for branch."""
    inp, out, decreasing = (sp, se, False) if given_name == "specificity" else (se, sp, True)
    idx = np.flatnonzero(inp == t)
    if idx.size:
        return out[idx[-1] if decreasing else idx[0]]
    nxt = int(np.argmax(inp < t)) if decreasing else int(np.argmax(inp > t))
    return out[nxt] + (t - inp[nxt]) / (inp[nxt - 1] - inp[nxt]) * (out[nxt - 1] - out[nxt])


@st.composite
def tied_data(draw, min_class=1):
    n = draw(st.integers(4, 40))
    n_pos = draw(st.integers(min_class, n - min_class))
    y = np.zeros(n, bool)
    y[:n_pos] = True
    k = draw(st.sampled_from([2, 3, 6, 1000]))
    s = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), float)
    return y, s


@st.composite
def limit(draw, se, sp, focus):
    """A range limit: on a curve point's coordinate half of the time, else anywhere."""
    points = sp if focus == "specificity" else se
    return draw(st.one_of(st.sampled_from(sorted(set(points.tolist()))), st.floats(0, 1)))


@given(tied_data(), st.sampled_from(["specificity", "sensitivity"]), st.data())
def test_kernels_match_a_port_of_proc(data, focus, draw):
    y, s = data
    se, sp = proc_curve(y, s)
    ours_se, ours_sp = curve_points(y, s)
    np.testing.assert_array_equal(ours_se[0], se)
    np.testing.assert_array_equal(ours_sp[0], sp)
    low, high = sorted([draw.draw(limit(se, sp, focus)), draw.draw(limit(se, sp, focus))])
    if low < high:
        region = AucRange(focus, low, high, correct=False)
        assert region.raw(ours_se, ours_sp)[0] == pytest.approx(proc_partial_auc(se, sp, focus, low, high),
                                                                rel=1e-12, abs=1e-15)
    t = draw.draw(limit(se, sp, focus))
    x, v = (ours_sp, ours_se) if focus == "specificity" else (ours_se, ours_sp)
    assert value_at(x, v, t)[0] == pytest.approx(proc_coords(se, sp, focus, t), rel=1e-12, abs=1e-15)


@given(tied_data(), st.integers(0, 2**31))
def test_a_weighted_curve_answers_as_the_resampled_data(data, seed):
    """Bootstrap weights give the resampled data's own areas and values (repeated points)."""
    y, s = data
    weights = _resampling_weights(np.random.default_rng(seed), 3, y, None)
    se_w, sp_w = curve_points(y, s, weights)
    for row in range(3):
        y_r, s_r = np.repeat(y, weights[row]), np.repeat(s, weights[row])
        se_r, sp_r = curve_points(y_r, s_r)
        for low, high in ((0.8, 1.0), (0.3, 0.65)):
            assert partial_area(sp_w[row:row + 1], se_w[row:row + 1], low, high)[0] == pytest.approx(
                partial_area(sp_r, se_r, low, high)[0], rel=1e-12, abs=1e-15)
        assert value_at(sp_w[row:row + 1], se_w[row:row + 1], 0.9)[0] == pytest.approx(
            value_at(sp_r, se_r, 0.9)[0], rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------- properties
@given(tied_data(min_class=2))
def test_full_range_is_the_auc(data):
    y, s = data
    auc = placements(y, s[None, :])[2][0]
    for focus in ("specificity", "sensitivity"):
        got = stats.partial_auc(y, s, n_boot=2, **{focus: (0, 1)})
        assert got["estimate"].item() == pytest.approx(auc, abs=1e-12)


@given(st.floats(0, 0.99), st.floats(0.01, 1), st.sampled_from(["specificity", "sensitivity"]))
def test_mcclish_maps_chance_to_half_and_perfect_to_one(a, b, focus):
    if abs(a - b) < 1e-3:
        return
    y = np.r_[np.ones(7, bool), np.zeros(9, bool)]
    region = {focus: (a, b), "correct": True, "n_boot": 2}
    chance = stats.partial_auc(y, np.zeros(16), **region)["estimate"].item()  # the diagonal itself
    perfect = stats.partial_auc(y, y.astype(float), **region)["estimate"].item()
    assert chance == pytest.approx(0.5, abs=1e-9) and perfect == pytest.approx(1.0, abs=1e-12)


def test_full_range_bootstrap_is_roc_aucs_percentile_bootstrap():
    """Same draws as roc_auc's bootstrap for the same seed: identical percentile CI."""
    d = seeded_case(5, 30, 40, None)["d"]
    ours = stats.partial_auc(d["y"], d["a"], specificity=(0, 1), n_boot=500, seed=7)
    ref = stats.roc_auc(d["y"], d["a"], method="bootstrap", interval="percentile", n_boot=500, seed=7)
    for col in ("estimate", "ci_low", "ci_high", "se"):
        assert ours[col].item() == pytest.approx(ref[col].item(), rel=1e-12), col


def test_results_are_reproducible_and_singleton_clusters_change_nothing():
    d = seeded_case(6, 25, 30, 5)["d"]
    one = stats.sensitivity_at_specificity(d["y"], d["a"], specificity=[0.8, 0.9], n_boot=300, seed=3)
    again = stats.sensitivity_at_specificity(d["y"], d["a"], specificity=[0.8, 0.9], n_boot=300, seed=3)
    pd.testing.assert_frame_equal(one, again)
    clustered = stats.sensitivity_at_specificity(d["y"], d["a"], specificity=[0.8, 0.9], n_boot=300, seed=3,
                                                 cluster=np.arange(len(d)))
    shown = ["estimate", "ci_low", "ci_high"]
    np.testing.assert_array_equal(clustered[shown], one[shown])
    assert list(one.columns[:10]) == ["estimate", "ci_low", "ci_high", "p", "se", "method", "n", "ci_level",
                                      "n_pos", "n_neg"]
    assert one["specificity"].tolist() == [0.8, 0.9] and set(one["metric"]) == {"sensitivity"}


def test_patients_resampled_whole_with_clusters():
    d = seeded_case(7, 20, 20, None)["d"]
    patient = np.repeat(np.arange(20), 2)  # two images per patient, one class per patient
    y = np.repeat(d["y"].to_numpy()[::2], 2)
    r = stats.partial_auc(y, d["a"], specificity=(0.8, 1), cluster=patient, n_boot=200)
    assert r["n_clusters"].item() == 20 and r["method"].item().startswith("stratified cluster bootstrap")


def test_edges_of_the_curve():
    d = seeded_case(8, 30, 30, None)["d"]
    at_zero = stats.sensitivity_at_specificity(d["y"], d["a"], specificity=0, n_boot=50)
    assert at_zero["estimate"].item() == 1.0
    spec = stats.specificity_at_sensitivity(d["y"], d["a"], sensitivity=[0.0, 1.0], n_boot=50)
    top = np.sum(d["a"][d["y"] == 0] < d["a"][d["y"] == 1].min()) / 30  # specificity at se = 1
    assert spec["estimate"].tolist() == [1.0, pytest.approx(top)]


def test_bootstrap_test_is_antisymmetric_and_matches_delong_roughly():
    d = seeded_case(9, 60, 60, None)["d"]
    ab = stats.bootstrap_test(d["y"], d["a"], d["b"], n_boot=1000).iloc[0]
    ba = stats.bootstrap_test(d["y"], d["b"], d["a"], n_boot=1000).iloc[0]
    assert ab["estimate"] == -ba["estimate"] and ab["statistic"] == pytest.approx(-ba["statistic"])
    assert ab["p"] == pytest.approx(ba["p"])
    delong = stats.delong_test(d["y"], d["a"], d["b"]).iloc[0]
    assert ab["estimate"] == pytest.approx(delong["estimate"], abs=1e-12)
    assert ab["se"] == pytest.approx(delong["se"], rel=0.15)
    greater = stats.bootstrap_test(d["y"], d["a"], d["b"], n_boot=1000, alternative="greater")["p"].item()
    assert greater == pytest.approx(ab["p"] / 2 if ab["statistic"] > 0 else 1 - ab["p"] / 2)


def test_undefined_cases_warn_and_give_nan():
    with pytest.warns(UndefinedStatisticWarning, match="one class only"):
        r = stats.partial_auc([1, 1, 1], [0.1, 0.2, 0.3], specificity=(0.8, 1))
    assert np.isnan(r["estimate"].item())
    y = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    with pytest.warns(UndefinedStatisticWarning, match="below the chance diagonal"):
        r = stats.partial_auc(y, -y.astype(float), specificity=(0.8, 1), correct=True, n_boot=50)
    assert np.isnan(r["estimate"].item()) and np.isfinite(r["ci_low"].item())
    with pytest.warns(UndefinedStatisticWarning, match="same AUC in every replicate"):
        r = stats.bootstrap_test(y, np.arange(20.0), np.arange(20.0) * 2, n_boot=50)
    assert np.isnan(r["p"].item()) and r["estimate"].item() == 0


# ---------------------------------------------------------------- errors
Y, S = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({}, "specificity", "no range of the curve was given"),
    ({"specificity": (0.8, 1), "sensitivity": (0.9, 1)}, "sensitivity", "both give a range"),
    ({"specificity": (0.8,)}, "specificity", r"a pair of two different specificity values in \[0, 1\]"),
    ({"specificity": (0.8, 0.8)}, "specificity", "pair of two different"),
    ({"sensitivity": (0.5, 1.2)}, "sensitivity", r"values in \[0, 1\]; got \(0.5, 1.2\)"),
    ({"specificity": "0.8-1"}, "specificity", "pair of two different"),
    ({"specificity": 0.8}, "specificity", "pair of two different"),
    ({"specificity": (0.8, float("nan"))}, "specificity", "pair of two different"),
    ({"specificity": (0.8, 1), "correct": "yes"}, "correct", "must be True or False"),
    ({"specificity": (0.8, 1), "n_boot": 1}, "n_boot", "integer ≥ 2"),
    ({"specificity": (0.8, 1), "confidence": 95}, "confidence", "strictly between 0 and 1"),
])
def test_partial_auc_errors_name_the_field(kwargs, field, message):
    with pytest.raises(InputError, match=message) as info:
        stats.partial_auc(Y, S, **kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(("call", "field", "message"), [
    (lambda: stats.sensitivity_at_specificity(Y, S, specificity=1.5), "specificity",
     r"a number in \[0, 1\] or a list of them; got 1.5"),
    (lambda: stats.specificity_at_sensitivity(Y, S, sensitivity=[]), "sensitivity", "a number in"),
    (lambda: stats.specificity_at_sensitivity(Y, S, sensitivity="high"), "sensitivity", "a number in"),
    (lambda: stats.bootstrap_test(Y, S, S, correct=True), "specificity", "no range of the curve"),
    (lambda: stats.bootstrap_test(Y, S, S, alternative="bigger"), "alternative", "must be one of"),
    (lambda: stats.bootstrap_test(Y, S, S[:3]), "y_true", "same length"),
])
def test_fixed_point_and_test_errors_name_the_field(call, field, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert info.value.field == field and info.value.hint
