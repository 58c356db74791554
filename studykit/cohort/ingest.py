"""``studykit ingest``: a raw cohort → the ROI pair store (``cohort.store``).

Stages (each a small function; nothing is written before the build starts):

1. **Tables** — ``manifest.csv`` and either ``annotations.csv`` + DICOM videos or a
   ``crops/`` folder of pre-cropped PNG pairs are read and validated (:mod:`.tables`).
2. **Key** — every input file is hashed (SHA-256 of its bytes, streaming) and combined
   with the settings into the store key. If ``<store_root>/<key>`` exists, it is opened
   and returned: no DICOM is opened, no frame decoded.
3. **Headers** — each video's header is read (:func:`.dicom.read_header`): frame indices
   are checked against NumberOfFrames, boxes against the frame and their panel. The
   panels are the Sequence of Ultrasound Regions' two 2-D regions (left = B-mode,
   right = CEUS), and each box must lie in its own panel. A file with one 2-D region or
   none is single-panel: both boxes must lie in that region (or the frame), and the two
   channels are two crops of the same image — the annotation decides what is B-mode and
   what is CEUS.
4. **Build** — videos are processed in parallel (``workers`` processes, one video per
   task). Each decodes only its annotated frames, one at a time, crops each box (widened
   by ``margin`` × its width/height on every side, then clipped to its panel), reduces it
   to 8-bit gray (:func:`.dicom.gray_converter`), resizes it to ``size`` with Pillow's
   bilinear filter (which widens its support when shrinking, so it averages like an area
   filter; aspect ratio is not kept) and writes it at its precomputed row of
   ``pairs.u8``. Rows are ordered patient (manifest order), video (path order), frame, so
   the store is byte-identical whatever ``workers`` is. Memory holds one decoded frame and
   at most 64 pairs per worker. The header parsed in stage 3 travels with the job, so the
   common 8-bit layouts (native little endian, RLE, JPEG baseline YBR) are read without
   pydicom, bit-identical to its decode (:func:`.dicom.iter_frames`), and crops are resized
   on Pillow's core images straight into the write buffer. Video frames are decoded with
   FFmpeg threads on the CPUs the workers leave idle (:func:`.crop_jobs.decoder_threads`;
   bit-exact, so the store does not depend on them) and only the crops of the decoded Y
   plane are converted to gray.

Each index row carries ``time_s``, the frame's time since the contrast injection in seconds:
the video's frame time (:func:`video_times`: Frame Time Vector, Frame Time or Cine Rate; a
plain video's presentation times; as :mod:`.frames` documents) minus the manifest's ``injection_s``
(:func:`injection_time`); NaN when either is missing, and for PNG pairs.

The store appears atomically (:func:`.store.building`); on any error nothing is left.
No DICOM attribute value reaches the store except the whitelist of :mod:`.deid`.

Plain video files (``videos/<id>.mp4|.mov|.avi|.mkv``, named in the annotations' ``file``
column like a DICOM) are read through PyAV (:mod:`.video`): size, frame count and frame
rate come from the container and no metadata tag is kept. Having no ultrasound regions, their
dual-display split is given by the manifest column ``panels`` (per patient) or, failing that,
the ``panels`` argument (the protocol's ``cohort.panels``): ``halves`` or
``x0,y0,x1,y1;x0,y0,x1,y1`` (B-mode panel first, :func:`.tables.parse_panels`). The two
panels then play the regions' part in stage 3 (each box inside its own panel, the margin
clipped to it). A plain video with neither is a single-panel file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit.cohort import dicom, store, tables, video
from studykit.cohort.crop_jobs import CropJob, execute
from studykit.cohort.store import PairStore
from studykit.cohort.tables import Annotation, Box, Manifest
from studykit.errors import DataError, InputError
from studykit.vocab import INJECTION_COLUMN, Progress

__all__ = ["default_split", "ingest", "injection_time", "read_header", "video_times"]

_CROP_NAME = re.compile(r"^(\d+)_(bmode|ceus)\.png$")


@dataclass(frozen=True)
class _Settings:
    size: tuple[int, int]
    margin: float
    id_column: str
    label_column: str
    positive: str
    negative: str
    panels: str = ""                  # default split of plain videos, as written ("" = none)

    def as_dict(self) -> dict[str, Any]:
        return {"size": list(self.size), "margin": self.margin, "id_column": self.id_column,
                "label_column": self.label_column, "positive": self.positive, "negative": self.negative,
                "panels": self.panels,
                "gray": "ITU-R BT.601 luma (Y of YBR), 8-bit", "resize": "Pillow bilinear (antialiased)"}


@dataclass(frozen=True)
class _Source:
    """One input file of crops: a video (several frames) or one PNG pair."""

    kind: str                         # "video" | "png"
    patient_id: str
    name: str                         # as written by the user (errors only, never stored)
    paths: tuple[Path, ...]           # video, or (bmode png, ceus png)
    annotations: tuple[Annotation, ...] = ()
    frame: int = 0                    # png pairs
    phase: str = ""                   # png pairs


def ingest(cohort_dir: str | Path, store_root: str | Path | None = None, *,
           size: int | tuple[int, int] = (224, 224), margin: float = 0.0, workers: int = 1,
           id_column: str = "patient_id", label_column: str = "label", positive: str = "malignant",
           negative: str = "benign", panels: str | None = None, progress: Progress | None = None,
           manifest: Manifest | None = None) -> PairStore:
    """Build (or find) the ROI pair store of a raw cohort.

    Parameters
    ----------
    cohort_dir : path
        Holds ``manifest.csv`` and either ``annotations.csv`` with the DICOM videos it
        names, or ``crops/<patient_id>/<frame>_bmode.png`` + ``_ceus.png`` pairs (with an
        optional ``annotations.csv`` giving ``patient_id, frame, phase``).
    store_root : path, optional
        Folder of content-addressed stores; default ``cohort_dir/store``.
    size : int or (height, width)
        Output size of each crop in pixels.
    margin : float
        Context added around each box on every side, as a fraction of the box's width
        (left/right) and height (top/bottom), clipped to the panel. Ignored for PNG crops.
    workers : int
        Processes decoding videos in parallel (1 = in this process).
    id_column, label_column : str
        Manifest (and annotations) column names of the patient id and the label.
    positive, negative : str
        The label vocabulary; ``positive`` is stored as 1.
    panels : str, optional
        Dual-display split of plain video files whose manifest row has no ``panels``:
        ``"halves"`` or ``"x0,y0,x1,y1;x0,y0,x1,y1"`` (B-mode first); part of the store key.
    progress : callable(done, total, description), optional
        Called as inputs are hashed (``"hash inputs"``) and pairs written (``"crop frames"``).
    manifest : Manifest, optional
        ``cohort_dir``'s manifest, already validated with these column names and label words
        (``Cohort.validated``), so that it is not read a second time.

    Returns
    -------
    PairStore
        ``images`` (N, 2, H, W) uint8 memmap, ``index`` and ``meta``.

    Raises
    ------
    DataError
        Any problem with the tables, videos, PNGs or boxes, naming the file, row and column.
    InputError
        Invalid ``size``, ``margin`` or ``workers``.

    Examples
    --------
    >>> pairs = ingest("cohort/", workers=2)          # doctest: +SKIP
    >>> pairs.images.shape                             # doctest: +SKIP
    (9794, 2, 224, 224)
    """
    cohort = tables.cohort_folder(cohort_dir)
    settings = _Settings(_check_size(size), _check_margin(margin), id_column, label_column, positive,
                         negative, _check_panels(panels))
    workers = _check_workers(workers)
    root = Path(store_root) if store_root is not None else cohort / "store"
    manifest = _manifest(manifest, cohort, settings)
    sources, mode = _plan(cohort, manifest)
    key, digests = _key(cohort, mode, settings, sources, workers, progress)
    found = store.find_store(root, key)
    if found is not None:
        return found
    jobs, index, described = _prepare(sources, manifest, settings, cohort / "annotations.csv")
    meta = _meta(key, settings, manifest, index, digests, described)
    with store.building(root, key) as folder:
        out = store.allocate(folder, (len(index), 2, *settings.size))
        execute(jobs, out, settings.size, workers, progress, len(index))
        store.write_index(folder, index)
        store.write_meta(folder, meta)
    return PairStore(root / key)


def _manifest(given: Manifest | None, cohort: Path, settings: _Settings) -> Manifest:
    """The validated manifest: ``given`` when it matches the folder and the settings, else read."""
    if given is None:
        return tables.read_manifest(cohort / "manifest.csv", id_column=settings.id_column,
                                    label_column=settings.label_column, positive=settings.positive,
                                    negative=settings.negative)
    same = (Path(given.path).resolve() == (cohort / "manifest.csv").resolve()
            and (given.id_column, given.label_column, given.positive, given.negative)
            == (settings.id_column, settings.label_column, settings.positive, settings.negative))
    if not same:
        raise InputError(f"is {given.path} read with columns {given.id_column!r}, {given.label_column!r} and "
                         f"labels {given.positive!r}, {given.negative!r}: not this cohort's manifest with "
                         "these settings.", field="manifest",
                         hint="pass the manifest of the Cohort loaded from the same folder and settings.")
    return given


def _key(cohort: Path, mode: str, settings: _Settings, sources: list[_Source], workers: int,
         progress: Progress | None) -> tuple[str, dict[str, Any]]:
    """The store key and the digests: ``{"tables": {name: sha}, "sources": [[sha, …], …]}``."""
    tables_ = [p for p in (cohort / "manifest.csv", cohort / "annotations.csv") if p.is_file()]
    files = tables_ + [p for s in sources for p in s.paths]
    flat = store.hash_files(files, workers=workers, progress=progress)
    key = store.store_key({"mode": mode, "settings": settings.as_dict(),
                           "files": [[_rel(f, cohort), d] for f, d in zip(files, flat)]})
    per_source, at = [], len(tables_)
    for source in sources:
        per_source.append(flat[at:at + len(source.paths)])
        at += len(source.paths)
    return key, {"tables": {p.stem + "_sha256": d for p, d in zip(tables_, flat)}, "sources": per_source}


def _check_size(size: Any) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        size = (size, size)
    pair = tuple(size) if isinstance(size, Sequence) else ()
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                                 for s in pair):
        raise InputError(f"must be a positive integer or a (height, width) pair of them; got {size!r}.",
                         field="size", hint="pass e.g. size=(224, 224).")
    return int(pair[0]), int(pair[1])


def _check_margin(margin: Any) -> float:
    try:
        value = float(margin)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and 0.0 <= value <= 10.0):
        raise InputError(f"must be a number between 0 and 10 (a fraction of the box size); got {margin!r}.",
                         field="margin", hint="pass e.g. margin=0.1 for 10% context on each side.")
    return value


def _check_panels(panels: Any) -> str:
    """The default split as written ("" for none); :class:`InputError` when it does not parse."""
    text = "" if panels is None else str(panels).strip()
    try:
        tables.parse_panels(text)
    except ValueError as exc:
        raise InputError(f"panels {text!r} {exc}.", field="panels",
                         hint="give 'halves' or x0,y0,x1,y1;x0,y0,x1,y1 (B-mode panel first).") from None
    return text


def default_split(panels: str | None) -> tables.PanelSplit | None:
    """The parsed default split of plain videos (``panels`` as :func:`ingest` takes it)."""
    return tables.parse_panels(_check_panels(panels))


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"must be an integer ≥ 1; got {workers!r}.", field="workers")
    return int(workers)


def _rel(path: Path, cohort: Path) -> str:
    try:
        return path.relative_to(cohort).as_posix()
    except ValueError:
        return path.as_posix()


def _plan(cohort: Path, manifest: Manifest) -> tuple[list[_Source], str]:
    """The sources in store order, and the mode (``"dicom"`` or ``"crops"``)."""
    if (cohort / "crops").is_dir():
        return _plan_crops(cohort, manifest), "crops"
    path = cohort / "annotations.csv"
    annotations = tables.read_annotations(path, manifest, cohort)
    tables.check_coverage(manifest, annotations, cohort, path)
    by_patient: dict[str, dict[str, list[Annotation]]] = {}
    for ann in annotations:
        by_patient.setdefault(ann.patient_id, {}).setdefault(ann.file, []).append(ann)
    sources = []
    for pid in manifest.included:
        for name in sorted(by_patient[pid]):
            rows = tuple(sorted(by_patient[pid][name], key=lambda a: a.frame))
            sources.append(_Source("video", pid, name, (rows[0].path,), rows))
    return sources, "dicom"


def _prepare(sources: list[_Source], manifest: Manifest, settings: _Settings, table: Path
             ) -> tuple[list[CropJob], pd.DataFrame, list[dict[str, Any]]]:
    """Read headers, validate geometry against ``table``'s rows, assign store rows.

    Returns the jobs, the index and one non-identifying note per source for store.json.
    """
    jobs, rows, described, ordinal = [], [], [], {}
    for source in sources:
        first = len(rows)
        if source.kind == "png":
            image_id = f"{source.patient_id}-crops-f{source.frame:04d}"
            jobs.append(CropJob("png", "", source.name, first, (source.frame,),
                             png=(str(source.paths[0]), str(source.paths[1]))))
            rows += _rows(manifest, source.patient_id, [(image_id, source.frame, source.phase, math.nan)])
            described.append({"source": image_id})
            continue
        ordinal[source.patient_id] = ordinal.get(source.patient_id, 0) + 1
        video_id = f"{source.patient_id}-v{ordinal[source.patient_id]}"
        header = read_header(source.paths[0], source.name, manifest, source.patient_id,
                             tables.parse_panels(settings.panels))
        boxes = tuple(_crop_boxes(ann, header, settings.margin, source.name, table)
                      for ann in source.annotations)
        jobs.append(CropJob("video", str(source.paths[0]), source.name, first,
                         tuple(a.frame for a in source.annotations), boxes, syntax=header.transfer_syntax,
                         header=header))
        since = _since_injection(source.paths[0], header, manifest, source.patient_id)
        rows += _rows(manifest, source.patient_id,
                      [(f"{video_id}-f{a.frame:04d}", a.frame, a.phase,
                        math.nan if since is None else float(since[a.frame])) for a in source.annotations])
        described.append(_describe(video_id, header))
    index = pd.DataFrame(rows, columns=[*store.INDEX_COLUMNS, store.TIME_COLUMN])
    return jobs, index, described


def read_header(path: Path, name: str, manifest: Manifest | None = None, patient_id: str = "",
                default: tables.PanelSplit | None = None) -> dicom.VideoHeader:
    """A DICOM's header, or a plain video file's (``.mp4/.mov/.avi/.mkv``, by suffix).

    A plain video gets its dual-display split as its two regions: the patient's manifest
    ``panels`` cell, else ``default``; a split that does not fit the frame is a
    :class:`DataError` naming the manifest row (or the ``panels`` setting).
    """
    if not video.is_container(path):
        return dicom.read_header(path, name=name)
    header = video.read_container_header(path, name=name)
    own = manifest.splits.get(patient_id) if manifest is not None else None
    split = own if own is not None else default
    if split is None:
        return header
    try:
        regions = tables.split_boxes(split, header.frame_box)
    except ValueError as exc:
        where = ({"file": str(manifest.path), "row": manifest.rows[patient_id], "field": tables.PANELS_COLUMN}
                 if own is not None and manifest is not None else {"field": "panels"})
        raise DataError(f"panels {exc} of {name!r}.", **where,
                        hint="give panels inside the video's frame, or 'halves'.") from None
    return replace(header, regions=regions)


def _rows(manifest: Manifest, pid: str, images: list[tuple[str, int, str, float]]) -> list[dict[str, Any]]:
    """Index rows of one source from (image_id, frame, phase, time_s); the manifest is read once."""
    common = {"patient_id": pid, "label": manifest.labels[pid], **manifest.passthrough(pid)}
    return [{"image_id": i, "frame": f, "phase": p, store.TIME_COLUMN: t, **common} for i, f, p, t in images]


def _since_injection(path: Path, header: dicom.VideoHeader, manifest: Manifest,
                     pid: str) -> np.ndarray | None:
    """Each frame's time since the contrast injection, s (rounded to 1 µs), or None when the
    manifest has no ``injection_s`` for the patient or the video no frame timing — the times
    ``studykit frames`` proposes frames by (:func:`video_times`, :func:`injection_time`)."""
    if INJECTION_COLUMN not in manifest.table.columns:
        return None
    injection = injection_time(manifest, pid)
    times = None if injection is None else video_times(path, header)
    return None if times is None else np.round(times - injection, 6)


def video_times(path: Path, header: dicom.VideoHeader) -> np.ndarray | None:
    """Frame times in s from the first frame, shape (frames,), or None without usable timing.

    DICOM: the Frame Time Vector (checked against Number of Frames by
    :func:`.dicom.read_header`), else Frame Time, else Cine Rate. Plain video files: the
    presentation times of their packets (:func:`.video.container_times`; a variable frame
    rate is kept), else the container's average frame rate.
    """
    n = header.frames
    if header.container:
        times = video.container_times(path, header)
        if times is not None:
            return times
    elif header.frame_time_vector:
        vector = np.asarray(header.frame_time_vector, dtype=np.float64)
        increments = vector[1:] if len(vector) == n else vector
        return np.concatenate([[0.0], np.cumsum(increments)]) / 1000.0
    frame_ms = _positive(header.attributes.get("FrameTime"))
    if frame_ms is not None:
        return np.arange(n) * frame_ms / 1000.0
    rate = _positive(header.attributes.get("CineRate"))
    if rate is not None:
        return np.arange(n) / rate
    return None


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def injection_time(manifest, pid: str) -> float | None:
    """Patient ``pid``'s ``injection_s`` (s from the first frame), None when empty; row-precise errors."""
    row = manifest.rows[pid]
    text = str(manifest.table[INJECTION_COLUMN].iat[row - 1])
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"injection time {text!r} is not a number of seconds.", file=str(manifest.path),
                        row=row, field=INJECTION_COLUMN,
                        hint="give the video time of the injection in s from the first frame, or leave it "
                             "empty.")
    return value


def _describe(video_id: str, header: dicom.VideoHeader) -> dict[str, Any]:
    """Non-identifying facts about one video for ``store.json`` (whitelisted attributes only)."""
    layout = dicom.panels(header)
    return {"source": video_id, "layout": "dual" if len(layout) == 2 else "single",
            "panels": [list(b) for b in layout], **header.attributes}


def _crop_boxes(ann: Annotation, header: dicom.VideoHeader, margin: float, name: str, table: Path
                ) -> tuple[Box, Box]:
    """Check one annotation against the header; return its (B-mode, CEUS) crop boxes."""
    where = {"file": str(table), "row": ann.row}
    if ann.frame >= header.frames:
        raise DataError(f"frame {ann.frame} is out of range: {name!r} has {header.frames} frame(s) "
                        f"(0–{header.frames - 1}).", field="frame", **where,
                        hint="frame is the 0-based index into the multi-frame pixel data.")
    layout = dicom.panels(header)
    targets = (layout[0], layout[-1])
    for column, box, panel, which in (("bmode_box", ann.bmode_box, targets[0], "B-mode"),
                                      ("ceus_box", ann.ceus_box, targets[1], "CEUS")):
        if not box.inside(header.frame_box):
            raise DataError(f"box {box.text()!r} lies outside the {header.columns}×{header.rows} frame of "
                            f"{name!r}.", field=column, **where,
                            hint="boxes are full-frame pixels x0,y0,x1,y1 with 0 ≤ x0 < x1 ≤ width and "
                                 "0 ≤ y0 < y1 ≤ height.")
        if not box.inside(panel):
            side = ("left" if which == "B-mode" else "right") if len(layout) == 2 else "only"
            raise DataError(f"box {box.text()!r} is not inside the {which} panel of {name!r} (the {side} "
                            f"ultrasound region, x {panel.x0}–{panel.x1 - 1}, y {panel.y0}–{panel.y1 - 1}).",
                            field=column, **where,
                            hint="the B-mode box must lie in the left panel and the CEUS box in the right "
                                 "one; are the two boxes swapped?")
    return _widen(ann.bmode_box, targets[0], margin), _widen(ann.ceus_box, targets[1], margin)


def _widen(box: Box, panel: Box, margin: float) -> Box:
    """``box`` grown by ``margin`` × its width/height on each side, clipped to ``panel``."""
    dx, dy = math.floor(margin * box.width + 0.5), math.floor(margin * box.height + 0.5)
    return Box(max(panel.x0, box.x0 - dx), max(panel.y0, box.y0 - dy),
               min(panel.x1, box.x1 + dx), min(panel.y1, box.y1 + dy))


def _meta(key: str, settings: _Settings, manifest: Manifest, index: pd.DataFrame, digests: dict[str, Any],
          described: list[dict[str, Any]]) -> dict[str, Any]:
    """``store.json``: no timestamps and no worker count, so equal inputs give equal bytes."""
    from studykit import __version__

    sources = [{**note, "sha256": d[0] if len(d) == 1 else d}
               for note, d in zip(described, digests["sources"])]
    return {"key": key, "studykit": __version__, "shape": [len(index), 2, *settings.size], "dtype": "uint8",
            "channels": list(store.CHANNELS), "order": "C (N, channel, height, width)",
            "settings": settings.as_dict(), "inputs": {**digests["tables"], "sources": sources},
            "counts": {"patients": int(index["patient_id"].nunique()), "images": len(index),
                       "excluded_patients": len(manifest.excluded)}}



def _plan_crops(cohort: Path, manifest: Manifest) -> list[_Source]:
    """PNG pairs ``crops/<patient>/<frame>_{bmode,ceus}.png``, checked, in store order."""
    phases = tables.read_phases(cohort / "annotations.csv", manifest)
    pairs = _scan_crops(cohort / "crops", manifest)
    sources = []
    for pid in manifest.included:
        if pid not in pairs:
            raise DataError(f"patient {pid!r} is included but has no crop pair in crops/{pid}/.",
                            file=str(manifest.path), row=manifest.rows[pid], field=manifest.id_column,
                            hint="add <frame>_bmode.png and <frame>_ceus.png, or give the patient an "
                                 "excluded_reason.")
        for frame, files in sorted(pairs[pid].items()):
            missing = [kind for kind in ("bmode", "ceus") if kind not in files]
            if missing:
                present = next(iter(files.values()))
                partner = f"{present.name.split('_')[0]}_{missing[0]}.png"
                raise DataError(f"has no {missing[0]} partner ({partner}).",
                                file=str(present), hint="every B-mode crop needs the CEUS crop of the same "
                                                        "frame beside it, and back.")
            phase, _ = phases.pop((pid, frame), ("", 0))
            sources.append(_Source("png", pid, f"crops/{pid}/{frame}", (files["bmode"], files["ceus"]),
                                   frame=frame, phase=phase))
    if phases:
        (pid, frame), (_, row) = next(iter(phases.items()))
        raise DataError(f"annotates frame {frame} of patient {pid!r}, which has no crop pair in "
                        f"crops/{pid}/.",
                        file=str(cohort / "annotations.csv"), row=row, field="frame",
                        hint="remove the row or add the PNG pair.")
    return sources


def _scan_crops(crops: Path, manifest: Manifest) -> dict[str, dict[int, dict[str, Path]]]:
    """patient → frame → {"bmode": path, "ceus": path}, from the crop folders."""
    pairs: dict[str, dict[int, dict[str, Path]]] = {}
    for folder in sorted(p for p in crops.iterdir() if p.is_dir()):
        pid = folder.name
        if pid in manifest.excluded:
            continue
        if pid not in manifest.rows:
            raise DataError(f"is a crop folder for patient {pid!r}, who is not in {manifest.path.name}.",
                            file=str(folder), hint="rename the folder to the patient's manifest id.")
        for png in sorted(folder.glob("*.png")):
            match = _CROP_NAME.match(png.name)
            if match is None:
                raise DataError("is not named <frame>_bmode.png or <frame>_ceus.png.", file=str(png),
                                hint="name crops by their integer frame number, e.g. 0012_bmode.png.")
            frame = pairs.setdefault(pid, {}).setdefault(int(match[1]), {})
            if match[2] in frame:
                raise DataError(f"is a second {match[2]} crop of frame {int(match[1])} (the first is "
                                f"{frame[match[2]].name}).", file=str(png), hint="keep one crop per frame.")
            frame[match[2]] = png
    return pairs
