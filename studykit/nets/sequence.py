"""Sequence MUF-Net: a patient's annotated frames and their times since injection → one call.

The temporal extension of MUF-Net (issue 13, item 3): each frame's B-mode and CEUS crops go
through their own backbone (:func:`create_encoder`, as in :class:`MUFNet`) and are pooled to
f_B, f_C; MUF-Net's fusion (:func:`create_fusion`, shared attention by default) fuses each
frame to h_t with its weights w_B, w_C; a time encoding of the frame's time since injection is
added, h_t + e(t); attention pooling over the patient's frames (Ilse, Tomczak & Welling 2018,
"Attention-based deep multiple instance learning", ICML, arXiv:1802.04712), a softmax over the
valid frames only, gives the frame weights a_t and the patient vector Σ a_t (h_t + e(t)); a
dropout and a linear head give the patient's logits.

Time encoding: u = t / ``time_scale_s``; the features [u, sin(2^k u), cos(2^k u)] for
k = 0 … ``time_frequencies`` − 1 (sinusoidal features as in Vaswani et al. 2017, "Attention is
all you need", arXiv:1706.03762, on a geometric ladder of frequencies) are projected to the
width by one linear layer. A frame whose time is unknown (NaN: a video without frame timing, a
manifest without ``injection_s``, a PNG pair) takes one learned "unknown time" embedding
instead. Without the time encoding the net is invariant to the order of the frames; with it,
to a permutation of the (frame, time) pairs.

Padding: a batch holds patients with different numbers of frames, padded to T and marked by
``mask`` (True = a real frame). Only the real frames are encoded (so padding changes neither
the batch-norm statistics in training nor anything in evaluation); their frame weight is 0
and their fusion weights NaN. The frame weights are the arm's explanation (in place of
Grad-CAM): which frames, at which times, the call rests on.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from studykit.errors import InputError
from studykit.vocab import ARM_KINDS

from ._checks import check_fraction, check_num_classes
from .backbones import DEFAULT_BACKBONE, create_encoder
from .fusion import DEFAULT_ATTENTION_HIDDEN, create_fusion
from .losses import SequenceLossParts
from .outputs import SequenceOutput
from .registry import register_model

__all__ = ["DEFAULT_TIME_FREQUENCIES", "DEFAULT_TIME_SCALE_S", "SequenceMUFNet", "SequenceOutput",
           "TimeEncoding"]

#: Time scale of the encoding, s (a studykit default: the span of a renal CEUS clip's phases).
DEFAULT_TIME_SCALE_S = 60.0
#: Number of sinusoid frequencies 2^0 … 2^(K−1) of the time encoding.
DEFAULT_TIME_FREQUENCIES = 6


class TimeEncoding(nn.Module):
    """Times since injection (s, NaN = unknown) → N × T × ``width`` embeddings.

    Parameters
    ----------
    width
        Output width (the fused vector's).
    time_scale_s
        s per unit of u = t / scale (> 0).
    frequencies
        Number K ≥ 0 of sinusoid pairs sin(2^k u), cos(2^k u) beside u itself.
    """

    def __init__(self, width: int, *, time_scale_s: float = DEFAULT_TIME_SCALE_S,
                 frequencies: int = DEFAULT_TIME_FREQUENCIES) -> None:
        super().__init__()
        ok = isinstance(time_scale_s, (int, float)) and not isinstance(time_scale_s, bool)
        if not ok or not math.isfinite(time_scale_s) or time_scale_s <= 0:
            raise InputError(f"time_scale_s must be a positive number of seconds, got "
                             f"{time_scale_s!r}", field="time_scale_s")
        if isinstance(frequencies, bool) or not isinstance(frequencies, int) or frequencies < 0:
            raise InputError(f"time_frequencies must be an integer >= 0, got {frequencies!r}",
                             field="time_frequencies")
        self.time_scale_s = float(time_scale_s)
        omega = 2.0 ** torch.arange(frequencies, dtype=torch.float32)
        self.register_buffer("omega", omega, persistent=False)
        self.project = nn.Linear(1 + 2 * frequencies, width)
        self.unknown = nn.Parameter(torch.zeros(width))

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        """N × T float times → N × T × width (the unknown-time embedding where a time is NaN)."""
        known = torch.isfinite(times)
        u = torch.where(known, times.float(), 0.0) / self.time_scale_s
        angles = u.unsqueeze(-1) * self.omega
        features = torch.cat((u.unsqueeze(-1), angles.sin(), angles.cos()), dim=-1)
        encoded = self.project(features)
        return torch.where(known.unsqueeze(-1), encoded, self.unknown.to(encoded.dtype).expand_as(encoded))


@register_model("sequence", criterion=SequenceLossParts, modalities=ARM_KINDS["sequence"],
                options=("fusion",))
class SequenceMUFNet(nn.Module):
    """Two backbones → per-frame fusion → + time encoding → attention over frames → head.

    Parameters
    ----------
    backbone_name
        timm model name of both backbones (``efficientnet_b3``; ``test_efficientnet`` in tests).
    pretrained
        ``"none"``, ``"imagenet"`` or a local weights file, for both backbones.
    num_classes
        Output classes (2: benign, malignant).
    fusion
        Per-frame fusion: ``"attention"`` (MUF-Net's), ``"mean"`` or ``"concat"``.
    attention_hidden
        Hidden width of the fusion scorer and of the temporal attention scorer.
    time_scale_s, time_frequencies
        The time encoding (:class:`TimeEncoding`).
    drop_rate
        Dropout probability on the pooled patient vector before the head, in [0, 1).
    in_chans
        Backbone input channels (gray crops are repeated by each encoder's adapter).

    Notes
    -----
    Inputs: ``bmode`` and ``ceus`` N × T × 1 × H × W (``uint8`` or floats in [0, 1]), ``times``
    N × T float (s since injection, NaN unknown), ``mask`` N × T bool (True: a real frame; every
    patient needs one). Temporal attention: s_t = v·tanh(W x_t + b) + c with x_t = h_t + e(t),
    a = softmax over the real frames, pooled = Σ_t a_t x_t.
    """

    def __init__(self, backbone_name: str = DEFAULT_BACKBONE, *,
                 pretrained: str | os.PathLike[str] = "none", num_classes: int = 2,
                 fusion: str = "attention", attention_hidden: int = DEFAULT_ATTENTION_HIDDEN,
                 time_scale_s: float = DEFAULT_TIME_SCALE_S, time_frequencies: int = DEFAULT_TIME_FREQUENCIES,
                 drop_rate: float = 0.0, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.head_drop = nn.Dropout(check_fraction(drop_rate, field="drop_rate"))
        self.bmode_encoder, self.ceus_encoder = (create_encoder(backbone_name, pretrained=pretrained,
                                                                in_chans=in_chans) for _ in range(2))
        self.fusion_kind = fusion
        self.fusion = create_fusion(fusion, self.bmode_encoder.num_features, hidden=attention_hidden)
        self.num_features = width = self.fusion.out_features
        self.time_encoding = TimeEncoding(width, time_scale_s=time_scale_s, frequencies=time_frequencies)
        self.temporal_score = nn.Sequential(nn.Linear(width, attention_hidden), nn.Tanh(),
                                            nn.Linear(attention_hidden, 1))
        self.head = nn.Linear(width, num_classes)

    def forward_features(self, bmode: torch.Tensor, ceus: torch.Tensor,
                         mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled per-frame features (f_B, f_C), each N × T × C, zero on padding.

        Only the real frames (``mask``) go through the backbones.
        """
        _check_frames(bmode, ceus, mask)
        n, t = mask.shape
        f_bmode = self.bmode_encoder(bmode[mask]).mean(dim=(2, 3))
        f_ceus = self.ceus_encoder(ceus[mask]).mean(dim=(2, 3))
        return _scatter(f_bmode, mask, n, t), _scatter(f_ceus, mask, n, t)

    def forward_head(self, f_bmode: torch.Tensor, f_ceus: torch.Tensor, times: torch.Tensor,
                     mask: torch.Tensor) -> SequenceOutput:
        """Fuse each frame, add its time encoding, pool over the real frames, classify."""
        n, t, c = f_bmode.shape
        if tuple(times.shape) != (n, t):
            raise InputError(f"times must be N x T = {(n, t)}, got {tuple(times.shape)}", field="times")
        fused, w_bmode, w_ceus = self.fusion(f_bmode.reshape(n * t, c), f_ceus.reshape(n * t, c))
        x = fused.reshape(n, t, -1) + self.time_encoding(times).to(fused.dtype)
        scores = self.temporal_score(x).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=1)
        pooled = (weights.unsqueeze(-1).to(x.dtype) * x).sum(dim=1)
        nan = torch.tensor(float("nan"), device=mask.device)
        return SequenceOutput(
            logits=self.head(self.head_drop(pooled)),
            frame_weights=weights,
            w_bmode=torch.where(mask, w_bmode.reshape(n, t).float(), nan),
            w_ceus=torch.where(mask, w_ceus.reshape(n, t).float(), nan),
        )

    def forward(self, bmode: torch.Tensor, ceus: torch.Tensor, times: torch.Tensor,
                mask: torch.Tensor) -> SequenceOutput:
        """:class:`SequenceOutput` of N patients' frames (N × T × 1 × H × W each)."""
        return self.forward_head(*self.forward_features(bmode, ceus, mask), times, mask)


def _scatter(values: torch.Tensor, mask: torch.Tensor, n: int, t: int) -> torch.Tensor:
    """Rows of the real frames (M × C) back into N × T × C, zeros on padding."""
    out = values.new_zeros((n, t, values.shape[-1]))
    out[mask] = values
    return out


def _check_frames(bmode: torch.Tensor, ceus: torch.Tensor, mask: torch.Tensor) -> None:
    """Frames N × T × 1 × H × W, a boolean N × T mask with a real frame per patient."""
    for name, x in (("bmode", bmode), ("ceus", ceus)):
        if x.ndim != 5 or tuple(x.shape[:2]) != tuple(mask.shape):
            raise InputError(f"{name} must be N x T x 1 x H x W with N x T = {tuple(mask.shape)}, got "
                             f"{tuple(x.shape)}", field=name)
    if mask.dtype != torch.bool or mask.ndim != 2:
        raise InputError(f"mask must be a boolean N x T tensor, got {mask.dtype} of shape "
                         f"{tuple(mask.shape)}", field="mask")
    if not bool(mask.any(dim=1).all()):
        raise InputError("every patient needs at least one real frame (a row of mask is all False)",
                         field="mask")
