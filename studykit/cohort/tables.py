"""Read and validate a raw cohort's tables: ``manifest.csv`` and ``annotations.csv``.

The manifest has one row per patient; the annotations one row per selected frame (DESIGN.md,
"File formats"). Both are read as text (ids such as ``0007`` stay strings), with surrounding
white space stripped. Every problem raises :class:`~studykit.errors.DataError` naming the
file, the 1-based data row (the header is not counted) and the column, with the fix.

Boxes are ``"x0,y0,x1,y1"`` in full-frame pixels: x to the right, y down, ``x1``/``y1``
exclusive. Non-integer coordinates are rounded outwards (``x0, y0`` down, ``x1, y1`` up), so
the box never shrinks.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from studykit.errors import DataError
from studykit.vocab import EXCLUDED_REASON, closest, did_you_mean, exclusion_reasons, read_utf8

__all__ = [
    "CONTAINER_SUFFIXES",
    "PANELS_COLUMN",
    "PASSTHROUGH",
    "PHASES",
    "Annotation",
    "Box",
    "Manifest",
    "check_coverage",
    "cohort_folder",
    "no_video",
    "parse_box",
    "parse_panels",
    "patient_videos",
    "read_annotations",
    "read_manifest",
    "read_phases",
    "read_table",
    "require_columns",
    "split_boxes",
]

#: Vocabulary of the ``phase`` column of the annotations.
PHASES = ("cortical", "medullary")
#: Manifest columns copied to the store's index when present (empty otherwise).
PASSTHROUGH = ("subtype", "center", "scanner")
#: Optional manifest column: non-empty means the patient is excluded (flow diagram only).
EXCLUDED_COLUMN = EXCLUDED_REASON
ANNOTATION_COLUMNS = ("file", "frame", "phase", "bmode_box", "ceus_box")
#: Plain video file suffixes accepted beside DICOM (lower case; decoded by studykit.cohort.video).
CONTAINER_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
#: Optional manifest column: the dual-display split of a patient's plain video files
#: (``halves`` or ``x0,y0,x1,y1;x0,y0,x1,y1``, B-mode first; see :func:`parse_panels`).
PANELS_COLUMN = "panels"
#: The :func:`parse_panels` value meaning "left half B-mode, right half CEUS".
HALVES = "halves"


class Box(NamedTuple):
    """A rectangle in full-frame pixels, ``x1``/``y1`` exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def inside(self, other: Box) -> bool:
        """True when this box lies entirely within ``other``."""
        return (other.x0 <= self.x0 and other.y0 <= self.y0
                and self.x1 <= other.x1 and self.y1 <= other.y1)

    def text(self) -> str:
        return f"{self.x0},{self.y0},{self.x1},{self.y1}"


#: A dual-display split: :data:`HALVES` or explicit (B-mode, CEUS) panels.
PanelSplit = str | tuple[Box, Box]


def parse_panels(text: str) -> PanelSplit | None:
    """A dual-display split as written in the manifest or the protocol; None when empty.

    ``"halves"``: the left half of the frame is B-mode, the right half CEUS (split at
    ``width // 2``). ``"x0,y0,x1,y1;x0,y0,x1,y1"``: the B-mode panel then the CEUS panel in
    full-frame pixels, ``x1``/``y1`` exclusive (:func:`parse_box`); they must not overlap.
    Raises ``ValueError`` with the reason.
    """
    value = str(text).strip()
    if value == "":
        return None
    if value.lower() == HALVES:
        return HALVES
    parts = value.split(";")
    if len(parts) != 2:
        raise ValueError(f"is neither {HALVES!r} nor two boxes x0,y0,x1,y1;x0,y0,x1,y1")
    try:
        bmode, ceus = parse_box(parts[0]), parse_box(parts[1])
    except ValueError as exc:
        raise ValueError(f"has a panel that {exc}") from None
    if bmode.x0 < ceus.x1 and ceus.x0 < bmode.x1 and bmode.y0 < ceus.y1 and ceus.y0 < bmode.y1:
        raise ValueError("has overlapping B-mode and CEUS panels")
    return bmode, ceus


def split_boxes(split: PanelSplit, frame: Box) -> tuple[Box, Box]:
    """(B-mode, CEUS) panels of ``split`` in a frame ``frame``; ``ValueError`` when outside it."""
    if split == HALVES:
        middle = frame.x0 + frame.width // 2
        return Box(frame.x0, frame.y0, middle, frame.y1), Box(middle, frame.y0, frame.x1, frame.y1)
    bmode, ceus = split
    for which, box in (("B-mode", bmode), ("CEUS", ceus)):
        if not box.inside(frame):
            raise ValueError(f"puts the {which} panel {box.text()} outside the {frame.width}×{frame.height} "
                             "frame")
    return bmode, ceus


def _splits(table: pd.DataFrame, rows: dict[str, int], *, file: Path) -> dict[str, PanelSplit]:
    """Patient id → split, from the optional :data:`PANELS_COLUMN` (row-precise errors)."""
    if PANELS_COLUMN not in table.columns:
        return {}
    splits = {}
    for pid, row in rows.items():
        text = table[PANELS_COLUMN].iloc[row - 1]
        try:
            split = parse_panels(text)
        except ValueError as exc:
            raise DataError(f"panels {text!r} {exc}.", file=str(file), row=row, field=PANELS_COLUMN,
                            hint=f"write {HALVES!r} (left half B-mode, right half CEUS) or the two panels "
                                 "as x0,y0,x1,y1;x0,y0,x1,y1 in full-frame pixels, B-mode first; leave "
                                 "it empty for DICOM files with ultrasound regions.") from None
        if split is not None:
            splits[pid] = split
    return splits


@dataclass(frozen=True)
class Manifest:
    """A validated manifest.

    Attributes
    ----------
    path : Path
    table : DataFrame
        Every row, as text.
    included : tuple of str
        Ids of the included patients (empty ``excluded_reason``), in manifest order.
    rows : dict
        Patient id → 1-based data row.
    labels : dict
        Included patient id → 1 (positive class) or 0.
    excluded : frozenset of str
        Ids of the excluded patients.
    positive, negative : str
        The label words coded 1 and 0 in ``labels``.
    splits : dict
        Patient id → dual-display split of the patient's plain video files (column
        :data:`PANELS_COLUMN`, :func:`parse_panels`); patients with an empty cell are absent.
    """

    path: Path
    table: pd.DataFrame
    id_column: str
    label_column: str
    included: tuple[str, ...]
    rows: dict[str, int]
    labels: dict[str, int]
    excluded: frozenset[str]
    positive: str = "malignant"
    negative: str = "benign"
    splits: dict[str, PanelSplit] = field(default_factory=dict)

    def passthrough(self, patient_id: str) -> dict[str, str]:
        """``subtype, center, scanner`` of one patient ("" where the column is absent)."""
        i = self.rows[patient_id] - 1
        table = self.table
        return {col: (str(table[col].iat[i]) if col in table.columns else "") for col in PASSTHROUGH}


@dataclass(frozen=True)
class Annotation:
    """One validated annotation row (geometry is checked later, against the DICOM header)."""

    row: int
    patient_id: str
    file: str
    path: Path
    frame: int
    phase: str
    bmode_box: Box
    ceus_box: Box


def cohort_folder(path: str | Path) -> Path:
    """``path`` as a Path; :class:`DataError` when it is not a folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError("cohort folder not found.", file=str(folder),
                        hint="pass the folder holding manifest.csv.")
    return folder


def read_table(path: Path, *, what: str) -> pd.DataFrame:
    """A CSV file as a DataFrame of stripped strings; clear errors when absent or unparsable."""
    if not path.is_file():
        raise DataError("file not found.", file=str(path), hint=f"the cohort folder must contain {what}.")
    text = read_utf8(path, DataError, example=path.name)  # Excel's BOM dropped
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot be read as CSV ({exc}).", file=str(path),
                        hint="save the table as UTF-8 comma-separated text with one header row.") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table.apply(lambda col: col.astype(str).str.strip()).astype(object)


def require_columns(table: pd.DataFrame, columns: Iterable[str], *, file: Path, argument: str) -> None:
    """Raise for the first of ``columns`` missing from ``table``, suggesting a near match."""
    for column in columns:
        if column in table.columns:
            continue
        present = ", ".join(repr(c) for c in table.columns)
        close = closest(column, table.columns)
        hint = (f"did you mean {close!r}? Rename the column or pass {argument}={close!r}."
                if close else f"add the column, or pass {argument}= the name this table uses.")
        if len(table.columns) == 1 and ";" in str(table.columns[0]):
            hint = "the file looks semicolon-separated: save it as comma-separated CSV."
        raise DataError(f"has no column {column!r} (columns: {present}).", file=str(file),
                        field=column, hint=hint)


def read_manifest(path: Path, *, id_column: str = "patient_id", label_column: str = "label",
                  positive: str = "malignant", negative: str = "benign") -> Manifest:
    """Read ``manifest.csv``: declared columns present, unique ids, labels in the vocabulary.

    Parameters
    ----------
    path : Path
    id_column, label_column : str
        Names of the patient-id and reference-standard columns.
    positive, negative : str
        The two label values; ``positive`` is coded 1 in the store.

    Returns
    -------
    Manifest
    """
    table = read_table(path, what="manifest.csv (one row per patient)")
    require_columns(table, [id_column], file=path, argument="id_column")
    require_columns(table, [label_column], file=path, argument="label_column")
    rows = _unique_ids(table[id_column], file=path, column=id_column)
    reasons = exclusion_reasons(table)
    included, labels, excluded = [], {}, set()
    for pid, row in rows.items():
        if reasons.iloc[row - 1] != "":
            excluded.add(pid)
            continue
        labels[pid] = _label(table[label_column].iloc[row - 1], (negative, positive),
                             file=path, row=row, column=label_column)
        included.append(pid)
    if not included:
        raise DataError("has no included patient (every row has an excluded_reason, or none exist).",
                        file=str(path), hint="add patients, or clear excluded_reason for the ones to study.")
    return Manifest(path, table, id_column, label_column, tuple(included), rows, labels, frozenset(excluded),
                    positive, negative, _splits(table, rows, file=path))


def _unique_ids(ids: pd.Series, *, file: Path, column: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    for i, pid in enumerate(ids, start=1):
        if pid == "":
            raise DataError("patient id is empty.", file=str(file), row=i, field=column,
                            hint="give every row a pseudonymous patient id.")
        if pid in rows:
            raise DataError(f"patient id {pid!r} appears twice (rows {rows[pid]} and {i}).", file=str(file),
                            row=i, field=column, hint="each patient must have exactly one manifest row.")
        rows[pid] = i
    return rows


def _label(value: str, vocabulary: Sequence[str], *, file: Path, row: int, column: str) -> int:
    if value in vocabulary:
        return vocabulary.index(value)
    allowed = " or ".join(repr(v) for v in vocabulary)
    hint = did_you_mean(value, vocabulary, f"use {allowed}, or pass positive=/negative= to match the "
                                           "manifest's labels.")
    raise DataError(f"label {value!r} is not {allowed}.", file=str(file), row=row, field=column, hint=hint)


def read_annotations(path: Path, manifest: Manifest, cohort_dir: Path) -> list[Annotation]:
    """Read ``annotations.csv`` against the manifest; rows of excluded patients are skipped.

    Checks every row's patient, file, frame, phase and both boxes (syntax, orientation,
    non-empty), then that no frame is annotated twice and a file belongs to one patient.
    Frame ranges and box placement need the DICOM header and are checked by ingestion.

    Returns
    -------
    list of Annotation, in file order.
    """
    table = read_table(path, what="annotations.csv (one row per selected frame)")
    id_column = manifest.id_column
    require_columns(table, [id_column], file=path, argument="id_column")
    require_columns(table, ANNOTATION_COLUMNS, file=path, argument="the annotation column")
    result, paths = [], {}
    for i, rec in enumerate(table.to_dict("records"), start=1):
        pid = rec[id_column]
        if pid in manifest.excluded:
            continue
        _known_patient(pid, manifest, file=path, row=i, column=id_column)
        if rec["file"] not in paths:  # each distinct file is looked up once
            paths[rec["file"]] = _video_path(rec["file"], cohort_dir, file=path, row=i)
        result.append(Annotation(
            row=i, patient_id=pid, file=rec["file"], path=paths[rec["file"]],
            frame=_frame(rec["frame"], file=path, row=i),
            phase=_phase(rec["phase"], file=path, row=i),
            bmode_box=_box(rec["bmode_box"], file=path, row=i, column="bmode_box"),
            ceus_box=_box(rec["ceus_box"], file=path, row=i, column="ceus_box")))
    _no_duplicates(result, file=path)
    return result


def _known_patient(pid: str, manifest: Manifest, *, file: Path, row: int, column: str) -> None:
    if pid in manifest.rows:
        return
    hint = did_you_mean(pid, manifest.rows, "add the patient to the manifest or fix the id.")
    raise DataError(f"patient {pid!r} is not in {manifest.path.name}.", file=str(file), row=row,
                    field=column, hint=hint)


def _video_path(value: str, cohort_dir: Path, *, file: Path, row: int) -> Path:
    if value == "":
        raise DataError("file is empty.", file=str(file), row=row, field="file",
                        hint="give the video's path relative to the cohort folder, e.g. videos/RC0001.dcm.")
    path = Path(value) if Path(value).is_absolute() else cohort_dir / value
    if not path.is_file():
        raise DataError(f"video {value!r} not found (looked for {path}).", file=str(file), row=row,
                        field="file", hint="paths are relative to the cohort folder; check the spelling.")
    return path.resolve()


def _frame(value: str, *, file: Path, row: int) -> int:
    try:
        frame = int(value)
    except ValueError:
        frame = -1
    if frame < 0:
        raise DataError(f"frame {value!r} is not a non-negative integer.", file=str(file), row=row,
                        field="frame", hint="frame is the 0-based index into the multi-frame pixel data.")
    return frame


def _phase(value: str, *, file: Path, row: int) -> str:
    if value in PHASES:
        return value
    hint = did_you_mean(value, PHASES, f"use one of {', '.join(map(repr, PHASES))}.")
    raise DataError(f"phase {value!r} is not one of {', '.join(map(repr, PHASES))}.", file=str(file),
                    row=row, field="phase", hint=hint)


def parse_box(text: str) -> Box:
    """``"x0,y0,x1,y1"`` → :class:`Box`; raise ``ValueError`` with the reason.

    Brackets and spaces are ignored; fractional coordinates are rounded outwards.
    """
    parts = [p for p in text.strip().strip("()[]").split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError("is not four numbers x0,y0,x1,y1")
    box = Box(math.floor(values[0]), math.floor(values[1]), math.ceil(values[2]), math.ceil(values[3]))
    if box.x1 < box.x0 or box.y1 < box.y0:
        axis = "x1 < x0" if box.x1 < box.x0 else "y1 < y0"
        raise ValueError(f"is inverted ({axis})")
    if box.width == 0 or box.height == 0:
        raise ValueError(f"is empty (zero {'width' if box.width == 0 else 'height'})")
    return box


def _box(value: str, *, file: Path, row: int, column: str) -> Box:
    try:
        return parse_box(value)
    except ValueError as exc:
        raise DataError(f"box {value!r} {exc}.", file=str(file), row=row, field=column,
                        hint="write boxes as x0,y0,x1,y1 in full-frame pixels (x right, y down), "
                             "with x0 < x1 and y0 < y1.") from None


def _no_duplicates(annotations: list[Annotation], *, file: Path) -> None:
    seen: dict[tuple[Path, int], int] = {}
    owner: dict[Path, tuple[str, int]] = {}
    for ann in annotations:
        key = (ann.path, ann.frame)
        if key in seen:
            raise DataError(f"frame {ann.frame} of {ann.file!r} is annotated twice (rows {seen[key]} and "
                            f"{ann.row}).", file=str(file), row=ann.row, field="frame",
                            hint="keep one row per frame.")
        seen[key] = ann.row
        pid, first = owner.setdefault(key[0], (ann.patient_id, ann.row))
        if pid != ann.patient_id:
            raise DataError(f"video {ann.file!r} is given to patient {ann.patient_id!r} here but to {pid!r} "
                            f"in row {first}.", file=str(file), row=ann.row, field="file",
                            hint="a video belongs to exactly one patient.")


def patient_videos(cohort_dir: Path, patient_id: str) -> list[Path]:
    """The patient's videos ``videos/<patient_id>.dcm`` (or a plain video suffix), sorted."""
    return sorted(p for p in (cohort_dir / "videos").glob(f"{patient_id}.*")
                  if p.suffix.lower() in (".dcm", *CONTAINER_SUFFIXES))


def no_video(patient_id: str) -> str:
    """The reason text for a patient without a video file: every accepted name, not found."""
    suffixes = "|".join(s.lstrip(".") for s in CONTAINER_SUFFIXES)
    return f"videos/{patient_id}.dcm or videos/{patient_id}.{suffixes} not found"


def check_coverage(manifest: Manifest, annotations: Sequence[Annotation], cohort_dir: Path,
                   annotations_path: Path) -> None:
    """Every included patient needs at least one annotated frame (and so a video)."""
    annotated = {ann.patient_id for ann in annotations}
    for pid in manifest.included:
        if pid in annotated:
            continue
        found = patient_videos(cohort_dir, pid)
        what = ("no annotated frame in " + annotations_path.name if found else
                f"no video ({no_video(pid)}) and no annotated frame in {annotations_path.name}")
        raise DataError(f"patient {pid!r} is included but has {what}.", file=str(manifest.path),
                        row=manifest.rows[pid], field=manifest.id_column,
                        hint="annotate at least one frame of the patient's video, or give the patient an "
                             f"{EXCLUDED_COLUMN}.")


def read_phases(path: Path, manifest: Manifest) -> dict[tuple[str, int], tuple[str, int]]:
    """``annotations.csv`` of a pre-cropped cohort: (patient, frame) → (phase, row).

    Only the id, ``frame`` and ``phase`` columns are read; rows of excluded patients are
    skipped. Returns ``{}`` when the file does not exist (phases are then left empty).
    """
    if not path.is_file():
        return {}
    table = read_table(path, what="annotations.csv")
    require_columns(table, [manifest.id_column, "frame", "phase"], file=path, argument="the column")
    phases: dict[tuple[str, int], tuple[str, int]] = {}
    for i, rec in enumerate(table.to_dict("records"), start=1):
        pid = rec[manifest.id_column]
        if pid in manifest.excluded:
            continue
        _known_patient(pid, manifest, file=path, row=i, column=manifest.id_column)
        key = (pid, _frame(rec["frame"], file=path, row=i))
        if key in phases:
            raise DataError(f"frame {key[1]} of patient {pid!r} is annotated twice (rows "
                            f"{phases[key][1]} and {i}).", file=str(path), row=i, field="frame",
                            hint="keep one row per frame.")
        phases[key] = (_phase(rec["phase"], file=path, row=i), i)
    return phases
