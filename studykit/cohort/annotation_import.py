"""Import box annotations from CVAT, COCO or Label Studio into a cohort's ``annotations.csv``.

``import_annotations(format, export, cohort)`` reads one export file, maps every box to a
video of ``COHORT/videos/`` and a frame, assigns it to the B-mode or the CEUS panel by the
panel that contains it, gives each frame its phase and writes the table that
:func:`studykit.cohort.tables.read_annotations` (what ingestion reads) accepts: columns
``patient_id, file, frame, phase, bmode_box, ceus_box``, ``frame`` 0-based, boxes
``x0,y0,x1,y1`` in full-frame pixels with ``x1``/``y1`` exclusive.

Formats (what each reader takes; the references are the tools' own documentation):

``cvat-video`` — CVAT for video 1.1 XML (CVAT docs, "CVAT for video export"):
    ``<annotations><version>1.1</version><meta><task>…<source>NAME</source>…`` (or
    ``<meta><job>``) and ``<track id label>`` elements holding ``<box frame xtl ytl xbr ybr
    outside occluded keyframe>`` with optional ``<attribute name=…>`` children. CVAT writes
    a box for *every* frame of a track, interpolated ones included, and closes a track with
    an ``outside="1"`` box. Imported: boxes with ``outside="0"`` and, by default, only
    ``keyframe="1"`` — the boxes an annotator drew; interpolated frames are guesses and would
    turn a handful of selected frames into every frame of the loop (``all_frames=True``
    imports them too). Frame numbers are the task's; the video frame is
    ``start_frame + frame · step`` with ``<start_frame>`` and ``<frame_filter>step=N`` from
    the task meta (0 and 1 when absent). A project export (``<meta><project><tasks><task>``,
    tracks with ``task_id``) maps each track to its task's video.
``cvat-images`` — CVAT for images 1.1 XML: ``<image id name width height>`` holding
    ``<box label xtl ytl xbr ybr occluded>``. The frame is a box's ``<attribute
    name="frame">`` or the number in the image name (``frame_000012.png``, or the last digits
    of the name); the video is named by the image name (see *Names*).
``coco`` — COCO detection JSON (cocodataset.org "Data format"; as written by CVAT's COCO
    1.0 export): ``images[]`` with ``id, file_name, width, height`` and optional ``frame_id``
    (0-based) / ``video_id`` (with a top-level ``videos[]`` of ``id, file_name|name``),
    ``annotations[]`` with ``image_id, category_id, bbox = [x, y, w, h]`` in pixels and
    optional ``attributes{}``, ``categories[]`` with ``id, name``.
``label-studio`` — Label Studio JSON export (labelstud.io "Label Studio Task Format",
    the RectangleLabels and VideoRectangle tags): a list of tasks ``{id, data: {image|video:
    URL}, annotations: [{result: [...], was_cancelled}]}``. ``rectanglelabels`` results hold
    ``value.x, y, width, height`` in percent of the image (``original_width/height``) and
    ``value.rectanglelabels``; ``videorectangle`` results hold ``value.sequence[]`` of
    ``{frame, x, y, width, height, enabled, time}`` in percent of the video frame with
    ``value.labels``; their ``frame`` counts from 1 (Label Studio's video player numbers the
    first frame 1), so frame ``k`` is studykit's ``k − 1``. Every item of the sequence is a
    keyframe the annotator drew and is imported; Label Studio does not export interpolated
    frames. Rotated rectangles (``rotation`` ≠ 0) are refused. A task with more than one
    non-cancelled annotation is refused (which annotator's boxes count is the user's call).

*Sources checked.* CVAT's "XML annotation format" page (cvat-ai/cvat,
``site/content/en/docs/other/xml_format.md``, version 1.1: ``<image id name width height>``
with ``<box label xtl ytl xbr ybr occluded z_order>``; ``<track id label source>`` with
``<box frame xtl ytl xbr ybr outside occluded keyframe>`` and ``<attribute name>``); CVAT's
"format-cvat" page (video exports name frame images ``frame_000000.png``; shapes are
exported as single-frame tracks); Label Studio's "Task Format" and RectangleLabels pages
(``original_width/height``; ``value.x/y/width/height`` 0–100 of the image). The VideoRectangle
page states no frame base: the 1-based ``frame`` is Label Studio's player convention as the
converters found in the code corpus treat it, not confirmed by a documentation page; CVAT's
``start_frame``/``frame_filter`` meta and the project form (``task_id``) are from CVAT's
exports, not from that page either.

*Names.* An export's file or video name maps to a file of ``COHORT/videos/`` by basename
(``RC0001.mp4``), else by stem (``RC0001``). An image name (``RC0001_frame_000012.png``,
``RC0001/frame_000012.png``) names its video by the text before ``_frame_`` or by its folder;
Label Studio's upload prefix (``1a2b3c4d-``) and URL query (``?d=videos/…``) are dropped.
``video=`` names the one video of an export whose image names carry only frame numbers
(CVAT's per-task exports). The patient is the video stem, a manifest id, as for ingestion
(:func:`studykit.cohort.tables.patient_videos`).

*Boxes and panels.* Coordinates are rounded to the nearest pixel. The panels come from the
video header: a DICOM's two ultrasound regions, or a plain video's dual-display split
(manifest ``panels`` or ``panels=``, :func:`studykit.cohort.ingest.read_header`). Each
frame needs exactly one lesion box in each panel; a box labelled ``cortex_label`` (``cortex``)
is the reference ROI of the perfusion analysis instead, in the CEUS panel, at most one per
annotated frame, and fills the ``cortex_box`` column.

*Phase.* From a box's ``phase`` attribute or its label, read through ``labels`` (phase →
the label name the annotators used; default the phase names themselves); failing that,
from the frame's time since injection (manifest ``injection_s``, frame timing of
:func:`studykit.cohort.frames.video_times`) inside the ``windows``
(:data:`studykit.cohort.frames.DEFAULT_WINDOWS` unless given).

Every problem is an :class:`~studykit.errors.InputError` (the export or the arguments) or a
:class:`~studykit.errors.DataError` (the cohort) naming the export file, the element (XML
line, JSON path such as ``annotations[12]``, Label Studio task id) and the fix; nothing is
written then. The table is written atomically; an existing file is never overwritten unless
``force``, and then it is first copied to ``<name>.bak<N>`` (the first free N).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from xml.parsers import expat

import pandas as pd

from studykit.cohort import dicom, frames, tables
from studykit.cohort.ingest import default_split, read_header
from studykit.cohort.tables import ANNOTATION_COLUMNS, PHASES, Box, Manifest
from studykit.cohort.video_header import VideoHeader
from studykit.errors import DataError, InputError
from studykit.vocab import ANNOTATION_FORMATS, CORTEX_COLUMN, atomic_write, did_you_mean

__all__ = ["DEFAULT_CORTEX_LABEL", "FORMATS", "ImportResult", "RawBox", "import_annotations", "parse_labels",
           "read_export"]

#: Label of the annotators' reference box in the renal cortex (``cortex_box``), by default.
DEFAULT_CORTEX_LABEL = "cortex"


@dataclass(frozen=True)
class RawBox:
    """One box as an export states it, before it is mapped to the cohort.

    ``box`` is (x0, y0, x1, y1): pixels, or percent of the frame when ``percent``;
    ``frame`` is 0-based; ``where`` names the element (``line 12``, ``annotations[3]``,
    ``task 7, annotations[0].result[1]``) for errors.
    """

    where: str
    name: str
    frame: int
    box: tuple[float, float, float, float]
    label: str
    phase: str = ""
    percent: bool = False


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_annotations` wrote: the table, its path, the backup, phase sources."""

    table: pd.DataFrame
    path: Path
    backup: Path | None
    from_labels: int
    from_time: int


# ---------------------------------------------------------------------------- XML with lines


@dataclass
class _Node:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[_Node]
    text: str = ""

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def attributes(self) -> dict[str, str]:
        """``<attribute name="k">v</attribute>`` children as {k: v}."""
        return {c.attrib.get("name", ""): c.text.strip() for c in self.all("attribute")}


def _parse_xml(path: Path) -> _Node:
    """The XML tree of ``path`` with each element's line (expat; no DTD or entity is expanded)."""
    parser = expat.ParserCreate()
    root = _Node("", {}, 0, [])
    stack = [root]

    def start(tag, attrib):
        node = _Node(tag, dict(attrib), parser.CurrentLineNumber, [])
        stack[-1].children.append(node)
        stack.append(node)

    def end(_tag):
        stack.pop()

    def text(data):
        stack[-1].text += data

    def refuse(*_args):
        raise ValueError("DTDs and entities are not accepted")

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    parser.EntityDeclHandler = parser.StartDoctypeDeclHandler = refuse
    try:
        parser.Parse(path.read_bytes(), True)
    except (expat.ExpatError, ValueError) as exc:
        raise InputError(
            f"is not well-formed XML ({exc}).",
            file=str(path),
            hint="export the annotations again as CVAT XML 1.1.",
        ) from None
    if not root.children or root.children[0].tag != "annotations":
        raise InputError(
            "is not a CVAT XML export (its root element is not <annotations>).",
            file=str(path),
            hint="choose the format matching the export: cvat-video, cvat-images, coco or label-studio.",
        )
    return root.children[0]


def _number(value: Any, *, file: Path, where: str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(
            f"{where}: {what} {value!r} is not a number.",
            file=str(file),
            hint="export the annotations again; the file looks edited or truncated.",
        )
    return number


def _xml_box(node: _Node, *, file: Path) -> tuple[float, float, float, float]:
    where = f"line {node.line} (<box>)"
    return tuple(
        _number(node.attrib.get(k), file=file, where=where, what=k)  # type: ignore[return-value]
        for k in ("xtl", "ytl", "xbr", "ybr")
    )


def _cvat_version(root: _Node, file: Path, kind: str) -> None:
    version = root.find("version")
    if version is None or version.text.strip() != "1.1":
        found = "none" if version is None else repr(version.text.strip())
        raise InputError(
            f"is CVAT XML version {found}, not 1.1.", file=str(file), hint=f"export as 'CVAT for {kind} 1.1'."
        )


def _cvat_root(path: Path, kind: str) -> _Node:
    """The ``<annotations>`` of a CVAT for ``kind`` (video|images) 1.1 export; refuses the other kind."""
    root = _parse_xml(path)
    _cvat_version(root, path, kind)
    own, other = ("track", "image") if kind == "video" else ("image", "track")
    if root.all(other) and not root.all(own):
        theirs = "images" if kind == "video" else "video"
        raise InputError(f"holds <{other}> elements: it is a CVAT for {theirs} export.", file=str(path),
                         hint=f"import it with the format cvat-{theirs}.")
    return root


def read_cvat_video(path: Path, *, all_frames: bool = False) -> list[RawBox]:
    """Boxes of a CVAT for video 1.1 export (module notes: keyframes, outside, frame mapping)."""
    root = _cvat_root(path, "video")
    tasks = _cvat_tasks(root.find("meta"), path)
    boxes = []
    for track in root.all("track"):
        task_id = track.attrib.get("task_id", "")
        if task_id not in tasks:
            if len(tasks) != 1 or task_id:
                raise InputError(
                    f"line {track.line} (<track>): task_id {task_id!r} is not a task of the meta "
                    f"({', '.join(repr(t) for t in tasks)}).",
                    file=str(path),
                    hint="export the project again; the file looks edited.",
                )
            task_id = next(iter(tasks))
        source, start, step = tasks[task_id]
        for node in track.all("box"):
            if node.attrib.get("outside", "0") != "0":
                continue
            if not all_frames and node.attrib.get("keyframe", "1") != "1":
                continue
            frame = int(
                _number(node.attrib.get("frame"), file=path, where=f"line {node.line} (<box>)", what="frame")
            )
            boxes.append(
                RawBox(
                    f"line {node.line} (<box> of track {track.attrib.get('id', '?')})",
                    source,
                    start + frame * step,
                    _xml_box(node, file=path),
                    track.attrib.get("label", ""),
                    node.attributes().get("phase", ""),
                )
            )
    return boxes


def _cvat_tasks(meta: _Node | None, path: Path) -> dict[str, tuple[str, int, int]]:
    """Task id → (video name, start frame, frame step) from a task, job or project meta."""
    if meta is None:
        raise InputError("has no <meta>.", file=str(path), hint="export the annotations again from CVAT.")
    project = meta.find("project")
    found = project.find("tasks").all("task") if project is not None and project.find("tasks") else []
    single = meta.find("task") or meta.find("job")
    tasks = {}
    for task in found or ([single] if single is not None else []):
        source = task.find("source")
        if source is None or not source.text.strip():
            raise InputError(
                f"line {task.line} (<{task.tag}>): names no video (no <source>).",
                file=str(path),
                hint="export from a CVAT video task, whose meta names the video file.",
            )
        frame_filter = task.find("frame_filter")
        match = re.search(r"step\s*=\s*(\d+)", frame_filter.text if frame_filter is not None else "")
        task_id = task.find("id")
        tasks[task_id.text.strip() if task_id is not None else ""] = (
            source.text.strip(),
            _meta_int(task, "start_frame", 0, path),
            int(match.group(1)) if match else 1,
        )
    if not tasks:
        raise InputError(
            "names no video (no <meta><task><source>).",
            file=str(path),
            hint="export from a CVAT video task, whose meta names the video file.",
        )
    return tasks


def _meta_int(task: _Node, tag: str, default: int, path: Path) -> int:
    node = task.find(tag)
    if node is None or not node.text.strip():
        return default
    return int(_number(node.text.strip(), file=path, where=f"line {node.line} (<{tag}>)", what=tag))


_FRAME_IN_NAME = re.compile(r"frame[_-]?(\d+)$", re.IGNORECASE)
_DIGITS = re.compile(r"(\d+)$")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def _frame_of_name(name: str) -> int | None:
    stem = Path(name).stem
    match = _FRAME_IN_NAME.search(stem) or _DIGITS.search(stem)
    return int(match.group(1)) if match else None


def read_cvat_images(path: Path, *, all_frames: bool = False) -> list[RawBox]:
    """Boxes of a CVAT for images 1.1 export; frame from ``<attribute name="frame">`` or the name."""
    del all_frames  # every box of an image export was drawn
    root = _cvat_root(path, "images")
    boxes = []
    for image in root.all("image"):
        name = image.attrib.get("name", "")
        for node in image.all("box"):
            where = f"line {node.line} (<box> of image {name!r})"
            attrs = node.attributes()
            frame = (
                int(_number(attrs["frame"], file=path, where=where, what="frame attribute"))
                if attrs.get("frame", "") != ""
                else _frame_of_name(name)
            )
            if frame is None:
                raise InputError(
                    f"{where}: no frame number (no frame attribute, no digits in the name).",
                    file=str(path),
                    hint="name frames like frame_000012.png or give each box a 'frame' attribute.",
                )
            boxes.append(
                RawBox(
                    where,
                    name,
                    frame,
                    _xml_box(node, file=path),
                    node.attrib.get("label", ""),
                    attrs.get("phase", ""),
                )
            )
    return boxes


# --------------------------------------------------------------------------------- JSON formats


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"is not valid JSON ({exc}).", file=str(path), hint="export the annotations again as JSON."
        ) from None


def _require(mapping: Any, key: str, *, file: Path, where: str, kind: type | tuple[type, ...]) -> Any:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(
            f"{where}: has no valid {key!r}.",
            file=str(file),
            hint="export the annotations again; the file looks edited or truncated.",
        )
    return value


def read_coco(path: Path, *, all_frames: bool = False) -> list[RawBox]:
    """Boxes of a COCO detection JSON (``bbox`` = [x, y, width, height] in pixels)."""
    del all_frames
    data = _load_json(path)
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise InputError(
            "is not a COCO export (no 'images' and 'annotations').",
            file=str(path),
            hint="choose the format matching the export (label-studio exports are lists).",
        )
    categories = {
        c.get("id"): str(c.get("name", "")) for c in data.get("categories", []) if isinstance(c, dict)
    }
    videos = {
        v.get("id"): str(v.get("file_name") or v.get("name") or "")
        for v in data.get("videos", [])
        if isinstance(v, dict)
    }
    images = {}
    for i, image in enumerate(_require(data, "images", file=path, where="images", kind=list)):
        where = f"images[{i}]"
        name = _require(image, "file_name", file=path, where=where, kind=str)
        images[image.get("id")] = (where, name, image)
    boxes = []
    for j, ann in enumerate(data["annotations"]):
        where = f"annotations[{j}]"
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if image_id not in images:
            raise InputError(
                f"{where}: image_id {image_id!r} is not in 'images'.",
                file=str(path),
                hint="export images and annotations together.",
            )
        image_where, name, image = images[image_id]
        bbox = _require(ann, "bbox", file=path, where=where, kind=list)
        if len(bbox) != 4:
            raise InputError(f"{where}: bbox {bbox!r} is not [x, y, width, height].", file=str(path))
        x, y, w, h = (_number(v, file=path, where=where, what="bbox") for v in bbox)
        video_name = videos.get(image.get("video_id"), "")
        frame = image.get("frame_id")
        frame = int(frame) if isinstance(frame, int) and not isinstance(frame, bool) else _frame_of_name(name)
        if frame is None:
            raise InputError(
                f"{image_where}: no frame number for {name!r} (no frame_id, no digits in the name).",
                file=str(path),
                hint="name frames like frame_000012.png.",
            )
        attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        boxes.append(
            RawBox(
                f"{where} (image {name!r})",
                video_name or name,
                frame,
                (x, y, x + w, y + h),
                categories.get(ann.get("category_id"), ""),
                str(attrs.get("phase", "")),
            )
        )
    return boxes


def _ls_name(url: str) -> str:
    """The file name in a Label Studio data URL (query ``?d=`` path and upload prefix dropped)."""
    parsed = urlparse(url)
    target = parse_qs(parsed.query).get("d", [parsed.path])[0]
    return _UPLOAD_PREFIX.sub("", Path(unquote(target)).name)


def read_label_studio(path: Path, *, all_frames: bool = False) -> list[RawBox]:
    """Boxes of a Label Studio JSON export: ``rectanglelabels`` and ``videorectangle`` results."""
    del all_frames
    tasks = _load_json(path)
    if not isinstance(tasks, list):
        raise InputError(
            "is not a Label Studio JSON export (a list of tasks).",
            file=str(path),
            hint="export from Label Studio as JSON (not JSON-MIN, CSV or COCO).",
        )
    boxes = []
    for t, task in enumerate(tasks):
        where_task = f"task {task.get('id', t) if isinstance(task, dict) else t} ([{t}])"
        data = _require(task, "data", file=path, where=where_task, kind=dict)
        url = next(
            (v for k, v in data.items() if k in ("video", "image") and isinstance(v, str)),
            next((v for v in data.values() if isinstance(v, str)), ""),
        )
        kept = [
            (a, ann)
            for a, ann in enumerate(task.get("annotations") or [])
            if isinstance(ann, dict) and not ann.get("was_cancelled")
        ]
        if len(kept) > 1:
            raise InputError(
                f"{where_task}: has {len(kept)} annotations; studykit imports one per task.",
                file=str(path),
                hint="keep one annotation per task (e.g. the reviewed one) and export again.",
            )
        for a, ann in kept:
            for r, result in enumerate(ann.get("result") or []):
                where = f"{where_task}, annotations[{a}].result[{r}]"
                boxes += _ls_result(result, _ls_name(url), where, path)
    return boxes


def _ls_result(result: dict, name: str, where: str, path: Path) -> list[RawBox]:
    kind = result.get("type")
    value = _require(result, "value", file=path, where=where, kind=dict)
    if kind not in ("rectanglelabels", "videorectangle"):
        return []  # choices, text areas … carry no box
    if _number(value.get("rotation", 0), file=path, where=where, what="rotation") != 0:
        raise InputError(
            f"{where}: the rectangle is rotated ({value['rotation']}°).",
            file=str(path),
            hint='draw axis-aligned boxes (canRotate="false" on the tag).',
        )
    labels = value.get("rectanglelabels") or value.get("labels") or [""]
    label = str(labels[0])
    if kind == "rectanglelabels":
        frame = _frame_of_name(name)
        if frame is None:
            raise InputError(
                f"{where}: no frame number in the image name {name!r}.",
                file=str(path),
                hint="name frames like RC0001_frame_000012.png.",
            )
        return [RawBox(where, name, frame, _ls_box(value, path, where), label, percent=True)]
    out = []
    for s, item in enumerate(_require(value, "sequence", file=path, where=where, kind=list)):
        at = f"{where}.value.sequence[{s}]"
        frame = int(
            _number(item.get("frame") if isinstance(item, dict) else None, file=path, where=at, what="frame")
        )
        if frame < 1:
            raise InputError(
                f"{at}: frame {frame} is not ≥ 1 (Label Studio counts video frames from 1).",
                file=str(path),
                hint="export the annotations again.",
            )
        out.append(RawBox(at, name, frame - 1, _ls_box(item, path, at), label, percent=True))
    return out


def _ls_box(value: dict, path: Path, where: str) -> tuple[float, float, float, float]:
    x, y, w, h = (
        _number(value.get(k), file=path, where=where, what=k) for k in ("x", "y", "width", "height")
    )
    return x, y, x + w, y + h


#: Format name → reader of the export file.
FORMATS: dict[str, Callable[..., list[RawBox]]] = dict(
    zip(ANNOTATION_FORMATS, (read_cvat_video, read_cvat_images, read_coco, read_label_studio), strict=True)
)


def read_export(format: str, path: str | Path, *, all_frames: bool = False) -> list[RawBox]:
    """The boxes of one export file in ``format`` (a :data:`FORMATS` key)."""
    if format not in FORMATS:
        raise InputError(
            f"format {format!r} is not one of {', '.join(FORMATS)}.",
            field="format",
            hint=did_you_mean(format, FORMATS, "choose the format the tool exported."),
        )
    file = Path(path)
    if not file.is_file():
        raise InputError("export file not found.", file=str(file), hint="check the path.")
    return FORMATS[format](file, all_frames=all_frames)


# ---------------------------------------------------------------------------------- mapping


def parse_labels(text: str | None) -> dict[str, str]:
    """``"cortical=arterial,medullary=late"`` → {phase: label}; the phases themselves by default."""
    labels = {p: p for p in PHASES}
    for item in [] if not text else [i for i in text.split(",") if i.strip()]:
        phase, _, label = item.partition("=")
        phase, label = phase.strip(), label.strip()
        if phase not in PHASES or not label:
            raise InputError(
                f"{item.strip()!r} is not PHASE=LABEL with PHASE one of {', '.join(PHASES)}.",
                field="--labels",
                hint="write e.g. --labels cortical=arterial,medullary=late.",
            )
        labels[phase] = label
    return labels


@dataclass
class _Video:
    name: str  # relative to the cohort, e.g. videos/RC0001.mp4
    path: Path
    patient_id: str
    header: VideoHeader
    panels: tuple[Box, ...]


class _Mapper:
    """Export names → cohort videos (headers read once each)."""

    def __init__(
        self,
        cohort: Path,
        manifest: Manifest,
        export: Path,
        video: str | None,
        panels: tables.PanelSplit | None,
    ) -> None:
        files = (
            sorted(
                p
                for p in (cohort / "videos").glob("*")
                if p.suffix.lower() in (".dcm", *tables.CONTAINER_SUFFIXES)
            )
            if (cohort / "videos").is_dir()
            else []
        )
        self.by_name = {p.name: p for p in files}
        self.by_stem: dict[str, list[Path]] = {}
        for p in files:
            self.by_stem.setdefault(p.stem, []).append(p)
        self.cohort, self.manifest, self.export, self.video, self.panels = (
            cohort,
            manifest,
            export,
            video,
            panels,
        )
        self.cache: dict[Path, _Video] = {}

    def resolve(self, raw: RawBox) -> _Video:
        wanted = self.video or raw.name
        path = self._find(wanted)
        if path is None:
            raise InputError(
                f"{raw.where}: {wanted!r} matches no video of {self.cohort / 'videos'}.",
                file=str(self.export),
                hint=did_you_mean(
                    self._stems(wanted)[0],
                    self.by_stem,
                    "name images <video stem>_frame_<n>.png or pass --video NAME; "
                    "videos are matched by file name, then by stem.",
                ),
            )
        if path not in self.cache:
            pid = path.stem
            if pid not in self.manifest.rows:
                raise DataError(
                    f"video {path.name!r} belongs to no patient: {pid!r} is not in "
                    f"{self.manifest.path.name}.",
                    file=str(self.export),
                    field=raw.where,
                    hint="videos are named <patient_id>.<suffix>; rename it or add the patient.",
                )
            name = path.relative_to(self.cohort).as_posix()
            header = read_header(path, name, self.manifest, pid, self.panels)
            self.cache[path] = _Video(name, path, pid, header, dicom.panels(header))
        return self.cache[path]

    def _find(self, wanted: str) -> Path | None:
        base = Path(wanted.replace("\\", "/")).name
        if base in self.by_name:
            return self.by_name[base]
        for stem in self._stems(wanted):
            found = self.by_stem.get(stem, [])
            if len(found) == 1:
                return found[0]
        return None

    @staticmethod
    def _stems(wanted: str) -> list[str]:
        """Video stems a name may mean, most specific first (``X_frame_12.png``, ``X/frame_12.png`` → X)."""
        path = Path(wanted.replace("\\", "/"))
        match = re.match(r"(.+?)[_-]frame[_-]?\d+$", path.stem, re.IGNORECASE)
        framed = match is not None or _FRAME_IN_NAME.search(path.stem) is not None
        stems = [match.group(1)] if match else []
        if framed and path.parent.name:
            stems.append(path.parent.name)
        return (
            [*stems, path.stem] if stems else [path.stem, *([path.parent.name] if path.parent.name else [])]
        )


def _pixels(raw: RawBox, header: VideoHeader) -> Box:
    x0, y0, x1, y1 = raw.box
    if raw.percent:
        sx, sy = header.columns / 100.0, header.rows / 100.0
        x0, y0, x1, y1 = x0 * sx, y0 * sy, x1 * sx, y1 * sy
    return Box(round(x0), round(y0), round(x1), round(y1))


@dataclass
class _Frame:
    video: _Video
    frame: int
    boxes: dict[int, tuple[Box, RawBox]]  # panel index → box
    cortex: tuple[Box, RawBox] | None = None  # the reference box in the renal cortex (CEUS panel)


def _assign(raws: list[RawBox], mapper: _Mapper, export: Path,
            cortex_label: str = DEFAULT_CORTEX_LABEL) -> dict[tuple[Path, int], _Frame]:
    """(video, frame) → its boxes by panel (a ``cortex_label`` box apart); errors for frames,
    boxes and panels."""
    out: dict[tuple[Path, int], _Frame] = {}
    for raw in raws:
        video = mapper.resolve(raw)
        header = video.header
        hint_at = f"{raw.where} ({video.name}, frame {raw.frame})"
        if not 0 <= raw.frame < header.frames:
            raise InputError(
                f"{hint_at}: frame {raw.frame} is beyond the video, which has {header.frames} "
                f"frame(s) (0–{header.frames - 1}).",
                file=str(export),
                hint="is the export from this video? (Label Studio counts from 1, studykit from 0.)",
            )
        box = _pixels(raw, header)
        if box.width <= 0 or box.height <= 0 or not box.inside(header.frame_box):
            raise InputError(
                f"{hint_at}: box {box.text()} is empty or outside the {header.columns}×{header.rows} frame.",
                file=str(export),
                hint="redraw the box inside the image.",
            )
        if len(video.panels) != 2:
            raise DataError(
                f"{hint_at}: {video.name!r} has one panel, so its boxes cannot be told apart as "
                "B-mode and CEUS.",
                file=str(export),
                hint="give the patient's 'panels' in the manifest (halves or x0,y0,x1,y1;x0,y0,x1,y1) "
                "or pass --panels.",
            )
        side = next((i for i, p in enumerate(video.panels) if box.inside(p)), None)
        if side is None:
            b, c = video.panels
            raise InputError(
                f"{hint_at}: box {box.text()} crosses the panel boundary (B-mode panel "
                f"{b.text()}, CEUS panel {c.text()}).",
                file=str(export),
                hint="redraw the box inside one panel.",
            )
        entry = out.setdefault((video.path, raw.frame), _Frame(video, raw.frame, {}))
        if cortex_label and raw.label == cortex_label:
            _add_cortex(entry, box, raw, side, hint_at, export)
            continue
        if side in entry.boxes:
            first = entry.boxes[side][1].where
            raise InputError(
                f"{hint_at}: a second box in the {('B-mode', 'CEUS')[side]} panel (the first is {first}).",
                file=str(export),
                hint="keep one box per panel and frame.",
            )
        entry.boxes[side] = (box, raw)
    for entry in out.values():
        if not entry.boxes:
            raise InputError(
                f"{entry.cortex[1].where} ({entry.video.name}, frame {entry.frame}): a {cortex_label!r} box "
                "on a frame with no lesion boxes.",
                file=str(export),
                hint="draw the cortex box on an annotated frame (it is a reference beside the lesion).",
            )
        if len(entry.boxes) == 1:
            ((side, (_, raw)),) = entry.boxes.items()
            missing = ("B-mode", "CEUS")[1 - side]
            raise InputError(
                f"{raw.where} ({entry.video.name}, frame {entry.frame}): the frame has a "
                f"{('B-mode', 'CEUS')[side]} box but no {missing} box.",
                file=str(export),
                hint=f"draw the {missing} box on this frame too (for CVAT video, as a keyframe), "
                "or delete the lone box.",
            )
    return out


def _add_cortex(entry: _Frame, box: Box, raw: RawBox, side: int, hint_at: str, export: Path) -> None:
    """Keep a frame's cortex box: in the CEUS panel, one per frame."""
    if side != 1:
        raise InputError(
            f"{hint_at}: the cortex box {box.text()} is in the B-mode panel.",
            file=str(export),
            hint="draw the cortex reference box on the CEUS panel (its enhancement is what is measured).",
        )
    if entry.cortex is not None:
        raise InputError(
            f"{hint_at}: a second cortex box (the first is {entry.cortex[1].where}).",
            file=str(export),
            hint="keep one cortex box per frame.",
        )
    entry.cortex = (box, raw)


class _Phases:
    """A frame's phase: from its boxes' phase attribute or label, else from time since injection."""

    def __init__(
        self,
        labels: dict[str, str],
        windows: dict[str, tuple[float, float]],
        manifest: Manifest,
        export: Path,
    ) -> None:
        self.by_label = {label: phase for phase, label in labels.items()}
        self.windows, self.manifest, self.export = windows, manifest, export
        self.times: dict[Path, Any] = {}
        self.from_labels = self.from_time = 0

    def of(self, entry: _Frame) -> str:
        stated = {
            raw.where: phase for _, raw in entry.boxes.values() if (phase := self._stated(raw)) is not None
        }
        if len(set(stated.values())) > 1:
            detail = ", ".join(f"{w}: {p}" for w, p in stated.items())
            raise InputError(
                f"{entry.video.name} frame {entry.frame}: its boxes give different phases ({detail}).",
                file=str(self.export),
                hint="label both boxes of a frame with the same phase.",
            )
        if stated:
            self.from_labels += 1
            return next(iter(stated.values()))
        self.from_time += 1
        return self._timed(entry)

    def _stated(self, raw: RawBox) -> str | None:
        """The phase a box states: its ``phase`` attribute (a phase or a mapped label), else its label."""
        if raw.phase:
            return self.by_label.get(raw.phase) or (raw.phase if raw.phase in PHASES else None)
        return self.by_label.get(raw.label)

    def _timed(self, entry: _Frame) -> str:
        video, pid = entry.video, entry.video.patient_id
        where = f"{entry.boxes[0][1].where} ({video.name}, frame {entry.frame})"
        if frames.INJECTION_COLUMN not in self.manifest.table.columns:
            raise DataError(
                f"{where}: no phase label and no injection time to derive it ({self.manifest.path.name} "
                f"has no {frames.INJECTION_COLUMN!r} column).",
                file=str(self.export),
                hint="label the boxes cortical/medullary (or map labels with --labels), or add "
                f"{frames.INJECTION_COLUMN} to the manifest.",
            )
        injection = frames.injection_time(self.manifest, pid)
        if injection is None:
            raise DataError(
                f"{where}: no phase label, and patient {pid!r} has an empty {frames.INJECTION_COLUMN}.",
                file=str(self.export),
                hint="label the boxes with their phase or give the injection time.",
            )
        if video.path not in self.times:
            self.times[video.path] = frames.video_times(video.path, video.header)
        times = self.times[video.path]
        if times is None:
            raise DataError(
                f"{where}: no phase label, and {video.name!r} has no frame timing.",
                file=str(self.export),
                hint="label the boxes with their phase.",
            )
        since = float(times[entry.frame]) - injection
        phase = frames.phase_at(since, self.windows)
        if phase is None:
            spans = ", ".join(f"{p} {a:g}–{b:g} s" for p, (a, b) in self.windows.items())
            raise InputError(
                f"{where}: no phase label, and the frame is {since:.1f} s after injection, in no "
                f"phase window ({spans}).",
                file=str(self.export),
                hint="label the boxes with their phase, or widen --cortical/--medullary.",
            )
        return phase


def import_annotations(
    format: str,
    export: str | Path,
    cohort_dir: str | Path,
    *,
    out: str | Path | None = None,
    labels: dict[str, str] | None = None,
    windows: dict[str, tuple[float, float]] | None = None,
    video: str | None = None,
    all_frames: bool = False,
    panels: str | None = None,
    force: bool = False,
    id_column: str = "patient_id",
    cortex_label: str = DEFAULT_CORTEX_LABEL,
) -> ImportResult:
    """Import one annotation export into ``annotations.csv`` (see the module notes).

    Parameters
    ----------
    format : ``cvat-video``, ``cvat-images``, ``coco`` or ``label-studio``.
    export : the export file.
    cohort_dir : the cohort folder (``manifest.csv``, ``videos/``).
    out : the table to write (default ``cohort_dir/annotations.csv``).
    labels : phase → the label (or ``phase`` attribute value) annotators used (:func:`parse_labels`).
    windows : phase → (start, end) s since injection for frames without a phase label.
    video : the video of an export whose names carry only frame numbers.
    all_frames : CVAT video: import interpolated boxes too, not only keyframes.
    panels : dual-display split of plain videos without a manifest ``panels`` cell.
    force : overwrite an existing ``out`` after copying it to ``<out>.bak<N>``.
    cortex_label : the label of the reference boxes in the renal cortex (CEUS panel, at most one
        per annotated frame): written to the ``cortex_box`` column, which the table gets when
        the export holds any (empty on frames without one); ``""`` treats no label so.

    Returns
    -------
    ImportResult
    """
    cohort = tables.cohort_folder(cohort_dir)
    target = Path(out) if out is not None else cohort / "annotations.csv"
    if target.exists() and not force:
        raise InputError(
            f"{target} exists; the import never overwrites it unless asked.",
            field="--out",
            hint="pass --force (the old file is kept as a .bak copy) or --out another file.",
        )
    export_path = Path(export)
    raws = read_export(format, export_path, all_frames=all_frames)
    if not raws:
        raise InputError(
            "holds no box to import.",
            file=str(export_path),
            hint="check the format and that the export includes the annotations.",
        )
    manifest = tables.read_manifest(cohort / "manifest.csv", id_column=id_column)
    mapper = _Mapper(cohort, manifest, export_path, video, default_split(panels))
    by_frame = _assign(raws, mapper, export_path, cortex_label)
    phases = _Phases(labels or parse_labels(None), windows or frames.DEFAULT_WINDOWS, manifest, export_path)
    order = {pid: i for i, pid in enumerate(manifest.table[id_column])}
    rows = []
    for entry in sorted(by_frame.values(), key=lambda e: (order[e.video.patient_id], e.video.name, e.frame)):
        rows.append(
            {
                id_column: entry.video.patient_id,
                "file": entry.video.name,
                "frame": entry.frame,
                "phase": phases.of(entry),
                "bmode_box": entry.boxes[0][0].text(),
                "ceus_box": entry.boxes[1][0].text(),
                CORTEX_COLUMN: "" if entry.cortex is None else entry.cortex[0].text(),
            }
        )
    with_cortex = any(entry.cortex is not None for entry in by_frame.values())
    columns = [id_column, *ANNOTATION_COLUMNS, *((CORTEX_COLUMN,) if with_cortex else ())]
    table = pd.DataFrame(rows, columns=columns)
    backup: list[Path] = []

    def write(tmp: Path) -> None:
        table.to_csv(tmp, index=False)
        tables.read_annotations(tmp, manifest, cohort)  # ingestion's own reader vouches for the table
        if target.exists():
            backup.append(_backup(target))

    atomic_write(target, write)
    return ImportResult(table, target, backup[0] if backup else None, phases.from_labels, phases.from_time)


def _backup(target: Path) -> Path:
    """Copy ``target`` to ``<target>.bak<N>`` (the first N not taken) and return that path."""
    n = 1
    while target.with_name(f"{target.name}.bak{n}").exists():
        n += 1
    backup = target.with_name(f"{target.name}.bak{n}")
    shutil.copy2(target, backup)
    return backup
