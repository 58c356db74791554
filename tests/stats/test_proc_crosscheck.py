"""Cross-check against R's pROC: AUC, DeLong variance and CI, roc.test paired/unpaired,
the Youden threshold and the ROC coordinates.

Live tests (marker ``r``) run R on hypothesis-generated data and on pROC's own ``aSAH``
data (read inside R; we do not ship it). Golden fixtures (``golden/proc_*.json``) hold R's
answers for seeded data sets we generated, so the comparison also runs where R is absent.
Agreement: 1e-9 relative on estimates, 1e-6 on p-values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rbridge import frames_of, load_golden, require_r, run_r, write_golden

from studykit import stats

R_PROC = r"""
library(pROC)
d <- inputs$d; u <- inputs$u
mk <- function(y, s) roc(y, s, direction = "<", levels = c(0, 1), quiet = TRUE)
ra <- mk(d$y, d$a); rb <- mk(d$y, d$b); ru <- mk(u$y, u$c)
ci_a <- as.numeric(ci.auc(ra, method = "delong", conf.level = 0.9))
tp <- roc.test(ra, rb, method = "delong", paired = TRUE)
tu <- roc.test(ra, ru, method = "delong", paired = FALSE)
best <- coords(ra, "best", best.method = "youden", ret = "threshold", transpose = FALSE)
co <- coords(ra, "all", ret = c("threshold", "sensitivity", "specificity"), transpose = FALSE)
result <- list(
  auc_a = as.numeric(auc(ra)), auc_b = as.numeric(auc(rb)), var_a = var(ra),
  ci_a_low = ci_a[1], ci_a_high = ci_a[3],
  z = unname(tp$statistic), p_paired = tp$p.value,
  diff_low = tp$conf.int[1], diff_high = tp$conf.int[2],
  D = unname(tu$statistic), df = unname(tu$parameter), p_unpaired = tu$p.value,
  youden = max(best$threshold),
  thresholds = co$threshold, sensitivity = co$sensitivity, specificity = co$specificity)
"""


def studykit_answers(d: pd.DataFrame, u: pd.DataFrame) -> dict[str, object]:
    """The same quantities as R_PROC, from studykit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auc90 = stats.roc_auc(d["y"], d["a"], confidence=0.9).iloc[0].copy()
    if auc90["se"] == 0:  # zero variance: we warn and leave the CI NaN; pROC reports [AUC, AUC]
        assert len(caught) == 1 and np.isnan(auc90["ci_low"])
        auc90["ci_low"] = auc90["ci_high"] = auc90["estimate"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paired = stats.delong_test(d["y"], d["a"], d["b"]).iloc[0].copy()
    if paired["se"] == 0:  # undefined 0/0: we warn and give NaN; pROC reports z = 0, p = 1
        assert len(caught) == 1 and np.isnan(paired["p"])
        paired["statistic"], paired["p"] = 0.0, 1.0
        paired["ci_low"] = paired["ci_high"] = paired["estimate"]
    unpaired = stats.delong_test_unpaired(d["y"], d["a"], u["y"], u["c"]).iloc[0]
    curve = stats.roc_curve(d["y"], d["a"]).iloc[::-1]  # pROC lists increasing thresholds
    return {
        "auc_a": auc90["estimate"], "auc_b": paired["auc_b"], "var_a": auc90["se"] ** 2,
        "ci_a_low": auc90["ci_low"], "ci_a_high": auc90["ci_high"],
        "z": paired["statistic"], "p_paired": paired["p"],
        "diff_low": paired["ci_low"], "diff_high": paired["ci_high"],
        "D": unpaired["statistic"], "df": unpaired["df"], "p_unpaired": unpaired["p"],
        "youden": stats.youden_threshold(d["y"], d["a"]),
        "thresholds": curve["threshold"].tolist(), "sensitivity": curve["sensitivity"].tolist(),
        "specificity": curve["specificity"].tolist(),
    }


def assert_agrees(ours: dict, r: dict) -> None:
    for key, expected in r.items():
        got = ours[key]
        tol = 1e-6 if key.startswith("p_") else 1e-9
        np.testing.assert_allclose(np.asarray(got, float), np.asarray(expected, float),
                                   rtol=tol, atol=1e-12, err_msg=key)


def seeded_case(seed: int, n_pos: int, n_neg: int, levels: int | None) -> dict[str, pd.DataFrame]:
    """A data set we generate: correlated scores a, b; independent sample u (score c)."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    a = rng.normal(size=y.size) + 1.0 * y
    b = 0.6 * a + rng.normal(size=y.size) * 0.8 + 0.3 * y
    yu = rng.permutation(np.r_[np.ones(n_neg, int), np.zeros(n_pos + 3, int)])
    c = rng.normal(size=yu.size) + 0.7 * yu
    if levels:  # heavy ties: ordinal ratings
        a, b, c = (np.digitize(v, np.quantile(v, np.linspace(0, 1, levels + 1)[1:-1])) for v in (a, b, c))
    return {"d": pd.DataFrame({"y": y, "a": a, "b": b}), "u": pd.DataFrame({"y": yu, "c": c})}


GOLDEN_CASES = [(1, 30, 40, None), (2, 12, 70, 5), (3, 55, 9, 3), (4, 200, 180, None), (5, 6, 5, 2)]


def regenerate_golden():
    cases = [seeded_case(*args) for args in GOLDEN_CASES]
    return [write_golden(__file__, "proc_delong", R_PROC, ("pROC",), cases)]


@pytest.mark.parametrize("index", range(len(GOLDEN_CASES)))
def test_matches_proc_golden(index):
    golden = load_golden(__file__, "proc_delong")
    case = golden["cases"][index]
    frames = frames_of(case["inputs"])
    assert golden["r_code"] == R_PROC, "R code changed: run python tests/regen_golden.py test_proc_crosscheck"
    for name, frame in seeded_case(*GOLDEN_CASES[index]).items():
        pd.testing.assert_frame_equal(frames[name], frame, check_dtype=False)
    assert_agrees(studykit_answers(frames["d"], frames["u"]), case["result"])


@st.composite
def r_case(draw):
    n_pos, n_neg = draw(st.integers(3, 40)), draw(st.integers(3, 40))
    levels = draw(st.sampled_from([None, 2, 4, 10]))
    return seeded_case(draw(st.integers(0, 10_000)), n_pos, n_neg, levels)


@pytest.mark.r
@settings(max_examples=8)
@given(r_case())
def test_matches_proc_live_on_generated_data(frames):
    require_r("pROC")
    assert_agrees(studykit_answers(frames["d"], frames["u"]), run_r(R_PROC, frames))


@pytest.mark.r
def test_matches_proc_live_on_asah():
    """pROC's own example data (Turck et al. 2010), read inside R; paired tests of the
    three markers as in pROC's test suite (wfns vs s100b: Z = 2.20898359144091)."""
    require_r("pROC")
    r = run_r(r"""
library(pROC); data(aSAH)
y <- as.integer(aSAH$outcome == "Poor")
w <- as.numeric(aSAH$wfns); s <- aSAH$s100b; k <- aSAH$ndka
mk <- function(x) roc(y, x, direction = "<", levels = c(0, 1), quiet = TRUE)
t1 <- roc.test(mk(w), mk(s)); t2 <- roc.test(mk(w), mk(k)); t3 <- roc.test(mk(k), mk(s))
ci <- ci.auc(mk(s), method = "delong")
tu <- roc.test(mk(s), roc(y[1:60], k[1:60], direction = "<", levels = c(0, 1), quiet = TRUE),
               paired = FALSE, method = "delong")
result <- list(y = y, w = w, s = s, k = k, z = c(t1$statistic, t2$statistic, t3$statistic),
               p = c(t1$p.value, t2$p.value, t3$p.value), auc_s = as.numeric(auc(mk(s))),
               ci_s = as.numeric(ci)[c(1, 3)], var_s = var(mk(s)),
               D = unname(tu$statistic), df = unname(tu$parameter), p_u = tu$p.value)
""")
    y, w, s, k = (np.asarray(r[key], float) for key in ("y", "w", "s", "k"))
    scores = {"wfns": w, "s100b": s, "ndka": k}
    pairs = [("wfns", "s100b"), ("wfns", "ndka"), ("ndka", "s100b")]
    for (a, b), z, p in zip(pairs, r["z"], r["p"]):
        row = stats.delong_test(y, scores[a], scores[b]).iloc[0]
        assert row["statistic"] == pytest.approx(z, rel=1e-9) and row["p"] == pytest.approx(p, rel=1e-6)
    assert r["z"][0] == pytest.approx(2.20898359144091, rel=1e-12)  # pROC's own expectation
    auc = stats.roc_auc(y, s).iloc[0]
    assert auc["estimate"] == pytest.approx(r["auc_s"], rel=1e-9)
    assert auc["se"] ** 2 == pytest.approx(r["var_s"], rel=1e-9)
    assert [auc["ci_low"], auc["ci_high"]] == pytest.approx(r["ci_s"], rel=1e-9)
    unpaired = stats.delong_test_unpaired(y, s, y[:60], k[:60]).iloc[0]
    assert unpaired["statistic"] == pytest.approx(r["D"], rel=1e-9)
    assert unpaired["df"] == pytest.approx(r["df"], rel=1e-9)
    assert unpaired["p"] == pytest.approx(r["p_u"], rel=1e-6)
    all_pairs = stats.compare_aucs(y, scores, adjust="none").set_index(["arm_a", "arm_b"])
    for (a, b), z, p in zip(pairs, r["z"], r["p"]):
        row = all_pairs.loc[(a, b)] if (a, b) in all_pairs.index else all_pairs.loc[(b, a)]
        sign = 1 if (a, b) in all_pairs.index else -1
        assert sign * row["statistic"] == pytest.approx(z, rel=1e-9)
        assert row["p"] == pytest.approx(p, rel=1e-6)
