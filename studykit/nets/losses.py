"""Class-balanced focal loss and MUF-Net's three-part training loss.

Class-balanced loss (Cui, Jia, Lin, Song & Belongie 2019, "Class-balanced loss based on
effective number of samples", CVPR, doi:10.1109/CVPR.2019.00949) weights class y by the
inverse effective number of its training samples, (1 − β) / (1 − β^n_y); the focal factor
(1 − p_t)^γ (Lin, Goyal, Girshick, He & Dollár 2017, "Focal loss for dense object
detection", ICCV, doi:10.1109/ICCV.2017.324) down-weights well-classified samples. MUF-Net
(paper.md, Model) uses it for all three of its losses; studykit's defaults are β = 0.999,
γ = 2 and loss weights 1.0 (fused) / 0.5 / 0.5 (auxiliary).

Reduction (decided here, tested): the mean over the batch of the per-sample weighted losses,
(1/N) Σ_i w_{y_i} ℓ_i, as Cui's reference implementation does (its softmax loss sums the
weighted losses and divides by the number of samples). This is *not* torch's weighted
mean Σ w ℓ / Σ w (``F.cross_entropy(weight=...)``): with the class weights normalised to sum
to K, the loss keeps the scale of an unweighted loss whatever the batch's class mix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from studykit.errors import InputError

from ._checks import check_fraction
from .outputs import MUFNetOutput, SequenceOutput

__all__ = ["ClassBalancedFocalLoss", "MUFNetLoss", "MUFNetLossOutput", "MUFNetLossParts", "SequenceLossParts",
           "SingleLossParts", "class_balanced_weights"]

Reduction = Literal["mean", "sum", "none"]


def class_balanced_weights(class_counts: Sequence[int] | torch.Tensor, *,
                           beta: float = 0.999) -> torch.Tensor:
    """Class weights w_y = (1 − β) / (1 − β^n_y), normalised to sum to the number of classes K.

    Parameters
    ----------
    class_counts
        n_y: training samples of each class (the training fold's counts), K ≥ 2 entries.
    beta
        β in [0, 1). β = 0 gives equal weights; β → 1 approaches inverse class frequency.

    Returns
    -------
    torch.Tensor
        K float32 weights summing to K.

    Raises
    ------
    InputError
        Fewer than two classes, a negative, non-finite or zero count, or β outside [0, 1).
    """
    beta = check_fraction(beta, field="beta")
    counts = _check_counts(class_counts)
    effective = 1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts)
    weights = (1.0 - beta) / effective
    return (weights / weights.sum() * counts.numel()).to(torch.float32)


class ClassBalancedFocalLoss(nn.Module):
    """Softmax class-balanced focal loss (Cui et al. 2019; Lin et al. 2017).

    Parameters
    ----------
    class_counts
        Training samples per class, n_y (K ≥ 2 entries, none zero).
    beta
        β of the effective number of samples, in [0, 1).
    gamma
        Focal exponent γ ≥ 0 (0: class-balanced cross-entropy).
    reduction
        ``"mean"`` (default: (1/N) Σ_i ℓ_i, see the module docstring), ``"sum"`` or ``"none"``.

    Notes
    -----
    For logits z_i (N × K) and targets y_i (N), p_i = softmax(z_i) and
    ℓ_i = −w_{y_i} (1 − p_{i,y_i})^γ log p_{i,y_i} with w from :func:`class_balanced_weights`.
    Computed in float32 from ``log_softmax`` (stable under autocast).
    """

    class_weights: torch.Tensor

    def __init__(self, class_counts: Sequence[int] | torch.Tensor, *, beta: float = 0.999,
                 gamma: float = 2.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or not math.isfinite(gamma) \
                or gamma < 0:
            raise InputError(f"gamma must be a finite number >= 0, got {gamma!r}", field="gamma")
        if reduction not in ("mean", "sum", "none"):
            raise InputError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}",
                             field="reduction")
        self.beta, self.gamma, self.reduction = float(beta), float(gamma), reduction
        self.register_buffer("class_weights", class_balanced_weights(class_counts, beta=beta))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of logits N × K against class indices N (int64); a scalar unless ``reduction="none"``."""
        _check_logits(logits, target, self.class_weights.numel())
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, target.long().unsqueeze(1)).squeeze(1)
        loss = -self.class_weights[target] * log_p
        if self.gamma != 0.0:  # skip (1 − p)^0: its gradient is NaN where p = 1
            loss = loss * (1.0 - log_p.exp()).clamp_min(0.0).pow(self.gamma)
        if self.reduction == "none":
            return loss
        return loss.sum() if self.reduction == "sum" else loss.mean()

    def extra_repr(self) -> str:
        weights = tuple(round(w, 4) for w in self.class_weights.tolist())
        return f"beta={self.beta}, gamma={self.gamma}, weights={weights}, reduction={self.reduction!r}"


class MUFNetLossOutput(NamedTuple):
    """The total MUF-Net loss (backpropagate this) and its three parts (for the history)."""

    total: torch.Tensor
    fused: torch.Tensor
    bmode: torch.Tensor
    ceus: torch.Tensor


class MUFNetLoss(nn.Module):
    """Weighted sum of the fused and the two auxiliary class-balanced focal losses.

    Parameters
    ----------
    class_counts
        Training samples per class (the training fold's counts).
    weights
        (fused, B-mode auxiliary, CEUS auxiliary) loss weights, non-negative, not all zero.
    beta, gamma
        As in :class:`ClassBalancedFocalLoss` (one loss, the same class weights, for all three).

    Notes
    -----
    total = λ_F ℓ(z_F, y) + λ_B ℓ(z_B, y) + λ_C ℓ(z_C, y). The auxiliary heads enter the
    training loss only; predictions use the fused logits.
    """

    def __init__(self, class_counts: Sequence[int] | torch.Tensor, *,
                 weights: tuple[float, float, float] = (1.0, 0.5, 0.5), beta: float = 0.999,
                 gamma: float = 2.0) -> None:
        super().__init__()
        self.weights = _check_loss_weights(weights)
        self.criterion = ClassBalancedFocalLoss(class_counts, beta=beta, gamma=gamma)

    def forward(self, output: MUFNetOutput, target: torch.Tensor) -> MUFNetLossOutput:
        """Total and parts (scalars) of a :class:`MUFNetOutput` against class indices N."""
        fused = self.criterion(output.fused_logits, target)
        bmode = self.criterion(output.bmode_logits, target)
        ceus = self.criterion(output.ceus_logits, target)
        w_f, w_b, w_c = self.weights
        return MUFNetLossOutput(w_f * fused + w_b * bmode + w_c * ceus, fused, bmode, ceus)

    def extra_repr(self) -> str:
        return f"weights={self.weights}"


class SingleLossParts(nn.Module):
    """Loss parts ``[total, fused, bmode, ceus]`` of a single-modality net: its class-balanced
    focal loss as total and fused part, NaN auxiliary parts (it has no auxiliary heads).

    ``weights`` (the arm spec's fused/B-mode/CEUS weights) are accepted for a uniform factory
    signature and not used: the one loss is the total.
    """

    leaves_unused_parameters = False

    def __init__(self, class_counts: Sequence[int] | torch.Tensor, *,
                 weights: tuple[float, float, float] = (1.0, 0.5, 0.5), beta: float = 0.999,
                 gamma: float = 2.0) -> None:
        super().__init__()
        self.criterion = ClassBalancedFocalLoss(class_counts, beta=beta, gamma=gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Shape (4,): the loss twice, then two NaNs."""
        loss = self.criterion(logits, target)
        nan = torch.full_like(loss, float("nan"))
        return torch.stack((loss, loss, nan, nan))


class SequenceLossParts(SingleLossParts):
    """Loss parts ``[total, fused, bmode, ceus]`` of a sequence net: the class-balanced focal
    loss of its patient logits (:class:`SequenceOutput`) as total and fused part, NaN auxiliary
    parts (it has no auxiliary heads). ``class_counts`` are the training *patients* per class.
    """

    def forward(self, output: SequenceOutput, target: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Shape (4,): the loss of ``output.logits`` twice, then two NaNs."""
        return super().forward(output.logits, target)


class MUFNetLossParts(MUFNetLoss):
    """:class:`MUFNetLoss` as a tensor of parts ``[total, fused, bmode, ceus]``, shape (4,).

    ``leaves_unused_parameters``: an auxiliary weight of 0 leaves that head without gradient
    (DistributedDataParallel must then be told to look for unused parameters).
    """

    @property
    def leaves_unused_parameters(self) -> bool:
        return min(self.weights[1:]) == 0

    def forward(self, output: MUFNetOutput, target: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.stack(tuple(super().forward(output, target)))


def _check_counts(class_counts: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Counts as a float64 tensor of K ≥ 2 positive finite values."""
    try:
        counts = torch.as_tensor(class_counts, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"class_counts must be numbers, got {class_counts!r}",
                         field="class_counts") from err
    if counts.numel() < 2 or not bool(torch.isfinite(counts).all()) or bool((counts < 0).any()):
        raise InputError(f"class_counts must be K >= 2 non-negative counts, got {counts.tolist()}",
                         field="class_counts")
    empty = [i for i, n in enumerate(counts.tolist()) if n == 0]
    if empty:
        raise InputError(f"class_counts {counts.tolist()}: class {empty} has no training samples",
                         field="class_counts",
                         hint="every class needs training samples in every fold: check the split, "
                              "or use fewer folds")
    return counts


def _check_logits(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> None:
    """Logits N × K with K = ``num_classes`` and integer targets of length N."""
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise InputError(f"expected logits of shape N x {num_classes}, got {tuple(logits.shape)}",
                         field="logits")
    if target.ndim != 1 or target.shape[0] != logits.shape[0] or target.is_floating_point():
        raise InputError(f"expected {logits.shape[0]} integer class indices, got shape "
                         f"{tuple(target.shape)} dtype {target.dtype}", field="target")


def _check_loss_weights(weights: Sequence[float]) -> tuple[float, float, float]:
    """Three non-negative finite weights, not all zero."""
    values = tuple(weights) if isinstance(weights, (tuple, list)) else ()
    ok = len(values) == 3 and all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                  and math.isfinite(w) and w >= 0 for w in values)
    if not ok or sum(values) == 0:
        raise InputError(f"weights must be three non-negative numbers (fused, bmode, ceus), not all "
                         f"zero, got {weights!r}", field="weights")
    return (float(values[0]), float(values[1]), float(values[2]))
