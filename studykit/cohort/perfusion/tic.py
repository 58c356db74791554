"""Time–intensity curves (TICs) of a lesion and a reference cortex ROI from a CEUS video.

**Linearisation.** A scanner shows the contrast echo log-compressed: a level ``L`` dB (power,
``10·log10``, relative to the display's reference) is displayed as
``d = clip((L + r·R)/R, 0, 1)^γ`` with dynamic range ``R`` dB, ``r`` the fraction of the
range below the reference level and display gamma ``γ`` (the synthetic generator's
``render._to_display``: ``r`` = 0.75, ``R`` and ``γ`` per scanner). :func:`linearize` inverts
it: ``L = R·d^(1/γ) − r·R`` and the linear intensity ``I = 10^(L/10)``, proportional to the
echo power and so to the microbubble concentration (in units of the reference level). The
assumptions: the display map is this log map (no vendor colour or S-curve), the dynamic range
and gamma are known (the scanner's settings), and values clipped at 0 or 1 are lost — a
black pixel reads as the bottom of the range, a saturated one as its top.

**ROIs.** Intensities are means over the ellipse inscribed in an ROI box with its axes scaled
by ``roi_shrink`` (0.8: inside a box drawn around a round lesion, away from its margin). The
lesion ROI box of a frame is the annotations' ``ceus_box`` interpolated linearly
(each edge) between the patient's annotated frames and held constant before the first and
after the last. The reference cortex ROI is, in order: the ``cortex`` argument (a box, used in
every frame), an optional ``cortex_box`` column of ``annotations.csv`` (interpolated like the
lesion over the rows that fill it), or placed automatically: of the boxes of 1, ½ or ¼ of
the lesion box's size beside it — in the 8 directions (left, right, above, below and the
diagonals), a quarter of the lesion's size away, moved inside the CEUS panel where they
would leave it — that do not overlap the lesion, and of those preferably the ones that do
not lie more than a tenth outside the imaged fan (exactly black pixels), the one whose mean
linear intensity in the first cortical-phase annotated frame (the first annotated frame when
none is cortical) is the highest: early in the cortical phase the renal cortex is the
brightest tissue beside a lesion (later the medulla catches up). It then moves with the
lesion box.
With ``motion=True``, respiration is compensated instead of interpolated: each frame is
registered to its nearest annotated frame by phase correlation
(:func:`skimage.registration.phase_cross_correlation`, whole-pixel) of the B-mode patch
around that frame's ``bmode_box`` (widened by half its size; the CEUS patch on a single-panel
file), and both ROIs are that frame's boxes moved by the shift.

**Time.** Frame times come from the video header (:func:`studykit.cohort.frames.video_times`:
Frame Time Vector, Frame Time, Cine Rate, or the container's presentation times) and the manifest's
``injection_s``; the curve's time is s since injection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from studykit.cohort import dicom
from studykit.cohort.frames import injection_time, video_times
from studykit.cohort.ingest import read_header
from studykit.cohort.tables import (
    Annotation,
    Box,
    Manifest,
    cohort_folder,
    parse_box,
    read_annotations,
    read_manifest,
    read_table,
)
from studykit.errors import DataError, InputError
from studykit.vocab import CORTEX_COLUMN, INJECTION_COLUMN

__all__ = [
    "CORE_RADIUS",
    "CORTEX_COLUMN",
    "DARK_BELOW_MEDIAN_DB",
    "DEFAULT_DYNAMIC_RANGE_DB",
    "DEFAULT_REFERENCE",
    "DEFAULT_ROI_SHRINK",
    "RIM_INNER",
    "TIC_COLUMNS",
    "AnnotationTable",
    "extract_tic",
    "intensity_db",
    "linearize",
    "read_annotation_table",
    "rim_contrast_db",
]

#: Dynamic range assumed when none is given, dB (a common CEUS display setting).
DEFAULT_DYNAMIC_RANGE_DB = 40.0
#: Fraction of the dynamic range below the reference (0 dB) level.
DEFAULT_REFERENCE = 0.75
#: The intensity ROI: the ellipse inscribed in the box, axes scaled by this (keeps out the
#: surrounding tissue in the corners of a box drawn around a round lesion).
DEFAULT_ROI_SHRINK = 0.8
#: Columns of :func:`extract_tic`'s table.
TIC_COLUMNS = ("frame", "time_s", "lesion", "cortex", "lesion_sd_db", "lesion_dark", "lesion_rim_db",
               "lesion_box", "cortex_box", "shift_y", "shift_x")
#: A lesion ROI pixel counts as dark (non-enhancing) this far below the ROI's median, dB.
DARK_BELOW_MEDIAN_DB = 6.0
#: The lesion's periphery and centre for ``lesion_rim_db``, as radii of the ellipse inscribed in the
#: lesion box (1 = its edge): the periphery r ∈ [RIM_INNER, 1), the centre r < CORE_RADIUS.
RIM_INNER, CORE_RADIUS = 0.7, 0.5
#: Linear intensities at or below 0 (the display's floor) are read as this many dB.
FLOOR_DB = -60.0


def intensity_db(values) -> np.ndarray:
    """Linear intensities in dB, 10·log10(values), floored at :data:`FLOOR_DB` (values ≤ 0 too)."""
    return np.maximum(10.0 * np.log10(np.clip(np.asarray(values, float), 1e-300, None)), FLOOR_DB)


def linearize(display, *, dynamic_range_db: float, gamma: float = 1.0,
              reference: float = DEFAULT_REFERENCE) -> np.ndarray:
    """Linear intensity ``10^(L/10)`` of displayed values, ``L = R·d^(1/γ) − r·R`` dB.

    ``display`` in [0, 1] (float) or 8-bit (integer arrays are divided by 255); any shape, the
    result has the same shape (float64). ``dynamic_range_db`` = R, ``gamma`` = γ,
    ``reference`` = r (see the module notes).
    """
    values = np.asarray(display)
    d = values / 255.0 if np.issubdtype(values.dtype, np.integer) else values.astype(float)
    if not (dynamic_range_db > 0 and gamma > 0 and math.isfinite(reference)):
        raise InputError(f"needs dynamic_range_db > 0 and gamma > 0; got {dynamic_range_db!r} and {gamma!r}.",
                         field="dynamic_range_db", hint="pass the scanner's CEUS dynamic range, e.g. 40.")
    level_db = dynamic_range_db * np.clip(d, 0.0, 1.0) ** (1.0 / gamma) - reference * dynamic_range_db
    return 10.0 ** (level_db / 10.0)


@dataclass(frozen=True)
class _Video:
    path: Path
    name: str
    header: object
    annotations: tuple[Annotation, ...]
    cortex_boxes: dict[int, Box]  # frame → annotated cortex box
    table: Path


def extract_tic(cohort_dir: str | Path, patient_id: str, *,
                dynamic_range_db: float = DEFAULT_DYNAMIC_RANGE_DB, gamma: float = 1.0,
                reference: float = DEFAULT_REFERENCE, cortex: str | Box = "auto",
                motion: bool = False, roi_shrink: float = DEFAULT_ROI_SHRINK, id_column: str = "patient_id",
                manifest: Manifest | None = None, annotations: AnnotationTable | None = None) -> pd.DataFrame:
    """The lesion and cortex TICs of one patient's annotated video (see the module notes).

    Parameters
    ----------
    cohort_dir : folder with ``manifest.csv`` (``injection_s``), ``annotations.csv`` and ``videos/``.
    patient_id : an included patient with annotated frames.
    dynamic_range_db, gamma, reference : the display's log compression (:func:`linearize`).
    cortex : ``"auto"`` (the annotations' ``cortex_box`` when filled, else the automatic rule)
        or a box (``Box`` or ``"x0,y0,x1,y1"``, full-frame pixels) used in every frame.
    motion : register frames by phase correlation instead of interpolating the boxes.
    roi_shrink : the ROI is the ellipse inscribed in its box with the axes scaled by this
        (≥ √2: the whole box).
    manifest : the cohort's manifest already read (saves reading it per patient).
    annotations : the cohort's annotations already read (:func:`read_annotation_table`, likewise).

    Returns
    -------
    DataFrame with :data:`TIC_COLUMNS`, one row per frame: ``time_s`` since injection, ``lesion``
    and ``cortex`` the mean linear intensity in each ROI, the lesion ROI's heterogeneity —
    ``lesion_sd_db``, the SD of its pixels in dB (10·log10 of the linear intensity), and
    ``lesion_dark``, the share of its pixels more than :data:`DARK_BELOW_MEDIAN_DB` below the
    ROI's median (non-enhancing areas) — ``lesion_rim_db``, the lesion's periphery against its
    centre (:func:`rim_contrast_db`: a pseudocapsule or peripheral enhancement is positive, a
    washed-out or non-enhancing rim negative), the ROIs as ``x0,y0,x1,y1`` text and the
    registration shift (pixels; 0 without ``motion``).

    Raises
    ------
    DataError
        No annotations for the patient, a box outside the CEUS panel or a frame out of range,
        no ``injection_s`` or no frame timing, an unreadable video.
    InputError
        A bad ``cortex`` box or display setting, motion without scikit-image.
    """
    cohort = cohort_folder(cohort_dir)
    manifest = manifest or read_manifest(cohort / "manifest.csv", id_column=id_column)
    linearize(0.5, dynamic_range_db=dynamic_range_db, gamma=gamma, reference=reference)  # checks the settings
    source = _patient_video(cohort, manifest, patient_id, annotations)
    times = _since_injection(manifest, patient_id, source)
    ceus, bmode = _ceus_panel(source)
    frames = np.arange(source.header.frames)
    for ann in source.annotations:
        _check_box(ann.ceus_box, ceus, source, ann.row, "ceus_box")
    display = {"dynamic_range_db": dynamic_range_db, "gamma": gamma, "reference": reference}
    annotated = _decode(source, [a.frame for a in source.annotations])
    if motion:
        lesion, shifts = _registered_boxes(source, annotated, frames, ceus, bmode)
    else:
        lesion = _interpolated(source.annotations, frames, lambda a: a.ceus_box, ceus)
        shifts = np.zeros((frames.size, 2))
    cortex_boxes = _cortex_boxes(cortex, source, annotated, lesion, shifts, ceus, display, roi_shrink)
    lesion_mean, cortex_mean = np.empty(frames.size), np.empty(frames.size)
    sd_db, dark, rim = np.empty(frames.size), np.empty(frames.size), np.empty(frames.size)
    for f, gray in _decode_all(source):
        panel = linearize(gray, **display)
        values = _roi(panel, lesion[f], roi_shrink)
        lesion_mean[f] = float(values.mean())
        sd_db[f], dark[f] = _heterogeneity(values)
        rim[f] = rim_contrast_db(panel, lesion[f])
        cortex_mean[f] = _mean(panel, cortex_boxes[f], roi_shrink)
    return pd.DataFrame({"frame": frames, "time_s": times, "lesion": lesion_mean, "cortex": cortex_mean,
                         "lesion_sd_db": sd_db, "lesion_dark": dark, "lesion_rim_db": rim,
                         "lesion_box": [b.text() for b in lesion],
                         "cortex_box": [b.text() for b in cortex_boxes],
                         "shift_y": shifts[:, 0].astype(int), "shift_x": shifts[:, 1].astype(int)},
                        columns=list(TIC_COLUMNS))


class AnnotationTable(NamedTuple):
    """A cohort's ``annotations.csv`` read once: its validated rows and its raw table."""

    path: Path
    rows: tuple[Annotation, ...]
    data: pd.DataFrame


def read_annotation_table(cohort: Path, manifest: Manifest) -> AnnotationTable:
    """``cohort/annotations.csv`` as :class:`AnnotationTable` (a DataError when it is missing)."""
    table = cohort / "annotations.csv"
    if not table.is_file():
        raise DataError("annotations file not found.", file=str(table),
                        hint="annotate frames first (studykit frames writes a template to fill).")
    return AnnotationTable(table, tuple(read_annotations(table, manifest, cohort)),
                           read_table(table, what="annotations.csv"))


def _patient_video(cohort: Path, manifest: Manifest, pid: str,
                   annotations: AnnotationTable | None = None) -> _Video:
    """The patient's annotated video, its annotation rows (frame order) and cortex boxes."""
    if pid not in manifest.rows or pid in manifest.excluded:
        what = "excluded" if pid in manifest.excluded else "not in the manifest"
        raise DataError(f"patient {pid!r} is {what}.", file=str(manifest.path), field=manifest.id_column,
                        hint="pass an included patient's id.")
    annotations = annotations or read_annotation_table(cohort, manifest)
    table = annotations.path
    rows = [a for a in annotations.rows if a.patient_id == pid]
    if not rows:
        raise DataError(f"has no annotated frame of patient {pid!r}.", file=str(table),
                        field=manifest.id_column,
                        hint="add at least one row with the lesion's ceus_box for the patient.")
    names = sorted({a.file for a in rows})
    if len(names) > 1:
        raise DataError(f"annotates {len(names)} videos of patient {pid!r} ({', '.join(names)}); a TIC "
                        "follows one video.", file=str(table), field="file",
                        hint="keep the annotations of one video per patient for perfusion analysis.")
    rows.sort(key=lambda a: a.frame)
    path = rows[0].path
    header = read_header(path, names[0], manifest, pid)  # a plain video gets its manifest panels split
    for ann in rows:
        if ann.frame >= header.frames:
            raise DataError(f"frame {ann.frame} is out of range: {names[0]!r} has {header.frames} frame(s).",
                            file=str(table), row=ann.row, field="frame",
                            hint="frame is the 0-based index into the video.")
    cortex = _annotated_cortex(table, annotations.data, rows)
    return _Video(path, names[0], header, tuple(rows), cortex, table)


def _annotated_cortex(table: Path, data: pd.DataFrame, rows: list[Annotation]) -> dict[int, Box]:
    """frame → the ``cortex_box`` of the patient's rows that fill it ({} without the column)."""
    if CORTEX_COLUMN not in data.columns:
        return {}
    boxes = {}
    for ann in rows:
        text = str(data[CORTEX_COLUMN].iat[ann.row - 1]).strip()
        if text:
            try:
                boxes[ann.frame] = parse_box(text)
            except ValueError as exc:
                raise DataError(f"box {text!r} {exc}.", file=str(table), row=ann.row, field=CORTEX_COLUMN,
                                hint="write boxes as x0,y0,x1,y1 in full-frame pixels, or leave it "
                                     "empty.") from None
    return boxes


def _since_injection(manifest: Manifest, pid: str, source: _Video) -> np.ndarray:
    if INJECTION_COLUMN not in manifest.table.columns:
        raise DataError(f"has no column {INJECTION_COLUMN!r} (the video time of the injection, s from the "
                        "first frame).", file=str(manifest.path), field=INJECTION_COLUMN,
                        hint="add the column with each patient's injection time.")
    injection = injection_time(manifest, pid)
    if injection is None:
        raise DataError(f"injection time of patient {pid!r} is empty: a TIC needs the time since injection.",
                        file=str(manifest.path), row=manifest.rows[pid], field=INJECTION_COLUMN,
                        hint="give the video time of the injection in s from the first frame.")
    times = video_times(source.path, source.header)
    if times is None:
        raise DataError("has no frame timing (no Frame Time Vector, Frame Time or Cine Rate; no frame rate).",
                        file=str(source.path), field="FrameTime",
                        hint="re-export the video with its frame timing (Frame Time or Cine Rate).")
    return times - injection


def _ceus_panel(source: _Video) -> tuple[Box, Box]:
    """(CEUS panel, B-mode panel): right/left of a dual display, the one panel otherwise."""
    layout = dicom.panels(source.header)
    return layout[-1], layout[0]


def _check_box(box: Box, panel: Box, source: _Video, row: int | None, column: str) -> None:
    if not box.inside(panel):
        raise DataError(f"box {box.text()!r} is not inside the CEUS panel of {source.name!r} (x {panel.x0}–"
                        f"{panel.x1 - 1}, y {panel.y0}–{panel.y1 - 1}).", file=str(source.table), row=row,
                        field=column, hint="boxes are full-frame pixels; the CEUS panel is the right one of "
                                           "a dual display.")


def _interpolated(rows, frames: np.ndarray, pick, panel: Box) -> list[Box]:
    """Each frame's box: every edge linearly interpolated over ``rows`` (constant outside)."""
    known = np.array([a.frame for a in rows], float)
    edges = np.array([tuple(pick(a)) for a in rows], float)
    boxes = []
    for f in frames:
        x0, y0, x1, y1 = (float(np.interp(f, known, edges[:, k])) for k in range(4))
        boxes.append(_inside(Box(round(x0), round(y0), round(x1), round(y1)), panel))
    return boxes


def _inside(box: Box, panel: Box) -> Box:
    """``box`` moved (not resized, unless larger than ``panel``) to lie inside ``panel``."""
    width, height = min(box.width, panel.width), min(box.height, panel.height)
    x0 = min(max(box.x0, panel.x0), panel.x1 - width)
    y0 = min(max(box.y0, panel.y0), panel.y1 - height)
    return Box(x0, y0, x0 + width, y0 + height)


def _moved(box: Box, dy: int, dx: int) -> Box:
    return Box(box.x0 + dx, box.y0 + dy, box.x1 + dx, box.y1 + dy)


def _decode(source: _Video, frames: list[int]) -> dict[int, np.ndarray]:
    """frame → uint8 gray image of the requested frames (ascending, unique)."""
    wanted = sorted(set(frames))
    convert, out = None, {}
    for index, pixels, image in dicom.iter_frames(source.path, wanted, name=source.name,
                                                  transfer_syntax=source.header.transfer_syntax,
                                                  header=source.header, luma_only=True):
        convert = convert or dicom.gray_converter(image)
        out[index] = convert(pixels)
    return out


def _decode_all(source: _Video):
    """(frame, uint8 gray image) of every frame, decoded one at a time."""
    convert = None
    for index, pixels, image in dicom.iter_frames(source.path, range(source.header.frames), name=source.name,
                                                  transfer_syntax=source.header.transfer_syntax,
                                                  header=source.header, luma_only=True):
        convert = convert or dicom.gray_converter(image)
        yield index, convert(pixels)


def _roi(image: np.ndarray, box: Box, shrink: float = 1.0) -> np.ndarray:
    """The pixels of ``image`` in the ellipse inscribed in ``box`` with axes scaled by ``shrink``
    (the box's centre pixel at least); ``shrink`` ≥ √2 covers the whole box."""
    patch = image[box.y0:box.y1, box.x0:box.x1]
    y = (np.arange(box.height) + 0.5 - box.height / 2.0) / (shrink * box.height / 2.0)
    x = (np.arange(box.width) + 0.5 - box.width / 2.0) / (shrink * box.width / 2.0)
    inside = y[:, None] ** 2 + x[None, :] ** 2 <= 1.0
    if not inside.any():
        inside[box.height // 2, box.width // 2] = True
    return patch[inside]


def _mean(image: np.ndarray, box: Box, shrink: float = 1.0) -> float:
    """Mean of ``image`` over the ROI of ``box`` (:func:`_roi`)."""
    return float(_roi(image, box, shrink).mean())


def _heterogeneity(values: np.ndarray) -> tuple[float, float]:
    """(SD in dB, share more than :data:`DARK_BELOW_MEDIAN_DB` below the median) of linear ROI values
    (in dB by :func:`intensity_db`)."""
    db = intensity_db(values)
    return float(db.std()), float(np.mean(db < np.median(db) - DARK_BELOW_MEDIAN_DB))


def rim_contrast_db(image: np.ndarray, box: Box) -> float:
    """The lesion's periphery against its centre, dB: ``10·log10(mean periphery / mean centre)``.

    ``image`` holds linear intensities; with ``r`` the pixel centre's radius in the ellipse
    inscribed in ``box`` (1 on its edge), the periphery is ``RIM_INNER ≤ r < 1`` and the centre
    ``r < CORE_RADIUS``; each mean is in dB by :func:`intensity_db` (floor :data:`FLOOR_DB`).
    A late-phase pseudocapsule (a rim of enhancement around a washed-out lesion, typical of
    clear-cell RCC; EFSUMB 2017 guidelines, Bertolotto et al. 2019 on CEUS of renal masses)
    and peripheral enhancement read positive, a centrally enhancing lesion negative. NaN when
    the box is too small to hold pixels of both.
    """
    patch = image[box.y0:box.y1, box.x0:box.x1]
    y = (np.arange(box.height) + 0.5 - box.height / 2.0) / (box.height / 2.0)
    x = (np.arange(box.width) + 0.5 - box.width / 2.0) / (box.width / 2.0)
    radius = np.hypot(y[:, None], x[None, :])
    periphery, centre = patch[(radius >= RIM_INNER) & (radius < 1.0)], patch[radius < CORE_RADIUS]
    if not periphery.size or not centre.size:
        return math.nan
    return float(intensity_db(periphery.mean()) - intensity_db(centre.mean()))


def _registered_boxes(source: _Video, annotated: dict[int, np.ndarray], frames: np.ndarray, ceus: Box,
                      bmode: Box) -> tuple[list[Box], np.ndarray]:
    """Lesion box per frame by phase correlation to the nearest annotated frame, and the shifts (F, 2)."""
    try:
        from skimage.registration import phase_cross_correlation
    except ImportError:
        raise InputError("motion compensation needs scikit-image.", field="motion",
                         hint="pip install 'studykit[perfusion]' (or pip install scikit-image), or pass "
                              "motion=False.") from None
    rows = source.annotations
    known = np.array([a.frame for a in rows])
    dual = bmode != ceus
    patches = {}
    for ann in rows:
        box = ann.bmode_box if dual else ann.ceus_box
        grow_x, grow_y = box.width // 2, box.height // 2
        patches[ann.frame] = _inside(Box(box.x0 - grow_x, box.y0 - grow_y, box.x1 + grow_x, box.y1 + grow_y),
                                     bmode if dual else ceus)
    boxes, shifts = [], np.zeros((frames.size, 2))
    for f, gray in _decode_all(source):
        ann = rows[int(np.argmin(np.abs(known - f)))]
        patch = patches[ann.frame]
        if f != ann.frame:
            reference = annotated[ann.frame][patch.y0:patch.y1, patch.x0:patch.x1].astype(float)
            moving = gray[patch.y0:patch.y1, patch.x0:patch.x1].astype(float)
            mask = np.ones(reference.shape, bool)  # masked NCC: no periodic wrap at the patch edges
            shift = phase_cross_correlation(reference, moving, reference_mask=mask, moving_mask=mask)[0]
            shifts[f] = -np.round(shift)  # moving shifted by `shift` matches the reference
        boxes.append(_inside(_moved(ann.ceus_box, int(shifts[f, 0]), int(shifts[f, 1])), ceus))
    return boxes, shifts


def _cortex_boxes(cortex, source: _Video, annotated: dict[int, np.ndarray], lesion: list[Box],
                  shifts: np.ndarray, ceus: Box, display: dict, shrink: float) -> list[Box]:
    """The cortex ROI of every frame (see the module notes for the order of the rules)."""
    if not (isinstance(cortex, str) and cortex == "auto"):
        box = _given_box(cortex)
        _check_box(box, ceus, source, None, "cortex")
        return [_inside(_moved(box, int(dy), int(dx)), ceus) for dy, dx in shifts]
    if source.cortex_boxes:
        rows = [a for a in source.annotations if a.frame in source.cortex_boxes]
        for ann in rows:
            _check_box(source.cortex_boxes[ann.frame], ceus, source, ann.row, CORTEX_COLUMN)
        frames = np.arange(len(lesion))
        base = _interpolated(rows, frames, lambda a: source.cortex_boxes[a.frame], ceus)
        if not np.any(shifts):
            return base
        nearest = np.array([a.frame for a in rows])
        closest = [int(nearest[np.argmin(np.abs(nearest - f))]) for f in frames]
        return [_inside(_moved(source.cortex_boxes[a], int(dy), int(dx)), ceus)
                for a, (dy, dx) in zip(closest, shifts)]
    scale, side = _auto_cortex(source, annotated, ceus, display, shrink)
    return [_beside(box, scale, side, ceus) for box in lesion]


def _given_box(cortex) -> Box:
    if isinstance(cortex, Box):
        return cortex
    try:
        return parse_box(str(cortex))
    except ValueError as exc:
        raise InputError(f"cortex box {cortex!r} {exc}.", field="cortex",
                         hint="pass 'auto' or a box 'x0,y0,x1,y1' in full-frame pixels.") from None


#: Sizes (fractions of the lesion box) and sides (dx, dy signs) of the automatic cortex box.
_CORTEX_SCALES = (1.0, 0.5, 0.25)
_CORTEX_SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1))


def _auto_cortex(source: _Video, annotated: dict[int, np.ndarray], ceus: Box, display: dict,
                 shrink: float) -> tuple[float, tuple[int, int]]:
    """(scale, side) of the automatic cortex box: the brightest candidate that fits (module notes)."""
    rows = ([a for a in source.annotations if a.phase == "cortical"] or list(source.annotations))[:1]
    linear = {a.frame: linearize(annotated[a.frame], **display) for a in rows}
    best, best_key = None, (False, -math.inf)
    for scale in _CORTEX_SCALES:
        for side in _CORTEX_SIDES:
            candidates = [_beside(ann.ceus_box, scale, side, ceus) for ann in rows]
            if any(_overlaps(c, ann.ceus_box) for c, ann in zip(candidates, rows)):
                continue
            in_fan = not any(_outside_fan(annotated[ann.frame], c) for c, ann in zip(candidates, rows))
            brightness = np.mean([_mean(linear[a.frame], c, shrink) for c, a in zip(candidates, rows)])
            key = (in_fan, float(brightness))
            if key > best_key:
                best, best_key = (scale, side), key
    if best is None:
        raise DataError(f"no box of a quarter of the lesion's size or more fits beside the lesion inside the "
                        f"CEUS panel of {source.name!r}, so the cortex ROI cannot be placed automatically.",
                        file=str(source.table), field=CORTEX_COLUMN,
                        hint=f"add a {CORTEX_COLUMN} column with the reference cortex box, or pass "
                             "cortex=BOX.")
    return best


def _outside_fan(gray: np.ndarray, box: Box) -> bool:
    """More than a tenth of the box is exactly black (outside the imaged fan)."""
    return float(np.mean(gray[box.y0:box.y1, box.x0:box.x1] == 0)) > 0.1


def _beside(box: Box, scale: float, side: tuple[int, int], panel: Box) -> Box:
    """A box ``scale`` × ``box``'s size beside it on ``side``, a quarter of its size away, in ``panel``."""
    width, height = max(1, round(scale * box.width)), max(1, round(scale * box.height))
    cx, cy = (box.x0 + box.x1) / 2.0, (box.y0 + box.y1) / 2.0
    cx += side[0] * (box.width / 2.0 + max(1.0, box.width / 4.0) + width / 2.0)
    cy += side[1] * (box.height / 2.0 + max(1.0, box.height / 4.0) + height / 2.0)
    x0, y0 = round(cx - width / 2.0), round(cy - height / 2.0)
    return _inside(Box(x0, y0, x0 + width, y0 + height), panel)


def _overlaps(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
