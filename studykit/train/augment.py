"""Batched, on-device augmentation of B-mode/CEUS crop pairs (no per-image Python loop).

A batch is a tensor ``N × C × H × W`` on the training device (CPU, CUDA or MPS) with the
panels of one frame as channels: ``C = 2`` for a pair (channel 0 = B-mode crop, 1 = CEUS
crop); one-panel batches (``C = 1``) work the same way. ``uint8`` batches are divided by
255, float batches are taken as already in [0, 1]. The output is ``float32``, same shape,
same device, clamped to [0, 1].

Pipeline, each stage vectorised over the whole batch and skipped when its magnitudes are
zero:

1. **Flips** (probabilities ``hflip_p``, ``vflip_p``) act first, on the input.
2. **Affine + elastic, one resampling.** A random affine — rotation uniform in
   ``±rotation_deg`` degrees, zoom factor uniform in ``[1 - scale, 1 + scale]``, shift
   uniform in ``±translate`` × image side — is turned into the sampling grid of
   ``torch.nn.functional.affine_grid`` (computed as an equivalent broadcast sum, in
   pixel-true geometry so rotations stay rigid on non-square crops),
   a smooth elastic displacement field is added to the grid, the flips are folded in as
   sign changes, and ``grid_sample`` resamples the batch once (the spatial transformer of
   Jaderberg et al. 2015). The elastic field follows Simard et al. 2003 with bicubic
   instead of Gaussian smoothing: a coarse ``elastic_grid × elastic_grid`` field of
   standard normal displacements is upsampled bicubically to ``H × W`` and rescaled so
   that its mean length over the image is exactly ``elastic_px`` pixels (random
   directions, fixed size). Coordinates follow ``align_corners=False``: pixel ``i`` has
   normalised coordinate ``(2i + 1) / W - 1``. When only flips are on, nothing is
   resampled: they are exact index permutations selected per image with ``torch.where``.
3. **Intensity**, independently for every panel of every image (the two panels are
   different acquisitions with their own gain settings): gamma ``x ** exp(u)``,
   ``u ~ U(-gamma, gamma)``; contrast about the panel mean, factor in
   ``[1 - contrast, 1 + contrast]``; gain, factor in ``[1 - gain, 1 + gain]``;
   multiplicative speckle ``x · g`` with ``g`` log-normal of mean 1 and standard
   deviation ``σ = speckle`` (``log g ~ N(-s²/2, s²)``, ``s² = log(1 + σ²)``; speckle is
   multiplicative, Burckhardt 1978, and nearly additive after the display's log
   compression); additive Gaussian noise of standard deviation ``noise``; then clamping.

Spatial transforms are **shared** by the panels of a pair by default (``pair_spatial =
"shared"``: the two crops come from the same frame and stay registered); with
``"independent"`` each panel draws its own geometry.

Randomness comes only from a ``torch.Generator`` on the batch's device, seeded with the
augmenter's ``seed``: the same seed and the same sequence of batches give the same
outputs on one device (CPU and CUDA streams differ), and ``state_dict`` /
``load_state_dict`` carry the generator state for an exact resume.

References
----------
Jaderberg M, Simonyan K, Zisserman A, Kavukcuoglu K. Spatial transformer networks.
NeurIPS 2015. arXiv:1506.02025.

Simard PY, Steinkraus D, Platt JC. Best practices for convolutional neural networks
applied to visual document analysis. ICDAR 2003. doi:10.1109/ICDAR.2003.1227801.

Burckhardt CB. Speckle in ultrasound B-mode scans. IEEE Trans Sonics Ultrason
1978;25(1):1–6. doi:10.1109/T-SU.1978.30978.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from studykit.errors import InputError
from studykit.vocab import AUGMENT_CHOICES, AUGMENT_LIMITS, ELASTIC_GRID_MIN, did_you_mean

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

#: Names of the choice settings (:data:`studykit.vocab.AUGMENT_CHOICES`).
_CHOICES = AUGMENT_CHOICES
PAIR_SPATIAL = _CHOICES["pair_spatial"]
INTERPOLATIONS = _CHOICES["interpolation"]
PADDING_MODES = _CHOICES["padding_mode"]
_STATE_VERSION = 1
#: Numeric fields: (lower bound, upper bound, upper bound allowed?, meaning); the protocol's
#: ``AugmentSpec`` takes its bounds from the same table.
_LIMITS = AUGMENT_LIMITS


@dataclass(frozen=True)
class AugmentConfig:
    """Magnitudes of every augmentation; the defaults (all zero) are the identity.

    Parameters
    ----------
    rotation_deg
        Rotation angle uniform in ``[-rotation_deg, rotation_deg]`` degrees (≤ 180).
    scale
        Zoom factor uniform in ``[1 - scale, 1 + scale]`` (``0 ≤ scale < 1``).
    translate
        Shift uniform in ``±translate`` × width (x) and × height (y), independently.
    hflip_p, vflip_p
        Probabilities of a horizontal (left–right) and a vertical (up–down) flip.
    elastic_px
        Mean length, in pixels, of the elastic displacement field (Simard et al. 2003).
    elastic_grid
        Control points per side of the coarse elastic field (≥ 2); the field varies on
        a length scale of about ``side / (elastic_grid - 1)`` pixels. Its largest
        gradient is about 4–9 × ``elastic_px · (elastic_grid - 1) / side``, so
        ``elastic_px ≤ side / (10 · (elastic_grid - 1))`` (10 px for 300-px crops and 4
        points) keeps it below 1: the deformation never folds.
    gain, contrast, gamma
        Per-panel multiplicative gain, contrast about the panel mean and gamma; see the
        module docstring for the distributions.
    speckle
        Standard deviation of the mean-1 log-normal multiplicative noise.
    noise
        Standard deviation of the additive Gaussian noise, in intensity units ([0, 1]).
    pair_spatial
        ``"shared"`` (default): both panels of a pair get the same geometric transform;
        ``"independent"``: each panel its own.
    interpolation
        ``grid_sample`` mode: ``"bilinear"`` (default), ``"nearest"`` or ``"bicubic"``.
    padding_mode
        Value outside the crop: ``"zeros"`` (default, black as outside the ultrasound
        sector), ``"border"`` or ``"reflection"``.
    """

    rotation_deg: float = 0.0
    scale: float = 0.0
    translate: float = 0.0
    hflip_p: float = 0.0
    vflip_p: float = 0.0
    elastic_px: float = 0.0
    elastic_grid: int = 4
    gain: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    speckle: float = 0.0
    noise: float = 0.0
    pair_spatial: str = "shared"
    interpolation: str = "bilinear"
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        for name, limits in _LIMITS.items():
            object.__setattr__(self, name, _check_magnitude(name, getattr(self, name), limits))
        grid = self.elastic_grid
        if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < ELASTIC_GRID_MIN:
            raise InputError(f"the elastic control points per side must be an integer ≥ {ELASTIC_GRID_MIN}; "
                             f"got {grid!r}.",
                             field="elastic_grid", hint="4 control points per side is a smooth default.")
        object.__setattr__(self, "elastic_grid", int(grid))
        for name, allowed in _CHOICES.items():
            _check_choice(name, getattr(self, name), allowed)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> AugmentConfig:
        """Build from a mapping (an arm spec's ``augmentation:`` block); unknown keys are errors."""
        values = {} if values is None else values
        if not isinstance(values, Mapping):
            raise InputError(f"augmentation settings must be a mapping; got {type(values).__name__}.",
                             field="augmentation")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                raise InputError(f"unknown augmentation setting {key!r}.", field=str(key),
                                 hint=did_you_mean(key, known, f"known settings: {', '.join(known)}."))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @property
    def has_affine(self) -> bool:
        """Whether rotation, zoom or shift is on (flips excluded: they are exact)."""
        return bool(self.rotation_deg or self.scale or self.translate)

    @property
    def has_flips(self) -> bool:
        """Whether either flip has a non-zero probability."""
        return bool(self.hflip_p or self.vflip_p)


@dataclass
class SpatialParams:
    """Geometric parameters of ``M`` transforms (``M = N`` shared, ``N·C`` independent).

    Attributes
    ----------
    affine
        ``M × 2 × 3`` sampling matrices in ``affine_grid``'s normalised coordinates
        (output → input), or ``None`` for none.
    displacement
        ``M × H × W × 2`` elastic displacement in pixels, ``(dx, dy)`` per output pixel,
        or ``None``.
    hflip, vflip
        ``M`` booleans (flip this transform's images), or ``None``.
    """

    affine: torch.Tensor | None = None
    displacement: torch.Tensor | None = None
    hflip: torch.Tensor | None = None
    vflip: torch.Tensor | None = None


class PairAugmenter:
    """Random augmentation of image-pair batches on their own device.

    Parameters
    ----------
    config
        An :class:`AugmentConfig`, a mapping for :meth:`AugmentConfig.from_dict`, or
        ``None`` (identity).
    seed
        Seed of the augmenter's ``torch.Generator``, created on the device of the first
        batch; later batches must be on the same device.

    Examples
    --------
    >>> augment = PairAugmenter({"rotation_deg": 15, "hflip_p": 0.5, "speckle": 0.2}, seed=0)
    >>> out = augment(torch.zeros(8, 2, 64, 64, dtype=torch.uint8))
    >>> out.shape, out.dtype
    (torch.Size([8, 2, 64, 64]), torch.float32)
    """

    def __init__(self, config: AugmentConfig | Mapping[str, Any] | None = None, *, seed: int = 0) -> None:
        if not isinstance(config, AugmentConfig):
            config = AugmentConfig.from_dict(config)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"must be a non-negative integer; got {seed!r}.", field="seed")
        self.config = config
        self.seed = seed
        self._generator: torch.Generator | None = None

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment ``batch`` (``N × C × H × W``, uint8 or float in [0, 1]).

        Parameters
        ----------
        batch
            Images on the training device.
        generator
            Draw from this generator (on the batch's device) instead of the augmenter's own.

        Returns
        -------
        torch.Tensor
            ``float32``, ``N × C × H × W``, in [0, 1], on ``batch.device``.
        """
        images = _as_float(batch)
        gen = self._generator_for(images.device) if generator is None else _check_generator(
            generator, images.device)
        cfg = self.config
        n, c, h, w = images.shape
        if cfg.has_affine or cfg.has_flips or cfg.elastic_px:
            shared = cfg.pair_spatial == "shared"
            flat = images if shared else images.reshape(n * c, 1, h, w)
            params = sample_spatial(cfg, flat.shape[0], (h, w), generator=gen)
            flat = apply_spatial(flat, params, interpolation=cfg.interpolation, padding_mode=cfg.padding_mode)
            images = flat.reshape(n, c, h, w)
        return _intensity_(images, cfg, gen)

    def state_dict(self) -> dict[str, Any]:
        """Seed, settings, generator device and state (``None`` before the first batch)."""
        gen = self._generator
        return {"version": _STATE_VERSION, "seed": self.seed, "config": self.config.to_dict(),
                "device": None if gen is None else str(gen.device),
                "generator": None if gen is None else gen.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the generator so the next batches equal those of the interrupted run."""
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise InputError("is not a PairAugmenter state.", field="state",
                             hint="pass the dict returned by PairAugmenter.state_dict().")
        if state.get("seed") != self.seed or state.get("config") != self.config.to_dict():
            raise InputError("was saved by an augmenter with another seed or other settings.", field="state",
                             hint="resume with the arm's original augmentation settings and seed.")
        if state.get("device") is None:
            self._generator = None
            return
        try:
            gen = torch.Generator(device=state["device"])
        except RuntimeError as error:
            raise InputError(f"the saved generator lives on {state['device']!r}, unavailable here ({error}).",
                             field="state", hint="resume on the same kind of device as the saved run.",
                             ) from None
        gen.set_state(state["generator"])
        self._generator = gen

    def _generator_for(self, device: torch.device) -> torch.Generator:
        if self._generator is None:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return _check_generator(self._generator, device)


def sample_spatial(config: AugmentConfig, m: int, size: tuple[int, int], *,
                   generator: torch.Generator) -> SpatialParams:
    """Draw ``m`` random geometric transforms for ``size = (H, W)`` images.

    Draw order (fixed, for reproducibility): flips, rotation, zoom, shift, elastic field;
    a disabled stage draws nothing.
    """
    device = generator.device

    def uniform(half_width: float, *shape: int) -> torch.Tensor:
        return (2.0 * torch.rand((m, *shape), generator=generator, device=device) - 1.0) * half_width

    params = SpatialParams()
    if config.hflip_p:
        params.hflip = torch.rand(m, generator=generator, device=device) < config.hflip_p
    if config.vflip_p:
        params.vflip = torch.rand(m, generator=generator, device=device) < config.vflip_p
    if config.has_affine:
        angle = uniform(config.rotation_deg)
        zoom = 1.0 + uniform(config.scale)
        shift = uniform(config.translate, 2)
        params.affine = affine_theta(angle, zoom, shift, size)
    if config.elastic_px:
        params.displacement = elastic_displacement(m, size, magnitude_px=config.elastic_px,
                                                   grid_points=config.elastic_grid, generator=generator)
    return params


def affine_theta(angle_deg: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """Sampling matrices for ``affine_grid`` from rotations, zooms and shifts.

    Parameters
    ----------
    angle_deg
        ``M`` angles in degrees; +90 maps the image like ``torch.rot90(x, 1, (-2, -1))``
        (counter-clockwise as displayed).
    zoom
        ``M`` zoom factors (> 1 enlarges the content).
    shift
        ``M × 2`` shifts as fractions of (width, height); content moves by ``-shift``.
    size
        ``(H, W)`` in pixels; the rotation is rigid in pixel units for any aspect ratio.

    Returns
    -------
    torch.Tensor
        ``M × 2 × 3`` matrices ``θ`` with input = ``θ · (x, y, 1)`` in the normalised
        coordinates of ``align_corners=False`` (Jaderberg et al. 2015).
    """
    h, w = size
    rad = torch.deg2rad(angle_deg.to(torch.float32))
    cos, sin = torch.cos(rad) / zoom, torch.sin(rad) / zoom
    theta = torch.stack([
        torch.stack([cos, -sin * (h / w), 2.0 * shift[:, 0]], dim=-1),
        torch.stack([sin * (w / h), cos, 2.0 * shift[:, 1]], dim=-1),
    ], dim=1)
    return theta.to(torch.float32)


def elastic_displacement(m: int, size: tuple[int, int], *, magnitude_px: float, grid_points: int = 4,
                         generator: torch.Generator) -> torch.Tensor:
    """Smooth random displacement fields whose mean length is ``magnitude_px`` pixels.

    A ``grid_points × grid_points`` field of standard normal ``(dx, dy)`` is upsampled
    bicubically (``align_corners=True``) to ``H × W`` and rescaled per field so that the
    mean of ``sqrt(dx² + dy²)`` over the image equals ``magnitude_px`` (Simard et al.
    2003, with bicubic interpolation as the smoother).

    Returns
    -------
    torch.Tensor
        ``m × H × W × 2`` float32 displacements in pixels on the generator's device.
    """
    device = generator.device
    coarse = torch.randn((m, 2, grid_points, grid_points), generator=generator, device=device)
    rows = _bicubic_weights(grid_points, size[0], device)
    cols = _bicubic_weights(grid_points, size[1], device)
    field = rows @ coarse @ cols.T  # separable bicubic upsampling: m × 2 × H × W
    length = torch.hypot(field[:, 0], field[:, 1]).mean(dim=(-2, -1)).clamp_min(1e-12)
    field.mul_((magnitude_px / length)[:, None, None, None])
    return field.permute(0, 2, 3, 1)


def _bicubic_weights(points: int, length: int, device: torch.device) -> torch.Tensor:
    """``length × points`` matrix of 1-D bicubic weights (``align_corners=True``).

    Bicubic interpolation is separable, so ``rows @ coarse @ cols.T`` equals
    ``F.interpolate(coarse, mode="bicubic")`` at a fraction of its cost.
    """
    basis = torch.eye(points, device=device).view(points, 1, points, 1)
    return F.interpolate(basis, size=(length, 1), mode="bicubic", align_corners=True).view(points, length).T


def apply_spatial(images: torch.Tensor, params: SpatialParams, *, interpolation: str = "bilinear",
                  padding_mode: str = "zeros") -> torch.Tensor:
    """Apply ``M`` transforms to ``images`` (``M × C × H × W`` float) in one resampling.

    The flips act first (on the input), then the affine matrix and the elastic
    displacement (converted from pixels to normalised units) give one sampling grid and
    ``grid_sample`` runs once for the whole batch; the flips are folded into that grid as
    sign changes. Without an affine or a displacement no resampling happens and the flips
    are exact index permutations (``torch.flip``). All channels of an image share its grid.
    """
    _check_choice("interpolation", interpolation, INTERPOLATIONS)
    _check_choice("padding_mode", padding_mode, PADDING_MODES)
    if params.affine is None and params.displacement is None:
        if params.hflip is not None:
            images = torch.where(params.hflip[:, None, None, None], images.flip(-1), images)
        if params.vflip is not None:
            images = torch.where(params.vflip[:, None, None, None], images.flip(-2), images)
        return images
    grid = _sampling_grid(params, images.shape, images.device)
    return F.grid_sample(images, grid, mode=interpolation, padding_mode=padding_mode, align_corners=False)


def _sampling_grid(params: SpatialParams, shape: torch.Size, device: torch.device) -> torch.Tensor:
    """``M × H × W × 2`` grid: ``flip(θ · (x, y, 1) + displacement)`` in normalised units."""
    m, _, h, w = shape
    theta = params.affine
    if theta is None:
        theta = torch.eye(2, 3, device=device).expand(m, 2, 3)
    theta = theta.to(device=device, dtype=torch.float32)
    signs = torch.ones(m, 2, device=device)
    for axis, flip in enumerate((params.hflip, params.vflip)):  # the two axes, not the images
        if flip is not None:
            signs[:, axis] = 1.0 - 2.0 * flip.to(torch.float32)
    grid = affine_grid(theta * signs[:, :, None], (h, w))
    if params.displacement is not None:
        per_pixel = signs * torch.tensor([2.0 / w, 2.0 / h], device=device)
        grid.addcmul_(params.displacement, per_pixel[:, None, None, :])
    return grid


def affine_grid(theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.affine_grid(theta, (M, 1, H, W), align_corners=False)``, computed as a broadcast sum.

    Parameters
    ----------
    theta
        ``M × 2 × 3`` sampling matrices (output → input, normalised coordinates).
    size
        ``(H, W)`` in pixels.

    Returns
    -------
    torch.Tensor
        ``M × H × W × 2`` grid of ``(x, y)`` input coordinates: the same values as
        ``torch.nn.functional.affine_grid`` (to float32 rounding) at about a third of its
        CPU cost, because the separable sum ``θ[:, :, 0]·x + (θ[:, :, 1]·y + θ[:, :, 2])``
        replaces a batched matrix product.
    """
    h, w = size
    xs = (2.0 * torch.arange(w, device=theta.device, dtype=theta.dtype) + 1.0) / w - 1.0
    ys = (2.0 * torch.arange(h, device=theta.device, dtype=theta.dtype) + 1.0) / h - 1.0
    along_x = theta[:, None, None, :, 0] * xs[None, None, :, None]  # M×1×W×2
    along_y = theta[:, None, None, :, 1] * ys[None, :, None, None] + theta[:, None, None, :, 2]  # M×H×1×2
    return along_x + along_y


def _intensity_(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
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


def _as_float(batch: Any) -> torch.Tensor:
    """A new float32 copy of ``batch`` (uint8 divided by 255) that the augmenter owns."""
    if not isinstance(batch, torch.Tensor):
        raise InputError(f"must be a torch.Tensor N × C × H × W; got {type(batch).__name__}.", field="batch")
    if batch.ndim != 4 or min(batch.shape) == 0:
        raise InputError(f"must have shape N × C × H × W (C = 2 for a B-mode/CEUS pair) with no empty "
                         f"dimension; got {tuple(batch.shape)}.", field="batch",
                         hint="stack the pairs as batch[:, 0] = B-mode crops, batch[:, 1] = CEUS crops.")
    if batch.dtype == torch.uint8:
        return batch.to(torch.float32).div_(255.0)
    if batch.is_floating_point():
        return batch.to(torch.float32, copy=True)
    raise InputError(f"must be uint8 (0–255) or floating point in [0, 1]; got {batch.dtype}.", field="batch")


def _check_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise InputError(f"must be a torch.Generator; got {type(generator).__name__}.", field="generator")
    gen_device = torch.device(generator.device)
    if gen_device.type != device.type or (gen_device.index or 0) != (device.index or 0):
        raise InputError(f"the generator is on {gen_device} but the batch is on {device}.", field="generator",
                         hint="keep one augmenter per device, or pass a generator on the batch's device.")
    return generator


def _check_magnitude(name: str, value: Any, limits: tuple[float, float, bool, str]) -> float:
    low, high, inclusive, meaning = limits
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    ok = number >= low and (number <= high if inclusive else number < high)
    if not ok:
        bound = f"in [{low:g}, {high:g}{']' if inclusive else ')'}" if math.isfinite(high) else f"≥ {low:g}"
        raise InputError(f"the {meaning} must be a number {bound}; got {value!r}.",
                         field=name, hint="0 switches this augmentation off.")
    return number


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if isinstance(value, str) and value in allowed:
        return
    raise InputError(f"must be one of {', '.join(map(repr, allowed))}; got {value!r}.", field=name,
                     hint=did_you_mean(value, allowed, f"use one of {', '.join(allowed)}."))
