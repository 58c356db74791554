"""Decision curves (stats.decision) against the Python ``dcurves`` package, a brute-force
reference, closed forms and properties.

Golden fixture ``golden/dcurves_dca.json`` holds dcurves 1.1.7's answers on its own example
data (``df_binary.csv``: ``cancerpredmarker``, ``famhistory``) and on seeded data with scores
on the thresholds; ``tests/regen_dcurves.py`` made it (dcurves is no dev dependency: its
lifelines needs pandas < 3). Net benefit, TP / N, FP / N and net interventions avoided agree
to 1e-12 relative (1e-13 absolute where a value cancels to about 0). The live test reruns
dcurves where it is importable.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from regen_dcurves import COLUMNS, GOLDEN, REFERENCES, generated_case

from studykit import stats
from studykit.errors import InputError
from studykit.stats._bootstrap import _resampling_weights
from studykit.stats.decision import DEFAULT_THRESHOLDS, _bootstrap_net_benefit, _curves

RTOL, ATOL = 1e-12, 1e-13


def studykit_curve(case: dict) -> pd.DataFrame:
    d = case["data"]
    return stats.decision_curve(d["y"], {m: d[m] for m in case["models"]}, thresholds=case["thresholds"],
                                n_boot=2)


def assert_agrees(ours: pd.DataFrame, theirs: dict[str, dict[str, list[float]]]) -> None:
    for model, columns in theirs.items():
        rows = ours[ours["model"] == REFERENCES.get(model, model)]
        for col, values in columns.items():
            np.testing.assert_allclose(rows[COLUMNS[col]].to_numpy(), values, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{model}: {col}")


def golden_cases() -> list[dict]:
    return json.loads(GOLDEN.read_text())["cases"]


@pytest.mark.parametrize("index", range(2))
def test_matches_dcurves_golden(index):
    stored = golden_cases()[index]
    case = {**stored, "data": pd.DataFrame(stored["inputs"])}
    if stored["name"].startswith("generated"):  # stored inputs are those the builder makes now
        fresh = generated_case()
        pd.testing.assert_frame_equal(case["data"], fresh["data"], check_dtype=False)
        assert stored["thresholds"] == fresh["thresholds"], "rerun tests/regen_dcurves.py"
    assert_agrees(studykit_curve(case), stored["result"])


# ---------------------------------------------------------------- a brute-force reference
def brute_net_benefit(y: np.ndarray, p: np.ndarray, t: float) -> float:
    treated = p >= t
    return np.sum(treated & y) / y.size - np.sum(treated & ~y) / y.size * t / (1 - t)


@st.composite
def tied_probabilities(draw, min_n=1):
    """Labels, two-decimal probabilities (some exactly on the grid, 0 and 1) and thresholds."""
    n = draw(st.integers(min_n, 40))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    p = np.array(draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))) / 100
    grid = draw(st.lists(st.one_of(st.integers(1, 99).map(lambda i: i / 100),
                                   st.floats(1e-9, 1 - 1e-9)), min_size=1, max_size=12))
    return y, p, np.array(grid)


@given(tied_probabilities())
def test_kernel_matches_brute_force(data):
    y, p, grid = data
    r = stats.decision_curve(y, p, thresholds=grid, n_boot=2)
    model = r[r["model"] == "model"]
    want = [brute_net_benefit(y, p, t) for t in grid]
    np.testing.assert_allclose(model["estimate"], want, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model["threshold"], grid)
    np.testing.assert_allclose(model["tp_rate"], [np.mean((p >= t) & y) for t in grid], rtol=1e-15)
    np.testing.assert_allclose(model["fp_rate"], [np.mean((p >= t) & ~y) for t in grid], rtol=1e-15)


@given(tied_probabilities(min_n=2), st.integers(0, 2**31))
def test_weighted_kernel_answers_as_the_resampled_data(data, seed):
    """Bootstrap weights give the resampled data's own net benefit, model and treat-all alike."""
    y, p, grid = data
    weights = _resampling_weights(np.random.default_rng(seed), 3, y, None)
    nb_w = _curves(y, p[None, :], grid, weights)[2]
    for row in range(3):
        y_r, p_r = np.repeat(y, weights[row]), np.repeat(p, weights[row])
        np.testing.assert_allclose(nb_w[row], _curves(y_r, p_r[None, :], grid, np.ones((1, y_r.size)))[2][0],
                                   rtol=1e-12, atol=1e-15)


def test_bootstrap_uses_the_house_draws_and_pairs_the_models():
    case = generated_case()
    d, grid = case["data"], np.array([0.1, 0.3, 0.5])
    y, probs = d["y"].to_numpy() == 1, d[["a", "b"]].to_numpy().T
    boot = _bootstrap_net_benefit(y, probs, grid, n_boot=50, seed=4, cluster=None)
    weights = _resampling_weights(np.random.default_rng(4), 50, y, None)
    np.testing.assert_array_equal(boot, _curves(y, probs, grid, weights)[2])
    both = stats.decision_curve(d["y"], {"a": d["a"], "b": d["b"]}, thresholds=grid, n_boot=300, seed=4)
    alone = stats.decision_curve(d["y"], d["a"], thresholds=grid, n_boot=300, seed=4)
    shown = ["estimate", "ci_low", "ci_high", "se", "net_benefit_minus_all_ci_low"]
    np.testing.assert_array_equal(both[both["model"] == "a"][shown], alone[alone["model"] == "model"][shown])


# ---------------------------------------------------------------- closed forms
Y = np.r_[np.ones(30, bool), np.zeros(70, bool)]


def test_perfect_predictor_and_reference_strategies():
    grid = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    r = stats.decision_curve(Y, Y.astype(float), thresholds=grid, n_boot=50)
    perfect, treat_all, none = (r[r["model"] == m] for m in ("model", "treat_all", "treat_none"))
    assert perfect["estimate"].tolist() == [0.3] * 5
    odds = grid / (1 - grid)
    np.testing.assert_allclose(treat_all["estimate"], 0.3 - 0.7 * odds, rtol=1e-14)
    np.testing.assert_allclose(perfect["net_interventions_avoided_per_100"], 70.0, rtol=1e-12)
    assert (none["estimate"] == 0).all() and (treat_all["net_interventions_avoided_per_100"] == 0).all()
    np.testing.assert_allclose(none["net_interventions_avoided_per_100"], -(0.3 - 0.7 * odds) / odds * 100)
    assert treat_all["tp_rate"].tolist() == [0.3] * 5 and treat_all["fp_rate"].tolist() == [0.7] * 5
    assert none[["ci_low", "ci_high", "se", "net_benefit_minus_all_ci_low"]].isna().all().all()
    assert perfect["ci_low"].tolist() == perfect["ci_high"].tolist() == [0.3] * 5  # prevalence held


def test_near_zero_threshold_treats_everyone_and_approaches_prevalence():
    p = np.random.default_rng(1).uniform(0.01, 1, Y.size)
    grid = np.array([1e-3, 1e-6, 1e-9])
    r = stats.decision_curve(Y, p, thresholds=grid, n_boot=2)
    model = r[r["model"] == "model"]["estimate"].to_numpy()
    np.testing.assert_array_equal(model, r[r["model"] == "treat_all"]["estimate"])
    gap = 0.3 - model
    assert np.all(gap <= grid / (1 - grid) + 1e-16) and np.all(np.diff(gap) < 0) and gap[-1] < 1e-9


def test_stratified_bands_are_conditional_on_the_prevalence():
    """Each class resampled alone: treat-all is the same in every replicate, so the band of
    model − treat-all is the model's band shifted by NB_all."""
    d = generated_case()["data"]
    r = stats.decision_curve(d["y"], d["a"], n_boot=400, seed=2)
    model = r[r["model"] == "model"]
    nb_all = r[r["model"] == "treat_all"]["estimate"].to_numpy()
    np.testing.assert_allclose(model["net_benefit_minus_all_ci_low"], model["ci_low"] - nb_all, atol=1e-14)
    np.testing.assert_allclose(model["net_benefit_minus_all_ci_high"], model["ci_high"] - nb_all, atol=1e-14)
    assert (model["ci_low"] <= model["ci_high"]).all() and (model["se"] > 0).any()
    assert model["method"].iloc[0] == ("net benefit (Vickers & Elkin 2006); stratified bootstrap, percentile "
                                       "(400 replicates, seed 2)")


# ---------------------------------------------------------------- properties
@given(tied_probabilities())
def test_net_benefit_never_exceeds_prevalence(data):
    y, p, grid = data
    r = stats.decision_curve(y, {"a": p, "b": 1 - p}, thresholds=grid, n_boot=2)
    assert (r["estimate"] <= y.mean()).all()


@given(tied_probabilities(), st.integers(0, 100))
def test_a_constant_score_is_treat_all_or_treat_none(data, level):
    y, _, grid = data
    c = level / 100
    r = stats.decision_curve(y, np.full(y.size, c), thresholds=grid, n_boot=2)
    model = r[r["model"] == "model"]["estimate"].to_numpy()
    want = np.where(grid <= c, r[r["model"] == "treat_all"]["estimate"], 0.0)
    np.testing.assert_array_equal(model, want)


# ---------------------------------------------------------------- layout, ways in, clusters
def test_layout_default_grid_and_reproducibility():
    d = generated_case()["data"]
    r = stats.decision_curve(d["y"], {"A": d["a"], "B": d["b"]}, n_boot=100, seed=5)
    assert list(r.columns) == ["estimate", "ci_low", "ci_high", "p", "se", "method", "n", "ci_level",
                               "metric", "model", "threshold", "tp_rate", "fp_rate", "net_benefit_minus_all",
                               "net_benefit_minus_all_ci_low", "net_benefit_minus_all_ci_high",
                               "net_interventions_avoided_per_100", "n_pos", "n_neg"]
    assert r["model"].unique().tolist() == ["A", "B", "treat_all", "treat_none"] and len(r) == 4 * 99
    np.testing.assert_array_equal(r["threshold"].to_numpy()[:99], DEFAULT_THRESHOLDS)
    assert set(r["metric"]) == {"net_benefit"} and r["p"].isna().all() and set(r["n"]) == {240}
    pd.testing.assert_frame_equal(r, stats.decision_curve(d["y"], {"A": d["a"], "B": d["b"]}, n_boot=100,
                                                          seed=5))


def test_data_frame_way_in_and_labels():
    d = generated_case()["data"].assign(label=lambda f: np.where(f["y"] == 1, "malignant", "benign"))
    grid = [0.1, 0.4]
    want = stats.decision_curve(d["y"], {"a": d["a"], "b": d["b"]}, thresholds=grid, n_boot=50)
    listed = stats.decision_curve("label", ["a", "b"], data=d, thresholds=grid, n_boot=50,
                                  pos_label="malignant")
    pd.testing.assert_frame_equal(listed, want)
    renamed = stats.decision_curve("y", {"A": "a"}, data=d, thresholds=grid, n_boot=50)
    assert renamed["model"].unique().tolist() == ["A", "treat_all", "treat_none"]
    single = stats.decision_curve("y", "b", data=d, thresholds=grid, n_boot=50)
    assert single["model"].iloc[0] == "b"


def test_patients_resampled_whole_with_clusters():
    d = generated_case()["data"]
    patient = np.repeat(np.arange(120), 2)
    y = np.repeat(d["y"].to_numpy()[::2], 2)  # one class per patient, two images each
    plain = stats.decision_curve(y, d["a"], thresholds=[0.2, 0.5], n_boot=200)
    r = stats.decision_curve(y, d["a"], thresholds=[0.2, 0.5], n_boot=200, cluster=patient)
    assert r["n_clusters"].iloc[0] == 120 and r["method"].iloc[0].endswith(
        "stratified cluster bootstrap, percentile (200 replicates, seed 0)")
    np.testing.assert_array_equal(r["estimate"], plain["estimate"])
    singletons = stats.decision_curve(y, d["a"], thresholds=[0.2, 0.5], n_boot=200, cluster=np.arange(240))
    np.testing.assert_array_equal(singletons[["ci_low", "ci_high"]], plain[["ci_low", "ci_high"]])


def test_one_class_is_legal():
    r = stats.decision_curve([0, 0, 0], [0.1, 0.5, 0.9], thresholds=[0.5], n_boot=20)
    assert r["estimate"].tolist() == [-2 / 3, -1.0, 0.0]


# ---------------------------------------------------------------- errors
YS, PS = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"thresholds": [0.1, 1.0]}, "thresholds", r"strictly between 0 and 1; 1 value \(position 1\) are not"),
    ({"thresholds": 0}, "thresholds", "strictly between 0 and 1"),
    ({"thresholds": [-0.1, 0.5, float("nan")]}, "thresholds", r"2 values \(positions 0, 2\)"),
    ({"thresholds": [50, 60]}, "thresholds", "e.g. 50.0"),
    ({"thresholds": []}, "thresholds", "non-empty"),
    ({"thresholds": [[0.1, 0.2]]}, "thresholds", r"shape \(1, 2\)"),
    ({"thresholds": "low"}, "thresholds", "must be numbers"),
    ({"prob": [0.1, 0.4, 1.35, 0.8]}, "prob", r"probabilities in \[0, 1\]; 1 value \(position 2\)"),
    ({"prob": [0.1, -0.4, 0.35, float("nan")]}, "prob", "NaN or infinite"),
    ({"prob": {"a": PS, "b": [2.0, 0, 0, 0]}}, "prob['b']", r"outside, e.g. 2.0"),
    ({"prob": {}}, "prob", "empty mapping"),
    ({"prob": {"treat_all": PS}}, "prob", "reference strategy"),
    ({"prob": PS[:3]}, "y_true", "same length"),
    ({"n_boot": 1}, "n_boot", "integer ≥ 2"),
    ({"confidence": 95}, "confidence", "strictly between 0 and 1"),
    ({"cluster": [1, 2]}, "cluster", "same length"),
])
def test_errors_name_the_field(kwargs, field, message):
    args = {"prob": PS, **kwargs}
    with pytest.raises(InputError, match=message) as info:
        stats.decision_curve(YS, args.pop("prob"), **args)
    assert info.value.field == field
    assert info.value.hint or field == "n_boot"  # the shared check_positive_int gives none


def test_unknown_column_suggests_a_name():
    d = pd.DataFrame({"y": YS, "prob_a": PS})
    with pytest.raises(InputError, match="did you mean 'prob_a'") as info:
        stats.decision_curve("y", {"A": "prob_b"}, data=d)
    assert info.value.field == "prob['A']"
