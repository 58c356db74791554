"""Train one model arm on one fold: ``fit(arm, store, fold, out_dir)``.

The recipe comes entirely from the :class:`~studykit.protocol.arms.ArmSpec`: SGD (lr,
momentum, weight decay, Nesterov) or AdamW; step decay of the lr by ``schedule.gamma``
every ``schedule.step_epochs`` epochs (or constant); ``epochs`` epochs of
``sampler.epoch_length`` (default: the number of training images) draws from a
:class:`ClassBalancedSampler` over the training patients' images, in batches of
``batch_size`` (a last incomplete batch is dropped, as batch norm needs more than one
image); augmentation by :class:`PairAugmenter` on the training device; the nets' losses
(``ClassBalancedFocalLoss`` for single arms, ``MUFNetLoss`` — fused plus auxiliary — for
MUF-Net) with class counts from the training images (``cross_entropy`` = β = γ = 0).

After every epoch the net is evaluated on the validation patients — the fold's inner
validation split (``selection.split: inner_val``) or, reproducing the reference study, its
test patients (``test_fold``: optimistic, and flagged ``optimistic`` in ``history.csv``,
``done.json`` and every checkpoint): the images' malignancy probabilities are aggregated
per patient (``aggregation``) and scored by accuracy at 0.5 and by AUC. The epoch with the
best ``selection.metric`` (ties: the earlier epoch; an undefined metric never wins against a
defined one) is kept as ``checkpoint-best.pt``.

``checkpoint-last.pt`` is written atomically after every epoch with the model, optimiser,
scheduler, sampler, augmenter and RNG states (Python, NumPy, torch CPU and CUDA, per rank),
the history and the best so far; a later call with ``resume=True`` continues from it, and on
the CPU the final weights equal those of an uninterrupted run bit for bit. ``done.json``,
written last, holds the inputs' fingerprint (:func:`studykit.train.checkpoint.fingerprint`):
calling ``fit`` again returns at once; a folder finished or begun with *other* inputs raises
:class:`UnitConflictError` (use a fresh folder, or ``resume=False`` to overwrite it).

Under ``torchrun`` (``torch.distributed`` initialised, world size > 1) the net is wrapped
in ``DistributedDataParallel``, every rank draws its shard of the sampler's epoch (so one
epoch has the same number of images in all), augments with its own seed, and evaluates
the whole validation split; only rank 0 writes files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

from studykit.cohort import Fold, PairStore
from studykit.errors import StudyError
from studykit.protocol.arms import ArmSpec
from studykit.vocab import BEST, DONE, HISTORY, LAST, Progress

from .aggregate import aggregate_patients, patient_accuracy, patient_auc
from .augment import AugmentConfig, PairAugmenter
from .checkpoint import (
    fingerprint,
    get_rng_states,
    load_checkpoint,
    read_done,
    save_checkpoint,
    set_rng_states,
    write_csv,
    write_json,
)
from .data import arm_channels, load_batch, store_rows
from .device import DistContext, autocast, barrier, dist_context, resolve_device, seed_everything
from .predict import build_model, forward, infer
from .recipe import OPTIMIZERS, SCHEDULES
from .recipe import criterion as make_criterion
from .sampler import ClassBalancedSampler

__all__ = ["HISTORY_COLUMNS", "FitResult", "NonFiniteLossError", "UnitConflictError", "fit"]

CHECKPOINT_VERSION = 1
HISTORY_COLUMNS = ("epoch", "loss", "loss_fused", "loss_bmode", "loss_ceus", "val_accuracy", "val_auc",
                   "val_split", "optimistic", "lr", "seconds")


class NonFiniteLossError(StudyError):
    """The training loss became NaN or infinite (diverging lr, bad inputs)."""


class UnitConflictError(StudyError):
    """A unit folder holds a fit of other inputs (arm spec, store or fold)."""


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` produced.

    Attributes
    ----------
    out_dir, best_checkpoint, last_checkpoint
        The unit folder and its two checkpoints.
    best_epoch, best_metric, metric
        The selected epoch (1-based), its validation value and the metric's name.
    split, optimistic
        Selection split; ``optimistic`` is True for ``test_fold`` selection.
    history
        One row per epoch, columns :data:`HISTORY_COLUMNS`.
    skipped
        True when the unit was already done and nothing was trained.
    """

    out_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_epoch: int
    best_metric: float
    metric: str
    split: str
    optimistic: bool
    history: pd.DataFrame
    skipped: bool = False


@dataclass
class _Unit:
    """Everything one fit works with (built once, mutated epoch by epoch)."""

    arm: ArmSpec
    store: PairStore
    device: torch.device
    ctx: DistContext
    net: nn.Module
    model: nn.Module  # ``net``, or its DDP / compiled wrapper
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    sampler: ClassBalancedSampler
    augmenter: PairAugmenter
    train_rows: np.ndarray
    train_labels: np.ndarray
    val_rows: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")


def fit(arm: ArmSpec, store: PairStore, fold: Fold, out_dir: str | Path, *,
        device: str | torch.device | None = None, progress: Progress | None = None,
        resume: bool = True) -> FitResult:
    """Train ``arm`` on ``fold`` of ``store`` into the unit folder ``out_dir``.

    Parameters
    ----------
    arm
        The arm spec (recipe, device options, seed).
    store
        The ROI pair store; the fold's patients must all be in it.
    fold
        Training, inner-validation and test patient ids.
    out_dir
        The unit folder (``studykit.train.unit_dir``); created when missing.
    device
        Overrides ``arm.device`` (``"cpu"``, ``"cuda"``, ``"mps"``, ``"auto"``).
    progress
        ``progress(epochs_done, epochs, description)`` after every epoch (rank 0 only).
    resume
        True: skip a finished unit and continue an interrupted one. False: train from
        scratch, overwriting the folder's files.

    Returns
    -------
    FitResult

    Raises
    ------
    UnitConflictError
        ``out_dir`` holds a fit of other inputs and ``resume`` is True.
    NonFiniteLossError
        The loss became NaN or infinite; the message names the epoch and step.
    StudyError
        Bad arm settings (unknown backbone, missing weights file), a fold patient
        absent from the store, an unavailable device.
    """
    out_dir = Path(out_dir)
    inputs, done, finished = _finished(arm, store, fold, out_dir, resume)
    if finished is not None:
        return finished
    ctx = dist_context()
    if ctx.main and done is not None:
        (out_dir / DONE).unlink()
    unit = _build(arm, store, fold, resolve_device(device if device is not None else arm.device), ctx)
    start = _resume(unit, out_dir / LAST, inputs) if resume and (out_dir / LAST).is_file() else 0
    for epoch in range(start, arm.epochs):
        row = _epoch(unit, epoch)
        _select(unit, row, out_dir, inputs)
        states = _gather({"augmenter": unit.augmenter.state_dict(), "rng": get_rng_states()}, ctx)
        if ctx.main:
            _save_last(unit, out_dir, inputs, epoch + 1, states)
            if progress is not None:
                progress(epoch + 1, arm.epochs, _describe(arm, fold, row))
    history = pd.DataFrame(unit.history, columns=list(HISTORY_COLUMNS))
    if ctx.main:
        write_json({"fingerprint": inputs, "arm": arm.name, "fold": int(fold.index), "epochs": arm.epochs,
                    "best_epoch": unit.best_epoch, "best_metric": unit.best_metric,
                    "metric": arm.selection.metric, "split": arm.selection.split,
                    "optimistic": arm.optimistic,
                    "device": str(unit.device), "world_size": ctx.world_size,
                    "threads": torch.get_num_threads(),
                    "train_seconds": float(history["seconds"].sum())}, out_dir / DONE)
    barrier(ctx)
    return _result(out_dir, arm, history, unit.best_epoch, unit.best_metric)


def _finished(arm: ArmSpec, store: PairStore, fold: Fold, out_dir: Path, resume: bool
              ) -> tuple[dict[str, Any], dict[str, Any] | None, FitResult | None]:
    """The unit's input fingerprint, its ``done.json`` (None when absent) and, when ``resume``
    finds it finished with these inputs, the skipped :class:`FitResult` (else None); a finished
    unit of other inputs raises :class:`UnitConflictError` (:func:`_check_inputs`)."""
    inputs = fingerprint(arm, store, fold)
    done = read_done(out_dir / DONE)
    if not (resume and done is not None):
        return inputs, done, None
    _check_inputs(done.get("fingerprint"), inputs, out_dir / DONE)
    return inputs, done, _result(out_dir, arm, pd.read_csv(out_dir / HISTORY), done["best_epoch"],
                                 done["best_metric"], skipped=True)


def _result(out_dir: Path, arm: ArmSpec, history: pd.DataFrame, best_epoch: int, best_metric: float,
            *, skipped: bool = False) -> FitResult:
    return FitResult(out_dir=out_dir, best_checkpoint=out_dir / BEST, last_checkpoint=out_dir / LAST,
                     best_epoch=int(best_epoch), best_metric=float(best_metric), metric=arm.selection.metric,
                     split=arm.selection.split, optimistic=arm.optimistic, history=history, skipped=skipped)


def _describe(arm: ArmSpec, fold: Fold, row: dict[str, Any]) -> str:
    flag = " (optimistic: test fold)" if row["optimistic"] else ""
    return (f"{arm.name} fold {fold.index}: epoch {row['epoch']}/{arm.epochs} loss {row['loss']:.4f} "
            f"{row['val_split']} acc {row['val_accuracy']:.3f} auc {row['val_auc']:.3f}{flag}")


def _check_inputs(saved: Any, current: dict[str, Any], path: Path) -> None:
    if saved == current:
        return
    saved = saved if isinstance(saved, dict) else {}
    changed = [k for k in current if saved.get(k) != current[k]]
    what = {"arm_sha256": "the arm spec", "store_key": "the pair store", "fold": "the fold index",
            "fold_ids_sha256": "the fold's patients"}
    raise UnitConflictError(f"this unit was trained with other inputs ({', '.join(what[k] for k in changed)} "
                            "changed).", file=str(path),
                            hint="train into a fresh folder (a new arm name or results folder), or call "
                                 "fit(..., resume=False) to overwrite this one.")


def _build(arm: ArmSpec, store: PairStore, fold: Fold, device: torch.device, ctx: DistContext) -> _Unit:
    """Seed, then build the net, loss, optimiser, schedule, sampler and augmenter."""
    seed_everything(arm.seed)
    train_rows = store_rows(store, fold.train, split="train")
    val_rows = store_rows(store, fold.test if arm.optimistic else fold.val,
                          split="test" if arm.optimistic else "validation")
    labels = store.index["label"].to_numpy()[train_rows].astype(np.int64)
    sampler = ClassBalancedSampler(labels, q=arm.sampler.q, epoch_length=arm.sampler.epoch_length,
                                   seed=arm.seed, num_classes=2, num_replicas=ctx.world_size, rank=ctx.rank)
    criterion = make_criterion(arm, sampler.class_counts).to(device)
    net = build_model(arm).to(device)
    if device.type == "cuda" and arm.channels_last:
        net = net.to(memory_format=torch.channels_last)
    model = net
    if ctx.distributed:
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=bool(criterion.leaves_unused_parameters))
    if arm.compile:
        model = torch.compile(model)
    optimizer = OPTIMIZERS[arm.optimizer.kind](net.parameters(), arm.optimizer)
    augmenter = PairAugmenter(AugmentConfig(**arm.augment.model_dump()), seed=arm.seed + 7919 * ctx.rank)
    return _Unit(arm=arm, store=store, device=device, ctx=ctx, net=net, model=model,
                 criterion=criterion, optimizer=optimizer,
                 scheduler=SCHEDULES[arm.schedule.kind](optimizer, arm.schedule, arm.epochs),
                 sampler=sampler,
                 augmenter=augmenter, train_rows=train_rows, train_labels=labels, val_rows=val_rows)


def _epoch(unit: _Unit, epoch: int) -> dict[str, Any]:
    """Train one epoch, step the schedule, validate; the history row (1-based ``epoch``)."""
    started = time.perf_counter()
    lr = unit.optimizer.param_groups[0]["lr"]
    losses = _train_epoch(unit, epoch)
    unit.scheduler.step()
    accuracy, auc = _validate(unit)
    arm = unit.arm
    return {"epoch": epoch + 1, "loss": losses[0], "loss_fused": losses[1], "loss_bmode": losses[2],
            "loss_ceus": losses[3], "val_accuracy": accuracy, "val_auc": auc,
            "val_split": arm.selection.split, "optimistic": arm.optimistic, "lr": lr,
            "seconds": time.perf_counter() - started}


def _train_epoch(unit: _Unit, epoch: int) -> list[float]:
    """One pass over the sampler's epoch; mean (total, fused, bmode, ceus) losses over steps and ranks."""
    arm, device = unit.arm, unit.device
    unit.model.train()
    unit.sampler.set_epoch(epoch)
    order = np.fromiter(iter(unit.sampler), dtype=np.int64)
    steps = max(1, len(order) // arm.batch_size)
    total = torch.zeros(4, dtype=torch.float64, device=device)
    for step in range(steps):
        picked = order[step * arm.batch_size:(step + 1) * arm.batch_size]
        x = load_batch(unit.store, unit.train_rows[picked], device, channels=arm_channels(arm),
                       size=arm.input_size)
        x = unit.augmenter(x)
        if device.type == "cuda" and arm.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.as_tensor(unit.train_labels[picked], device=device)
        with autocast(device, arm.amp):
            parts = _loss_parts(unit, forward(unit.model, x), y)
        _check_finite(parts, unit, epoch, step, steps)
        unit.optimizer.zero_grad(set_to_none=True)
        parts[0].backward()
        unit.optimizer.step()
        total += parts.detach().double()
    if unit.ctx.distributed:
        dist.all_reduce(total)
        total /= unit.ctx.world_size
    return (total / steps).tolist()


def _loss_parts(unit: _Unit, output: Any, y: torch.Tensor) -> torch.Tensor:
    """``[total, fused, bmode, ceus]`` (NaN auxiliary parts for a single arm)."""
    return unit.criterion(output, y)


def _check_finite(parts: torch.Tensor, unit: _Unit, epoch: int, step: int, steps: int) -> None:
    """Raise :class:`NonFiniteLossError` when the total loss is NaN/inf on any rank."""
    bad = (~torch.isfinite(parts[0].detach())).to(torch.float32).reshape(1)
    if unit.ctx.distributed:
        dist.all_reduce(bad)
    if bad.item() == 0:
        return
    arm = unit.arm
    raise NonFiniteLossError(
        f"the training loss became {parts[0].item()} at epoch {epoch + 1} of {arm.epochs}, step {step + 1} "
        f"of {steps} (learning rate {unit.optimizer.param_groups[0]['lr']:g}).", field=f"{arm.name}.loss",
        hint="lower optimizer.lr, check the pair store for corrupt crops, or set amp: false; the last "
             "finished epoch's checkpoint-last.pt is kept.")


def _validate(unit: _Unit) -> tuple[float, float]:
    """Patient-level accuracy at 0.5 and AUC of the aggregated probabilities on the validation split."""
    result = infer(unit.net, unit.arm, unit.store, unit.val_rows, unit.device)
    index = unit.store.index.iloc[unit.val_rows]
    frame = pd.DataFrame({"patient_id": index["patient_id"].to_numpy(), "label": index["label"].to_numpy(),
                          "prob_malignant": result["prob_malignant"]})
    patients = aggregate_patients(frame, unit.arm.aggregation, by=())
    labels, scores = patients["label"].to_numpy(), patients["prob_malignant"].to_numpy()
    return patient_accuracy(labels, scores), patient_auc(labels, scores)


#: History column each ``selection.metric`` compares (``last`` keeps the final epoch and
#: reports its validation AUC).
_SELECTION_COLUMN = {"accuracy": "val_accuracy", "auc": "val_auc", "last": "val_auc"}


def _select(unit: _Unit, row: dict[str, Any], out_dir: Path, inputs: dict[str, Any]) -> None:
    """Record the epoch's row; keep its weights as the best when its metric beats the best so far."""
    unit.history.append(row)
    metric = unit.arm.selection.metric
    value = row[_SELECTION_COLUMN[metric]]
    best = unit.best_metric if math.isfinite(unit.best_metric) else -math.inf
    if metric == "last":  # written once, at the final epoch (equal to checkpoint-last.pt)
        improved = row["epoch"] == unit.arm.epochs
    else:
        improved = unit.best_epoch == 0 or (math.isfinite(value) and value > best)
    if not improved:
        return
    unit.best_epoch, unit.best_metric = row["epoch"], float(value)
    if unit.ctx.main:
        save_checkpoint({"version": CHECKPOINT_VERSION, "model": unit.net.state_dict(),
                         "meta": _meta(unit, inputs, row["epoch"])}, out_dir / BEST)


def _meta(unit: _Unit, inputs: dict[str, Any], epoch: int) -> dict[str, Any]:
    arm = unit.arm
    return {"arm": arm.name, "arm_spec": arm.model_dump(mode="json"), "fingerprint": inputs, "epoch": epoch,
            "best_epoch": unit.best_epoch, "best_metric": unit.best_metric, "metric": arm.selection.metric,
            "split": arm.selection.split, "optimistic": arm.optimistic}


def _gather(obj: Any, ctx: DistContext) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` in a single process)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def _save_last(unit: _Unit, out_dir: Path, inputs: dict[str, Any], epochs_done: int,
               states: list[dict[str, Any]]) -> None:
    """``checkpoint-last.pt`` and ``history.csv`` after an epoch (rank 0; ``states``: every rank's
    augmenter and RNG states)."""
    state = {"version": CHECKPOINT_VERSION, "meta": _meta(unit, inputs, epochs_done), "epoch": epochs_done,
             "model": unit.net.state_dict(), "optimizer": unit.optimizer.state_dict(),
             "scheduler": unit.scheduler.state_dict(), "sampler": unit.sampler.state_dict(),
             "augmenter": [s["augmenter"] for s in states], "rng": [s["rng"] for s in states],
             "history": unit.history}
    save_checkpoint(state, out_dir / LAST)
    write_csv(pd.DataFrame(unit.history, columns=list(HISTORY_COLUMNS)), out_dir / HISTORY)


def _resume(unit: _Unit, path: Path, inputs: dict[str, Any]) -> int:
    """Restore everything from ``checkpoint-last.pt``; the number of finished epochs."""
    state = load_checkpoint(path)
    _check_inputs(state.get("meta", {}).get("fingerprint"), inputs, path)
    if len(state["rng"]) != unit.ctx.world_size:
        raise UnitConflictError(f"was saved by {len(state['rng'])} process(es), resumed with "
                                f"{unit.ctx.world_size}.", file=str(path),
                                hint="resume with the same torchrun --nproc_per_node as the interrupted run.")
    unit.net.load_state_dict(state["model"])
    unit.optimizer.load_state_dict(state["optimizer"])
    unit.scheduler.load_state_dict(state["scheduler"])
    unit.sampler.load_state_dict(state["sampler"])
    unit.augmenter.load_state_dict(state["augmenter"][unit.ctx.rank])
    set_rng_states(state["rng"][unit.ctx.rank])
    unit.history = list(state["history"])
    unit.best_epoch, unit.best_metric = state["meta"]["best_epoch"], state["meta"]["best_metric"]
    return int(state["epoch"])
