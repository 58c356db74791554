"""Propose frames to annotate, by time since contrast injection, and write an annotation template.

For every included patient's video (``videos/<patient_id>.*``, DICOM or ``.mp4/.mov/.avi/.mkv``)
the frame times are taken from the header (:func:`video_times`, defined beside the ingestion,
which stores each frame's time since injection as ``time_s``), in this order:

1. Frame Time Vector (0018,1065): increments in ms between frames, the first 0 (PS3.3
   C.7.6.5.1.2); the times are their cumulative sum. A vector of ``frames − 1`` values is
   read as missing its leading 0; any other length, or a later increment that is not
   positive, is refused when the header is read (:func:`studykit.cohort.dicom.frame_time_vector`).
2. Frame Time (0018,1063), ms per frame: ``t_k = k · FrameTime / 1000``.
3. Cine Rate (0018,0040), frames/s: ``t_k = k / CineRate``.

Plain video files have no such attributes: their packets' presentation times give the frame
times (:func:`studykit.cohort.video.container_times`, so a variable frame rate is kept), and
where those cannot name the frames (AVI) the container's average frame rate plays Frame
Time's part (:func:`studykit.cohort.video.read_container_header`). The manifest column
``injection_s`` gives, per patient, the video time of the injection in seconds from the
first frame (4 for the synthetic cohort, whose videos start 4 s before it; negative when
the video starts after it). Time since injection is ``t_k − injection_s``.

Per phase window ``[start, end]`` (s since injection) the video's covered part is
``[max(start, t_first), min(end, t_last)]``; N targets are the centres of N equal
sub-intervals of it, ``a + (j + ½)(b − a)/N``, and each takes the frame whose time is
nearest (ties: the earlier frame) among the frames inside the window; a frame chosen twice
is kept once. A video without timing, a patient without ``injection_s`` (empty) or without a
video, and a phase window holding no frame of the video are *skipped*: each gets a row
(patient_id, file, phase — empty when the whole video is skipped — and reason) in the
skipped table, written beside the template as ``<template stem>_skipped.csv``.

The template has the columns of ``annotations.csv`` (id column, file, frame, phase,
bmode_box, ceus_box, and the optional cortex_box of the perfusion analysis) with the boxes
empty for the annotator to fill; an existing ``annotations.csv`` is never overwritten.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from studykit.cohort.ingest import injection_time, read_header, video_times
from studykit.cohort.tables import (
    ANNOTATION_COLUMNS,
    PHASES,
    cohort_folder,
    no_video,
    patient_videos,
    read_manifest,
)
from studykit.errors import DataError, InputError
from studykit.vocab import CORTEX_COLUMN, INJECTION_COLUMN

__all__ = ["DEFAULT_WINDOWS", "INJECTION_COLUMN", "SKIPPED_COLUMNS", "FrameProposal", "injection_time",
           "parse_window", "phase_at", "pick_frames", "propose_frames", "video_times"]

#: Columns of the skipped table.
SKIPPED_COLUMNS = ("patient_id", "file", "phase", "reason")
#: The phase windows in s since injection used when none are given (``--cortical``/``--medullary``).
DEFAULT_WINDOWS = {"cortical": (10.0, 45.0), "medullary": (45.0, 180.0)}
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*$")


@dataclass(frozen=True)
class FrameProposal:
    """What :func:`propose_frames` wrote: the template rows, the skipped rows and their files."""

    template: pd.DataFrame
    skipped: pd.DataFrame
    template_path: Path
    skipped_path: Path


def parse_window(text: str, option: str) -> tuple[float, float]:
    """``"10-45"`` → (10.0, 45.0), s since injection; :class:`InputError` naming ``option``."""
    match = _WINDOW.match(str(text))
    start, end = (float(match.group(1)), float(match.group(2))) if match else (math.nan, math.nan)
    if not match or not start < end:
        raise InputError(f"window {text!r} is not START-END in seconds after injection with START < END.",
                         field=option, hint=f"write it like {option} 10-45.")
    return start, end


def _check_windows(windows: dict[str, tuple[float, float]], per_phase: int) -> None:
    for phase in windows:
        if phase not in PHASES:
            raise InputError(f"phase {phase!r} is not one of {', '.join(PHASES)}.", field="windows",
                             hint="name the windows cortical and medullary.")
    ordered = sorted(windows.items(), key=lambda kv: kv[1])
    for (a, (_, a_end)), (b, (b_start, _)) in itertools.pairwise(ordered):
        if b_start < a_end:
            raise InputError(f"the {a} window ends at {a_end:g} s, after the {b} window starts "
                             f"({b_start:g} s): windows must not overlap.", field=f"--{b}",
                             hint=f"start --{b} at or after {a_end:g} s, or end --{a} earlier.")
    if isinstance(per_phase, bool) or not isinstance(per_phase, (int, np.integer)) or per_phase < 1:
        raise InputError(f"must be a positive integer; got {per_phase!r}.", field="--per-phase",
                         hint="ask for at least one frame per phase, e.g. --per-phase 3.")


def pick_frames(times: np.ndarray, start: float, end: float, n: int) -> list[int]:
    """Frames (ascending, unique) nearest to ``n`` evenly spaced times in ``[start, end]``.

    ``times`` are s since injection, shape (frames,). Returns [] when no frame lies in the
    window (see the module notes for the targets).
    """
    inside = np.flatnonzero((times >= start) & (times <= end))
    if inside.size == 0:
        return []
    a, b = float(times[inside].min()), float(times[inside].max())  # the span the video covers
    targets = a + (np.arange(n) + 0.5) * (b - a) / n
    picked = {int(inside[np.argmin(np.abs(times[inside] - t))]) for t in targets}  # argmin: first of ties
    return sorted(picked)


def propose_frames(cohort_dir: str | Path, windows: dict[str, tuple[float, float]], per_phase: int, *,
                   out: str | Path | None = None, id_column: str = "patient_id") -> FrameProposal:
    """Propose ``per_phase`` frames per phase window for every included patient's video.

    Parameters
    ----------
    cohort_dir : folder with ``manifest.csv`` (column ``injection_s``) and ``videos/``.
    windows : phase → (start, end) in s since injection, e.g. ``{"cortical": (10, 45)}``.
    per_phase : frames per phase and video (≥ 1).
    out : the template file (default ``cohort_dir/annotations_template.csv``).

    Raises
    ------
    InputError
        Bad windows (unknown phase, overlap) or ``per_phase`` < 1; ``out`` an existing
        ``annotations.csv``.
    DataError
        No cohort folder or manifest; no ``injection_s`` column; a non-numeric ``injection_s``;
        an unreadable video.
    """
    cohort = cohort_folder(cohort_dir)
    _check_windows(windows, per_phase)
    target = Path(out) if out is not None else cohort / "annotations_template.csv"
    if target.name == "annotations.csv" and target.exists():
        raise InputError(f"{target} exists: the template never overwrites an annotations file.",
                         field="--out",
                         hint="write the template to another file (the default is annotations_template.csv).")
    manifest = read_manifest(cohort / "manifest.csv", id_column=id_column)
    if INJECTION_COLUMN not in manifest.table.columns:
        raise DataError(f"has no column {INJECTION_COLUMN!r} (the video time of the injection, s from the "
                        "first frame).", file=str(manifest.path), field=INJECTION_COLUMN,
                        hint="add the column; leave it empty for patients whose injection time is unknown.")
    rows, skipped = [], []
    for pid in manifest.included:
        injection = injection_time(manifest, pid)
        found = patient_videos(cohort, pid)
        if not found:
            skipped.append((pid, "", "", f"no video ({no_video(pid)})"))
        for path in found:
            name = path.relative_to(cohort).as_posix()
            chosen, problems = _video_frames(path, name, injection, windows, per_phase)
            rows += [{id_column: pid, "file": name, "frame": f, "phase": p, "bmode_box": "", "ceus_box": "",
                      CORTEX_COLUMN: ""} for p, f in chosen]
            skipped += [(pid, name, phase, reason) for phase, reason in problems]
    template = pd.DataFrame(rows, columns=[id_column, *ANNOTATION_COLUMNS, CORTEX_COLUMN])
    skipped_table = pd.DataFrame(skipped, columns=[id_column, *SKIPPED_COLUMNS[1:]])
    skipped_path = target.with_name(f"{target.stem}_skipped.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    template.to_csv(target, index=False)
    skipped_table.to_csv(skipped_path, index=False)
    return FrameProposal(template, skipped_table, target, skipped_path)


def phase_at(seconds: float, windows: dict[str, tuple[float, float]]) -> str | None:
    """The phase whose window ``[start, end]`` (s since injection) holds ``seconds``, or None.

    Where two windows share an end point, the earlier window wins.
    """
    for phase, (start, end) in sorted(windows.items(), key=lambda kv: kv[1]):
        if start <= seconds <= end:
            return phase
    return None


def _video_frames(path: Path, name: str, injection: float | None, windows: dict[str, tuple[float, float]],
                  per_phase: int) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(phase, frame) proposals of one video, and (phase, reason) for what is skipped."""
    if injection is None:
        return [], [("", f"no injection time ({INJECTION_COLUMN} is empty in the manifest)")]
    header = read_header(path, name)
    times = video_times(path, header)
    if times is None:
        return [], [("", "no frame timing (no Frame Time Vector, Frame Time or Cine Rate; no frame rate)")]
    since = times - injection
    chosen, problems = [], []
    for phase, (start, end) in windows.items():
        frames = pick_frames(since, start, end, per_phase)
        if not frames:
            problems.append((phase, f"too short for the {phase} window {start:g}-{end:g} s: the video covers "
                                    f"{since[0]:.1f} to {since[-1]:.1f} s after injection"))
        chosen += [(phase, f) for f in frames]
    return chosen, problems
