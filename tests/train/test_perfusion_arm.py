"""The perfusion arm's features, fit and prediction (studykit.train.perfusion) against closed
forms and scikit-learn, and its unit records (skip, conflict, damaged model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from studykit.cohort import Fold
from studykit.cohort.perfusion import PerfusionFits
from studykit.errors import DataError
from studykit.protocol.arms import ArmSpec
from studykit.train import UnitConflictError
from studykit.train.perfusion import (
    cross_val_predict_perfusion,
    fit_perfusion,
    perfusion_features,
    predict_perfusion,
)


def _arm(**perfusion) -> ArmSpec:
    return ArmSpec(name="perf", kind="perfusion", selection={"metric": "auc"}, perfusion=perfusion)


def _curves(times: dict[str, np.ndarray], lesion_db: dict[str, np.ndarray], cortex_db: dict[str, np.ndarray]
            ) -> pd.DataFrame:
    rows = []
    for pid, t in times.items():
        for region, db in (("lesion", lesion_db[pid]), ("cortex", cortex_db[pid])):
            spread = t / 10.0 if region == "lesion" else np.nan  # sd_db = dark × 10 = −rim_db = t / 10
            rows.append(pd.DataFrame({"patient_id": pid, "label": "benign", "frame": np.arange(t.size),
                                      "time_s": t, "region": region, "intensity": 10 ** (db / 10),
                                      "fitted": np.nan, "sd_db": spread, "dark": spread / 10,
                                      "rim_db": -spread}))
    return pd.concat(rows, ignore_index=True)


def test_curve_features_are_the_linear_interpolation_in_db_and_nan_outside_the_video():
    t = np.array([-4.0, 5.0, 20.0, 41.0])
    lesion = {"a": np.array([-30.0, -12.0, -3.0, -9.0]), "b": np.array([-20.0, -20.0, -20.0])}
    cortex = {"a": np.array([-31.0, -10.0, -2.0, -4.0]), "b": np.array([-25.0, -25.0, -25.0])}
    fits = PerfusionFits(pd.DataFrame({"patient_id": ["a", "b"], "status": "ok"}),
                         _curves({"a": t, "b": t[:3]}, lesion, cortex))
    spec = _arm(features=["curve", "relative_curve"], grid_s=10.0, grid_end_s=40.0).perfusion
    got = perfusion_features(fits, spec, ["b", "a", "c"])
    assert list(got.index) == ["b", "a", "c"]
    assert list(got.columns[:5]) == [f"lesion_db@{s}s" for s in (0, 10, 20, 30, 40)]
    expected_a = np.interp([0, 10, 20, 30, 40], t, lesion["a"])
    np.testing.assert_allclose(got.loc["a"].iloc[:5], expected_a, atol=1e-9)
    relative = np.interp([0, 10, 20, 30, 40], t, lesion["a"] - cortex["a"])
    np.testing.assert_allclose(got.loc["a"].iloc[5:], relative, atol=1e-9)
    assert got.loc["b"].iloc[:3].tolist() == pytest.approx([-20.0] * 3)
    assert got.loc["b"].iloc[3:5].isna().all()  # 30 s and 40 s lie after b's last frame (20 s)
    assert got.loc["c"].isna().all()  # no TIC
    spec = _arm(features=["heterogeneity"], heterogeneity_from_s=5.0).perfusion
    spread = perfusion_features(fits, spec, ["a", "b"])
    assert list(spread.columns) == ["lesion_sd_db_mean", "lesion_dark_mean"]
    np.testing.assert_allclose(spread.loc["a"], [(0.5 + 2.0 + 4.1) / 3, (0.05 + 0.2 + 0.41) / 3])  # t ≥ 5 s
    np.testing.assert_allclose(spread.loc["b"], [(0.5 + 2.0) / 2, (0.05 + 0.2) / 2])
    spec = _arm(features=["rim", "heterogeneity"], heterogeneity_from_s=5.0).perfusion
    both = perfusion_features(fits, spec, ["a", "b"])
    assert list(both.columns) == ["lesion_sd_db_mean", "lesion_dark_mean", "lesion_rim_db_mean"]
    np.testing.assert_allclose(both["lesion_rim_db_mean"], [-(0.5 + 2.0 + 4.1) / 3, -(0.5 + 2.0) / 2])


def test_parameter_features_read_the_perfusion_table_columns():
    table = pd.DataFrame({"patient_id": ["a"], "status": ["ok"], "lesion_pe": [2.0], "cortex_pe": [4.0],
                          "rel_pe": [0.5], "rel_pe_db": [-3.0103], "lesion_mtt_s": [np.inf]})
    fits = PerfusionFits(table, pd.DataFrame(columns=["patient_id", "time_s", "region", "intensity"]))
    got = perfusion_features(fits, _arm(features=["parameters"]).perfusion, ["a"])
    assert got.loc["a", "lesion_pe"] == 2.0 and got.loc["a", "rel_pe"] == 0.5
    assert np.isnan(got.loc["a", "lesion_mtt_s"])  # infinite → missing
    assert np.isnan(got.loc["a", "cortex_wir"])  # a column the table lacks
    assert got.shape[1] == 27


def _problem(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, Fold]:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4)) + np.outer(y, [1.0, 0.5, 0.0, -0.3])
    features = pd.DataFrame(x, index=pd.Index(ids, name="patient_id"), columns=["f0", "f1", "f2", "f3"])
    features.iloc[3, 1] = np.nan  # a training patient lacks one feature
    features.iloc[70, :] = np.nan  # a test patient has no TIC
    fold = Fold(0, tuple(ids[:50]), tuple(ids[50:64]), tuple(ids[64:]))
    return features, pd.Series(y, index=ids), fold


def test_fit_matches_scikit_learn_on_imputed_standardised_features(tmp_path):
    features, labels, fold = _problem()
    arm = _arm(c_values=[0.01, 0.3, 10.0])
    result = fit_perfusion(arm, features, labels, fold, tmp_path)
    train, val, test = list(fold.train), list(fold.val), list(fold.test)
    medians = features.loc[train].median()
    x = features.fillna(medians)
    mu, sd = x.loc[train].mean(), x.loc[train].std(ddof=0)
    z = (x - mu) / sd
    aucs = []
    for c in (0.01, 0.3, 10.0):
        model = LogisticRegression(C=c, max_iter=10000).fit(z.loc[train], labels.loc[train])
        aucs.append(roc_auc_score(labels.loc[val], model.predict_proba(z.loc[val])[:, 1]))
    best = int(np.argmax(aucs))
    assert result.best_epoch == best + 1
    assert result.history["val_auc"].tolist() == pytest.approx(aucs)
    chosen = LogisticRegression(C=(0.01, 0.3, 10.0)[best], max_iter=10000)
    chosen.fit(z.loc[train], labels.loc[train])
    preds = predict_perfusion(arm, features, labels, fold, tmp_path)
    assert preds["patient_id"].tolist() == test and preds["image_id"].isna().all()
    np.testing.assert_allclose(preds["prob_malignant"], chosen.predict_proba(z.loc[test])[:, 1], rtol=1e-6)
    written = pd.read_csv(tmp_path / "predictions.csv", dtype={"patient_id": str})
    np.testing.assert_allclose(written["prob_malignant"], preds["prob_malignant"], rtol=1e-12)
    done = json.loads((tmp_path / "done.json").read_text())
    assert done["patients_without_tic"] == ["P070"] and done["metric"] == "auc"
    coefficients = pd.read_csv(tmp_path / "coefficients.csv")
    assert coefficients["n_train_missing"].tolist() == [0, 1, 0, 0]


def test_selection_ties_keep_the_smaller_c_and_accuracy_is_a_metric(tmp_path):
    features, labels, fold = _problem()
    arm = ArmSpec(name="perf", kind="perfusion", selection={"metric": "accuracy"},
                  perfusion={"c_values": [1e-4, 2e-4]})  # both call every validation patient alike
    result = fit_perfusion(arm, features, labels, fold, tmp_path)
    assert result.history["val_accuracy"].nunique() == 1 and result.best_epoch == 1


def test_a_finished_unit_is_skipped_and_other_inputs_conflict(tmp_path):
    features, labels, fold = _problem()
    arm = _arm()
    fit_perfusion(arm, features, labels, fold, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert fit_perfusion(arm, features, labels, fold, tmp_path).skipped
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    changed = features.copy()
    changed.iloc[0, 0] += 1.0
    with pytest.raises(UnitConflictError, match="other inputs"):
        fit_perfusion(arm, changed, labels, fold, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert not fit_perfusion(arm, changed, labels, fold, tmp_path, resume=False).skipped


def test_a_damaged_or_foreign_model_file_is_a_named_error(tmp_path):
    features, labels, fold = _problem()
    arm = _arm()
    fit_perfusion(arm, features, labels, fold, tmp_path)
    with pytest.raises(DataError, match="other perfusion features"):
        predict_perfusion(arm, features.rename(columns={"f0": "g0"}), labels, fold, tmp_path)
    (tmp_path / "model.json").write_text('{"features": ["f0"]')
    with pytest.raises(DataError, match="not a perfusion model studykit wrote") as error:
        predict_perfusion(arm, features, labels, fold, tmp_path)
    assert str(tmp_path) in str(error.value)


@pytest.mark.parametrize(("spec", "message"), [
    ({"epochs": 3}, "trains no network: remove 'epochs'"),
    ({"modality": "ceus"}, "uses ceus: remove 'modality'"),
    ({"selection": {"metric": "last"}}, "has no epochs"),
    ({"perfusion": {"features": ["curve", "curve"]}}, "lists a group twice"),
    ({"perfusion": {"features": ["pixels"]}}, "features"),
])
def test_perfusion_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        ArmSpec(**{"name": "p", "kind": "perfusion", **spec})


def test_a_network_arm_sets_no_perfusion_block_and_each_kind_has_its_ceiling():
    with pytest.raises(ValueError, match="trains a network: remove 'perfusion'"):
        ArmSpec(name="c", kind="single", modality="ceus", perfusion={"model": "gamma"})
    assert ArmSpec(name="p", kind="perfusion").sees == ("video", "ceus")
    assert ArmSpec(name="m", kind="mufnet").sees == ("frame", "both")
    assert ArmSpec(name="b", kind="single", modality="bmode").sees == ("frame", "bmode")


@pytest.fixture(scope="module")
def generated_fits(tmp_path_factory):
    """TIC curves of an 80-patient generator cohort (16 frames of 64 × 80, seed 3): the real,
    noisy synthetic videos, not a made-easy store."""
    from studykit.cohort.perfusion import perfusion_fits
    from studykit.cohort.synth import synthesize

    root = tmp_path_factory.mktemp("perfusion-learning")
    summary = synthesize(root / "cohort", patients=80, seed=3, frames=16, size=(64, 80))
    fits = perfusion_fits(root / "cohort", fit=False)
    manifest = pd.read_csv(root / "cohort" / "manifest.csv", dtype={"patient_id": str})
    return fits, manifest, summary.bayes_auc


def _pooled_auc(fits, manifest, features, folder) -> float:
    pooled = cross_val_predict_perfusion(_arm(features=features), fits, manifest, folder / "-".join(features))
    assert len(pooled) == len(fits.table) and pooled["patient_id"].is_unique
    return roc_auc_score(pooled["label"], pooled["prob_malignant"])


def test_the_default_arm_learns_the_timing_a_static_read_cannot(generated_fits, tmp_path):
    fits, manifest, ceiling = generated_fits
    default = list(ArmSpec(name="p", kind="perfusion").perfusion.features)
    auc = _pooled_auc(fits, manifest, default, tmp_path)
    static = _pooled_auc(fits, manifest, ["heterogeneity", "rim"], tmp_path)
    # measured 0.828 (video ceiling of CEUS 0.861, per-frame 0.786: above what one frame can
    # show); the lesion's spatial statistics alone (heterogeneity and rim, no time course) 0.681
    assert 0.74 <= auc <= ceiling.video_ceus + 0.02
    assert auc >= static + 0.1
