"""Video decoding through PyAV (FFmpeg): MPEG-2/H.264/HEVC DICOM and plain video files.

**Video DICOM** (PS3.5 §8.2.5–8.2.7, §A.4.5–A.4.13): a video transfer syntax stores the
whole cine loop as *one* elementary stream (MPEG-2 video, H.264/AVC Annex B or H.265/HEVC
Annex B), split over the fragments of the encapsulated Pixel Data after an empty Basic
Offset Table; Number of Frames counts the frames of that stream. :func:`iter_video_dicom`
concatenates the fragments lazily (the item headers parsed on the open file, each
fragment's bytes read only as the demuxer asks for them, so no fragment is held whole)
into a file-like object that PyAV's raw demuxer (``mpegvideo``, ``h264``, ``hevc``) reads,
and decodes frames in presentation order, frame *k* of the decoder being DICOM frame *k*
(0-based). A raw elementary stream has no index, so there is no reliable seek: decoding
runs from the first frame and stops right after the last requested one (the bytes after
it, but for the demuxer's read-ahead, are never read). When the last frame of the file is
requested the stream is decoded to its end and its frame count must equal Number of
Frames; a stream that ends before a requested frame is a
:class:`~studykit.errors.DataError` naming both counts.

**Plain video files** (``.mp4``, ``.mov``, ``.avi``, ``.mkv``): :func:`read_container_header`
takes the size, frame count (from the container, else by demuxing the packets without
decoding) and frame rate; no container metadata tag (title, comment, creation time,
location …) is kept. Such files have no ultrasound regions, so they are single-panel files
(:func:`studykit.cohort.dicom.panels`). :func:`iter_container` decodes like the DICOM path,
from the first frame without seeking (container seeks land on key frames, and frame *k*
must be exactly the *k*-th decoded picture).

**Luma.** Each decoded picture's Y plane is reduced to 8-bit gray on the full 0–255
scale: limited ("MPEG", video) range, the FFmpeg default and what YBR_PARTIAL_420 means,
is expanded as ``g = clip(round((Y/2^(b−8) − 16)·255/219), 0, 255)`` for a *b*-bit plane
(ITU-R BT.601/BT.709 quantisation); full-range ("JPEG", ``yuvj*``) streams keep
``Y/2^(b−8)`` rounded (:func:`studykit.cohort.gray.video_luma_table`, a lookup table).
Only the Y plane is read, so chroma is never converted. Frames are yielded as
``(rows, columns, 1)`` uint8 with an Image Pixel dataset saying YBR_FULL, 8 bits — the
luma-only form of :func:`studykit.cohort.dicom.iter_frames` — so the gray converter takes
channel 0 as is.

PyAV is an optional dependency (``pip install 'studykit[video]'``, or ``pip install av``);
without it these files are refused with that hint, before any decoding starts.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from studykit.cohort.gray import video_luma_table
from studykit.cohort.tables import CONTAINER_SUFFIXES
from studykit.cohort.video_header import VideoHeader
from studykit.errors import DataError

__all__ = ["CONTAINER_SUFFIXES", "INSTALL_HINT", "VIDEO_SYNTAXES", "is_container", "iter_container",
           "iter_video_dicom", "luma8", "read_container_header", "require_av"]

#: Video transfer syntax UID → PyAV (FFmpeg) demuxer of its elementary stream.
VIDEO_SYNTAXES = {
    **dict.fromkeys(["1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.100.1",   # MPEG-2 MP@ML (+ fragmentable)
                     "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.101.1"],  # MPEG-2 MP@HL
                    "mpegvideo"),
    **dict.fromkeys([f"1.2.840.10008.1.2.4.{n}{f}" for n in range(102, 107) for f in ("", ".1")],
                    "h264"),  # H.264 HP@4.1, BD-compatible, 2-D/3-D 4.2, Stereo HP@4.2 (+ fragmentable)
    **dict.fromkeys(["1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108"], "hevc"),  # HEVC Main / Main 10
}
INSTALL_HINT = "install PyAV: pip install 'studykit[video]' (or pip install av)."


def require_av(label: str, what: str):
    """The ``av`` module, or a DataError naming ``label`` and the install command."""
    try:
        import av
    except ImportError:
        av = None
    if av is None:
        raise DataError(f"is {what}, which needs PyAV (FFmpeg) to decode, and PyAV is not installed.",
                        file=label, hint=INSTALL_HINT)
    return av


def is_container(path: str | Path) -> bool:
    """Whether ``path`` names a plain video file (by suffix) rather than a DICOM file."""
    return Path(path).suffix.lower() in CONTAINER_SUFFIXES


def luma8(frame) -> np.ndarray:
    """8-bit full-range gray (H, W) from a decoded PyAV frame's Y plane (see module notes)."""
    plane = frame.planes[0]
    bits = frame.format.components[0].bits
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    rows = np.frombuffer(plane, dtype).reshape(frame.height, plane.line_size // dtype.itemsize)
    full = frame.format.name.startswith("yuvj") or int(getattr(frame, "color_range", 0) or 0) == 2
    return video_luma_table(bits, full)[rows[:, :frame.width]]


def _image(rows: int, columns: int) -> Dataset:
    """The Image Pixel module describing the yielded (rows, columns, 1) luma."""
    image = Dataset()
    image.Rows, image.Columns, image.SamplesPerPixel = rows, columns, 3
    image.PhotometricInterpretation = "YBR_FULL"
    image.BitsAllocated, image.BitsStored, image.HighBit, image.PixelRepresentation = 8, 8, 7, 0
    return image


class _FragmentStream(io.RawIOBase):
    """The concatenated fragments of encapsulated Pixel Data, read lazily from an open file.

    Item headers are parsed here and each fragment's bytes are read from ``fp`` only as the
    demuxer asks for them, so memory holds PyAV's read buffer, not a whole fragment (a video
    stream is often one fragment the size of the file). The Basic Offset Table is skipped;
    the stream ends at the Sequence Delimitation Item or at the end of the file.
    """

    def __init__(self, fp, offset: int) -> None:
        fp.seek(offset)
        self._fp = fp
        self._left = 0  # bytes of the current fragment not yet read
        if self._next_item():  # the Basic Offset Table (empty for video)
            fp.seek(self._left, io.SEEK_CUR)
            self._left = 0

    def readable(self) -> bool:
        return True

    def _next_item(self) -> bool:
        """Read the next item header; False at the delimiter or the end of the data."""
        raw = self._fp.read(8)
        if len(raw) < 8:
            return False
        group, element, length = struct.unpack("<HHL", raw)
        tag = group << 16 | element
        if tag == 0xFFFEE0DD:
            return False
        if tag != 0xFFFEE000:
            raise ValueError(f"unexpected tag ({group:04X},{element:04X}) among the pixel data fragments")
        if length == 0xFFFFFFFF:
            raise ValueError("a pixel data fragment has an undefined length")
        self._left = length
        return True

    def readinto(self, buffer) -> int:
        while not self._left:
            if not self._next_item():
                return 0
        view = memoryview(buffer).cast("B")
        n = self._fp.readinto(view[:min(len(view), self._left)])
        if not n:  # the file ends inside the fragment: a truncated stream
            self._left = 0
            return 0
        self._left -= n
        return n


def _decode(container, indices: Sequence[int], frames: int, label: str, what: str
            ) -> Iterator[tuple[int, np.ndarray]]:
    """(index, gray) for each of ``indices`` (ascending) of ``container``'s first video stream.

    Decodes from the start, stops after the last requested frame, and checks the count
    against ``frames`` when the last frame is requested (see module notes).
    """
    wanted = [int(i) for i in indices]
    if not wanted:
        return
    last, to_end = max(wanted), max(wanted) == frames - 1
    position = iter(wanted)
    target = next(position)
    count = 0
    for frame in _decoded(container):
        if count == target:
            gray = luma8(frame)
            while target == count:  # a frame asked for twice is yielded twice
                yield count, gray
                target = next(position, -1)
        count += 1
        if count > last and not to_end:
            return
    if count <= last or (to_end and count != frames):
        raise DataError(f"its {what} holds {count} decodable frame(s) but the header says {frames} "
                        f"(Number of Frames); frame {last} was requested.", file=label,
                        hint="the file is truncated or its Number of Frames is wrong: re-export it.")


def _decoded(container) -> Iterator:
    """Decoded pictures of the first video stream, in presentation order (one place to count them)."""
    yield from container.decode(video=0)


def iter_video_dicom(path: Path, indices: Sequence[int], header: VideoHeader, *, name: str | None = None
                     ) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Decode frames ``indices`` of a video-syntax DICOM (see module notes).

    Yields
    ------
    (index, pixels, image) : int, uint8 ndarray (rows, columns, 1), Dataset
        ``pixels`` is the full-range 8-bit luma of DICOM frame ``index`` (0-based).
    """
    label = name or str(path)
    av = require_av(label, f"a video DICOM ({header.transfer_syntax})")
    fmt = VIDEO_SYNTAXES[header.transfer_syntax]
    try:
        with open(path, "rb") as fp:
            if header.pixel_offset < 0:
                raise ValueError("the Pixel Data offset is unknown")
            with av.open(_FragmentStream(fp, header.pixel_offset), format=fmt) as container:
                yield from _checked(container, indices, header, label, "MPEG stream")
    except (av.FFmpegError, ValueError, struct.error, OSError) as exc:
        raise DataError(f"cannot decode its {fmt} video stream ({type(exc).__name__}: {exc}).", file=label,
                        hint="the file may be truncated or corrupt: re-export it.") from exc


def _checked(container, indices, header: VideoHeader, label: str, what: str):
    image = _image(header.rows, header.columns)
    for index, gray in _decode(container, indices, header.frames, label, what):
        if gray.shape != (header.rows, header.columns):
            raise DataError(f"decodes to {gray.shape[1]}×{gray.shape[0]} pictures but its header says "
                            f"{header.columns}×{header.rows}.", file=label,
                            hint="the file's Rows/Columns do not match its video stream: re-export it.")
        yield index, gray[..., None], image


def read_container_header(path: Path, *, name: str | None = None) -> VideoHeader:
    """Geometry, frame count and frame rate of a plain video file (no metadata tag is kept).

    Raises
    ------
    DataError
        PyAV missing; the file cannot be opened or has no video stream or no frame.
    """
    label = name or str(path)
    av = require_av(label, f"a {Path(path).suffix.lower()} video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("has no video stream.", file=label, hint="export the cine loop as a video.")
            stream = container.streams.video[0]
            frames = int(stream.frames or 0) or sum(1 for p in container.demux(stream) if p.size)
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            rows, columns = int(stream.codec_context.height), int(stream.codec_context.width)
    except av.FFmpegError as exc:
        raise DataError(f"cannot be read as a video ({type(exc).__name__}: {exc}).", file=label,
                        hint="check that the file is a complete .mp4/.mov/.avi/.mkv video.") from exc
    if frames < 1 or rows < 1 or columns < 1:
        raise DataError("holds no decodable frame.", file=label, hint="re-export the video.")
    fmt = Path(path).suffix.lower().lstrip(".")
    attributes = {"Container": fmt}
    if rate:
        rate = Fraction(rate)
        attributes.update(CineRate=round(float(rate), 3), FrameTime=round(1000.0 / float(rate), 3))
    return VideoHeader(rows=rows, columns=columns, frames=frames, samples=3, photometric="YBR_FULL",
                       bits_allocated=8, bits_stored=8, transfer_syntax="", regions=(),
                       attributes=attributes, container=fmt)


def iter_container(path: Path, indices: Sequence[int], header: VideoHeader, *, name: str | None = None
                   ) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Decode frames ``indices`` of a plain video file; as :func:`iter_video_dicom`."""
    label = name or str(path)
    av = require_av(label, "a video file")
    try:
        with av.open(str(path)) as container:
            yield from _checked(container, indices, header, label, "video stream")
    except av.FFmpegError as exc:
        raise DataError(f"cannot decode its video stream ({type(exc).__name__}: {exc}).", file=label,
                        hint="the file may be truncated or corrupt: re-export it.") from exc
