"""The build stage of :func:`studykit.cohort.ingest`: crop jobs, run here or in worker processes.

A :class:`CropJob` is one video (or one PNG pair) with its store rows: :func:`run_job`
decodes only its annotated frames, one at a time (:func:`.dicom.iter_frames`), crops both
boxes, reduces them to gray, resizes each crop with Pillow's antialiased bilinear filter
straight into a per-thread write buffer and writes the buffer at the job's precomputed rows
of ``pairs.u8`` (``os.pwrite``), so the store is byte-identical whatever the number of
workers. :func:`execute` runs the jobs and reports the first failure in store order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from studykit.cohort import dicom
from studykit.cohort.tables import Box
from studykit.errors import DataError
from studykit.vocab import Progress

__all__ = ["CropJob", "decoder_threads", "execute", "run_job"]

_FLUSH = 64  # pairs buffered per worker before one write


@dataclass(frozen=True)
class CropJob:
    """Work for one process: decode, crop, resize and write rows ``first …``."""

    kind: str
    path: str
    name: str
    first: int
    frames: tuple[int, ...]
    boxes: tuple[tuple[Box, Box], ...] = ()
    png: tuple[str, str] = ("", "")
    syntax: str = ""
    header: dicom.VideoHeader | None = None  # parsed once while planning, reused to decode

    @property
    def count(self) -> int:
        return len(self.frames)



def execute(jobs: list[CropJob], out: Path, size: tuple[int, int], workers: int,
             progress: Progress | None, total: int) -> None:
    """Run every job, in this process or in ``workers`` processes; raise the first error.

    With several processes, the first error stops the queue; of the jobs that failed by
    then, the one earliest in store order is reported.
    """
    done, threads = 0, decoder_threads(workers)
    if workers == 1 or len(jobs) < 2:
        try:
            for job in jobs:
                done += run_job(job, str(out), size, threads)
                if progress:
                    progress(done, total, "crop frames")
        finally:
            _BUFFER.pairs = None
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        order = {pool.submit(_run_job_safe, job, str(out), size, threads): i for i, job in enumerate(jobs)}
        for future in as_completed(order):
            status, value = future.result()
            if status == "error":
                for other in order:
                    other.cancel()
                break
            done += value
            if progress:
                progress(done, total, "crop frames")
    failures = [(i, f.result()[1]) for f, i in order.items()
                if f.done() and not f.cancelled() and f.result()[0] == "error"]
    if failures:
        fields = min(failures, key=lambda f: f[0])[1]
        raise DataError(fields["message"], hint=fields["hint"], file=fields["file"], row=fields["row"],
                        field=fields["field"])


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (safe with threads in the parent), else ``spawn``.

    The fork server imports this module once, so workers start without re-importing
    numpy, pandas, pydicom and Pillow.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _run_job_safe(job: CropJob, out: str, size: tuple[int, int], threads: int) -> tuple[str, Any]:
    """Worker entry: a DataError becomes data (its fields survive pickling intact)."""
    try:
        return "ok", run_job(job, out, size, threads)
    except DataError as error:
        return "error", {"message": error.message, "hint": error.hint, "file": error.file, "row": error.row,
                         "field": error.field}


def decoder_threads(workers: int) -> int:
    """FFmpeg decoding threads per process: the CPUs this process may run on (its affinity, which
    SLURM and containers restrict) shared among ``workers`` processes, at least 1, at most 8.

    A one-worker ingest on a 2-core machine decodes its videos with 2 threads instead of
    leaving a core idle; with as many workers as CPUs each decodes with one.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus // max(1, workers)))


def run_job(job: CropJob, out: str, size: tuple[int, int], threads: int = 1) -> int:
    """Decode, crop, gray, resize and write one job's pairs; returns the number written.

    ``threads``: FFmpeg threads decoding a video (:func:`decoder_threads`; the same pixels
    whatever their number).
    """
    buffer = _buffer(min(job.count, _FLUSH), size)
    fd = os.open(out, os.O_WRONLY)
    try:
        filled, start = 0, job.first
        pairs = _png_pairs(job, size) if job.kind == "png" else _video_pairs(job, threads)
        for crops in pairs:
            for channel, crop in enumerate(crops):
                _resize_into(crop, buffer[filled, channel])
            filled += 1
            if filled == len(buffer):
                _write(fd, buffer, start)
                start, filled = start + filled, 0
        if filled:
            _write(fd, buffer[:filled], start)
    finally:
        os.close(fd)
    return job.count


_BUFFER = threading.local()  # this thread's write buffer, kept between the jobs of one build


def _buffer(rows: int, size: tuple[int, int]) -> np.ndarray:
    """``rows`` pairs of the write buffer (allocated once per thread and size, not per video)."""
    buffer = getattr(_BUFFER, "pairs", None)
    if buffer is None or buffer.shape[2:] != size:
        buffer = _BUFFER.pairs = np.empty((_FLUSH, 2, *size), np.uint8)
    return buffer[:rows]


def _write(fd: int, block: np.ndarray, first_row: int) -> None:
    data = memoryview(np.ascontiguousarray(block)).cast("B")
    offset = first_row * block[0].nbytes
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


def _video_pairs(job: CropJob, threads: int):
    """(B-mode, CEUS) uint8 gray crops of each annotated frame (not yet resized)."""
    convert = None
    frames = dicom.iter_frames(Path(job.path), job.frames, name=job.name, transfer_syntax=job.syntax,
                               header=job.header, luma_only=True, threads=threads)
    for k, (_, pixels, image) in enumerate(frames):
        convert = convert or dicom.gray_converter(image)
        yield tuple(convert(pixels[b.y0:b.y1, b.x0:b.x1]) for b in job.boxes[k])


def _resize(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (h, w) → (height, width) with Pillow's antialiased bilinear filter."""
    if gray.shape == size:
        return gray
    image = Image.fromarray(np.ascontiguousarray(gray))
    return np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR))


def _resize_into(gray: np.ndarray, out: np.ndarray) -> None:
    """:func:`_resize` ``gray`` to ``out``'s shape, written into ``out`` (a C-contiguous uint8 slot).

    The same Pillow resampling on Pillow's core images: the crop and ``out`` are mapped,
    not copied, and the result is pasted straight into ``out`` — no ``Image`` objects, no
    ``tobytes`` round trip (a quarter of the per-crop time besides the resampling itself).
    Falls back to :func:`_resize` where that core interface is missing (checked once).
    """
    if gray.shape == out.shape or not _CORE_RESIZE:
        out[...] = _resize(gray, out.shape)
        return
    source = np.ascontiguousarray(gray)
    (h, w), (height, width) = source.shape, out.shape
    small = Image.core.map_buffer(source, (w, h), "raw", 0, ("L", 0, 1))
    large = small.resize((width, height), Image.Resampling.BILINEAR, (0, 0, w, h))
    Image.core.map_buffer(out, (width, height), "raw", 0, ("L", 0, 1)).paste(large, (0, 0, width, height))


def _core_resize_works() -> bool:
    """Whether :func:`_resize_into` may use Pillow's core images (same pixels as :func:`_resize`)."""
    global _CORE_RESIZE
    gray = (np.arange(7 * 5, dtype=np.uint8) * 37).reshape(7, 5)[1:, 1:]
    out = np.zeros((9, 11), np.uint8)
    _CORE_RESIZE = True
    try:
        _resize_into(gray, out)
        _CORE_RESIZE = bool(np.array_equal(out, _resize(gray, out.shape)))
    except Exception:  # a Pillow without this internal interface
        _CORE_RESIZE = False
    return _CORE_RESIZE


_CORE_RESIZE = False
_core_resize_works()


def _png_pairs(job: CropJob, size: tuple[int, int]):
    yield tuple(dicom.read_png_gray(Path(p)) for p in job.png)
