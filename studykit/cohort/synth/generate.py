"""Writing a synthetic cohort folder: videos, CSV tables, the marker record and the summary.

:func:`synthesize` writes into a hidden staging folder and renames it into place, so an
interrupted run never leaves a folder that looks complete; a folder already holding the
same cohort (same arguments, :data:`~studykit.cohort.synth.options.MARKER`) is returned as
it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from studykit.errors import StudyError
from studykit.vocab import Progress, remove_dead_temps, temp_name

from . import dicom, render
from .model import SynthParams, auc, bayes_auc_mc
from .options import (
    DEFAULT_PATIENTS,
    MARKER,
    STREAM_IDENTITY,
    Config,
    make_config,
    make_params,
)
from .patient import annotation_columns, render_one, transfer_syntax
from .readers import ReaderGroupSummary, summarize_reads
from .tables import CohortTables, draw_tables, stream

__all__ = ["BayesAUC", "SynthSummary", "draw_cohort", "population_bayes_auc", "synthesize"]


class BayesAUC(NamedTuple):
    """Bayes-optimal AUCs (of the exact posteriors) by evidence level and block.

    ``frame_*``: what single frames show (the ceiling of per-frame model arms); ``video_*``:
    plus the bolus timing as perceived from the video (the readers' ceiling); ``all_*``:
    every latent exactly. B-mode has no temporal cues, so its three values are equal.
    """

    frame_bmode: float
    frame_ceus: float
    frame_both: float
    video_bmode: float
    video_ceus: float
    video_both: float
    all_bmode: float
    all_ceus: float
    all_both: float


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote, and the cohort's reference figures.

    Attributes
    ----------
    out_dir, manifest, annotations, reads, truth, videos : Path
        The cohort folder, its four CSV files and the folder of DICOM videos.
    patients, excluded : int
        Included patients (with a video) and excluded ones (manifest only).
    frames : int
        Frames per video. ``frame_shape`` is (rows, columns) of one dual-display frame
        and ``panel_shape`` (rows, columns) of one panel.
    annotated_frames : int
        Rows of ``annotations.csv``.
    transfer_syntaxes : dict
        Videos per transfer syntax (``explicit_vr_little_endian``, ``jpeg_baseline``,
        ``rle_lossless``, and with ``syntax`` given its own: ``mpeg2_main_main``,
        ``h264_high_41``, ``hevc_main`` or ``mp4``). ``frame_shape`` is the rendered frame,
        before any padding to even sides for the video formats.
    bytes_written : int
        Total size of the cohort folder's files, bytes.
    bayes_auc : BayesAUC
        Empirical AUC of the exact posteriors on this cohort's included patients.
    bayes_auc_population : BayesAUC
        The same in the population, by Monte-Carlo integration (200 000 patients, fixed
        seed; SE ≈ 0.001): the stable ceiling.
    readers : tuple of ReaderGroupSummary
        Junior and senior majority-vote sensitivity/specificity and ICC(2,1) of the scores.
    cached : bool
        True when the folder already held this cohort and nothing was written.
    """

    out_dir: Path
    manifest: Path
    annotations: Path
    reads: Path
    truth: Path
    videos: Path
    seed: int
    params: SynthParams
    patients: int
    excluded: int
    frames: int
    frame_shape: tuple[int, int]
    panel_shape: tuple[int, int]
    annotated_frames: int
    transfer_syntaxes: dict[str, int]
    bytes_written: int
    bayes_auc: BayesAUC
    bayes_auc_population: BayesAUC
    readers: tuple[ReaderGroupSummary, ...]
    cached: bool = False


def synthesize(out_dir: str | os.PathLike, *, patients: int | None = None, seed: int = 0,
               frames: int | None = None, size: int | tuple[int, int] | None = None, tiny: bool = False,
               syntax: str | None = None, progress: Progress | None = None,
               **model_params: float) -> SynthSummary:
    """Write a synthetic renal-tumour CEUS cohort to ``out_dir`` (see the module docstring).

    Parameters
    ----------
    out_dir : path
        New or empty folder; created with its parents. A folder holding this very cohort
        (same arguments) is returned at once without writing (``cached=True``); any other
        non-empty folder raises :class:`~studykit.errors.StudyError`.
    patients : int, default 181 (12 with ``tiny``)
        Included patients (each with a video); excluded patients come on top.
    seed : int
        Seed of every random draw: the same arguments give byte-identical files.
    frames : int, default 24 (8 with ``tiny``)
        Frames per video, evenly spaced from 4 s before injection to 88 s after it.
    size : int or (int, int), default (176, 208) ((64, 80) with ``tiny``)
        Panel (height, width) in pixels; an int gives the height, width in proportion.
        A frame is (height + top bar) × 2·width.
    tiny : bool
        Test preset: 12 patients, 8 frames of 64 × 80 pixel panels (writes in about 2 s).
    syntax : str, optional
        Write every video in one format: ``explicit``, ``jpeg``, ``rle``, ``mpeg2`` (MPEG-2
        MP@ML), ``h264`` (H.264 High Profile 4.1), ``hevc`` (HEVC Main) — DICOM files — or
        ``mp4`` (plain H.264 MP4 files ``videos/<id>.mp4`` with planted metadata PHI). The
        video formats need PyAV. Default: the mix set by ``jpeg_fraction``/``rle_fraction``.
    progress : callable, optional
        ``progress(done, total, "synthesize cohort")`` after each video (:data:`studykit.vocab.Progress`).
    **model_params
        Fields of :class:`SynthParams` (class separations, modality correlation, reader
        noise, compressed shares…).

    Returns
    -------
    SynthSummary

    Raises
    ------
    InputError
        A bad argument (named, with the allowed range or a did-you-mean).
    StudyError
        ``out_dir`` is a file or a non-empty folder that is not this cohort.

    Notes
    -----
    The cohort is written to a hidden sibling folder and renamed into place at the end,
    so an interrupted run never leaves a folder that looks complete. Every video is read
    back and decoded with pydicom before the rename.
    """
    config = make_config(patients, seed, frames, size, tiny, model_params, syntax)
    out = Path(out_dir)
    if out.parent.is_dir():  # also when the cohort is cached: the next run cleans up
        remove_dead_temps(out.parent, f".{out.name}.synth-tmp-")  # left by a killed synthesis
    done = _existing(out, config)
    if done is not None:
        return done
    tables = draw_tables(config.patients, config.seed, config.params)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / temp_name(f".{out.name}.synth-tmp-")
    try:
        summary = _write_cohort(staging, out, tables, config, progress)
        if out.is_dir():
            out.rmdir()  # empty (checked by _existing)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def draw_cohort(*, patients: int = DEFAULT_PATIENTS, seed: int = 0, **model_params: float) -> CohortTables:
    """The cohort's tables without rendering: manifest, truth and reads (DataFrames).

    Identical to the CSV files :func:`synthesize` writes for the same patients, seed and
    parameters (frames and size do not enter the tables). Takes milliseconds.
    """
    config = make_config(patients, seed, None, None, False, model_params)
    return draw_tables(config.patients, config.seed, config.params)


def population_bayes_auc(**model_params: float) -> BayesAUC:
    """Population Bayes-optimal AUCs (B-mode, CEUS, both) by Monte-Carlo integration.

    200 000 patients drawn with subtypes in the reference proportions and a fixed seed;
    the AUC of each exact posterior (Monte-Carlo SE ≈ 0.001). Cached per parameter set.
    """
    return _population(make_params(model_params))


@lru_cache(maxsize=16)
def _population(params: SynthParams) -> BayesAUC:
    """Cached :func:`population_bayes_auc`."""
    values = bayes_auc_mc(params)
    return BayesAUC(*(values[name] for name in BayesAUC._fields))


def _existing(out: Path, config: Config) -> SynthSummary | None:
    """The stored summary if ``out`` holds this cohort; None if ``out`` is new or empty."""
    if out.exists() and not out.is_dir():
        raise StudyError("exists and is not a folder.", file=str(out),
                         hint="pass the path of a new or empty folder for the synthetic cohort.")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    stored = _read_marker(out / MARKER)
    if stored is None:
        raise StudyError("is not empty and holds no synthetic cohort; refusing to overwrite it.",
                         file=str(out), hint="pass a new or empty folder, or delete this one first.")
    if stored["arguments"] == config.arguments():
        return _summary_from_json(out, stored)
    new = config.arguments()
    differ = sorted(k for k in new if stored["arguments"].get(k) != new[k])
    raise StudyError(f"holds a synthetic cohort made with other arguments ({', '.join(differ)}); "
                     "refusing to overwrite it.", file=str(out),
                     hint="pass a new or empty folder, or delete this one to regenerate it.")


def _read_marker(path: Path) -> dict[str, Any] | None:
    """The JSON record of an earlier synthesis, or None when absent or not one."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(stored, dict) and isinstance(stored.get("arguments"), dict) and "summary" in stored
    return stored if ok else None


def _content_key(config: Config) -> str:
    """Short hash of the arguments: enters the SOP Instance UIDs."""
    text = json.dumps(config.arguments(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_video(folder: Path, row: dict, truth: dict, config: Config, index: int) -> tuple[list, str]:
    """Render, encode, write and verify one patient's DICOM (or MP4); its annotations and syntax."""
    number = int(row["patient_id"][2:])
    video = render_one(row, truth, config, number)
    identity = dicom.draw_identity(int(row["age"]), row["sex"], stream(config.seed, STREAM_IDENTITY, number))
    ds = dicom.build_dataset(video.pixels, row, identity, render.SCANNERS[row["scanner"]], video.geometry,
                             config.seed, _content_key(config))
    syntax = config.syntax or transfer_syntax(index, config.params)
    annotations = video.annotations
    if syntax == "mp4":
        path = folder / f"{row['patient_id']}.mp4"
        dicom.write_mp4(path, video.pixels, video.geometry.frame_time_ms, _mp4_phi(ds))
        annotations = [{**a, "file": f"videos/{path.name}"} for a in annotations]
    else:
        dicom.encode(ds, video.pixels, syntax)
        path = folder / f"{row['patient_id']}.dcm"
        dicom.write(ds, path)
    problem = dicom.check_decodes(path, video.pixels, syntax)
    if problem is not None:
        raise StudyError(f"the written video does not read back: {problem}", file=str(path),
                         hint=_decoder_hint(syntax))
    return annotations, syntax


def _mp4_phi(ds) -> dict[str, str]:
    """Fake identifying metadata for an MP4 (what phones and capture tools write), from the DICOM's."""
    return {"title": f"{ds.PatientName} {ds.PatientID}",
            "comment": f"{ds.InstitutionName}; {ds.AccessionNumber}",
            "artist": str(ds.OperatorsName),
            "creation_time": f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}T"
                             f"{ds.StudyTime[:2]}:{ds.StudyTime[2:4]}:{ds.StudyTime[4:6]}.000000Z",
            "location": "+51.4521-002.5879/"}


def _decoder_hint(syntax: str) -> str:
    """How to get a decoder for ``syntax`` (JPEG needs Pillow with libjpeg, or pylibjpeg)."""
    if syntax in dicom.VIDEO_CODECS:
        return ("install PyAV with FFmpeg's libx264/libx265/mpeg2video encoders: "
                "pip install 'studykit[video]'.")
    if syntax == "jpeg_baseline":
        return ("install a JPEG decoder for pydicom: Pillow built with libjpeg, or "
                "`pip install pylibjpeg pylibjpeg-libjpeg`; or pass jpeg_fraction=0.")
    return "this is a bug in studykit's synthetic cohort; please report it with the arguments used."


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with Unix line ends and shortest round-trip floats (deterministic bytes)."""
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_cohort(staging: Path, out: Path, tables: CohortTables, config: Config,
                  progress: Progress | None) -> SynthSummary:
    """Write every file into ``staging`` and return the summary (paths under ``out``)."""
    (staging / "videos").mkdir(parents=True)
    truth_rows = tables.truth.set_index("patient_id", drop=False)
    included = tables.manifest[tables.manifest["excluded_reason"] == ""]
    annotations = []
    syntaxes = dict.fromkeys(dicom.MIXED_SYNTAXES + ((config.syntax,) if config.syntax else ()), 0)
    for index, row in enumerate(included.to_dict("records")):
        rows, syntax = _write_video(staging / "videos", row, truth_rows.loc[row["patient_id"]].to_dict(),
                                    config, index)
        annotations.extend(rows)
        syntaxes[syntax] += 1
        if progress is not None:
            progress(index + 1, len(included), "synthesize cohort")
    frame = pd.DataFrame(annotations, columns=annotation_columns(config.params))
    for name, table in (("manifest", tables.manifest), ("annotations", frame), ("reads", tables.reads),
                        ("truth", tables.truth)):
        _write_csv(table, staging / f"{name}.csv")
    summary = _summary(out, staging, tables, config, len(frame), syntaxes)
    record = {"generator": "studykit.cohort.synth", "arguments": config.arguments(),
              "summary": _to_json(summary)}
    (staging / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return summary


# --------------------------------------------------------------------------- summary

def _folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``, bytes."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _paths(out: Path) -> dict[str, Path]:
    """The cohort's file paths (SynthSummary fields)."""
    return {"out_dir": out, "manifest": out / "manifest.csv", "annotations": out / "annotations.csv",
            "reads": out / "reads.csv", "truth": out / "truth.csv", "videos": out / "videos"}


def _cohort_auc(truth: pd.DataFrame) -> BayesAUC:
    """Empirical AUC of each posterior column on the cohort."""
    y = truth["label"].eq("malignant").to_numpy()
    return BayesAUC(*(auc(y, truth[f"posterior_{name}"].to_numpy()) for name in BayesAUC._fields))


def _summary(out: Path, staging: Path, tables: CohortTables, config: Config, n_annotated: int,
             syntaxes: dict[str, int]) -> SynthSummary:
    """SynthSummary of a freshly written cohort (files measured in ``staging``)."""
    malignant = tables.truth.set_index("patient_id")["label"].eq("malignant")
    height, width = config.size
    bar = max(8, height // 12)
    return SynthSummary(
        **_paths(out), seed=config.seed, params=config.params,
        patients=len(tables.truth), excluded=len(tables.manifest) - len(tables.truth), frames=config.frames,
        frame_shape=(height + bar, 2 * width), panel_shape=(height, width), annotated_frames=n_annotated,
        transfer_syntaxes=syntaxes, bytes_written=_folder_bytes(staging), bayes_auc=_cohort_auc(tables.truth),
        bayes_auc_population=_population(config.params), readers=summarize_reads(tables.reads, malignant))


def _to_json(summary: SynthSummary) -> dict[str, Any]:
    """The summary's figures as JSON (paths and parameters are re-derived on reading)."""
    return {"patients": summary.patients, "excluded": summary.excluded, "frames": summary.frames,
            "frame_shape": list(summary.frame_shape), "panel_shape": list(summary.panel_shape),
            "annotated_frames": summary.annotated_frames, "transfer_syntaxes": summary.transfer_syntaxes,
            "bytes_written": summary.bytes_written, "bayes_auc": list(summary.bayes_auc),
            "bayes_auc_population": list(summary.bayes_auc_population),
            "readers": [list(r) for r in summary.readers]}


def _summary_from_json(out: Path, stored: dict[str, Any]) -> SynthSummary:
    """SynthSummary of a cohort written earlier (``cached=True``)."""
    args, s = stored["arguments"], stored["summary"]
    return SynthSummary(
        **_paths(out), seed=args["seed"], params=SynthParams(**args["params"]),
        patients=s["patients"], excluded=s["excluded"], frames=s["frames"],
        frame_shape=tuple(s["frame_shape"]), panel_shape=tuple(s["panel_shape"]),
        annotated_frames=s["annotated_frames"],
        transfer_syntaxes=dict(s["transfer_syntaxes"]), bytes_written=s["bytes_written"],
        bayes_auc=BayesAUC(*s["bayes_auc"]), bayes_auc_population=BayesAUC(*s["bayes_auc_population"]),
        readers=tuple(ReaderGroupSummary(*r) for r in s["readers"]), cached=True)
