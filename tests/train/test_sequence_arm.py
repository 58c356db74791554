"""fit_sequence / predict_sequence: the sequence arm on the tiny synthetic cohort (patient-level
rows, attention.csv, exact resume, skip and conflicts), a learning test and its arm-spec block.

Named ``test_sequence_arm``: pytest imports test modules by basename, and
tests/nets/test_sequence.py holds ``test_sequence``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError
from train_support import MODELS, tiny_arm

from studykit.cohort import Fold, PairStore
from studykit.cohort.store import INDEX_COLUMNS, STORE_FORMAT, TIME_COLUMN
from studykit.errors import InputError
from studykit.protocol.arms import ArmSpec, SequenceSpec, load_arm
from studykit.train import HISTORY_COLUMNS, UnitConflictError, fit_sequence, predict_sequence
from studykit.train.aggregate import patient_auc
from studykit.train.checkpoint import load_checkpoint
from studykit.train.data import patient_rows
from studykit.train.sequence import ATTENTION_COLUMNS, frame_subset
from studykit.vocab import PREDICTION_COLUMNS


class Crash(Exception):
    """Stands for a process killed after an epoch's checkpoint was written."""


def seq_arm(**overrides) -> ArmSpec:
    """The tiny sequence arm at 32 px, 3 frames a patient, batches of 2 patients."""
    settings = {"input_size": 32, "epochs": 1, "batch_size": 2, "sequence": {"frames": 3}}
    return tiny_arm("sequence_net", **{**settings, **overrides})


def test_fit_and_predict_write_patient_rows_and_attention(tiny_cohort, tmp_path):
    arm, store, fold = seq_arm(epochs=2), tiny_cohort.store, tiny_cohort.folds[0]
    result = fit_sequence(arm, store, fold, tmp_path)
    assert list(result.history.columns) == list(HISTORY_COLUMNS) and len(result.history) == 2
    assert result.history["loss_bmode"].isna().all() and np.isfinite(result.history["loss"]).all()
    assert {"checkpoint-best.pt", "checkpoint-last.pt", "history.csv", "done.json"} <= {
        p.name for p in tmp_path.iterdir()}
    table = predict_sequence(arm, store, fold, result.best_checkpoint, out_dir=tmp_path)
    assert list(table.columns) == list(PREDICTION_COLUMNS)
    assert sorted(table["patient_id"]) == sorted(fold.test) and table["image_id"].isna().all()
    assert table["prob_malignant"].between(0, 1).all()
    np.testing.assert_allclose(table["w_bmode"] + table["w_ceus"], 1.0, atol=1e-5)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "predictions.csv"), table, check_dtype=False)
    attention = pd.read_csv(tmp_path / "attention.csv")
    assert list(attention.columns) == list(ATTENTION_COLUMNS)
    images = store.index[store.index["patient_id"].isin(fold.test)]
    assert sorted(attention["image_id"]) == sorted(images["image_id"])  # every frame, not a subset
    np.testing.assert_allclose(attention.groupby("patient_id")["frame_weight"].sum(), 1.0, atol=1e-5)
    assert (attention.groupby("patient_id")["time_s"].diff().dropna() >= 0).all()  # time order
    val = predict_sequence(arm, store, fold, result.best_checkpoint, patients=fold.val)
    assert sorted(val["patient_id"]) == sorted(fold.val) and (val["fold"] == fold.index).all()


def test_resume_after_a_crash_equals_an_uninterrupted_run(tiny_cohort, tmp_path):
    arm = seq_arm(epochs=2, schedule={"kind": "step", "step_epochs": 1, "gamma": 0.5})
    store, fold = tiny_cohort.store, tiny_cohort.folds[1]
    whole = fit_sequence(arm, store, fold, tmp_path / "whole")

    def crash(done, total, description):
        if done == 1:
            raise Crash(description)

    with pytest.raises(Crash):
        fit_sequence(arm, store, fold, tmp_path / "split", progress=crash)
    assert not (tmp_path / "split" / "done.json").exists()
    resumed = fit_sequence(arm, store, fold, tmp_path / "split")
    for name in ("checkpoint-last.pt", "checkpoint-best.pt"):
        a = load_checkpoint(tmp_path / "whole" / name)["model"]
        b = load_checkpoint(tmp_path / "split" / name)["model"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    columns = [c for c in HISTORY_COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(whole.history[columns], resumed.history[columns])


def test_a_finished_unit_is_skipped_and_other_inputs_conflict(tiny_cohort, tmp_path):
    arm, store, fold = seq_arm(), tiny_cohort.store, tiny_cohort.folds[0]
    fit_sequence(arm, store, fold, tmp_path)
    stamp = (tmp_path / "checkpoint-last.pt").stat().st_mtime_ns
    assert fit_sequence(arm, store, fold, tmp_path).skipped
    assert (tmp_path / "checkpoint-last.pt").stat().st_mtime_ns == stamp
    with pytest.raises(UnitConflictError, match=r"the arm spec changed"):
        fit_sequence(seq_arm(sequence={"frames": 2}), store, fold, tmp_path)


def test_frame_subsets_are_a_pure_function_of_seed_epoch_and_patient():
    rows = np.arange(10, 20)
    a = frame_subset(rows, 4, seed=0, epoch=3, patient="P1")
    assert np.array_equal(a, frame_subset(rows, 4, seed=0, epoch=3, patient="P1"))
    assert len(a) == 4 and np.all(np.diff(a) > 0) and set(a) <= set(rows)
    others = [frame_subset(rows, 4, seed=0, epoch=e, patient="P1") for e in range(4, 8)]
    assert not all(np.array_equal(a, b) for b in others)
    assert np.array_equal(frame_subset(rows[:3], 4, seed=0, epoch=0, patient="P1"), rows[:3])


def test_patient_rows_are_in_time_order(tiny_cohort):
    store = tiny_cohort.store
    groups = patient_rows(store, list(store.index["patient_id"].unique()))
    assert sum(len(g) for g in groups) == len(store)
    for rows in groups:
        times = store.index["time_s"].to_numpy()[rows]
        assert np.all(np.diff(times) >= 0) and store.index["patient_id"].iloc[rows].nunique() == 1


def test_frame_arms_are_refused(tiny_cohort, tmp_path):
    with pytest.raises(InputError, match="sequence arms only"):
        fit_sequence(tiny_arm(), tiny_cohort.store, tiny_cohort.folds[0], tmp_path)


def test_sequence_spec_block():
    arm = load_arm(MODELS / "sequence_net.yaml")
    assert arm.kind == "sequence" and arm.sequence == SequenceSpec(frames=16, time_scale_s=60.0)
    assert arm.trains_network and arm.predicts_patients and arm.sees == ("video", "both")
    with pytest.raises(ValidationError, match="a 'mufnet' arm reads no frame sequence: remove 'sequence'"):
        ArmSpec(name="a", kind="mufnet", sequence={"frames": 8})
    with pytest.raises(ValidationError, match="a 'perfusion' arm reads no frame sequence"):
        ArmSpec(name="a", kind="perfusion", selection={"metric": "auc"}, sequence={"frames": 8})
    with pytest.raises(ValidationError, match=r"sequence\.frames"):
        ArmSpec(name="a", kind="sequence", sequence={"frames": 0})
    assert ArmSpec(name="a", kind="mufnet").sequence == SequenceSpec()  # defaults are fine anywhere


def _order_store(folder, n: int = 48, frames: int = 4, size: int = 32) -> PairStore:
    """Every patient has the same frames — two with a bright square lesion, two with a dark one —
    at 10, 30, 50 and 70 s; malignant patients show the bright ones first, benign ones last. A
    frame classifier (or any order-blind pooling) is at chance; only the times tell the classes."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * (n // 2))
    images, rows = [], []
    for p in range(n):
        for k in range(frames):
            bright = (k < frames // 2) == bool(labels[p])
            image = rng.normal(0.45, 0.08, (2, size, size))
            image[:, 10:22, 10:22] = rng.normal(0.85 if bright else 0.15, 0.05, (2, 12, 12))
            images.append(image)
            rows.append({"image_id": f"P{p:03d}-{k}", "patient_id": f"P{p:03d}", "frame": k,
                         "phase": "cortical", "label": labels[p], "subtype": "x", "center": "c",
                         "scanner": "s", TIME_COLUMN: 10.0 + 20.0 * k})
    pairs = (np.clip(np.stack(images), 0, 1) * 255).round().astype(np.uint8)
    folder.mkdir(parents=True)
    pairs.tofile(folder / "pairs.u8")
    pd.DataFrame(rows).loc[:, [*INDEX_COLUMNS, TIME_COLUMN]].to_csv(folder / "index.csv", index=False)
    meta = {"format": STORE_FORMAT, "key": "order000", "shape": list(pairs.shape)}
    (folder / "store.json").write_text(json.dumps(meta))
    return PairStore(folder)


def test_learns_what_only_the_order_of_the_frames_shows(tmp_path):
    store = _order_store(tmp_path / "store")
    ids = sorted(store.index["patient_id"].unique())
    fold = Fold(0, tuple(ids[:32]), tuple(ids[32:36]), tuple(ids[36:]))
    off = dict.fromkeys(("rotation_deg", "scale", "translate", "hflip_p", "vflip_p", "elastic_px", "gain",
                         "contrast", "gamma", "speckle", "noise"), 0)
    arm = seq_arm(epochs=2, batch_size=8, drop_rate=0.0, augment=off, schedule={"kind": "constant"},
                  optimizer={"kind": "adamw", "lr": 0.003, "weight_decay": 1e-4}, sequence={"frames": 4})
    result = fit_sequence(arm, store, fold, tmp_path / "unit")
    table = predict_sequence(arm, store, fold, result.last_checkpoint)
    assert patient_auc(table["label"].to_numpy(), table["prob_malignant"].to_numpy()) >= 0.9
