"""fit(): unit files, exact resume, done-unit skip and conflicts, NaN loss, error paths, the
nets' losses, optimistic selection, learning on an easy cohort, devices, DDP on gloo."""

from __future__ import annotations

import importlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from train_support import tiny_arm

from studykit.errors import InputError, StudyError
from studykit.nets import ClassBalancedFocalLoss, MUFNetLoss, SingleLossParts, class_balanced_weights
from studykit.train import (
    HISTORY_COLUMNS,
    NonFiniteLossError,
    UnitConflictError,
    aggregate_patients,
    fit,
    predict,
    resolve_device,
)
from studykit.train.aggregate import patient_auc
from studykit.train.checkpoint import load_checkpoint
from studykit.train.data import store_rows
from studykit.train.device import DistContext
from studykit.train.fit import _build


class Crash(Exception):
    """Stands for a process killed after an epoch's checkpoint was written."""


def crash_after(epochs: int):
    def progress(done, total, description):
        if done == epochs:
            raise Crash(description)
    return progress


def test_fit_writes_the_unit_files(tiny_cohort, tmp_path):
    arm = tiny_arm(epochs=3, schedule={"kind": "step", "step_epochs": 2, "gamma": 0.5},
                   optimizer={"kind": "sgd", "lr": 0.05}, selection={"metric": "accuracy"})
    seen = []
    result = fit(arm, tiny_cohort.store, tiny_cohort.folds[0], tmp_path, progress=lambda *a: seen.append(a))
    names = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint-best.pt", "checkpoint-last.pt", "history.csv", "done.json"} <= names
    assert not any(n.endswith(".tmp") or n.startswith(".") for n in names)  # no temp file left
    history = pd.read_csv(tmp_path / "history.csv")
    assert tuple(history.columns) == HISTORY_COLUMNS and history["epoch"].tolist() == [1, 2, 3]
    assert history["lr"].tolist() == [0.05, 0.05, 0.025]  # × 0.5 every 2 epochs
    assert np.isfinite(history[["loss", "loss_fused", "loss_bmode", "loss_ceus"]].to_numpy()).all()
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)] and "epoch 3/3" in seen[-1][2]
    done = json.loads((tmp_path / "done.json").read_text())
    assert done["best_epoch"] == result.best_epoch and done["optimistic"] is False
    assert done["threads"] == torch.get_num_threads()  # the intra-op thread count the unit trained with
    assert set(done["fingerprint"]) == {"arm_sha256", "store_key", "fold", "fold_ids_sha256"}
    best = history.loc[history["epoch"] == result.best_epoch, "val_accuracy"].item()
    assert best == history["val_accuracy"].max() == result.best_metric
    assert result.best_epoch == history["epoch"][history["val_accuracy"] == best].min()  # ties → earlier


def test_cosine_schedule_scales_with_the_epochs_and_last_selection_keeps_the_final_epoch(tiny_cohort,
                                                                                       tmp_path):
    arm = tiny_arm(epochs=4, schedule={"kind": "cosine", "warmup_epochs": 1, "min_lr_ratio": 0.1},
                   optimizer={"kind": "adamw", "lr": 0.004}, selection={"metric": "last"})
    result = fit(arm, tiny_cohort.store, tiny_cohort.folds[0], tmp_path)
    # warm-up 1/2, then 0.1 + 0.9·½(1 + cos(π·k/2)) for k = 0, 1, 2 (Loshchilov & Hutter 2017)
    expected = [0.004 * f for f in (0.5, 1.0, 0.1 + 0.9 * 0.5, 0.1)]
    np.testing.assert_allclose(result.history["lr"], expected, rtol=1e-12)
    assert result.best_epoch == 4 and result.metric == "last"
    assert result.best_metric == pytest.approx(result.history["val_auc"].iloc[-1], nan_ok=True)
    best, last = _weights(result.best_checkpoint), _weights(result.last_checkpoint)
    assert all(torch.equal(best[k], last[k]) for k in best)


def _weights(path):
    return load_checkpoint(path)["model"]


def test_resume_after_a_crash_equals_an_uninterrupted_run(tiny_cohort, tmp_path):
    arm = tiny_arm(epochs=3, schedule={"kind": "step", "step_epochs": 1, "gamma": 0.5})
    store, fold = tiny_cohort.store, tiny_cohort.folds[1]
    whole = fit(arm, store, fold, tmp_path / "whole")
    with pytest.raises(Crash):
        fit(arm, store, fold, tmp_path / "split", progress=crash_after(2))
    assert not (tmp_path / "split" / "done.json").exists()
    assert load_checkpoint(tmp_path / "split" / "checkpoint-last.pt")["epoch"] == 2
    resumed = fit(arm, store, fold, tmp_path / "split")
    for name in ("checkpoint-last.pt", "checkpoint-best.pt"):
        a, b = _weights(tmp_path / "whole" / name), _weights(tmp_path / "split" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    columns = [c for c in HISTORY_COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(whole.history[columns], resumed.history[columns])
    assert resumed.best_epoch == whole.best_epoch and not resumed.skipped


def test_a_finished_unit_is_skipped_and_other_inputs_conflict(tiny_cohort, tmp_path):
    arm, store, fold = tiny_arm(epochs=1), tiny_cohort.store, tiny_cohort.folds[0]
    first = fit(arm, store, fold, tmp_path)
    stamp = (tmp_path / "checkpoint-last.pt").stat().st_mtime_ns
    again = fit(arm, store, fold, tmp_path)
    assert again.skipped
    assert (tmp_path / "checkpoint-last.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again.history, first.history, check_dtype=False)
    with pytest.raises(UnitConflictError, match=r"(?s)done.json: this unit was trained with other inputs "
                                                r"\(the arm spec changed\).*fresh folder.*resume=False"):
        fit(tiny_arm(epochs=2), store, fold, tmp_path)
    with pytest.raises(UnitConflictError, match=r"the fold index, the fold's patients changed"):
        fit(arm, store, tiny_cohort.folds[1], tmp_path)
    redone = fit(tiny_arm(epochs=2), store, fold, tmp_path, resume=False)
    assert not redone.skipped and len(redone.history) == 2


@pytest.mark.parametrize(("name", "damage", "message"), [
    ("checkpoint-last.pt", lambda b: b[: len(b) // 2], r"cannot be loaded as a checkpoint \(RuntimeError\)"),
    ("done.json", lambda b: b[:-5], "is not valid JSON"),
    ("done.json", lambda b: b"[1, 2]", "is not a JSON object"),
])
def test_a_corrupt_unit_file_is_named_and_nothing_is_touched(tiny_cohort, tmp_path, name, damage, message):
    arm, store, fold = tiny_arm(epochs=1), tiny_cohort.store, tiny_cohort.folds[0]
    fit(arm, store, fold, tmp_path)
    if name != "done.json":
        (tmp_path / "done.json").unlink()  # an interrupted unit: fit resumes from checkpoint-last.pt
    path = tmp_path / name
    path.write_bytes(damage(path.read_bytes()))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    expected = f"{name}: {message}: this unit's files are truncated or corrupt"
    with pytest.raises(StudyError, match=expected) as info:
        fit(arm, store, fold, tmp_path)
    assert f"delete the unit folder {tmp_path}" in info.value.hint and "--fresh" in info.value.hint
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_interrupted_unit_of_other_inputs_is_not_resumed(tiny_cohort, tmp_path):
    with pytest.raises(Crash):
        fit(tiny_arm(epochs=2), tiny_cohort.store, tiny_cohort.folds[0], tmp_path, progress=crash_after(1))
    with pytest.raises(UnitConflictError, match=r"checkpoint-last.pt: .*\(the arm spec changed\)"):
        fit(tiny_arm(epochs=2, seed=5), tiny_cohort.store, tiny_cohort.folds[0], tmp_path)


def test_a_diverging_loss_stops_with_the_epoch_and_step(tiny_cohort, tmp_path):
    arm = tiny_arm(epochs=3, optimizer={"kind": "sgd", "lr": 1e18, "momentum": 0.9})
    pattern = (r"muf_net_tiny.loss.: the training loss became (nan|inf) at epoch \d of 3, step \d+ of \d+ "
               r"\(learning rate .*\n  hint: lower")
    with pytest.raises(NonFiniteLossError, match=pattern):
        fit(arm, tiny_cohort.store, tiny_cohort.folds[0], tmp_path)
    assert not (tmp_path / "done.json").exists()


def test_a_nan_input_stops_at_the_first_step(tiny_cohort, tmp_path, monkeypatch):
    fit_module = importlib.import_module("studykit.train.fit")  # the attribute is the function
    real = fit_module.load_batch
    monkeypatch.setattr(fit_module, "load_batch", lambda *a, **k: real(*a, **k).float() * float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 1 of 1, step 1 of"):
        fit(tiny_arm(epochs=1), tiny_cohort.store, tiny_cohort.folds[0], tmp_path)


def test_an_unknown_backbone_is_named_with_close_matches(tiny_cohort, tmp_path):
    with pytest.raises(StudyError, match=r"(?s)efficientnet_b33.*efficientnet_b3"):
        fit(tiny_arm(backbone="efficientnet_b33"), tiny_cohort.store, tiny_cohort.folds[0], tmp_path)
    assert not (tmp_path / "done.json").exists()


def test_a_fold_patient_missing_from_the_store_is_an_error(tiny_cohort):
    with pytest.raises(StudyError, match=r"1 train patient\(s\) of the fold have no image .*NOPE"):
        store_rows(tiny_cohort.store, ["NOPE"], split="train")


@pytest.mark.parametrize(("name", "kind"), [("muf_net", MUFNetLoss), ("bmode_net", SingleLossParts)])
def test_the_loss_is_the_nets_loss_with_the_training_class_counts(tiny_cohort, name, kind):
    arm, store, fold = tiny_arm(name), tiny_cohort.store, tiny_cohort.folds[0]
    unit = _build(arm, store, fold, torch.device("cpu"), DistContext())
    counts = np.bincount(store.index["label"].to_numpy()[store_rows(store, fold.train)], minlength=2)
    assert isinstance(unit.criterion, kind)
    assert isinstance(unit.criterion.criterion, ClassBalancedFocalLoss)
    weights = unit.criterion.criterion.class_weights
    assert torch.equal(weights, class_balanced_weights(counts.tolist(), beta=0.999))
    if kind is MUFNetLoss:
        assert unit.criterion.weights == (1.0, 0.5, 0.5)
    ce_arm = tiny_arm(name, loss={"kind": "cross_entropy"})
    ce = _build(ce_arm, store, fold, torch.device("cpu"), DistContext())
    focal = ce.criterion.criterion
    assert (focal.beta, focal.gamma) == (0.0, 0.0)


def test_single_arms_log_no_auxiliary_losses(tiny_cohort, tmp_path):
    result = fit(tiny_arm("ceus_net", epochs=1), tiny_cohort.store, tiny_cohort.folds[0], tmp_path)
    row = result.history.iloc[0]
    assert row["loss"] == row["loss_fused"] and np.isnan(row["loss_bmode"]) and np.isnan(row["loss_ceus"])


def test_selection_on_the_test_fold_is_flagged_optimistic(tiny_cohort, tmp_path):
    arm = tiny_arm(epochs=1, selection={"metric": "auc", "split": "test_fold"})
    result = fit(arm, tiny_cohort.store, tiny_cohort.folds[0], tmp_path)
    assert result.optimistic and result.split == "test_fold"
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["optimistic"].all() and (history["val_split"] == "test_fold").all()
    assert json.loads((tmp_path / "done.json").read_text())["optimistic"] is True
    for name in ("checkpoint-best.pt", "checkpoint-last.pt"):
        assert load_checkpoint(tmp_path / name)["meta"]["optimistic"] is True


def test_learning_happens_on_an_easy_cohort(easy_cohort, easy_fit):
    """Hand-made easy store (bright vs dark lesion): the synthetic cohort's tiny preset has too
    few test patients for a stable AUC ≥ 0.9 in a few CPU epochs."""
    arm, result = easy_fit
    fold = easy_cohort.folds[0]
    table = predict(arm, easy_cohort.store, fold, result.best_checkpoint)
    patients = aggregate_patients(table, arm.aggregation)
    assert len(patients) == len(fold.test) >= 8
    assert patient_auc(patients["label"], patients["prob_malignant"]) >= 0.9
    assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0]


def test_device_resolution():
    assert resolve_device("auto").type in {"cuda", "mps", "cpu"}
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match=r"unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match=r"(?s)'cuda' is not available on this machine.*device: auto"):
            resolve_device("cuda")


def _ddp_worker(rank: int, world: int, port: int, args: tuple) -> None:
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        arm, store_path, fold, out = args
        from studykit.cohort import PairStore
        fit(arm, PairStore(store_path), fold, out)
    finally:
        dist.destroy_process_group()


def test_ddp_on_gloo_with_two_processes(tiny_cohort, tmp_path):
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    arm = tiny_arm(epochs=1)
    mp.spawn(_ddp_worker, args=(2, port, (arm, str(tiny_cohort.store.path), tiny_cohort.folds[0], tmp_path)),
             nprocs=2, join=True)
    state = load_checkpoint(tmp_path / "checkpoint-last.pt")
    assert len(state["rng"]) == len(state["augmenter"]) == 2 and state["sampler"]["num_replicas"] == 2
    assert json.loads((tmp_path / "done.json").read_text())["world_size"] == 2
