"""An arm spec's recipe as torch objects: optimiser, learning-rate schedule, training criterion.

Registries keyed by the spec's ``kind`` fields (``optimizer.kind``, ``schedule.kind``,
``loss.kind``), so a new choice is one entry here and one Literal in
:mod:`studykit.protocol.arms`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from studykit.nets import model_kind
from studykit.protocol.arms import ArmSpec

__all__ = ["OPTIMIZERS", "SCHEDULES", "cosine_factor", "criterion"]


#: Optimisers by ``optimizer.kind``.
OPTIMIZERS: dict[str, Callable[[Any, Any], torch.optim.Optimizer]] = {
    "sgd": lambda params, o: torch.optim.SGD(params, lr=o.lr, momentum=o.momentum,
                                             weight_decay=o.weight_decay, nesterov=o.nesterov),
    "adamw": lambda params, o: torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay),
}
def cosine_factor(epoch: int, epochs: int, warmup_epochs: int, min_factor: float) -> float:
    """Learning-rate multiplier of epoch ``epoch`` (0-based) under warm-up + cosine decay.

    Linear warm-up over the first ``warmup_epochs`` epochs (from 1/(w + 1) up to 1), then
    half a cosine from 1 down to ``min_factor`` at the last epoch (Loshchilov & Hutter 2017,
    SGDR without restarts): the schedule scales with ``epochs``, unlike a fixed step decay.
    """
    if epoch < warmup_epochs:
        return (epoch + 1) / (warmup_epochs + 1)
    span = max(epochs - 1 - warmup_epochs, 1)
    progress = min((epoch - warmup_epochs) / span, 1.0)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


#: Learning-rate schedules by ``schedule.kind`` (stepped once per epoch; ``epochs`` is the
#: arm's number of epochs).
SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, Any, int], Any]] = {
    "step": lambda opt, s, n: torch.optim.lr_scheduler.StepLR(opt, step_size=s.step_epochs, gamma=s.gamma),
    "constant": lambda opt, s, n: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=1.0),
    "cosine": lambda opt, s, n: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: cosine_factor(e, n, s.warmup_epochs, s.min_lr_ratio)),
}
#: (β, γ) of the class-balanced focal loss by ``loss.kind``.
_LOSS_PARAMS: dict[str, Callable[[Any], tuple[float, float]]] = {
    "class_balanced_focal": lambda spec: (spec.beta, spec.gamma),
    "cross_entropy": lambda spec: (0.0, 0.0),
}


def criterion(arm: ArmSpec, class_counts: np.ndarray) -> nn.Module:
    """The arm kind's training criterion (loss parts, :class:`studykit.nets.ModelKind`) for the
    training fold's class counts, with β and γ of ``loss.kind``."""
    beta, gamma = _LOSS_PARAMS[arm.loss.kind](arm.loss)
    counts = [int(c) for c in class_counts]
    weights = (arm.loss.weight_fused, arm.loss.weight_bmode, arm.loss.weight_ceus)
    return model_kind(arm.kind).criterion(counts, weights=weights, beta=beta, gamma=gamma)
