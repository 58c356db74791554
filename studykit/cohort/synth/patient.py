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

__all__ = ["RenderedPatient", "Video", "frame_times", "phases", "render_one", "render_patient",
           "transfer_syntax"]


class RenderedPatient(NamedTuple):
    """One patient's video as :func:`synthesize` writes it (before any compression).

    ``video`` is uint8 of shape (frames, rows, columns), B-mode panel left and CEUS right;
    ``times`` the frame times in s after injection, shape (frames,); ``annotations`` the
    patient's rows of ``annotations.csv``; ``panel`` the (x0, y0, x1, y1) rectangle of the
    left panel in frame pixels (x1, y1 exclusive; the right panel is shifted by its width).
    """

    patient_id: str
    video: np.ndarray
    times: np.ndarray
    annotations: pd.DataFrame
    panel: tuple[int, int, int, int]


def render_patient(patient_id: str, *, patients: int | None = None, seed: int = 0, frames: int | None = None,
                   size: int | tuple[int, int] | None = None, tiny: bool = False,
                   **model_params: float) -> RenderedPatient:
    """Render one included patient's video in memory (same pixels as :func:`synthesize`).

    Arguments as :func:`synthesize`. Raises :class:`~studykit.errors.InputError` for an
    unknown or excluded patient.
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
    annotations = pd.DataFrame(video.annotations, columns=list(ANNOTATION_COLUMNS))
    return RenderedPatient(patient_id, video.pixels, frame_times(config.frames)[0], annotations,
                           (0, g.bar, g.panel_width, g.bar + g.panel_height))


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
    """One rendered patient: pixels, DICOM geometry and annotation rows."""

    pixels: np.ndarray
    geometry: dicom.VideoGeometry
    annotations: list[dict[str, Any]]


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
    return Video(pixels, geometry, boxes)


def _jittered_box(box: np.ndarray, jitter: float, panel: render.Panel,
                  rng: np.random.Generator) -> np.ndarray:
    """Annotator's box: the tight box enlarged 8 %, edges jittered, clipped inside the panel."""
    centre, half = (box[:2] + box[2:]) / 2.0, (box[2:] - box[:2]) / 2.0 * 1.08
    edges = np.r_[centre - half, centre + half] + rng.normal(0.0, jitter, 4)
    limit = np.array([panel.width, panel.height])
    low = np.clip(np.floor(edges[:2]), 0, limit - 2).astype(int)
    high = np.clip(np.ceil(edges[2:]), low + 2, limit).astype(int)
    return np.r_[low, high]


def _annotations(pid: str, truth: dict, anatomy, spec: render.VideoSpec, shifts: np.ndarray,
                 config: Config, number: int) -> list[dict[str, Any]]:
    """Annotation rows of one patient: selected frames, phases and both panels' boxes."""
    rng = stream(config.seed, STREAM_ANNOTATOR, number)
    phase = phases(spec.times, float(truth["cortex_arrival_s"]), float(truth["medullary_start_s"]),
                   config.params.selection_delay_s)
    rows = []
    for f in np.flatnonzero(phase != ""):
        tight = render.lesion_box(anatomy, spec.panel, tuple(shifts[f]))
        boxes = []
        for x_offset in (0, spec.panel.width):
            b = _jittered_box(tight, config.params.annotator_jitter_px, spec.panel, rng)
            boxes.append(f"{b[0] + x_offset},{b[1] + spec.bar},{b[2] + x_offset},{b[3] + spec.bar}")
        rows.append({"patient_id": pid, "file": f"videos/{pid}.dcm", "frame": int(f), "phase": phase[f],
                     "bmode_box": boxes[0], "ceus_box": boxes[1]})
    return rows
