"""Imaging of one synthetic patient: speckle, PSF, bolus curves, log compression, scan conversion.

Per frame (time t, s after injection):

1. Motion: the kidney region moves with breathing, d(t) = A·sin(2πt/T + φ) (mostly along
   the probe face, a third of it in depth); the body wall stays. Applied as an integer shift
   of the polar canvas window, speckle moving with the tissue.
2. B-mode: complex Gaussian scatterers (tissue-fixed, plus a little fresh noise for
   out-of-plane motion) weighted by √(backscatter) and convolved with a Gaussian
   point-spread function (axial σ, lateral σ in beam-angle units, so lateral resolution
   worsens with depth as on a convex probe). The envelope |·| is Rayleigh distributed in
   homogeneous tissue (Burckhardt 1978; Wagner et al. 1983). Electronic noise is added,
   then depth attenuation left over after time-gain compensation, gain, and log
   compression of the dynamic range to 8 bits.
3. CEUS: the microbubble concentration is Σ_k TIC_k(t)·mask_k over perfusion compartments,
   each TIC a gamma variate (Madsen 1992) with a plateau for wash-out; bubble echoes are
   fresh complex Gaussian speckle each frame with variance ∝ concentration, plus the
   tissue echo suppressed by the contrast mode's cancellation (≈ −25 dB), log-compressed.
4. Scan conversion from the polar canvas to the Cartesian panel (bilinear), black outside
   the fan; depth ticks on the panel edge.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from studykit.cohort.perfusion.models import gamma_variate

from .anatomy import PROBE_HALF_ANGLE, PROBE_RADIUS_CM, Anatomy

__all__ = [
    "SCANNERS",
    "Panel",
    "ScanMap",
    "ScannerProfile",
    "harmonised",
    "lesion_box",
    "panel_map",
    "render_video",
    "rim_curve",
    "scan_coordinates",
    "speckle_shares",
    "tic",
]

GAMMA_ALPHA = 3.0  # shape of the gamma-variate first pass
WASHOUT_WINDOW_S = 30.0  # the wash-out fraction is measured this long after the peak


class ScannerProfile(NamedTuple):
    """Vendor-specific imaging chain (PSF σ in canvas samples; levels in dB)."""

    manufacturer: str
    model: str
    psf_axial: float
    psf_lateral: float
    bmode_range_db: float
    bmode_gain_db: float
    noise_db: float
    tgc_slope_db_cm: float
    ceus_range_db: float
    ceus_gain_db: float
    tissue_suppression_db: float
    gamma: float
    smoothing: float  # σ (samples) of the post-log speckle reduction filter
    ceus_gamma: float | None = None  # display gamma of the contrast image (None: ``gamma``)


SCANNERS = {
    "ge_logiq_e9": ScannerProfile("GE Healthcare", "LOGIQ E9", 1.2, 2.4, 58.0, 0.0, -60.0, 0.25,
                                  38.0, 0.0, 30.0, 1.0, 0.8),
    "mindray_resona7": ScannerProfile("Mindray", "Resona 7", 1.4, 2.9, 54.0, 2.0, -57.0, -0.3,
                                      42.0, 1.5, 27.0, 0.9, 0.6),
    "philips_iu22": ScannerProfile("Philips Medical Systems", "iU22", 1.1, 2.1, 62.0, -1.5, -62.0, 0.1,
                                   36.0, -1.0, 32.0, 1.15, 1.0),
}


def harmonised(scanner: ScannerProfile, spread: float) -> ScannerProfile:
    """The profile with its CEUS display gain, dynamic range and gamma pulled towards the vendors'
    mean: ``mean + spread·(own − mean)`` (1 = the vendor's own settings, 0 = all alike)."""
    if spread == 1.0:
        return scanner

    def pull(field: str) -> float:
        mean = float(np.mean([getattr(s, field) for s in SCANNERS.values()]))
        return mean + spread * (getattr(scanner, field) - mean)

    return scanner._replace(ceus_gain_db=pull("ceus_gain_db"), ceus_range_db=pull("ceus_range_db"),
                            ceus_gamma=pull("gamma"))


class Curve(NamedTuple):
    """A compartment's time–intensity curve: arrival, time to peak (s), peak, wash-out."""

    arrival: float
    ttp: float
    peak: float
    washout: float


def tic(t: np.ndarray, curve: Curve) -> np.ndarray:
    """Bolus time–intensity curve: gamma-variate wash-in (α = 3; the one definition,
    :func:`studykit.cohort.perfusion.gamma_variate`), then partial wash-out to a plateau.

    C(t) = peak·[(1 − w̃)·P(t) + w̃·g(t)], where P(t) equals g(t) until the peak and 1 after it,
    and w̃ = w / (1 − g(peak + 30 s)) so that C loses the fraction w = ``washout`` of its peak
    within 30 s of it.
    """
    g = gamma_variate(t, curve.arrival, curve.ttp, 1.0, GAMMA_ALPHA)
    plateau = np.where(np.asarray(t, float) < curve.arrival + curve.ttp, g, 1.0)
    late = gamma_variate(curve.arrival + curve.ttp + WASHOUT_WINDOW_S, curve.arrival, curve.ttp, 1.0,
                         GAMMA_ALPHA)
    w = min(curve.washout / max(1.0 - float(late), 1e-6), 1.0)
    return curve.peak * ((1.0 - w) * plateau + w * g)


def rim_curve(lesion: Curve, rim_db: float, style: str) -> Curve:
    """TIC of the pseudocapsule rim, whose late level is ``rim_db`` above the late core.

    ``"v2"``: the rim enhances with the lesion and washes out less, to ``rim_db`` dB above the
    washed-out core (the late-phase perilesional rim of Bertolotto et al. 2018; never darker
    than the core). ``"v1"`` (first generator): a sustained curve peaking at that late level,
    darker than the core early on.
    """
    late_rim = lesion.peak * (1.0 - lesion.washout) * 10.0 ** (rim_db / 10.0)
    if style == "v1":
        return Curve(lesion.arrival, lesion.ttp, late_rim, 0.0)
    peak = max(lesion.peak, late_rim)
    return Curve(lesion.arrival, lesion.ttp, peak, float(np.clip(1.0 - late_rim / peak, 0.0, 1.0)))


def compartment_curves(cues: dict[str, float], cortex_arrival: float,
                       rim_style: str = "v2") -> dict[str, Curve]:
    """TICs of the perfusion compartments (peaks relative to the cortical peak = 1)."""
    lesion = Curve(cortex_arrival + cues["arrival_delay_s"], cues["time_to_peak_s"],
                   10.0 ** (cues["peak_enhancement_db"] / 10.0), cues["washout"])
    t0 = cortex_arrival
    return {
        "cortex": Curve(t0, 6.0, 1.0, 0.55), "medulla": Curve(t0 + 6.0, 20.0, 0.85, 0.2),
        "sinus": Curve(t0 + 2.0, 8.0, 0.2, 0.5), "liver": Curve(t0 + 8.0, 30.0, 0.12, 0.1),
        "fat": Curve(t0 + 5.0, 20.0, 0.01, 0.1), "muscle": Curve(t0 + 5.0, 25.0, 0.03, 0.1),
        "lesion": lesion, "rim": rim_curve(lesion, cues["rim_enhancement_db"], rim_style),
    }


class Panel(NamedTuple):
    """Display geometry of one panel: size in pixels and cm per pixel, top edge depth."""

    height: int
    width: int
    pixel_cm: float
    top_cm: float


def panel_geometry(height: int, width: int, depth_cm: float) -> Panel:
    """Square-pixel panel that shows the whole fan of a probe imaging to ``depth_cm``."""
    top = PROBE_RADIUS_CM * (np.cos(PROBE_HALF_ANGLE) - 1.0) - 0.2
    fan_width = 2.0 * (PROBE_RADIUS_CM + depth_cm) * np.sin(PROBE_HALF_ANGLE) + 0.4
    pixel = max((depth_cm + 0.2 - top) / height, fan_width / width)
    return Panel(height, width, float(pixel), float(top))


class ScanMap(NamedTuple):
    """Precomputed bilinear scan conversion: fan pixels, their 4 source samples and weights."""

    pixels: np.ndarray  # (n,) flat panel indices inside the fan
    sources: np.ndarray  # (4, n) flat indices into the polar window
    weights: np.ndarray  # (4, n) bilinear weights, float32
    shape: tuple[int, int]  # panel (H, W)


def scan_coordinates(panel: Panel, grid) -> ScanMap:
    """Where each panel pixel inside the fan samples the polar window (range, angle)."""
    rows = np.arange(panel.height) + 0.5
    cols = np.arange(panel.width) + 0.5 - panel.width / 2.0
    y = panel.top_cm + rows[:, None] * panel.pixel_cm + PROBE_RADIUS_CM
    x = cols[None, :] * panel.pixel_cm + 0.0 * y
    r, theta = np.hypot(x, y), np.arctan2(x, y)
    fan = (r >= PROBE_RADIUS_CM) & (r <= PROBE_RADIUS_CM + grid.depth_cm)
    fan &= np.abs(theta) <= PROBE_HALF_ANGLE
    i = ((r - PROBE_RADIUS_CM) / grid.dr - 0.5)[fan].clip(0, grid.n_r - 1.001)
    j = ((theta + PROBE_HALF_ANGLE) / grid.dtheta - 0.5)[fan].clip(0, grid.n_theta - 1.001)
    i0, j0 = np.floor(i).astype(np.int64), np.floor(j).astype(np.int64)
    fi, fj = (i - i0).astype(np.float32), (j - j0).astype(np.float32)
    base = i0 * grid.n_theta + j0
    sources = np.stack([base, base + 1, base + grid.n_theta, base + grid.n_theta + 1])
    weights = np.stack([(1 - fi) * (1 - fj), (1 - fi) * fj, fi * (1 - fj), fi * fj])
    return ScanMap(np.flatnonzero(fan), sources, weights, (panel.height, panel.width))


class VideoSpec(NamedTuple):
    """What to render: frame times (s after injection), panel geometry, top bar height."""

    times: np.ndarray
    panel: Panel
    bar: int


def motion_shifts(times: np.ndarray, anatomy: Anatomy, amplitude_cm: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Integer canvas shifts (range, angle) of the moving tissue per frame, shape (F, 2).

    Breathing: d(t) = A·sin(2πt/T + φ) along the probe face and a third of it in depth,
    T ~ U(3.5, 5) s; converted to samples at the lesion's range and clipped to the margin.
    """
    grid, layout = anatomy.grid, anatomy.layout
    period, phase = rng.uniform(3.5, 5.0), rng.uniform(0.0, 2 * np.pi)
    wave = amplitude_cm * np.sin(2 * np.pi * times / period + phase)
    radius = np.hypot(layout.lesion_center[0], layout.lesion_center[1] + PROBE_RADIUS_CM)
    shifts = np.stack([np.round(0.33 * wave / grid.dr), np.round(wave / (radius * grid.dtheta))], axis=1)
    return np.clip(shifts, -(grid.margin - 1), grid.margin - 1).astype(int)


def _window(canvas: np.ndarray, grid, shift: tuple[int, int], static_rows: int) -> np.ndarray:
    """Visible window of a canvas map with the tissue below ``static_rows`` shifted."""
    m = grid.margin
    moved = canvas[m - shift[0]: m - shift[0] + grid.n_r, m - shift[1]: m - shift[1] + grid.n_theta]
    if static_rows <= 0:
        return moved
    still = canvas[m: m + grid.n_r, m: m + grid.n_theta]
    return np.concatenate([still[:static_rows], moved[static_rows:]], axis=0)


def _blur(field: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    """Complex field convolved with a separable Gaussian PSF (σ in samples per axis)."""
    return gaussian_filter(field.real, sigma) + 1j * gaussian_filter(field.imag, sigma)


def _psf_gain(sigma: tuple[float, float]) -> float:
    """RMS amplitude of unit white complex noise after the PSF (to keep 0 dB = cortex)."""
    impulse = np.zeros((41, 41))
    impulse[20, 20] = 1.0
    return float(np.sqrt((gaussian_filter(impulse, sigma) ** 2).sum()))


def _complex_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Circular complex white noise with E|n|² = 1, complex64.

    Real and imaginary parts are uniform (5× cheaper to draw than Gaussian); after the PSF
    sums a few dozen of them the field is Gaussian to a good approximation (central limit
    theorem, the same argument that makes speckle Rayleigh; Wagner et al. 1983).
    """
    parts = rng.random(2 * shape[0] * shape[1], dtype=np.float32).view(np.complex64).reshape(shape)
    return (parts - np.complex64(0.5 + 0.5j)) * np.float32(np.sqrt(6.0))


class _Chain(NamedTuple):
    """Per-patient imaging constants derived from the scanner and the canvas."""

    sigma: tuple[float, float]
    norm: float
    bubble_sigma: tuple[float, float]  # contrast-mode PSF (finer: pulse inversion, harmonics)
    bubble_norm: float
    depth_db: np.ndarray  # (n_r, 1): residual depth gain after TGC, dB
    noise_amp: np.ndarray  # (n_r, 1): electronic noise amplitude after TGC
    gain_db: float
    decorrelation: float  # amplitude share of fresh speckle per frame
    fixed: float  # amplitude share of tissue-fixed speckle


def _chain(scanner: ScannerProfile, grid, rng: np.random.Generator, speckle: tuple[float, float]) -> _Chain:
    """Imaging constants: PSF, TGC residual and depth-amplified noise, per-patient gain."""
    depth = (np.arange(grid.n_r)[:, None] + 0.5) * grid.dr
    attenuation_db = 0.5 * 3.5 * 2.0 * depth  # 0.5 dB/cm/MHz at 3.5 MHz, round trip
    sigma = (scanner.psf_axial, scanner.psf_lateral)
    noise = 10.0 ** ((scanner.noise_db + attenuation_db) / 20.0)
    bubble_sigma = (0.8 * sigma[0], 0.7 * sigma[1])
    return _Chain(sigma, _psf_gain(sigma), bubble_sigma, _psf_gain(bubble_sigma),
                  -scanner.tgc_slope_db_cm * depth, noise.astype(np.float32),
                  scanner.bmode_gain_db + rng.normal(0.0, 1.5), speckle[1], speckle[0])


def _to_display(level_db: np.ndarray, range_db: float, reference: float, gamma: float) -> np.ndarray:
    """Log-compressed display value in [0, 1]: ``reference`` is where 0 dB lands."""
    return np.clip((level_db + reference * range_db) / range_db, 0.0, 1.0) ** gamma


class _Frame(NamedTuple):
    """Inputs of one frame: time, tissue shift and the TIC level of each compartment."""

    time: float
    shift: tuple[int, int]
    levels: np.ndarray  # (K,)


def _render_frame(anatomy: Anatomy, maps: tuple[np.ndarray, np.ndarray, np.ndarray], chain: _Chain,
                  scanner: ScannerProfile, frame: _Frame, static_rows: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """B-mode and CEUS display images on the polar window, values in [0, 1], (n_r, n_theta)."""
    grid = anatomy.grid
    bmode_db, scatter, perfusion = maps
    db = _window(bmode_db, grid, frame.shift, static_rows)
    shape = db.shape
    amplitude = 10.0 ** (db / 20.0)
    fresh = chain.decorrelation
    spread = np.sqrt((fresh * amplitude) ** 2 + chain.noise_amp ** 2)  # fresh scatterers + electronic noise
    fixed = _window(scatter, grid, frame.shift, static_rows)
    field = chain.fixed * amplitude * fixed + spread * _complex_noise(shape, rng)
    tissue = _blur(field, chain.sigma) / chain.norm
    level = 20.0 * np.log10(np.abs(tissue) + 1e-6) + chain.depth_db + chain.gain_db
    bmode = _to_display(gaussian_filter(level, scanner.smoothing), scanner.bmode_range_db, 0.5, scanner.gamma)
    window = np.stack([_window(p, grid, frame.shift, static_rows) for p in perfusion])
    concentration = np.tensordot(frame.levels.astype(np.float32), window, axes=1).clip(0.0, None)
    bubbles = np.sqrt(concentration + (0.3 * chain.noise_amp) ** 2) * _complex_noise(shape, rng)
    suppression = 10.0 ** (-scanner.tissue_suppression_db / 20.0)
    echo = _blur(bubbles, chain.bubble_sigma) / chain.bubble_norm + tissue * suppression
    ceus_db = 20.0 * np.log10(np.abs(echo) + 1e-6) + scanner.ceus_gain_db + chain.gain_db / 2.0
    ceus_db = gaussian_filter(ceus_db, 0.5 * scanner.smoothing)
    gamma = scanner.gamma if scanner.ceus_gamma is None else scanner.ceus_gamma
    return bmode, _to_display(ceus_db, scanner.ceus_range_db, 0.75, gamma)


def panel_map(canvas: np.ndarray, grid, scan: ScanMap, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A canvas map (e.g. a perfusion mask) as it lands on the panel with the tissue shifted by
    ``shift`` (range, angle samples; default at rest): float32 of shape (H, W), bilinear like the
    images, 0 outside the fan."""
    out = np.zeros(scan.shape[0] * scan.shape[1], np.float32)
    out[scan.pixels] = _fan_values(_window(canvas, grid, shift, 0), scan)
    return out.reshape(scan.shape)


def _fan_values(image: np.ndarray, scan: ScanMap) -> np.ndarray:
    """Bilinear samples of a polar window image at the panel's fan pixels, shape (n,)."""
    return (image.ravel()[scan.sources] * scan.weights).sum(axis=0)


def _scan(image: np.ndarray, scan: ScanMap) -> np.ndarray:
    """Scan-convert a polar display image (values in [0, 1]) to the panel: uint8, black outside the fan."""
    values = _fan_values(image, scan)
    out = np.zeros(scan.shape[0] * scan.shape[1], np.uint8)
    out[scan.pixels] = np.round(values * 255.0).astype(np.uint8)
    return out.reshape(scan.shape)


def _decorate(video: np.ndarray, spec: VideoSpec, depth_cm: float) -> None:
    """Depth ticks (every cm) on each panel's right edge; CEUS timer in the top bar."""
    height, width, bar = spec.panel.height, spec.panel.width, spec.bar
    ticks = np.arange(1, int(depth_cm) + 1)
    rows = bar + np.round((ticks - spec.panel.top_cm) / spec.panel.pixel_cm).astype(int)
    rows = rows[rows < bar + height]
    for offset in (0, width):
        video[:, rows[:, None], offset + width - np.arange(2, 5)[None, :]] = 170
    if bar >= 4:
        video[:, 1: bar - 1, 2: 2 + max(bar // 2, 2)] = 90  # vendor mark
        span = max(float(spec.times[-1]), 1.0)
        for f, t in enumerate(spec.times):
            length = int(max(t, 0.0) / span * (width // 2))
            video[f, bar // 2 - 1: bar // 2 + 1, width + 4: width + 4 + length] = 150


def speckle_shares(decorrelation: float, style: str) -> tuple[float, float]:
    """(tissue-fixed, fresh) amplitude shares of the B-mode speckle per frame.

    ``"v2"``: (√(1 − d²), d), unit total power; ``"v1"`` (first generator): (0.95, 0.31).
    """
    return (0.95, 0.31) if style == "v1" else (float(np.sqrt(1.0 - decorrelation ** 2)), float(decorrelation))


def render_video(anatomy: Anatomy, scanner: ScannerProfile, spec: VideoSpec, curves: dict[str, Curve],
                 motion_cm: float, rng: np.random.Generator,
                 speckle: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Dual-display video (B-mode left, CEUS right) and the per-frame tissue shifts.

    ``speckle`` is (tissue-fixed, fresh) amplitude shares of the B-mode speckle
    (:func:`speckle_shares`).

    Returns
    -------
    video : uint8 array, shape (F, bar + H, 2·W)
    shifts : int array, shape (F, 2)
        Canvas shift (range, angle samples) of the moving tissue in each frame.
    """
    grid, panel = anatomy.grid, spec.panel
    chain = _chain(scanner, grid, rng, speckle)
    scan = scan_coordinates(panel, grid)
    names = list(curves)
    maps = (anatomy.bmode_db, _complex_noise(grid.shape, rng), [anatomy.perfusion[n] for n in names])
    levels = np.array([tic(spec.times, curves[n]) for n in names])  # (K, F)
    shifts = motion_shifts(spec.times, anatomy, motion_cm, rng)
    static_rows = int((anatomy.layout.wall_cm + 0.3) / grid.dr)
    video = np.zeros((spec.times.size, spec.bar + panel.height, 2 * panel.width), np.uint8)
    for f, t in enumerate(spec.times):
        frame = _Frame(float(t), (int(shifts[f, 0]), int(shifts[f, 1])), levels[:, f])
        bmode, ceus = _render_frame(anatomy, maps, chain, scanner, frame, static_rows, rng)
        video[f, spec.bar:, : panel.width] = _scan(bmode, scan)
        video[f, spec.bar:, panel.width:] = _scan(ceus, scan)
    _decorate(video, spec, grid.depth_cm)
    return video, shifts


def lesion_box(anatomy: Anatomy, panel: Panel, shift: tuple[int, int]) -> np.ndarray:
    """Tight box (x0, y0, x1, y1) of the lesion in panel pixels for a tissue shift, floats."""
    layout, grid = anatomy.layout, anatomy.grid
    cx, cy = layout.lesion_center
    r = np.hypot(cx, cy + PROBE_RADIUS_CM) + shift[0] * grid.dr
    theta = np.arctan2(cx, cy + PROBE_RADIUS_CM) + shift[1] * grid.dtheta
    col = r * np.sin(theta) / panel.pixel_cm + panel.width / 2.0
    row = (r * np.cos(theta) - PROBE_RADIUS_CM - panel.top_cm) / panel.pixel_cm
    half = layout.lesion_radius * (1.0 + layout.lobulation[:, 0].sum()) / panel.pixel_cm
    return np.array([col - half, row - half, col + half, row + half])
