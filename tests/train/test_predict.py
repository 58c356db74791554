"""predict(): predictions.csv rows, fused head only, fusion weights; patient aggregation
rules against hand computations; the AUC kernel against brute force; error paths."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from train_support import tiny_arm

from studykit.errors import DataError, InputError
from studykit.report import load_gradcam
from studykit.train import AGGREGATIONS, PREDICTION_COLUMNS, aggregate_patients, fit, predict
from studykit.train.aggregate import patient_accuracy, patient_auc
from studykit.train.checkpoint import load_checkpoint, save_checkpoint
from studykit.train.data import store_rows
from studykit.train.predict import build_model


@pytest.fixture(scope="module")
def trained(tiny_cohort, tmp_path_factory):
    """MUF-Net and B-mode-Net, one epoch each on fold 0."""
    out = {}
    for name in ("muf_net", "bmode_net"):
        arm = tiny_arm(name, epochs=1)
        folder = tmp_path_factory.mktemp(name)
        out[name] = (arm, fit(arm, tiny_cohort.store, tiny_cohort.folds[0], folder))
    return out


def test_one_row_per_test_image_with_the_design_columns(tiny_cohort, trained, tmp_path):
    arm, result = trained["muf_net"]
    store, fold = tiny_cohort.store, tiny_cohort.folds[0]
    table = predict(arm, store, fold, result.best_checkpoint, out_dir=tmp_path)
    assert tuple(table.columns) == PREDICTION_COLUMNS
    rows = store_rows(store, fold.test)
    assert table["image_id"].tolist() == store.index["image_id"].iloc[rows].tolist()
    assert set(table["patient_id"]) == set(fold.test) and (table["fold"] == 0).all()
    assert (table["label"].to_numpy() == store.index["label"].to_numpy()[rows]).all()
    assert table["prob_malignant"].between(0, 1).all() and (table["threshold"] == 0.5).all()
    np.testing.assert_allclose(table["w_bmode"] + table["w_ceus"], 1.0, atol=1e-6)
    saved = pd.read_csv(tmp_path / "predictions.csv", dtype={"patient_id": str, "image_id": str})
    pd.testing.assert_frame_equal(saved, table, check_dtype=False)
    cams = np.load(tmp_path / "gradcam.npz")
    assert cams["cam_bmode"].shape == cams["cam_ceus"].shape == (2, 64, 64)
    assert cams["bmode"].shape == cams["ceus"].shape == (2, 64, 64)
    assert len(set(cams["patient_ids"])) == 2  # spread over patients
    loaded = load_gradcam(tmp_path / "gradcam.npz")  # the report layer reads it as written
    np.testing.assert_array_equal(loaded["image_ids"], cams["image_ids"])
    assert set(loaded["labels"]) <= {0, 1} and loaded["probs"].shape == (2,)


def test_patients_predicts_the_named_patients_with_the_test_folds_probabilities(tiny_cohort, trained):
    arm, result = trained["muf_net"]
    store, fold = tiny_cohort.store, tiny_cohort.folds[0]
    val = predict(arm, store, fold, result.best_checkpoint, patients=fold.val)
    assert val["image_id"].tolist() == store.index["image_id"].iloc[store_rows(store, fold.val)].tolist()
    assert (val["fold"] == 0).all()
    both = predict(arm, store, fold, result.best_checkpoint, patients=[*fold.test, *fold.val])
    test = predict(arm, store, fold, result.best_checkpoint)
    merged = both.set_index("image_id").loc[test["image_id"], "prob_malignant"].to_numpy()
    np.testing.assert_allclose(merged, test["prob_malignant"].to_numpy(), rtol=1e-6)
    with pytest.raises(DataError, match="1 prediction patient"):
        predict(arm, store, fold, result.best_checkpoint, patients=["NOPE"])


def test_single_arms_have_nan_fusion_weights(tiny_cohort, trained, tmp_path):
    arm, result = trained["bmode_net"]
    table = predict(arm, tiny_cohort.store, tiny_cohort.folds[0], result.best_checkpoint, out_dir=tmp_path)
    assert table["w_bmode"].isna().all() and table["w_ceus"].isna().all()
    assert set(np.load(tmp_path / "gradcam.npz").files) >= {"cam_bmode", "bmode", "image_ids", "labels"}


def test_predictions_come_from_the_fused_head_only(tiny_cohort, trained, tmp_path):
    arm, result = trained["muf_net"]
    store, fold = tiny_cohort.store, tiny_cohort.folds[0]
    before = predict(arm, store, fold, result.best_checkpoint)
    state = load_checkpoint(result.best_checkpoint)
    for key in ("bmode_head.weight", "ceus_head.weight", "bmode_head.bias", "ceus_head.bias"):
        state["model"][key] = torch.randn_like(state["model"][key]) * 100
    save_checkpoint(state, tmp_path / "scrambled.pt")
    after = predict(arm, store, fold, tmp_path / "scrambled.pt")
    pd.testing.assert_frame_equal(before, after)
    model = build_model(arm, pretrained="none")
    model.load_state_dict(state["model"])
    x = torch.from_numpy(np.asarray(store.images[store_rows(store, fold.test)]))
    with torch.no_grad():
        expected = torch.softmax(model.eval()(x[:, :1], x[:, 1:]).fused_logits, 1)[:, 1].double().numpy()
    np.testing.assert_allclose(after["prob_malignant"], expected, rtol=1e-5)


def test_missing_or_foreign_checkpoints_are_data_errors(tiny_cohort, trained, tmp_path):
    arm, _ = trained["bmode_net"]
    with pytest.raises(DataError, match=r"nope.pt: checkpoint not found"):
        predict(arm, tiny_cohort.store, tiny_cohort.folds[0], tmp_path / "nope.pt")
    _, muf = trained["muf_net"]
    with pytest.raises(DataError, match=r"does not hold weights of arm 'bmode_net_tiny'"):
        predict(arm, tiny_cohort.store, tiny_cohort.folds[0], muf.best_checkpoint)


TABLE = pd.DataFrame({"arm": "a", "fold": 0, "patient_id": ["p1", "p1", "p1", "p2", "p2"],
                      "label": [1, 1, 1, 0, 0], "prob_malignant": [0.2, 0.6, 0.9, 0.1, 0.3]})


@pytest.mark.parametrize(("rule", "p1", "p2"), [
    ("mean", (0.2 + 0.6 + 0.9) / 3, 0.2), ("median", 0.6, 0.2), ("max", 0.9, 0.3),
    ("logit_mean", 1 / (1 + (0.8 / 0.2 * 0.4 / 0.6 * 0.1 / 0.9) ** (1 / 3)),
     1 / (1 + (0.9 / 0.1 * 0.7 / 0.3) ** 0.5)),
])
def test_patient_aggregation_rules(rule, p1, p2):
    out = aggregate_patients(TABLE, rule)
    assert list(out.columns) == ["arm", "fold", "patient_id", "label", "prob_malignant", "n_images",
                                 "aggregation"]
    assert out["patient_id"].tolist() == ["p1", "p2"] and out["n_images"].tolist() == [3, 2]
    assert out["label"].tolist() == [1, 0] and (out["aggregation"] == rule).all()
    np.testing.assert_allclose(out["prob_malignant"], [p1, p2], rtol=1e-12)
    assert set(AGGREGATIONS) == {"mean", "median", "max", "logit_mean"}


def test_aggregation_errors():
    with pytest.raises(InputError, match=r"unknown aggregation rule 'maen'.*\n  hint: did you mean 'mean'"):
        aggregate_patients(TABLE, "maen")
    with pytest.raises(InputError, match=r"missing column\(s\) prob_malignant"):
        aggregate_patients(TABLE.drop(columns="prob_malignant"))
    with pytest.raises(InputError, match=r"patient\(s\) p2 have images with different labels"):
        aggregate_patients(TABLE.assign(label=[1, 1, 1, 0, 1]))


def test_auc_kernel_equals_brute_force_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    scores = rng.integers(0, 6, 40) / 5.0  # many ties
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    brute = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert patient_auc(labels, scores) == pytest.approx(brute, abs=1e-12)
    assert np.isnan(patient_auc([1, 1], [0.2, 0.3]))
    assert patient_accuracy([1, 0, 1], [0.5, 0.49, 0.1]) == pytest.approx(2 / 3)
