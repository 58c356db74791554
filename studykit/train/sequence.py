"""Fit and predict one ``sequence`` arm on one fold: a patient's frames and their times → one call.

A sequence arm (``kind: sequence``, :class:`~studykit.protocol.arms.SequenceSpec`,
:class:`studykit.nets.SequenceMUFNet`) reads a patient's store images — B-mode/CEUS crop pairs
of the annotated frames — with each frame's time since injection (the store's ``time_s``), and
predicts the patient: one row per patient in ``predictions.csv`` with an empty ``image_id``,
as the perfusion arm writes (the image-level analyses leave such arms out).

The training unit is a patient. Each step takes ``batch_size`` patients drawn by a
:class:`ClassBalancedSampler` over the fold's training patients (``sampler.q``;
``sampler.epoch_length`` defaults to their number); each patient brings up to
``sequence.frames`` of its images — a random subset when it has more, drawn as a pure function
of (seed, epoch, patient), so a resumed fit draws the same — in time order, each augmented by
the arm's :class:`PairAugmenter` (one frame, one draw). The criterion is the kind's
(:class:`studykit.nets.SequenceLossParts`: the class-balanced focal loss of the patient logits,
with the training *patients'* class counts). Validation and prediction read all of a
patient's frames, in time order; selection, checkpoints, ``history.csv`` (:data:`HISTORY_COLUMNS`,
NaN auxiliary losses), ``done.json``, resumption and :class:`UnitConflictError` are those of
:func:`studykit.train.fit`, whose helpers this module reuses; the accuracy at 0.5 and the AUC
are computed on the patient probabilities directly (``aggregation`` is not used).

:func:`predict_sequence` writes ``predictions.csv`` (``w_bmode, w_ceus``: the patient's mean
per-frame fusion weights, NaN for ``fusion: concat``) and ``attention.csv`` — ``patient_id,
image_id, time_s, frame_weight``, one row per image of the predicted patients, the weights
summing to 1 per patient: which frames, at which times, the call rests on (the arm's
explanation, in place of Grad-CAM). One process only (no ``torchrun``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from studykit.cohort import Fold, PairStore
from studykit.errors import DataError, InputError
from studykit.nets import SequenceOutput, create_model
from studykit.protocol.arms import ArmSpec
from studykit.vocab import DONE, LAST, PREDICTION_COLUMNS, PREDICTIONS, Progress

from .aggregate import patient_accuracy, patient_auc
from .augment import AugmentConfig, PairAugmenter
from .checkpoint import get_rng_states, load_checkpoint, write_csv, write_json
from .data import arm_channels, load_batch, patient_rows
from .device import DistContext, autocast, dist_context, resolve_device, seed_everything
from .fit import (
    HISTORY_COLUMNS,
    FitResult,
    _check_finite,
    _describe,
    _finished,
    _result,
    _resume,
    _save_last,
    _select,
)
from .predict import DEFAULT_THRESHOLD
from .recipe import OPTIMIZERS, SCHEDULES
from .recipe import criterion as make_criterion
from .sampler import ClassBalancedSampler

__all__ = ["ATTENTION", "ATTENTION_COLUMNS", "build_sequence_model", "fit_sequence", "predict_sequence"]

#: The per-frame attention weights of the predicted patients (the sequence arm's explanation).
ATTENTION = "attention.csv"
ATTENTION_COLUMNS = ("patient_id", "image_id", "time_s", "frame_weight")


@dataclass
class _SequenceUnit:
    """What one sequence fit works with; the attribute names of :class:`studykit.train.fit._Unit`
    that fit's selection, checkpoint and resume helpers read."""

    arm: ArmSpec
    store: PairStore
    device: torch.device
    ctx: DistContext
    net: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    sampler: ClassBalancedSampler
    augmenter: PairAugmenter
    train_patients: list[np.ndarray]  # each training patient's rows, in time order
    train_labels: np.ndarray  # one per training patient
    train_ids: list[str]
    val_patients: list[np.ndarray]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")


def build_sequence_model(arm: ArmSpec, *, pretrained: str | None = None) -> nn.Module:
    """The arm's :class:`~studykit.nets.SequenceMUFNet` (``fusion`` and ``sequence`` from the spec)."""
    return create_model("sequence", backbone_name=arm.backbone,
                        pretrained=arm.pretrained if pretrained is None else pretrained,
                        drop_rate=arm.drop_rate, fusion=arm.fusion, time_scale_s=arm.sequence.time_scale_s,
                        time_frequencies=arm.sequence.time_frequencies)


def fit_sequence(arm: ArmSpec, store: PairStore, fold: Fold, out_dir: str | Path, *,
                 device: str | torch.device | None = None, progress: Progress | None = None,
                 resume: bool = True) -> FitResult:
    """Train the sequence arm ``arm`` on ``fold`` of ``store`` into the unit folder ``out_dir``.

    Parameters, returns and errors as :func:`studykit.train.fit` (one process only: under
    ``torchrun`` with more than one rank an :class:`InputError`). ``best_metric`` and the
    history's ``val_accuracy``/``val_auc`` are patient-level, on the inner-validation patients
    (the test patients for ``selection.split: test_fold``, flagged optimistic).
    """
    out_dir = Path(out_dir)
    inputs, _, finished = _finished(arm, store, fold, out_dir, resume)
    if finished is not None:
        return finished
    (out_dir / DONE).unlink(missing_ok=True)
    unit = _build(arm, store, fold, resolve_device(device if device is not None else arm.device))
    start = _resume(unit, out_dir / LAST, inputs) if resume and (out_dir / LAST).is_file() else 0
    for epoch in range(start, arm.epochs):
        row = _epoch(unit, epoch)
        _select(unit, row, out_dir, inputs)
        states = [{"augmenter": unit.augmenter.state_dict(), "rng": get_rng_states()}]
        _save_last(unit, out_dir, inputs, epoch + 1, states)
        if progress is not None:
            progress(epoch + 1, arm.epochs, _describe(arm, fold, row))
    history = pd.DataFrame(unit.history, columns=list(HISTORY_COLUMNS))
    write_json({"fingerprint": inputs, "arm": arm.name, "fold": int(fold.index), "epochs": arm.epochs,
                "best_epoch": unit.best_epoch, "best_metric": unit.best_metric,
                "metric": arm.selection.metric, "split": arm.selection.split, "optimistic": arm.optimistic,
                "unit": "patient", "frames": arm.sequence.frames, "device": str(unit.device), "world_size": 1,
                "threads": torch.get_num_threads(), "train_seconds": float(history["seconds"].sum())},
               out_dir / DONE)
    return _result(out_dir, arm, history, unit.best_epoch, unit.best_metric)


def _build(arm: ArmSpec, store: PairStore, fold: Fold, device: torch.device) -> _SequenceUnit:
    """Seed, then build the net, loss, optimiser, schedule, patient sampler and augmenter."""
    _check_arm(arm)
    ctx = dist_context()
    if ctx.distributed:
        raise InputError(f"a sequence arm trains in one process, not {ctx.world_size} (torchrun).",
                         field=f"{arm.name}.kind", hint="run the unit without torchrun.")
    seed_everything(arm.seed)
    train = patient_rows(store, fold.train, split="train")
    val = patient_rows(store, fold.test if arm.optimistic else fold.val,
                       split="test" if arm.optimistic else "validation")
    labels = store.index["label"].to_numpy()[[rows[0] for rows in train]].astype(np.int64)
    ids = [str(store.index["patient_id"].iat[rows[0]]) for rows in train]
    sampler = ClassBalancedSampler(labels, q=arm.sampler.q, epoch_length=arm.sampler.epoch_length,
                                   seed=arm.seed, num_classes=2)
    net = build_sequence_model(arm).to(device)
    optimizer = OPTIMIZERS[arm.optimizer.kind](net.parameters(), arm.optimizer)
    return _SequenceUnit(arm=arm, store=store, device=device, ctx=ctx, net=net,
                         criterion=make_criterion(arm, sampler.class_counts).to(device), optimizer=optimizer,
                         scheduler=SCHEDULES[arm.schedule.kind](optimizer, arm.schedule, arm.epochs),
                         sampler=sampler, augmenter=PairAugmenter(AugmentConfig(**arm.augment.model_dump()),
                                                                  seed=arm.seed),
                         train_patients=train, train_labels=labels, train_ids=ids, val_patients=val)


def _check_arm(arm: ArmSpec) -> None:
    if arm.kind != "sequence":
        raise InputError(f"arm {arm.name!r} is of kind {arm.kind!r}: fit_sequence/predict_sequence train "
                         "and predict sequence arms only.", field=f"{arm.name}.kind",
                         hint="use studykit.train.fit and predict for frame arms.")


def frame_subset(rows: np.ndarray, frames: int, *, seed: int, epoch: int, patient: str) -> np.ndarray:
    """At most ``frames`` of one patient's ``rows`` (given in time order), kept in that order.

    A patient with more gets a random subset without replacement, a pure function of
    (``seed``, ``epoch``, ``patient``) — the same on every run and after a resume.
    """
    if len(rows) <= frames:
        return rows
    rng = np.random.default_rng([seed, epoch, zlib.crc32(patient.encode())])
    return rows[np.sort(rng.choice(len(rows), size=frames, replace=False))]


def _epoch(unit: _SequenceUnit, epoch: int) -> dict[str, Any]:
    """Train one epoch, step the schedule, validate; the history row (1-based ``epoch``)."""
    started = time.perf_counter()
    lr = unit.optimizer.param_groups[0]["lr"]
    losses = _train_epoch(unit, epoch)
    unit.scheduler.step()
    labels, probs = _labels_and_probs(unit.net, unit.arm, unit.store, unit.val_patients, unit.device)
    names = ("loss", "loss_fused", "loss_bmode", "loss_ceus")
    return {"epoch": epoch + 1, **dict(zip(names, losses)), "val_accuracy": patient_accuracy(labels, probs),
            "val_auc": patient_auc(labels, probs), "val_split": unit.arm.selection.split,
            "optimistic": unit.arm.optimistic, "lr": lr, "seconds": time.perf_counter() - started}


def _train_epoch(unit: _SequenceUnit, epoch: int) -> list[float]:
    """One pass over the sampler's epoch of patients; mean (total, fused, NaN, NaN) losses over steps."""
    arm, device = unit.arm, unit.device
    unit.net.train()
    batches = _patient_batches(unit, epoch)
    total = torch.zeros(4, dtype=torch.float64, device=device)
    for step, picked in enumerate(batches):
        patients = [frame_subset(unit.train_patients[k], arm.sequence.frames, seed=arm.seed, epoch=epoch,
                                 patient=unit.train_ids[k]) for k in picked]
        inputs = _batch(unit.store, patients, arm, device, augment=unit.augmenter)
        y = torch.as_tensor(unit.train_labels[picked], device=device)
        with autocast(device, arm.amp):
            parts = unit.criterion(unit.net(*inputs), y)
        _check_finite(parts, unit, epoch, step, len(batches))  # type: ignore[arg-type]
        unit.optimizer.zero_grad(set_to_none=True)
        parts[0].backward()
        unit.optimizer.step()
        total += parts.detach().double()
    return (total / len(batches)).tolist()


def _patient_batches(unit: _SequenceUnit, epoch: int) -> list[np.ndarray]:
    """The epoch's batches of training-patient positions (an incomplete last batch dropped; one at least)."""
    unit.sampler.set_epoch(epoch)
    order = np.fromiter(iter(unit.sampler), dtype=np.int64)
    size = unit.arm.batch_size
    return [order[k * size:(k + 1) * size] for k in range(max(1, len(order) // size))]


def _batch(store: PairStore, patients: Sequence[np.ndarray], arm: ArmSpec, device: torch.device, *,
           augment: PairAugmenter | None = None) -> tuple[torch.Tensor, ...]:
    """(bmode, ceus N × T × 1 × H × W, times N × T, mask N × T) of patients' rows, padded to the longest."""
    rows = np.concatenate(patients)
    x = load_batch(store, rows, device, channels=arm_channels(arm), size=arm.input_size)
    if augment is not None:
        x = augment(x)
    lengths = torch.as_tensor([len(r) for r in patients], device=device)
    mask = torch.arange(int(lengths.max()), device=device).unsqueeze(0) < lengths.unsqueeze(1)
    frames = x.new_zeros((*mask.shape, *x.shape[1:]))
    frames[mask] = x
    times = torch.full(mask.shape, float("nan"), device=device)
    times[mask] = torch.as_tensor(store.index["time_s"].to_numpy(np.float64)[rows], dtype=torch.float32,
                                  device=device)
    return frames[:, :, 0:1], frames[:, :, 1:2], times, mask


def _chunks(patients: list[np.ndarray], budget: int) -> list[list[np.ndarray]]:
    """Consecutive groups of patients of at most ``budget`` frames in all (at least one patient each)."""
    groups: list[list[np.ndarray]] = [[]]
    count = 0
    for rows in patients:
        if groups[-1] and count + len(rows) > budget:
            groups.append([])
            count = 0
        groups[-1].append(rows)
        count += len(rows)
    return groups if groups[0] else []


@torch.no_grad()
def _infer(model: nn.Module, arm: ArmSpec, store: PairStore, patients: list[np.ndarray],
           device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per patient: malignancy probability, mean w_bmode and w_ceus; per frame: the attention weights."""
    was_training = model.training
    model.eval()
    probs, w_bmode, w_ceus, weights = [], [], [], []
    for group in _chunks(patients, arm.batch_size * arm.sequence.frames):
        with autocast(device, arm.amp):
            out: SequenceOutput = model(*_batch(store, group, arm, device))
        probs.append(torch.softmax(out.logits.float(), dim=1)[:, 1].cpu().double().numpy())
        w_bmode.append(_frame_mean(out.w_bmode))
        w_ceus.append(_frame_mean(out.w_ceus))
        attention = out.frame_weights.float().cpu().numpy()
        weights += [attention[i, :len(rows)].astype(np.float64) for i, rows in enumerate(group)]
    model.train(was_training)
    empty = np.zeros(0)
    return (np.concatenate(probs or [empty]), np.concatenate(w_bmode or [empty]),
            np.concatenate(w_ceus or [empty]), weights)


def _frame_mean(values: torch.Tensor) -> np.ndarray:
    """Mean over each patient's real frames (NaN on padding); NaN where every value is NaN (concat)."""
    v = values.float().cpu().double().numpy()
    real = ~np.isnan(v)
    counts = real.sum(axis=1)
    sums = np.where(real, v, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _labels_and_probs(model: nn.Module, arm: ArmSpec, store: PairStore, patients: list[np.ndarray],
                      device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    labels = store.index["label"].to_numpy()[[rows[0] for rows in patients]].astype(int)
    return labels, _infer(model, arm, store, patients, device)[0]


def predict_sequence(arm: ArmSpec, store: PairStore, fold: Fold, checkpoint_path: str | Path, *,
                     device: str | torch.device | None = None, out_dir: str | Path | None = None,
                     patients: Sequence[str] | None = None) -> pd.DataFrame:
    """Predict every test patient of ``fold`` (or ``patients``) with the weights of ``checkpoint_path``.

    Parameters
    ----------
    arm
        The sequence arm spec the checkpoint was trained with.
    store
        The pair store (all of a patient's images are read, in time order).
    fold
        The fold; its ``test`` patients are predicted unless ``patients`` is given.
    checkpoint_path
        ``checkpoint-best.pt`` (or ``-last``) written by :func:`fit_sequence`.
    device
        Overrides ``arm.device``.
    out_dir
        When given (the unit folder), ``predictions.csv`` and ``attention.csv`` are written
        there, atomically.
    patients
        Predict these patients instead of the test fold (e.g. ``fold.val``); the ``fold``
        column still names ``fold``.

    Returns
    -------
    DataFrame
        One row per patient, in store order, columns :data:`PREDICTION_COLUMNS`; ``image_id``
        empty (NaN), ``w_bmode``/``w_ceus`` the patient's mean per-frame fusion weights.
    """
    _check_arm(arm)
    dev = resolve_device(device if device is not None else arm.device)
    model = _load_model(arm, Path(checkpoint_path), dev)
    groups = (patient_rows(store, fold.test, split="test") if patients is None
              else patient_rows(store, patients, split="prediction"))
    probs, w_bmode, w_ceus, weights = _infer(model, arm, store, groups, dev)
    first = store.index.iloc[[rows[0] for rows in groups]]
    frame = pd.DataFrame({"arm": arm.name, "fold": int(fold.index),
                          "patient_id": first["patient_id"].to_numpy(), "image_id": np.nan,
                          "label": first["label"].to_numpy().astype(int),
                          "prob_malignant": probs, "w_bmode": w_bmode, "w_ceus": w_ceus,
                          "threshold": DEFAULT_THRESHOLD}).loc[:, list(PREDICTION_COLUMNS)]
    if out_dir is not None:
        write_csv(frame, Path(out_dir) / PREDICTIONS)
        write_csv(_attention(store, groups, weights), Path(out_dir) / ATTENTION)
    return frame


def _attention(store: PairStore, groups: list[np.ndarray], weights: list[np.ndarray]) -> pd.DataFrame:
    """``attention.csv``: one row per image of the predicted patients, in time order per patient."""
    rows = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    index = store.index.iloc[rows]
    return pd.DataFrame({"patient_id": index["patient_id"].to_numpy(),
                         "image_id": index["image_id"].to_numpy(),
                         "time_s": index["time_s"].to_numpy(np.float64),
                         "frame_weight": np.concatenate(weights) if weights else np.zeros(0)},
                        columns=list(ATTENTION_COLUMNS))


def _load_model(arm: ArmSpec, path: Path, device: torch.device) -> nn.Module:
    if not path.is_file():
        raise DataError("checkpoint not found.", file=str(path),
                        hint="train the unit first (studykit.train.fit_sequence) or give "
                             "checkpoint-best.pt's path.")
    state = load_checkpoint(path)
    model = build_sequence_model(arm, pretrained="none")
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as error:
        raise DataError(f"does not hold weights of sequence arm {arm.name!r} ({str(error)[:200]}).",
                        file=str(path),
                        hint="predict with the arm spec the checkpoint was trained with.") from None
    return model.to(device).eval()
