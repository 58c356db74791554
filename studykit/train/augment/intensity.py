"""Photometric stage of the pair augmentation: gamma, contrast, gain, speckle and noise.

Independently for every panel of every image (the two panels are different acquisitions
with their own gain settings): gamma ``x ** exp(u)``, ``u ~ U(-gamma, gamma)``; contrast
about the panel mean, factor in ``[1 - contrast, 1 + contrast]``; gain, factor in
``[1 - gain, 1 + gain]``; multiplicative speckle ``x · g`` with ``g`` log-normal of mean 1
and standard deviation ``σ = speckle`` (``log g ~ N(-s²/2, s²)``, ``s² = log(1 + σ²)``;
speckle is multiplicative, Burckhardt 1978, and nearly additive after the display's log
compression); additive Gaussian noise of standard deviation ``noise``; then clamping to
[0, 1]. A stage whose magnitude is zero draws nothing.

References
----------
Burckhardt CB. Speckle in ultrasound B-mode scans. IEEE Trans Sonics Ultrason
1978;25(1):1–6. doi:10.1109/T-SU.1978.30978.
"""

from __future__ import annotations

import math

import torch

from .config import AugmentConfig


def intensity_(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Gamma, contrast, gain, speckle, noise and clamping, in place on ``x`` (``N × C × H × W``).

    Factors are drawn per panel (``N × C`` draws); contrast and gain are applied together
    as one per-panel ``a·x + b``. In place because every full-batch temporary costs a
    memory pass (and, for batches of tens of MB on the CPU, fresh pages).
    """
    n, c = x.shape[:2]
    device = x.device

    def factor(half_width: float) -> torch.Tensor:
        return 1.0 + (2.0 * torch.rand((n, c, 1, 1), generator=generator, device=device) - 1.0) * half_width

    if config.gamma:
        x.clamp_(0.0, 1.0).pow_(torch.exp(factor(config.gamma) - 1.0))
    if config.contrast or config.gain:
        slope, offset = torch.ones((n, c, 1, 1), device=device), torch.zeros((n, c, 1, 1), device=device)
        if config.contrast:
            slope = factor(config.contrast)
            offset = x.mean(dim=(-2, -1), keepdim=True) * (1.0 - slope)
        if config.gain:
            gain = factor(config.gain)
            slope, offset = slope * gain, offset * gain
        x.mul_(slope).add_(offset)
    noise = torch.empty_like(x) if config.speckle or config.noise else None
    if config.speckle:
        log_sd = math.sqrt(math.log1p(config.speckle**2))
        x.mul_(noise.normal_(-0.5 * log_sd**2, log_sd, generator=generator).exp_())
    if config.noise:
        x.add_(noise.normal_(0.0, config.noise, generator=generator))
    return x.clamp_(0.0, 1.0)
