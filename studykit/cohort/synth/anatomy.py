"""Anatomy of one synthetic patient: probe geometry, kidney, lesion and their tissue maps.

Coordinates are physical, in cm: x lateral (0 under the probe's centre, right positive),
y depth below the skin. A convex probe of radius ``PROBE_RADIUS_CM`` has its virtual apex
at (0, −R₀); an echo line at angle θ and range r (from the apex) sits at
x = r·sin θ, y = r·cos θ − R₀. The tissue is sampled on a *polar canvas* (range × angle)
with a margin for motion; every map below has the canvas's shape.

Maps (float32):

- ``bmode_db``: backscatter level relative to renal cortex, dB (body wall layers, liver
  with vessels, perirenal fat, renal cortex, medullary pyramids, sinus fat, the lesion
  with its texture and cystic/necrotic areas);
- ``perfusion``: one soft mask per perfusion compartment (``COMPARTMENTS``), weights of the
  compartment's time–intensity curve in the contrast image;
- ``lesion_core_gain``: per-pixel enhancement multiplier inside the lesion (texture,
  non-enhancing areas).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import expit

__all__ = ["COMPARTMENTS", "PROBE_HALF_ANGLE", "PROBE_RADIUS_CM", "Anatomy", "PolarGrid",
           "build_anatomy", "draw_layout", "polar_grid"]

PROBE_RADIUS_CM = 4.5
PROBE_HALF_ANGLE = 0.48  # rad (≈ 27.5°)
COMPARTMENTS = ("cortex", "medulla", "sinus", "liver", "fat", "muscle", "lesion", "rim")
CYST_DB = -30.0  # anechoic fluid / necrosis, dB relative to cortex


class Layout(NamedTuple):
    """Where things are (cm): the kidney ellipse, the lesion, the body wall, the depth."""

    kidney_center: tuple[float, float]
    kidney_axes: tuple[float, float]  # semi-axes (along, across), cm
    kidney_tilt: float  # rad
    lesion_center: tuple[float, float]
    lesion_radius: float  # cm
    lobulation: np.ndarray  # (3, 2): amplitude and phase of harmonics 2–4 of the outline
    wall_cm: float
    depth_cm: float
    vessels: np.ndarray  # (k, 3): x, y, radius of liver vessels, cm


class PolarGrid(NamedTuple):
    """Polar canvas: ``n_r × n_theta`` visible samples plus ``margin`` on every side."""

    depth_cm: float
    n_r: int
    n_theta: int
    margin: int
    dr: float  # cm per range sample
    dtheta: float  # rad per angle sample

    @property
    def shape(self) -> tuple[int, int]:
        """Canvas shape (range, angle) including the margins."""
        return self.n_r + 2 * self.margin, self.n_theta + 2 * self.margin

    def physical(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in cm of every canvas sample, each of shape ``self.shape``."""
        i = np.arange(self.shape[0], dtype=np.float32) - self.margin
        j = np.arange(self.shape[1], dtype=np.float32) - self.margin
        r = PROBE_RADIUS_CM + (i[:, None] + 0.5) * self.dr
        theta = -PROBE_HALF_ANGLE + (j[None, :] + 0.5) * self.dtheta
        return r * np.sin(theta), r * np.cos(theta) - PROBE_RADIUS_CM


class Anatomy(NamedTuple):
    """One patient's layout, canvas and tissue maps (see the module docstring)."""

    layout: Layout
    grid: PolarGrid
    bmode_db: np.ndarray
    perfusion: dict[str, np.ndarray]
    lesion_core_gain: np.ndarray


def draw_layout(size_cm: float, rng: np.random.Generator) -> Layout:
    """Random kidney and lesion placement for a lesion of diameter ``size_cm``."""
    axes = (rng.uniform(5.0, 5.8), rng.uniform(2.3, 2.8))
    tilt = rng.uniform(-0.25, 0.25)
    radius = size_cm / 2.0
    psi = rng.uniform(0.0, 2.0 * np.pi)
    rim_point = np.array([axes[0] * np.cos(psi), axes[1] * np.sin(psi)])
    inward = rng.uniform(0.1, 0.6) * radius / max(np.hypot(*rim_point), 1e-6)
    offset = _rotate(rim_point * max(1.0 - inward, 0.0), tilt)  # lesion centre - kidney centre
    wall = rng.uniform(1.2, 2.1)
    lesion = np.array([rng.uniform(-1.0, 1.0), max(rng.uniform(5.5, 8.0), wall + radius + 1.0)])
    kidney = lesion - offset
    bottom = max(lesion[1] + radius, kidney[1] + axes[1]) + 1.5
    depth = float(np.clip(np.ceil(bottom), 10.0, 20.0))
    n_vessels = rng.integers(2, 5)
    vessels = np.c_[rng.uniform(-6, 6, n_vessels), rng.uniform(wall + 0.8, wall + 4.0, n_vessels),
                    rng.uniform(0.15, 0.45, n_vessels)]
    lobulation = np.c_[rng.uniform(0.02, 0.07, 3), rng.uniform(0, 2 * np.pi, 3)]
    return Layout(tuple(kidney), axes, tilt, tuple(lesion), radius, lobulation, wall, depth, vessels)


def polar_grid(depth_cm: float, pixel_cm: float, margin_cm: float, oversample: float) -> PolarGrid:
    """Canvas sampling ``oversample`` times finer than the display pixel, with a margin."""
    dr = pixel_cm / oversample
    n_r = int(np.ceil(depth_cm / dr))
    mid_radius = PROBE_RADIUS_CM + depth_cm / 2.0
    n_theta = int(np.ceil(2 * PROBE_HALF_ANGLE * mid_radius / dr))
    margin = int(np.ceil(margin_cm / dr)) + 2
    return PolarGrid(depth_cm, n_r, n_theta, margin, dr, 2 * PROBE_HALF_ANGLE / n_theta)


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    """Rotate 2-vector(s) ``v`` (shape (2,) or (2, …)) by ``angle`` rad."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _ellipse_radius(x, y, layout: Layout, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Normalised elliptical radius (1 on the outline) of a scaled kidney ellipse."""
    u, v = _rotate(np.array([x - layout.kidney_center[0], y - layout.kidney_center[1]]), -layout.kidney_tilt)
    a, b = layout.kidney_axes[0] * scale[0], layout.kidney_axes[1] * scale[1]
    return np.sqrt((u / a) ** 2 + (v / b) ** 2)


def _soft(inside: np.ndarray, width: float) -> np.ndarray:
    """Soft step: 1 where ``inside`` ≫ 0, 0 where ≪ 0, over ``width`` (same units)."""
    return expit(inside / max(width, 1e-3)).astype(np.float32)


def _smooth_field(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with unit SD and correlation length ``sigma_px``."""
    field = gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_px)
    return field / max(float(field.std()), 1e-6)


def _lesion_distance(x, y, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Signed depth inside the lesion outline (cm, > 0 inside) and the distance to its centre."""
    dx, dy = x - layout.lesion_center[0], y - layout.lesion_center[1]
    dist = np.hypot(dx, dy)
    omega = np.arctan2(dy, dx)
    k = np.arange(2, 5)[:, None, None]
    amp, phase = layout.lobulation[:, :1, None], layout.lobulation[:, 1:, None]
    outline = layout.lesion_radius * (1.0 + (amp * np.cos(k * omega + phase)).sum(axis=0))
    return outline - dist, dist


def _wall_db(x, y, wall: float, phase: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body wall: (dB map, fat mask, muscle mask) — skin, subcutaneous fat, muscle, fascia."""
    depth = y / (wall + 0.12 * np.sin(0.5 * x + phase))
    skin = _soft(0.04 - y, 0.03)
    fat = _soft(depth - 0.05, 0.03) * _soft(0.42 - depth, 0.03)
    muscle = _soft(depth - 0.42, 0.03) * _soft(0.95 - depth, 0.03)
    fascia = np.exp(-(((depth - 0.97) * wall / 0.07) ** 2)).astype(np.float32)
    striation = 2.5 * np.sin(2 * np.pi * (y + 0.15 * x) / 0.28)
    db = 7.0 * skin - 3.0 * fat + (striation - 6.0) * muscle + 7.0 * fascia
    return db, fat, muscle


def _kidney_masks(x, y, layout: Layout, rng: np.random.Generator, grid: PolarGrid) -> dict[str, np.ndarray]:
    """Soft masks of the perirenal fat, cortex, medullary pyramids and sinus."""
    sharp = 0.06 / np.mean(layout.kidney_axes)
    rho = _ellipse_radius(x, y, layout)
    kidney = _soft(1.0 - rho, sharp)
    fat_scale = tuple(1.0 + 0.45 / a for a in layout.kidney_axes)
    fat = _soft(1.0 - _ellipse_radius(x, y, layout, fat_scale), sharp) * (1.0 - kidney)
    wobble = 0.12 * _smooth_field(rho.shape, 0.5 / grid.dr, rng)
    sinus = _soft(1.0 - _ellipse_radius(x, y, layout, (0.52, 0.42)) - wobble, 0.05)
    u, v = _rotate(np.array([x - layout.kidney_center[0], y - layout.kidney_center[1]]), -layout.kidney_tilt)
    lobes = np.cos(7 * np.arctan2(v / layout.kidney_axes[1], u / layout.kidney_axes[0]) + rng.uniform(0, 6.3))
    inner = _soft(1.0 - _ellipse_radius(x, y, layout, (0.8, 0.72)), 0.04)
    pyramids = inner * (1.0 - sinus) * _soft(lobes + 0.25, 0.25)
    cortex = kidney * (1.0 - pyramids) * (1.0 - sinus)
    return {"fat": fat, "cortex": cortex, "medulla": pyramids, "sinus": sinus, "kidney": kidney}


def _tissue_db(x, y, layout: Layout, rng: np.random.Generator, grid: PolarGrid):
    """Backscatter (dB re cortex) of everything but the lesion, and the perfusion masks."""
    wall_db, wall_fat, wall_muscle = _wall_db(x, y, layout.wall_cm, rng.uniform(0, 6.3))
    body = _soft(x * 0 + y - layout.wall_cm, 0.08)
    k = _kidney_masks(x, y, layout, rng, grid)
    deep = body * _soft(y - (layout.kidney_center[1] + 0.8 * layout.kidney_axes[1] + 0.6
                             + 0.4 * np.sin(0.35 * x)), 0.1) * (1.0 - k["kidney"] - k["fat"])
    liver = body * (1.0 - k["kidney"] - k["fat"] - deep).clip(0.0, 1.0)
    vessel = np.zeros_like(x)
    for vx, vy, vr in layout.vessels:
        vessel = np.maximum(vessel, _soft(vr - np.hypot(x - vx, y - vy), 0.03))
    texture = _smooth_field(x.shape, 0.25 / grid.dr, rng)
    db = ((1.0 - body) * wall_db + liver * (3.0 + 0.8 * texture) * (1.0 - vessel) + liver * vessel * CYST_DB
          + deep * (-4.0 + 1.5 * texture) + k["fat"] * (7.0 + 1.5 * texture) + k["cortex"] * 0.0
          + k["medulla"] * -10.0 + k["sinus"] * (10.0 + 2.5 * texture))
    masks = {"cortex": k["cortex"], "medulla": k["medulla"], "sinus": k["sinus"],
             "liver": liver * (1.0 - vessel), "fat": k["fat"] + (1.0 - body) * wall_fat,
             "muscle": deep + (1.0 - body) * wall_muscle}
    return db.astype(np.float32), masks


def _quantile_mask(field: np.ndarray, inside: np.ndarray, fraction: float) -> np.ndarray:
    """Soft mask of the ``fraction`` of ``inside`` pixels where ``field`` is highest."""
    values = field[inside > 0.5]
    if values.size == 0 or fraction <= 0:
        return np.zeros_like(field)
    cut = np.quantile(values, 1.0 - min(fraction, 1.0))
    return _soft(field - cut, 0.15)


def _lesion_maps(x, y, layout: Layout, cues: dict[str, float], rng: np.random.Generator, grid: PolarGrid,
                 rim_width_cm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lesion mask, its B-mode level (dB re cortex), rim mask and enhancement gain map."""
    inside, _ = _lesion_distance(x, y, layout)
    width = 0.03 + 0.35 * (1.0 - cues["margin_sharpness"])
    mask = _soft(inside, width / 4.0)
    rim = mask * _soft(rim_width_cm - inside, 0.04)
    necrosis_field = _smooth_field(x.shape, 0.45 / grid.dr, rng)
    cystic = _quantile_mask(necrosis_field, mask, cues["cystic_fraction"])
    echo_texture = _smooth_field(x.shape, 0.2 / grid.dr, rng)
    level = cues["echogenicity_db"] + cues["heterogeneity_db"] * echo_texture
    bmode_db = level * (1.0 - cystic) + CYST_DB * cystic
    nonenhancing = _quantile_mask(necrosis_field, mask, cues["nonenhancing_fraction"])
    enh_texture = _smooth_field(x.shape, 0.3 / grid.dr, rng)
    spread_db = 1.5 + 8.0 * cues["nonenhancing_fraction"]
    gain = 10.0 ** (spread_db * enh_texture / 10.0) * (1.0 - nonenhancing) + 0.01
    return mask, bmode_db.astype(np.float32), rim, gain.astype(np.float32)


def build_anatomy(layout: Layout, grid: PolarGrid, cues: dict[str, float],
                  rng: np.random.Generator, *, rim_width_cm: float = 0.32) -> Anatomy:
    """Tissue and perfusion maps of one patient on the polar canvas (rim thickness in cm)."""
    x, y = grid.physical()
    tissue_db, masks = _tissue_db(x, y, layout, rng, grid)
    lesion, lesion_db, rim, gain = _lesion_maps(x, y, layout, cues, rng, grid, rim_width_cm)
    outside = 1.0 - lesion
    bmode_db = tissue_db * outside + lesion_db * lesion
    perfusion = {name: (m * outside).astype(np.float32) for name, m in masks.items()}
    perfusion["lesion"] = ((lesion - rim).clip(0.0, 1.0) * gain).astype(np.float32)
    perfusion["rim"] = rim.astype(np.float32)
    return Anatomy(layout, grid, bmode_db.astype(np.float32), perfusion, gain)
