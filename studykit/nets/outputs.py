"""Output types of the nets, shared by the modules that build and the losses that read them."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["MUFNetOutput"]


class MUFNetOutput(NamedTuple):
    """What :meth:`MUFNet.forward` returns.

    Attributes
    ----------
    fused_logits
        N × K logits of the fused classifier (the arm's prediction).
    bmode_logits, ceus_logits
        N × K logits of the auxiliary classifiers (their losses are used in training only).
    w_bmode, w_ceus
        N fusion weights; sum 1 per sample (0.5 each for ``mean``, NaN for ``concat``).
    """

    fused_logits: torch.Tensor
    bmode_logits: torch.Tensor
    ceus_logits: torch.Tensor
    w_bmode: torch.Tensor
    w_ceus: torch.Tensor
