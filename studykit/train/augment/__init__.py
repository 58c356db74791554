"""Batched, on-device augmentation of B-mode/CEUS crop pairs (no per-image Python loop).

A batch is a tensor ``N × C × H × W`` on the training device (CPU, CUDA or MPS) with the
panels of one frame as channels: ``C = 2`` for a pair (channel 0 = B-mode crop, 1 = CEUS
crop); one-panel batches (``C = 1``) work the same way. ``uint8`` batches are divided by
255, float batches are taken as already in [0, 1]. The output is ``float32``, same shape,
same device, clamped to [0, 1].

Pipeline, each stage vectorised over the whole batch and skipped when its magnitudes are
zero:

1. **Flips** act first, on the input;
2. **affine + elastic** warps are folded with the flips into one sampling grid and one
   ``grid_sample`` (only flips on: exact index permutations, no resampling);
3. **intensity**, per panel: gamma, contrast, gain, multiplicative speckle, additive
   noise, clamping.

Spatial transforms are **shared** by the panels of a pair by default (``pair_spatial =
"shared"``: the two crops come from the same frame and stay registered); with
``"independent"`` each panel draws its own geometry.

Randomness comes only from a ``torch.Generator`` on the batch's device, seeded with the
augmenter's ``seed``: the same seed and the same sequence of batches give the same
outputs on one device (CPU and CUDA streams differ), and ``state_dict`` /
``load_state_dict`` carry the generator state for an exact resume.

Modules: :mod:`.config` (:class:`AugmentConfig`, the settings and their checks),
:mod:`.spatial` (stages 1–2, with the spatial-transformer and elastic-distortion
references), :mod:`.intensity` (stage 3, with the speckle reference) and
:mod:`.augmenter` (:class:`PairAugmenter`: the batch, the order of the stages, the
generator and its state). Everything below is importable from ``studykit.train.augment``.
"""

from __future__ import annotations

from .augmenter import PairAugmenter
from .config import INTERPOLATIONS, PADDING_MODES, PAIR_SPATIAL, AugmentConfig
from .spatial import (
    SpatialParams,
    affine_grid,
    affine_theta,
    apply_spatial,
    elastic_displacement,
    sample_spatial,
)

__all__ = [
    "INTERPOLATIONS",
    "PADDING_MODES",
    "PAIR_SPATIAL",
    "AugmentConfig",
    "PairAugmenter",
    "SpatialParams",
    "affine_grid",
    "affine_theta",
    "apply_spatial",
    "elastic_displacement",
    "sample_spatial",
]
