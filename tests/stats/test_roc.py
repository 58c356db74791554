"""ROC curve, AUC and its variance: fast kernels against brute force and scikit-learn.

The R cross-checks (pROC) live in test_proc_crosscheck.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from studykit import stats
from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats._bootstrap import (
    _resampling_weights,
    bca_interval,
    bootstrap_aucs,
    jackknife_aucs,
    percentile_interval,
)
from studykit.stats._placements import clustered_covariance, delong_covariance, pair_counts, placements


# ---------------------------------------------------------------- brute-force references
def brute_psi(y, s):
    """ψ matrix (m, n): 1 if positive > negative, 1/2 if tied, else 0 — O(mn)."""
    x, z = s[y], s[~y]
    return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])


def brute_delong_var(y, s):
    psi = brute_psi(y, s)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size


def brute_obuchowski_var(y, s, cluster):
    """Obuchowski (1997) eq. 3–5 with explicit loops over clusters."""
    psi = brute_psi(y, s)
    theta = psi.mean()
    m, n = psi.shape
    cp, cn = cluster[y], cluster[~y]
    ids = np.unique(cluster)
    v10 = {i: psi[cp == i].mean(axis=1).sum() if np.any(cp == i) else 0.0 for i in ids}
    v01 = {i: psi[:, cn == i].mean(axis=0).sum() if np.any(cn == i) else 0.0 for i in ids}
    mi = {i: np.sum(cp == i) for i in ids}
    ni = {i: np.sum(cn == i) for i in ids}
    i10 = sum(1 for i in ids if mi[i] > 0)
    i01 = sum(1 for i in ids if ni[i] > 0)
    s10 = i10 / ((i10 - 1) * m) * sum((v10[i] - mi[i] * theta) ** 2 for i in ids)
    s01 = i01 / ((i01 - 1) * n) * sum((v01[i] - ni[i] * theta) ** 2 for i in ids)
    s11 = len(ids) / (len(ids) - 1) * sum((v10[i] - mi[i] * theta) * (v01[i] - ni[i] * theta) for i in ids)
    return s10 / m + s01 / n + 2 * s11 / (m * n)


@st.composite
def labelled_scores(draw, min_size=2, max_size=40, levels=None):
    """Binary labels with both classes and scores with heavy ties / extreme imbalance."""
    n = draw(st.integers(min_size, max_size))
    n_pos = draw(st.integers(1, n - 1))
    y = np.zeros(n, bool)
    y[draw(st.permutations(range(n)))[:n_pos]] = True
    k = levels or draw(st.sampled_from([2, 3, 5, 1000]))
    s = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), float)
    return y, s


# ---------------------------------------------------------------- kernels
@given(labelled_scores())
def test_placements_and_auc_match_pairwise_reference(data):
    y, s = data
    v10, v01, auc = placements(y, s[None, :])
    psi = brute_psi(y, s)
    np.testing.assert_allclose(v10[0], psi.mean(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(v01[0], psi.mean(axis=0), rtol=0, atol=1e-12)
    assert auc[0] == pytest.approx(psi.mean(), abs=1e-12)
    assert auc[0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@given(labelled_scores(min_size=4))
def test_delong_variance_matches_pairwise_reference(data):
    y, s = data
    if y.sum() < 2 or (~y).sum() < 2:
        return
    v10, v01, _ = placements(y, s[None, :])
    assert delong_covariance(v10, v01)[0, 0] == pytest.approx(brute_delong_var(y, s), rel=1e-10, abs=1e-15)


@given(labelled_scores(), st.integers(1, 4))
def test_within_group_pair_counts_match_loops(data, n_groups):
    y, s = data
    group = np.arange(y.size) % n_groups
    counts = pair_counts(y, s, group)
    for i in range(y.size):
        other = (group == group[i]) & (y != y[i])
        sign = 1 if y[i] else -1
        ref = np.sum(sign * (s[i] - s[other]) > 0) + 0.5 * np.sum(s[i] == s[other])
        assert counts[i] == pytest.approx(ref)


@given(labelled_scores(min_size=6, max_size=30), st.integers(2, 6))
def test_clustered_variance_matches_obuchowski_loops(data, n_clusters):
    y, s = data
    cluster = np.arange(y.size) % n_clusters
    if len(set(cluster[y])) < 2 or len(set(cluster[~y])) < 2:
        return
    v10, v01, auc = placements(y, s[None, :])
    fast = clustered_covariance(v10, v01, auc, cluster[y], cluster[~y])[0, 0]
    assert fast == pytest.approx(brute_obuchowski_var(y, s, cluster), rel=1e-9, abs=1e-14)


@given(labelled_scores(min_size=4))
def test_clustered_variance_with_singleton_clusters_is_delong(data):
    y, s = data
    if y.sum() < 2 or (~y).sum() < 2:
        return
    v10, v01, auc = placements(y, s[None, :])
    singletons = np.arange(y.size)
    clustered = clustered_covariance(v10, v01, auc, singletons[y], singletons[~y])
    np.testing.assert_allclose(clustered, delong_covariance(v10, v01), rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- roc_curve / youden
@given(labelled_scores())
def test_roc_curve_points_match_sklearn(data):
    y, s = data
    curve = stats.roc_curve(y, s)
    fpr, tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(curve["fpr"], fpr, atol=1e-12)
    np.testing.assert_allclose(curve["tpr"], tpr, atol=1e-12)
    # each threshold's operating point is the rule score >= threshold
    for _, row in curve.iterrows():
        pred = s >= row["threshold"]
        assert row["tp"] == np.sum(pred & y) and row["fp"] == np.sum(pred & ~y)


def test_roc_curve_thresholds_are_procs_midpoints():
    curve = stats.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert curve["threshold"].tolist() == pytest.approx([np.inf, 0.6, 0.375, 0.225, -np.inf])
    assert curve["sensitivity"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert curve["specificity"].tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]


def test_youden_threshold_known_case_and_tie_rule():
    # J = 0.5 at 0.6 (sens .5, spec 1) and at 0.225 (sens 1, spec .5): the higher wins
    assert stats.youden_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.6)
    assert stats.youden_threshold([0, 0, 1, 1], [1, 2, 3, 4]) == 2.5


# ---------------------------------------------------------------- roc_auc
def test_roc_auc_delong_closed_form_small_case():
    # placements V10 = (1, .5), V01 = (1, .5): var = .125/2 + .125/2 = .125
    result = stats.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    row = result.iloc[0]
    assert row["estimate"] == 0.75 and row["se"] == pytest.approx(np.sqrt(0.125))
    assert row["ci_low"] == pytest.approx(0.75 - 1.959963984540054 * np.sqrt(0.125))
    assert row["ci_high"] == 1.0  # clipped, as pROC
    assert list(result.columns[:4]) == ["estimate", "ci_low", "ci_high", "p"]
    assert (row["n"], row["n_pos"], row["n_neg"], row["metric"]) == (4, 2, 2, "auc")


def test_roc_auc_accepts_a_dataframe_and_string_labels():
    df = pd.DataFrame({"label": ["benign", "malignant", "malignant", "benign"], "p": [0.2, 0.9, 0.4, 0.5]})
    a = stats.roc_auc("label", "p", data=df, pos_label="malignant")
    b = stats.roc_auc([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.5])
    pd.testing.assert_frame_equal(a, b)


def test_roc_auc_is_not_flipped_below_half():
    auc = stats.roc_auc([1, 1, 0, 0, 1], [0.1, 0.2, 0.8, 0.9, 0.85])["estimate"].item()
    assert auc == pytest.approx(1 / 6)


@pytest.mark.parametrize(("y", "s", "auc"), [
    ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),      # perfect separation
    ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0.0),      # perfectly inverted
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),      # one value for everyone
])
def test_zero_delong_variance_warns_and_leaves_the_ci_undefined(y, s, auc):
    with pytest.warns(UndefinedStatisticWarning, match="DeLong variance is 0"):
        row = stats.roc_auc(y, s).iloc[0]
    assert row["estimate"] == auc and row["se"] == 0
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_youden_threshold_of_an_uninformative_score_warns():
    with pytest.warns(UndefinedStatisticWarning, match="finite Youden threshold"):
        assert stats.youden_threshold([0, 1], [1.0, 1.0]) == np.inf


def test_clustered_ci_is_wider_than_naive_for_correlated_images():
    rng = np.random.default_rng(3)
    y, s, patient = stats.simulate.clustered_binormal_sample(80, 0.8, rng, icc=0.6)
    naive = stats.roc_auc(y, s).iloc[0]
    clustered = stats.roc_auc(y, s, cluster=patient).iloc[0]
    assert clustered["estimate"] == naive["estimate"]
    assert clustered["se"] > 1.5 * naive["se"]
    assert clustered["n_clusters"] == 80 and "Obuchowski" in clustered["method"]


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_weights_are_stratified_resamples():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(7, bool), np.zeros(11, bool)]
    w = _resampling_weights(rng, 50, y, None)
    assert w.shape == (50, 18)
    assert np.all(w[:, y].sum(axis=1) == 7) and np.all(w[:, ~y].sum(axis=1) == 11)


def test_cluster_bootstrap_resamples_whole_pure_clusters_by_class():
    rng = np.random.default_rng(0)
    cluster = np.repeat(np.arange(6), [2, 3, 1, 4, 2, 2])
    y = np.isin(cluster, [0, 3, 5])
    w = _resampling_weights(rng, 40, y, cluster)
    for row in w:  # members of one cluster share a weight; 3 positive clusters drawn
        for c in range(6):
            assert len(set(row[cluster == c])) == 1
        assert sum(row[cluster == c][0] for c in (0, 3, 5)) == 3


@given(labelled_scores(min_size=3, max_size=25), st.booleans())
def test_vectorised_bootstrap_matches_loop_over_replicates(data, clustered):
    y, s = data
    cluster = (np.arange(y.size) // 2) if clustered else None
    boot = bootstrap_aucs(y, s[None, :], n_boot=30, seed=5, cluster=cluster)[:, 0]
    codes = cluster if clustered else None
    weights = _resampling_weights(np.random.default_rng(5), 30, y, codes)
    for b, row in enumerate(weights):
        yy, ss = np.repeat(y, row), np.repeat(s, row)
        expected = brute_psi(yy, ss).mean() if yy.any() and not yy.all() else np.nan
        assert boot[b] == pytest.approx(expected, abs=1e-12, nan_ok=True)


@given(labelled_scores(min_size=4, max_size=25), st.booleans())
def test_jackknife_matches_leave_one_out_loop(data, clustered):
    y, s = data
    units = (np.arange(y.size) // 3) if clustered else np.arange(y.size)
    jack = jackknife_aucs(y, s, units if clustered else None)
    for u in np.unique(units):
        keep = units != u
        yy, ss = y[keep], s[keep]
        expected = brute_psi(yy, ss).mean() if yy.any() and not yy.all() else np.nan
        assert jack[u] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_bca_reduces_to_percentile_without_bias_or_skew():
    boot = np.linspace(0.6, 0.8, 1000)  # symmetric around the estimate 0.7, half strictly below
    jack = np.array([0.69, 0.71, 0.70, 0.68, 0.72])  # symmetric: acceleration 0
    assert bca_interval(boot, 0.7, jack, 0.95) == pytest.approx(percentile_interval(boot, 0.95), abs=1e-12)


def test_bca_matches_efron_formulas_on_a_skewed_case():
    """Efron & Tibshirani (1993) eq. 14.9–14.15 by hand: z0 = Φ⁻¹(0.29) (29 of the 100
    replicates lie strictly below 0.3); jackknife (0, 0, 0, 1) gives d = (¼, ¼, ¼, −¾),
    Σd³ = −3/8, Σd² = 3/4, so a = −(3/8) / (6 · (3/4)^{3/2})."""
    from scipy.stats import norm

    boot = np.arange(1, 101) / 100.0
    z0, a = norm.ppf(0.29), -(3 / 8) / (6 * 0.75**1.5)
    expected = []
    for z in (norm.ppf(0.025), norm.ppf(0.975)):
        level = norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        expected.append(np.quantile(boot, level))
    got = bca_interval(boot, 0.3, np.array([0.0, 0.0, 0.0, 1.0]), 0.95)
    assert got == pytest.approx(tuple(expected), abs=1e-12)
    assert got[0] < percentile_interval(boot, 0.95)[0]  # bias towards lower values shifts the interval down


def test_bootstrap_ci_is_seeded_and_close_to_delong():
    rng = np.random.default_rng(11)
    y, s = stats.simulate.binormal_sample(150, 150, 0.8, rng)
    a = stats.roc_auc(y, s, method="bootstrap", seed=1)
    b = stats.roc_auc(y, s, method="bootstrap", seed=1)
    c = stats.roc_auc(y, s, method="bootstrap", seed=2)
    delong = stats.roc_auc(y, s).iloc[0]
    pd.testing.assert_frame_equal(a, b)
    assert a["ci_low"].item() != c["ci_low"].item()
    assert a["se"].item() == pytest.approx(delong["se"], rel=0.1)
    assert a["ci_low"].item() == pytest.approx(delong["ci_low"], abs=0.015)
    assert "bca" in a["method"].item() and "2000 replicates" in a["method"].item()


def test_cluster_bootstrap_se_agrees_with_obuchowski():
    rng = np.random.default_rng(4)
    y, s, patient = stats.simulate.clustered_binormal_sample(120, 0.75, rng, icc=0.5)
    boot = stats.roc_auc(y, s, cluster=patient, method="bootstrap", interval="percentile").iloc[0]
    analytic = stats.roc_auc(y, s, cluster=patient).iloc[0]
    assert boot["se"] == pytest.approx(analytic["se"], rel=0.12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"y_true": [0, 1, 1], "score": [0.1, 0.2]}, r"same length: y_true has 3, score has 2"),
    ({"y_true": [0, 1, 1], "score": [0.1, np.nan, np.inf]},
     r"'score': contains 2 values \(positions 1, 2\)"),
    ({"y_true": [0, 2, 1], "score": [0.1, 0.2, 0.3]}, r"coded 0/1 .* 1 value \(position 1\)"),
    ({"y_true": ["a", "b"], "score": [0.1, 0.2]}, r"(?s)no positive label was given.*pos_label="),
    ({"y_true": ["a", "b"], "score": [0.1, 0.2], "pos_label": "c"}, r"pos_label='c' is not among"),
    ({"y_true": ["a", "b", "c"], "score": [1, 2, 3], "pos_label": "c"}, r"two label values; got 3"),
    ({"y_true": [0, None, 1], "score": [1, 2, 3]},
     r"'y_true': contains 1 value \(position 1\) that are missing"),
    ({"y_true": [0, 1], "score": [1, 2], "method": "delog"}, r"did you mean 'delong'"),
    ({"y_true": [0, 1], "score": [1, 2], "confidence": 95}, r"strictly between 0 and 1; got 95"),
    ({"y_true": [0, 1], "score": [1, 2], "cluster": [1]}, r"same length: cluster has 1"),
    ({"y_true": [0, 1], "score": [1, 2], "cluster": ["p1", None]}, r"'cluster': contains 1 value"),
    ({"y_true": [[0, 1]], "score": [[1, 2]]}, r"one-dimensional"),
    ({"y_true": [0, 1], "score": [1, 2], "method": "bootstrap", "n_boot": 1},
     r"'n_boot': must be an integer"),
])
def test_bad_input_raises_input_error_naming_the_argument(kwargs, message):
    y, s = kwargs.pop("y_true"), kwargs.pop("score")
    with pytest.raises(InputError, match=message):
        stats.roc_auc(y, s, **kwargs)


def test_unknown_column_suggests_a_close_match():
    df = pd.DataFrame({"label": [0, 1], "prob_malignant": [0.2, 0.7]})
    message = r"(?s)column 'prob_malignat' is not in data.*did you mean 'prob_malignant'"
    with pytest.raises(InputError, match=message):
        stats.roc_auc("label", "prob_malignat", data=df)


def test_one_class_only_warns_and_returns_nan_row():
    with pytest.warns(UndefinedStatisticWarning, match="one class only"):
        result = stats.roc_auc([1, 1, 1], [0.2, 0.3, 0.4])
    assert result["estimate"].isna().all() and result["n_pos"].item() == 3


@pytest.mark.parametrize("method", ["delong", "bootstrap"])
def test_one_positive_cluster_gives_auc_without_variance(method):
    y = [1, 1, 1, 0, 0, 0, 0]
    with pytest.warns(UndefinedStatisticWarning, match="fewer than two clusters"):
        row = stats.roc_auc(y, [5, 6, 7, 1, 2, 3, 8], cluster=[0, 0, 0, 1, 2, 3, 4], method=method).iloc[0]
    assert row["estimate"] == pytest.approx(9 / 12) and np.isnan(row["ci_low"]) and np.isnan(row["se"])


def test_bootstrap_of_a_single_case_per_class_is_undefined():
    with pytest.warns(UndefinedStatisticWarning, match="fewer than two cases"):
        row = stats.roc_auc([0, 1], [1.0, 2.0], method="bootstrap").iloc[0]
    assert row["estimate"] == 1.0 and np.isnan(row["ci_low"])


def test_mixed_clusters_are_resampled_unstratified_and_say_so():
    rng = np.random.default_rng(2)
    y = rng.random(200) < 0.5
    cluster = np.repeat(np.arange(40), 5)
    row = stats.roc_auc(y, rng.normal(size=200) + y, cluster=cluster, method="bootstrap", n_boot=200).iloc[0]
    assert row["method"].startswith("cluster (unstratified: clusters hold both classes) bootstrap, bca")


def test_empty_input_is_an_error():
    with pytest.raises(InputError, match=r"'y_true': is empty"):
        stats.roc_auc([], [])
    with pytest.raises(InputError, match=r"'y_true': is empty"):
        stats.roc_curve([], [])


def test_single_case_of_a_class_gives_auc_without_variance():
    with pytest.warns(UndefinedStatisticWarning, match="AUC variance is undefined: fewer than two cases"):
        result = stats.roc_auc([1, 0, 0], [0.9, 0.3, 0.4]).iloc[0]
    assert result["estimate"] == 1.0 and np.isnan(result["ci_low"])


# ---------------------------------------------------------------- thresholds at the float limits
BIG = 1.7e308


def _applied(y, s, thresholds):
    """(tp, fp) of the rule score >= threshold, counted directly."""
    y, s = np.asarray(y, bool), np.asarray(s, float)
    return [(int((y & (s >= t)).sum()), int((~y & (s >= t)).sum())) for t in thresholds]


def test_midpoints_of_scores_near_the_largest_double_do_not_overflow():
    curve = stats.roc_curve([0, 0, 1, 1], [-BIG, -BIG / 2, BIG / 2, BIG])
    inner = curve["threshold"].to_numpy()[1:-1]
    assert np.isfinite(inner).all()
    np.testing.assert_array_equal(inner, [BIG / 2 + BIG / 4, 0.0, -(BIG / 2 + BIG / 4)])
    assert _applied([0, 0, 1, 1], [-BIG, -BIG / 2, BIG / 2, BIG], curve["threshold"]) == \
        list(zip(curve["tp"], curve["fp"], strict=True))


def test_a_midpoint_between_scores_one_ulp_apart_takes_the_upper_score():
    a = 0.3
    b = np.nextafter(a, 1.0)  # (a + b) / 2 rounds onto a
    y, s = [0, 0, 0, 1, 1, 1, 1], [0.1, a, 0.2, b, b, 0.9, 0.05]
    curve = stats.roc_curve(y, s)
    assert b in curve["threshold"].to_numpy() and a not in curve["threshold"].to_numpy()
    assert _applied(y, s, curve["threshold"]) == list(zip(curve["tp"], curve["fp"], strict=True))
    t = stats.youden_threshold(y, s)
    sens = np.mean(np.asarray(s)[np.asarray(y, bool)] >= t)
    spec = np.mean(np.asarray(s)[~np.asarray(y, bool)] < t)
    assert t == b and sens + spec - 1 == pytest.approx(0.75)  # J of the best row, reached by applying t


EDGES = (-BIG, -BIG / 2, -1e-300, 0.0, 1e-300, 0.3, float(np.nextafter(0.3, 1.0)), BIG / 2, BIG)


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(EDGES)), min_size=2, max_size=12))
def test_every_row_is_what_applying_its_threshold_gives(cases):
    y, s = [c[0] for c in cases], [c[1] for c in cases]
    if len(set(y)) < 2:
        return
    curve = stats.roc_curve(y, s)
    assert _applied(y, s, curve["threshold"]) == list(zip(curve["tp"], curve["fp"], strict=True))


def test_an_infinite_youden_threshold_says_what_it_returns():
    with pytest.warns(UndefinedStatisticWarning, match=r"returning inf\.$"):
        assert stats.youden_threshold([0, 1], [1.0, 0.0]) == np.inf


@pytest.mark.r
def test_thresholds_match_proc_at_the_float_limits():
    from rbridge import require_r, run_r

    require_r("pROC")
    a, b = 0.3, float(np.nextafter(0.3, 1.0))
    cases = {"big": ([0, 0, 1, 1], [-BIG, -BIG / 2, BIG / 2, BIG]),
             "ulp": ([0, 0, 0, 1, 1, 1, 1], [0.1, a, 0.2, b, b, 0.9, 0.05])}
    code = ('r <- pROC::roc(inputs$d$y, inputs$d$s, direction = "<", levels = c(0, 1), quiet = TRUE)\n'
            'result <- list(t = sprintf("%a", sort(r$thresholds, decreasing = TRUE)))')  # exact: hex
    for name, (y, s) in cases.items():
        got = run_r(code, {"d": pd.DataFrame({"y": y, "s": s})})
        theirs = np.array([v if isinstance(v, float) else float(v.replace("Inf", "inf")) if "Inf" in v
                           else float.fromhex(v) for v in got["t"]])
        np.testing.assert_array_equal(stats.roc_curve(y, s)["threshold"].to_numpy(), theirs, err_msg=name)
