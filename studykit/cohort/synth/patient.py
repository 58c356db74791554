"""One patient's video: frame times, annotated phases, rendering and the annotator's boxes.

:func:`render_one` draws the anatomy, the perfusion curves and the imaging chain of one
patient (its own random stream, so patients render independently and in any order) and
returns the dual-display pixels with the annotation rows; :func:`render_patient` does the
same for one patient id in memory, as :func:`~studykit.cohort.synth.synthesize` writes it.
"""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.vocab import CORTEX_COLUMN

from . import anatomy as anatomy_mod
from . import dicom, render
from .model import FEATURE_NAMES, SynthParams
from .options import (
    ANNOTATION_COLUMNS,
    MEDULLARY_WINDOW_S,
    OVERSAMPLE,
    STREAM_ANNOTATOR,
    STREAM_RENDER,
    VIDEO_END_S,
    VIDEO_START_S,
    Config,
    make_config,
)
from .tables import draw_tables, stream

__all__ = ["RenderedPatient", "Video", "annotation_columns", "compartment_masks", "cortex_box", "frame_times",
           "phases", "render_one", "render_patient", "transfer_syntax"]


class RenderedPatient(NamedTuple):
    """One patient's video as :func:`synthesize` writes it (before any compression).

    ``video`` is uint8 of shape (frames, rows, columns), B-mode panel left and CEUS right;
    ``times`` the frame times in s after injection, shape (frames,); ``annotations`` the
    patient's rows of ``annotations.csv``; ``panel`` the (x0, y0, x1, y1) rectangle of the
    left panel in frame pixels (x1, y1 exclusive; the right panel is shifted by its width).
    ``masks`` (``render_patient(masks=True)``): the generator's exact compartments per frame,
    name → float32 (frames, panel rows, panel columns) in [0, 1], on either panel's pixels —
    ``lesion``, ``rim`` (its pseudocapsule), ``core`` (lesion minus rim), ``nonenhancing``
    (the core's non-enhancing areas) and ``cortex`` (renal cortex outside the lesion).
    """

    patient_id: str
    video: np.ndarray
    times: np.ndarray
    annotations: pd.DataFrame
    panel: tuple[int, int, int, int]
    masks: dict[str, np.ndarray] | None = None


def render_patient(patient_id: str, *, patients: int | None = None, seed: int = 0, frames: int | None = None,
                   size: int | tuple[int, int] | None = None, tiny: bool = False, masks: bool = False,
                   **model_params: float) -> RenderedPatient:
    """Render one included patient's video in memory (same pixels as :func:`synthesize`).

    Arguments as :func:`synthesize`; ``masks`` adds the exact compartment masks of every frame
    (``RenderedPatient.masks``: what an oracle reader of the pixels would localise). Raises
    :class:`~studykit.errors.InputError` for an unknown or excluded patient.
    """
    config = make_config(patients, seed, frames, size, tiny, model_params)
    tables = draw_tables(config.patients, config.seed, config.params)
    manifest = tables.manifest.set_index("patient_id", drop=False)
    if patient_id not in manifest.index:
        close = difflib.get_close_matches(str(patient_id), list(manifest.index), n=1)
        raise InputError(f"no patient {patient_id!r} in a cohort of {config.patients}.", field="patient_id",
                         hint=f"did you mean '{close[0]}'?" if close else "ids run RC0001, RC0002, ….")
    row = manifest.loc[patient_id].to_dict()
    if row["excluded_reason"]:
        raise InputError(f"patient {patient_id!r} is excluded ({row['excluded_reason']}) and has no video.",
                         field="patient_id", hint="pick a patient whose excluded_reason is empty.")
    truth = tables.truth.set_index("patient_id", drop=False).loc[patient_id].to_dict()
    video = render_one(row, truth, config, int(patient_id[2:]))
    g = video.geometry
    annotations = pd.DataFrame(video.annotations, columns=annotation_columns(config.params))
    return RenderedPatient(patient_id, video.pixels, frame_times(config.frames)[0], annotations,
                           (0, g.bar, g.panel_width, g.bar + g.panel_height),
                           compartment_masks(video.anatomy, video.panel, video.shifts) if masks else None)


def compartment_masks(anatomy, panel: render.Panel, shifts: np.ndarray) -> dict[str, np.ndarray]:
    """The exact compartments of every frame on the panel (see :class:`RenderedPatient`)."""
    perfusion, gain = anatomy.perfusion, anatomy.lesion_core_gain
    core = np.where(gain > 0, perfusion["lesion"] / np.maximum(gain, 1e-6), 0.0).clip(0.0, 1.0)
    canvases = {"lesion": (core + perfusion["rim"]).clip(0.0, 1.0), "rim": perfusion["rim"], "core": core,
                "nonenhancing": core * (gain < 0.05), "cortex": perfusion["cortex"]}
    scan = render.scan_coordinates(panel, anatomy.grid)
    return {name: np.stack([render.panel_map(canvas.astype(np.float32), anatomy.grid, scan, tuple(shift))
                            for shift in shifts]) for name, canvas in canvases.items()}


def frame_times(frames: int) -> tuple[np.ndarray, int]:
    """Frame times (s after injection) and the frame interval (ms, integer)."""
    interval_ms = round((VIDEO_END_S - VIDEO_START_S) * 1000.0 / (frames - 1))
    return VIDEO_START_S + np.arange(frames) * interval_ms / 1000.0, interval_ms


def phases(times: np.ndarray, cortex_arrival: float, medullary_start: float,
           delay: float = 0.0) -> np.ndarray:
    """Phase of each frame: ``cortical``, ``medullary`` (first 30 s) or ``""`` (not annotated).

    Cortical frames are annotated from ``delay`` s after the cortical arrival (the annotator
    skips the first wash-in frames, where the lesion has not yet enhanced).
    """
    out = np.full(times.shape, "", dtype=object)
    out[(times >= cortex_arrival + delay) & (times < medullary_start)] = "cortical"
    out[(times >= medullary_start) & (times <= medullary_start + MEDULLARY_WINDOW_S)] = "medullary"
    return out


def transfer_syntax(index: int, params: SynthParams) -> str:
    """Transfer syntax of the index-th video: golden-ratio sequence against the shares."""
    u = (index * 0.6180339887498949) % 1.0
    if u < params.jpeg_fraction:
        return "jpeg_baseline"
    if u < params.jpeg_fraction + params.rle_fraction:
        return "rle_lossless"
    return "explicit_vr_little_endian"


class Video(NamedTuple):
    """One rendered patient: pixels, DICOM geometry and annotation rows (and what made them:
    the anatomy, the panel geometry and the tissue shift of every frame)."""

    pixels: np.ndarray
    geometry: dicom.VideoGeometry
    annotations: list[dict[str, Any]]
    anatomy: Any = None
    panel: Any = None
    shifts: np.ndarray | None = None


def render_one(row: dict, truth: dict, config: Config, number: int) -> Video:
    """Render one patient's dual-display video and its annotated boxes."""
    rng = stream(config.seed, STREAM_RENDER, number)
    cues = {name: float(truth[name]) for name in FEATURE_NAMES}
    layout = anatomy_mod.draw_layout(float(row["size_cm"]), rng)
    height, width = config.size
    panel = render.panel_geometry(height, width, layout.depth_cm)
    motion = config.params.respiratory_motion_cm
    grid = anatomy_mod.polar_grid(layout.depth_cm, panel.pixel_cm, 1.6 * motion + 0.2, OVERSAMPLE)
    style = config.params.latent_model
    anatomy = anatomy_mod.build_anatomy(layout, grid, cues, rng, rim_width_cm=config.params.rim_width_cm)
    curves = render.compartment_curves(cues, float(truth["cortex_arrival_s"]), style)
    times, interval_ms = frame_times(config.frames)
    spec = render.VideoSpec(times, panel, max(8, height // 12))
    scanner = render.harmonised(render.SCANNERS[row["scanner"]], config.params.ceus_vendor_spread)
    pixels, shifts = render.render_video(anatomy, scanner, spec, curves, motion, rng,
                                        render.speckle_shares(config.params.speckle_decorrelation, style))
    geometry = dicom.VideoGeometry(height, width, spec.bar, panel.pixel_cm, -panel.top_cm / panel.pixel_cm,
                                   interval_ms)
    boxes = _annotations(row["patient_id"], truth, anatomy, spec, shifts, config, number)
    return Video(pixels, geometry, boxes, anatomy, panel, shifts)


def _jittered_box(box: np.ndarray, jitter: float, panel: render.Panel,
                  rng: np.random.Generator) -> np.ndarray:
    """Annotator's box: the tight box enlarged 8 %, edges jittered, clipped inside the panel."""
    centre, half = (box[:2] + box[2:]) / 2.0, (box[2:] - box[:2]) / 2.0 * 1.08
    edges = np.r_[centre - half, centre + half] + rng.normal(0.0, jitter, 4)
    limit = np.array([panel.width, panel.height])
    low = np.clip(np.floor(edges[:2]), 0, limit - 2).astype(int)
    high = np.clip(np.ceil(edges[2:]), low + 2, limit).astype(int)
    return np.r_[low, high]


def cortex_box(anatomy, panel: render.Panel, jitter_px: float, *, inside: float = 0.8) -> np.ndarray | None:
    """The annotator's reference box in the renal cortex beside the lesion, at rest (no shift).

    Of the square boxes wholly inside the cortex (its scan-converted perfusion mask ≥
    ``inside`` on every pixel) that stay clear of the lesion box the annotator draws (the tight
    box enlarged 8 %, plus 3 SD of the box-edge jitter ``jitter_px``, plus a pixel), the one
    whose centre is nearest the lesion's; its side is 40 % of the lesion box's (3–12 px),
    shrunk down to 3 px until one fits. Returns (x0, y0, x1, y1) in panel pixels (x1, y1
    exclusive), ints, or None where no 3-px box fits (the cortex not in view).
    """
    scan = render.scan_coordinates(panel, anatomy.grid)
    cortex = render.panel_map(anatomy.perfusion["cortex"], anatomy.grid, scan) >= inside
    tight = render.lesion_box(anatomy, panel, (0, 0))
    centre = (tight[:2] + tight[2:]) / 2.0
    margin = 0.04 * (tight[2:] - tight[:2]) + 3.0 * jitter_px
    lesion = np.r_[tight[:2] - margin, tight[2:] + margin]
    table = np.pad(cortex.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    for side in range(int(np.clip(round(0.4 * (tight[2] - tight[0])), 3, 12)), 2, -1):
        full = (table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
                == side * side)
        y0, x0 = np.nonzero(full)
        clear = ((x0 + side <= lesion[0] - 1) | (x0 >= lesion[2] + 1)
                 | (y0 + side <= lesion[1] - 1) | (y0 >= lesion[3] + 1))
        if clear.any():
            x0, y0 = x0[clear], y0[clear]
            distance = np.hypot(x0 + side / 2.0 - centre[0], y0 + side / 2.0 - centre[1])
            k = int(np.argmin(distance))
            return np.array([x0[k], y0[k], x0[k] + side, y0[k] + side])
    return None


def _moved_box(box: np.ndarray, tight: np.ndarray, rest: np.ndarray, panel: render.Panel) -> np.ndarray:
    """``box`` moved as the lesion's tight box moved from ``rest`` to ``tight``, kept in the panel."""
    shift = np.round((tight[:2] + tight[2:] - rest[:2] - rest[2:]) / 2.0).astype(int)
    size = box[2:] - box[:2]
    low = np.clip(box[:2] + shift, 0, np.array([panel.width, panel.height]) - size)
    return np.r_[low, low + size]


def _annotations(pid: str, truth: dict, anatomy, spec: render.VideoSpec, shifts: np.ndarray,
                 config: Config, number: int) -> list[dict[str, Any]]:
    """Annotation rows of one patient: selected frames, phases and both panels' boxes (and, with
    ``timing_annotations``, the CEUS panel's cortex box moving with the lesion; empty when none fits)."""
    rng = stream(config.seed, STREAM_ANNOTATOR, number)
    phase = phases(spec.times, float(truth["cortex_arrival_s"]), float(truth["medullary_start_s"]),
                   config.params.selection_delay_s)
    jitter = config.params.annotator_jitter_px
    cortex = cortex_box(anatomy, spec.panel, jitter) if config.params.timing_annotations else None
    rest = render.lesion_box(anatomy, spec.panel, (0, 0))
    rows = []
    for f in np.flatnonzero(phase != ""):
        tight = render.lesion_box(anatomy, spec.panel, tuple(shifts[f]))
        boxes = []
        for x_offset in (0, spec.panel.width):
            b = _jittered_box(tight, jitter, spec.panel, rng)
            boxes.append(_box_text(b, x_offset, spec.bar))
        row = {"patient_id": pid, "file": f"videos/{pid}.dcm", "frame": int(f), "phase": phase[f],
               "bmode_box": boxes[0], "ceus_box": boxes[1]}
        if config.params.timing_annotations:
            moved = None if cortex is None else _moved_box(cortex, tight, rest, spec.panel)
            row[CORTEX_COLUMN] = "" if moved is None else _box_text(moved, spec.panel.width, spec.bar)
        rows.append(row)
    return rows


def _box_text(box: np.ndarray, x_offset: int, bar: int) -> str:
    """``x0,y0,x1,y1`` in frame pixels of a panel box (panel left edge ``x_offset``, top bar ``bar``)."""
    return f"{box[0] + x_offset},{box[1] + bar},{box[2] + x_offset},{box[3] + bar}"


def annotation_columns(params: SynthParams) -> list[str]:
    """Columns of the written ``annotations.csv`` (``cortex_box`` with ``timing_annotations``)."""
    return [*ANNOTATION_COLUMNS, *((CORTEX_COLUMN,) if params.timing_annotations else ())]
