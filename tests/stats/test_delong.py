"""Paired/unpaired DeLong tests and all-pairs comparison: properties and closed forms.

pROC agreement is in test_proc_crosscheck.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from studykit import stats
from studykit.errors import InputError, UndefinedStatisticWarning


def sample(seed=0, n=120):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.45
    a = rng.normal(size=n) + 1.2 * y
    b = 0.5 * a + rng.normal(size=n) + 0.2 * y
    c = rng.normal(size=n) + 0.4 * y
    return y, {"a": a, "b": b, "c": c}


def test_compare_aucs_equals_pairwise_delong_tests_and_holm():
    y, scores = sample()
    table = stats.compare_aucs(y, scores)
    assert list(zip(table["arm_a"], table["arm_b"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    for _, row in table.iterrows():
        single = stats.delong_test(y, scores[row["arm_a"]], scores[row["arm_b"]]).iloc[0]
        for col in ("estimate", "ci_low", "ci_high", "p", "statistic", "se", "auc_a", "auc_b"):
            assert row[col] == pytest.approx(single[col], rel=1e-12)
    expected = multipletests(table["p"], method="holm")[1]
    np.testing.assert_allclose(table["p_adjusted"], expected, rtol=1e-12)
    assert list(table.columns[:5]) == ["estimate", "ci_low", "ci_high", "p", "p_adjusted"]


@settings(max_examples=30)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_matches_statsmodels(p):
    expected = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(stats.holm_adjust(p), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("adjust", ["holm", "bonferroni"])
def test_compare_aucs_adjustments_match_statsmodels(adjust):
    y, scores = sample(12)
    scores["d"] = scores["c"] + np.random.default_rng(0).normal(size=y.size)
    table = stats.compare_aucs(y, scores, adjust=adjust)
    np.testing.assert_allclose(table["p_adjusted"], multipletests(table["p"], method=adjust)[1], rtol=1e-12)
    assert (table["adjust"] == adjust).all()
    unadjusted = stats.compare_aucs(y, scores, adjust="none")
    np.testing.assert_array_equal(unadjusted["p_adjusted"], unadjusted["p"])


def test_holm_keeps_nan_in_place():
    out = stats.holm_adjust([0.01, np.nan, 0.04])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)


def test_z_statistic_and_ci_are_consistent():
    y, s = sample(3)
    row = stats.delong_test(y, s["a"], s["c"], confidence=0.9).iloc[0]
    assert row["statistic"] == pytest.approx(row["estimate"] / row["se"])
    assert row["p"] == pytest.approx(2 * norm.sf(abs(row["statistic"])))
    assert row["ci_high"] - row["estimate"] == pytest.approx(norm.ppf(0.95) * row["se"])


def test_one_sided_alternatives_split_the_two_sided_p():
    y, s = sample(4)
    two = stats.delong_test(y, s["a"], s["c"])["p"].item()
    greater = stats.delong_test(y, s["a"], s["c"], alternative="greater")["p"].item()
    less = stats.delong_test(y, s["a"], s["c"], alternative="less")["p"].item()
    assert greater == pytest.approx(two / 2) and less == pytest.approx(1 - two / 2)


def test_swapping_the_scores_negates_the_difference():
    y, s = sample(5)
    ab = stats.delong_test(y, s["a"], s["b"]).iloc[0]
    ba = stats.delong_test(y, s["b"], s["a"]).iloc[0]
    assert ab["estimate"] == pytest.approx(-ba["estimate"]) and ab["p"] == pytest.approx(ba["p"])


def test_clustered_paired_test_with_singletons_equals_unclustered():
    y, s = sample(6)
    plain = stats.delong_test(y, s["a"], s["b"])
    clustered = stats.delong_test(y, s["a"], s["b"], cluster=np.arange(y.size))
    for col in ("estimate", "se", "p", "statistic"):
        assert clustered[col].item() == pytest.approx(plain[col].item(), rel=1e-10)
    assert "Obuchowski" in clustered["method"].item()


def test_clustered_paired_test_widens_se_for_correlated_images():
    rng = np.random.default_rng(8)
    y, a, patient = stats.simulate.clustered_binormal_sample(60, 0.8, rng, icc=0.6)
    b = a + np.repeat(rng.normal(size=60), np.bincount(patient)) * 0.8
    plain = stats.delong_test(y, a, b)["se"].item()
    clustered = stats.delong_test(y, a, b, cluster=patient)["se"].item()
    assert clustered > 1.5 * plain


def test_identical_scores_warn_and_give_nan_statistic():
    y, s = sample(7)
    with pytest.warns(UndefinedStatisticWarning, match="SE of the difference is 0"):
        row = stats.delong_test(y, s["a"], s["a"]).iloc[0]
    assert row["estimate"] == 0 and row["se"] == 0 and np.isnan(row["p"]) and np.isnan(row["statistic"])
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_all_positives_in_one_cluster_warns_instead_of_crashing():
    y = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    cluster = [0, 0, 0, 1, 2, 3, 4]
    with pytest.warns(UndefinedStatisticWarning, match="positives in at least two clusters"):
        row = stats.delong_test(y, [5, 6, 7, 1, 2, 3, 8], [1, 6, 7, 5, 2, 3, 4], cluster=cluster).iloc[0]
    assert row["estimate"] == pytest.approx(9 / 12 - 8 / 12)
    assert np.isnan(row["se"]) and np.isnan(row["ci_low"])


def test_unpaired_test_t_and_welch_df():
    y1, s1 = sample(9)
    y2, s2 = sample(10, n=80)
    row = stats.delong_test_unpaired(y1, s1["a"], y2, s2["c"]).iloc[0]
    va = stats.roc_auc(y1, s1["a"])["se"].item() ** 2
    vb = stats.roc_auc(y2, s2["c"])["se"].item() ** 2
    assert row["se"] == pytest.approx(np.sqrt(va + vb))
    assert row["df"] == pytest.approx((va + vb) ** 2 / (va**2 / 119 + vb**2 / 79))
    assert (row["n_a"], row["n_b"], row["n"]) == (120, 80, 200)


def test_dataframe_input():
    y, s = sample(11)
    df = pd.DataFrame({"label": y.astype(int), "m1": s["a"], "m2": s["b"], "m3": s["c"],
                       "patient": np.arange(y.size) // 2})
    pd.testing.assert_frame_equal(stats.delong_test("label", "m1", "m2", data=df),
                                  stats.delong_test(y, s["a"], s["b"]))
    by_name = stats.compare_aucs("label", ["m1", "m2", "m3"], data=df, cluster="patient")
    by_array = stats.compare_aucs(y, {"m1": s["a"], "m2": s["b"], "m3": s["c"]}, cluster=df["patient"])
    pd.testing.assert_frame_equal(by_name, by_array)
    renamed = stats.compare_aucs("label", {"MUF-Net": "m1", "CEUS-Net": "m2"}, data=df)
    assert renamed[["arm_a", "arm_b"]].iloc[0].tolist() == ["MUF-Net", "CEUS-Net"]
    with pytest.raises(InputError, match=r"'scores\['x'\]': column 'm9' is not in data"):
        stats.compare_aucs("label", {"a": "m1", "x": "m9"}, data=df)


@pytest.mark.parametrize(("call", "message"), [
    (lambda y, s: stats.compare_aucs(y, {"a": s["a"]}), r"at least two names"),
    (lambda y, s: stats.compare_aucs(y, {"a": s["a"], "b": s["b"][:-1]}),
     r"same length: y_true has 120, scores\['a'\] has 120, scores\['b'\] has 119"),
    (lambda y, s: stats.compare_aucs(y, s, adjust="hol"), r"did you mean 'holm'"),
    (lambda y, s: stats.delong_test(y, s["a"], s["b"], alternative="two.sided"), r"did you mean 'two-sided'"),
    (lambda y, s: stats.delong_test(y, s["a"], s["b"][:5]), r"same length: y_true has 120, score_b has 5"),
    (lambda y, s: stats.delong_test_unpaired(y, s["a"], [0, 1], [1.0]), r"same length"),
    (lambda y, s: stats.delong_test(y, s["a"], np.r_[np.nan, s["b"][1:]]),
     r"'score_b': contains 1 value \(position 0\) that are NaN or infinite"),
    (lambda y, s: stats.delong_test(y.astype(int) * 2, s["a"], s["b"]), r"'y_true': must be coded 0/1"),
    (lambda y, s: stats.delong_test(np.where(y, "m", "b"), s["a"], s["b"]), r"no positive label was given"),
    (lambda y, s: stats.compare_aucs(y, {"a": s["a"], "b": np.r_[np.inf, s["b"][1:]]}),
     r"'scores\['b'\]': contains 1 value \(position 0\)"),
    (lambda y, s: stats.compare_aucs(np.where(y, "m", "b"), s), r"no positive label was given"),
    (lambda y, s: stats.delong_test_unpaired(y, s["a"], [0, 3], [1.0, 2.0]), r"'y_true': must be coded 0/1"),
    (lambda y, s: stats.delong_test_unpaired(y, s["a"], [0, 1], [1.0, np.nan]),
     r"'score_b': contains 1 value"),
])
def test_bad_input_names_the_argument(call, message):
    y, s = sample()
    with pytest.raises(InputError, match=message):
        call(y, s)


def test_too_few_cases_warns():
    with pytest.warns(UndefinedStatisticWarning, match="two positive and two negative"):
        row = stats.delong_test([0, 1, 1], [0.1, 0.5, 0.7], [0.3, 0.2, 0.9]).iloc[0]
    assert row["estimate"] == pytest.approx(0.5) and np.isnan(row["p"])
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
