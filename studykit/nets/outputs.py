"""Output types of the nets, shared by the modules that build and the losses that read them."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["MUFNetOutput", "SequenceOutput"]


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


class SequenceOutput(NamedTuple):
    """What :meth:`studykit.nets.SequenceMUFNet.forward` returns.

    Attributes
    ----------
    logits
        N × K patient logits (the arm's prediction).
    frame_weights
        N × T attention over the frames: sum 1 over each patient's real frames, 0 on padding.
    w_bmode, w_ceus
        N × T per-frame fusion weights (NaN on padding; NaN everywhere for ``concat``).
    """

    logits: torch.Tensor
    frame_weights: torch.Tensor
    w_bmode: torch.Tensor
    w_ceus: torch.Tensor
