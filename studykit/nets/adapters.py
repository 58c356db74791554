"""Input adapter: gray ultrasound crops → the normalised input a timm backbone expects.

The pair store holds gray (one-channel) B-mode and CEUS crops; ImageNet backbones take three
normalised channels. MUF-Net (paper.md, Model) feeds 300 × 300 × 3 inputs to its
EfficientNet-b3 backbones, so the gray value is repeated to three channels and normalised
with the backbone's ``pretrained_cfg`` mean and standard deviation. The adapter is a module,
so it runs on the training device, inside autocast, after on-device augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from studykit.errors import InputError

__all__ = ["InputAdapter"]


class InputAdapter(nn.Module):
    """Scale, repeat and normalise gray crops for a backbone.

    Parameters
    ----------
    mean, std
        Per-channel mean and standard deviation of the backbone's training inputs on the
        [0, 1] scale (timm's ``pretrained_cfg['mean']`` / ``['std']``), one value per
        channel of the backbone's pretrained input (3 for ImageNet models).
    in_chans
        Channels the backbone takes. With ``in_chans=1`` and three-channel statistics the
        channel means of ``mean`` and ``std`` are used (as timm does for gray inputs).

    Notes
    -----
    ``forward`` takes ``x`` of shape N × 1 × H × W (or N × ``in_chans`` × H × W): ``uint8``
    gray values 0–255 are divided by 255; floating inputs are taken to be on the [0, 1]
    scale already (not checked: that would synchronise the device). The output is
    ``(x − mean) / std`` of shape N × ``in_chans`` × H × W, floating point.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float], *, in_chans: int = 3) -> None:
        super().__init__()
        mean_t, std_t = _channel_stats(mean, std, in_chans)
        self.in_chans = in_chans
        # Derived from the backbone's config, not learnt: kept out of checkpoints.
        self.register_buffer("mean", mean_t.view(1, in_chans, 1, 1), persistent=False)
        self.register_buffer("std", std_t.view(1, in_chans, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised backbone input, N × ``in_chans`` × H × W (see the class Notes)."""
        _check_input(x, self.in_chans)
        if x.dtype == torch.uint8:
            x = x.to(self.mean.dtype) / 255.0
        if x.shape[1] != self.in_chans:
            x = x.expand(-1, self.in_chans, -1, -1)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        mean = tuple(round(v, 4) for v in self.mean.flatten().tolist())
        std = tuple(round(v, 4) for v in self.std.flatten().tolist())
        return f"in_chans={self.in_chans}, mean={mean}, std={std}"


def _channel_stats(mean: Sequence[float], std: Sequence[float],
                   in_chans: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as float32 tensors with ``in_chans`` entries each."""
    mean_t = torch.as_tensor(tuple(mean), dtype=torch.float32).flatten()
    std_t = torch.as_tensor(tuple(std), dtype=torch.float32).flatten()
    if mean_t.numel() != std_t.numel() or mean_t.numel() == 0:
        raise InputError(f"mean and std need the same number of channels, got {tuple(mean)} and "
                         f"{tuple(std)}", field="mean")
    if not bool((std_t > 0).all()):
        raise InputError(f"std must be positive, got {tuple(std)}", field="std")
    if mean_t.numel() == in_chans:
        return mean_t, std_t
    if in_chans == 1:
        return mean_t.mean().reshape(1), std_t.mean().reshape(1)
    raise InputError(f"in_chans={in_chans} does not fit {mean_t.numel()}-channel statistics",
                     field="in_chans", hint="use in_chans=3 (gray crops are repeated) or 1")


def _check_input(x: torch.Tensor, in_chans: int) -> None:
    """A 4-D gray (or ``in_chans``) batch of uint8 or floating values."""
    if x.ndim != 4 or x.shape[1] not in (1, in_chans):
        raise InputError(f"expected a batch of shape N x 1 x H x W (or N x {in_chans} x H x W), "
                         f"got {tuple(x.shape)}", field="x")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise InputError(f"expected uint8 gray values or floats in [0, 1], got dtype {x.dtype}",
                         field="x")
