"""Geometric stage of the pair augmentation: flips, affine and elastic warps in one resampling.

**Flips** (probabilities ``hflip_p``, ``vflip_p``) act first, on the input. **Affine +
elastic, one resampling.** A random affine — rotation uniform in ``±rotation_deg`` degrees,
zoom factor uniform in ``[1 - scale, 1 + scale]``, shift uniform in ``±translate`` × image
side — is turned into the sampling grid of ``torch.nn.functional.affine_grid`` (computed as
an equivalent broadcast sum, in pixel-true geometry so rotations stay rigid on non-square
crops), a smooth elastic displacement field is added to the grid, the flips are folded in
as sign changes, and ``grid_sample`` resamples the batch once (the spatial transformer of
Jaderberg et al. 2015). The elastic field follows Simard et al. 2003 with bicubic instead
of Gaussian smoothing: a coarse ``elastic_grid × elastic_grid`` field of standard normal
displacements is upsampled bicubically to ``H × W`` and rescaled so that its mean length
over the image is exactly ``elastic_px`` pixels (random directions, fixed size).
Coordinates follow ``align_corners=False``: pixel ``i`` has normalised coordinate
``(2i + 1) / W - 1``. When only flips are on, nothing is resampled: they are exact index
permutations selected per image with ``torch.where``.

:func:`sample_spatial` draws the parameters (:class:`SpatialParams`) from a
``torch.Generator``; :func:`apply_spatial` applies them. Both are vectorised over the batch.

References
----------
Jaderberg M, Simonyan K, Zisserman A, Kavukcuoglu K. Spatial transformer networks.
NeurIPS 2015. arXiv:1506.02025.

Simard PY, Steinkraus D, Platt JC. Best practices for convolutional neural networks
applied to visual document analysis. ICDAR 2003. doi:10.1109/ICDAR.2003.1227801.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import INTERPOLATIONS, PADDING_MODES, AugmentConfig, check_choice


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
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_choice("padding_mode", padding_mode, PADDING_MODES)
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

