"""Fusion of the two modalities' pooled features (MUF-Net's adaptive weighting and ablations).

MUF-Net (paper.md, Model) scores each modality's pooled 1536-d vector with one attention block
whose weights are shared between B-mode and CEUS; the two scores become the adaptive weights
w_B, w_C (a softmax over the two, the studykit default) and the fused vector is
w_B·f_B + w_C·f_C. The shared scorer follows attention-based pooling (Ilse, Tomczak & Welling
2018, "Attention-based deep multiple instance learning", ICML, arXiv:1802.04712):
Linear(C, hidden) → tanh → Linear(hidden, 1).

Registered kinds: ``attention`` (the reference), ``mean`` (weights fixed at 0.5 / 0.5) and
``concat`` (the fused head sees the concatenation [f_B, f_C]; it has no per-modality weights,
so they are reported as NaN, never as a fake 0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from studykit.errors import InputError

from ._checks import lookup

__all__ = [
    "AttentionFusion",
    "ConcatFusion",
    "FusionOutput",
    "MeanFusion",
    "create_fusion",
    "list_fusions",
]

#: Hidden width of the attention scorer (not given by the paper; a studykit default).
DEFAULT_ATTENTION_HIDDEN = 256


class FusionOutput(NamedTuple):
    """Fused features and the modality weights.

    Attributes
    ----------
    fused
        N × ``out_features`` fused vector.
    w_bmode, w_ceus
        N weights of B-mode and CEUS (sum 1 per sample; NaN for ``concat``).
    """

    fused: torch.Tensor
    w_bmode: torch.Tensor
    w_ceus: torch.Tensor


class AttentionFusion(nn.Module):
    """Adaptive weighting by one scorer shared between the modalities.

    Parameters
    ----------
    num_features
        Width C of each modality's pooled vector.
    hidden
        Hidden width of the scorer.

    Notes
    -----
    s_m = v·tanh(W f_m + b) + c for m ∈ {B, C} with the same (W, b, v, c);
    (w_B, w_C) = softmax(s_B, s_C); fused = w_B f_B + w_C f_C (N × C).
    """

    def __init__(self, num_features: int, *, hidden: int = DEFAULT_ATTENTION_HIDDEN) -> None:
        super().__init__()
        _check_width(hidden, "attention_hidden")
        self.out_features = num_features
        self.score = nn.Sequential(nn.Linear(num_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, f_bmode: torch.Tensor, f_ceus: torch.Tensor) -> FusionOutput:
        """Fuse two N × C vectors; the one scorer sees both (stacked as N × 2 × C)."""
        stacked = torch.stack((f_bmode, f_ceus), dim=1)
        weights = self.score(stacked).squeeze(-1).float().softmax(dim=1)
        fused = (weights.unsqueeze(-1).to(stacked.dtype) * stacked).sum(dim=1)
        return FusionOutput(fused, weights[:, 0], weights[:, 1])


class MeanFusion(nn.Module):
    """Fixed equal weights: fused = (f_B + f_C) / 2, w_B = w_C = 0.5 (ablation)."""

    def __init__(self, num_features: int, *, hidden: int = DEFAULT_ATTENTION_HIDDEN) -> None:
        super().__init__()
        self.out_features = num_features

    def forward(self, f_bmode: torch.Tensor, f_ceus: torch.Tensor) -> FusionOutput:
        """Fuse two N × C vectors by their mean."""
        half = torch.full(f_bmode.shape[:1], 0.5, device=f_bmode.device)
        return FusionOutput(0.5 * (f_bmode + f_ceus), half, half.clone())


class ConcatFusion(nn.Module):
    """Concatenation [f_B, f_C] (N × 2C); no modality weights, reported as NaN (ablation)."""

    def __init__(self, num_features: int, *, hidden: int = DEFAULT_ATTENTION_HIDDEN) -> None:
        super().__init__()
        self.out_features = 2 * num_features

    def forward(self, f_bmode: torch.Tensor, f_ceus: torch.Tensor) -> FusionOutput:
        """Fuse two N × C vectors by concatenation."""
        nan = torch.full(f_bmode.shape[:1], float("nan"), device=f_bmode.device)
        return FusionOutput(torch.cat((f_bmode, f_ceus), dim=1), nan, nan.clone())


_FUSIONS: dict[str, Callable[..., nn.Module]] = {
    "attention": AttentionFusion,
    "mean": MeanFusion,
    "concat": ConcatFusion,
}


def list_fusions() -> list[str]:
    """Registered fusion kinds."""
    return sorted(_FUSIONS)


def create_fusion(kind: str, num_features: int, *, hidden: int = DEFAULT_ATTENTION_HIDDEN) -> nn.Module:
    """Build a fusion module of ``kind`` for C = ``num_features`` (``hidden``: attention only)."""
    _check_width(num_features, "num_features")
    return lookup(_FUSIONS, kind, what="fusion", field="fusion")(num_features, hidden=hidden)


def _check_width(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{field} must be a positive integer, got {value!r}", field=field)
