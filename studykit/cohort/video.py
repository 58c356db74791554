"""Video decoding through PyAV (FFmpeg): MPEG-2/H.264/HEVC DICOM and plain video files.

**Video DICOM** (PS3.5 §8.2.5–8.2.7, §A.4.5–A.4.13): a video transfer syntax stores the
whole cine loop as *one* elementary stream (MPEG-2 video, H.264/AVC Annex B or H.265/HEVC
Annex B), split over the fragments of the encapsulated Pixel Data after an empty Basic
Offset Table; Number of Frames counts the frames of that stream. :func:`iter_video_dicom`
concatenates the fragments lazily (the item headers parsed on the open file, each
fragment's bytes read only as asked for, so no fragment is held whole; its ``seek`` walks
the item headers) into a file-like object that PyAV's raw demuxer (``mpegvideo``,
``h264``, ``hevc``) reads, and decodes frames in presentation order, frame *k* of the
decoder being DICOM frame *k* (0-based).

*Seeking.* A raw stream has no index, so when the frames asked for leave a gap, one pass
over the stream's start codes (no decoding; :class:`_StreamIndex`, memory flat in the
stream's length: it keeps byte offsets and the latest parameter sets) counts its pictures
in decode order and finds the *safe entry points*: access units where decoding can start
so that the first picture it outputs is frame *p*, *p* being the number of pictures before
the unit — every picture before it is output before every picture from it on, and all
pictures from it on decode. Safe: H.264 IDR pictures (nal_unit_type 5); HEVC IDR_W_RADL
and IDR_N_LP (19, 20; RADL leading pictures decode and come out first, as frame *p*);
MPEG-2 I pictures right after a GOP header with closed_gop = 1 and broken_link = 0 whose
temporal_reference is 0 (no B picture of the GOP is shown before them). Not safe: HEVC CRA
(its RASL pictures need the previous GOP), H.264 recovery-point I pictures (open GOP),
MPEG-2 open GOPs. Each run of wanted frames is decoded from the last safe entry point at
or before its first frame (a later run starts afresh when an entry point lies past the
frame decoded before it), the parameter sets last seen before the entry (SPS/PPS;
VPS/SPS/PPS; the MPEG-2 sequence header and its extensions) put in front, since scanners
may write them only at the stream's start; a run stops right after its last frame. The
index is used only when it counts exactly Number of Frames pictures, one per access unit:
a field-coded stream (two pictures a frame), a truncated or miscounted one, is decoded from
its first frame as without an index, and so is a stream without a safe entry point before
the frames. When the last frame of the file is requested the stream is decoded to its end
and its frame count must equal Number of Frames; a stream that ends before a requested
frame is a :class:`~studykit.errors.DataError` naming both counts.

**Plain video files** (``.mp4``, ``.mov``, ``.avi``, ``.mkv``): :func:`read_container_header`
takes the size, frame count (from the container, else by demuxing the packets without
decoding) and frame rate; no container metadata tag (title, comment, creation time,
location …) is kept. Such files have no ultrasound regions, so they are single-panel files
(:func:`studykit.cohort.dicom.panels`). :func:`iter_container` demuxes the packets once
(no decoding): frame *k* is the picture with the *k*-th smallest pts, and the container's
key frames (sync samples) are the entry points. Each run seeks to the key frame at or
before its first frame (``container.seek(pts, backward=True, any_frame=False)``), maps each
decoded picture's pts to its frame and drops those before the run. Decoded from the first
frame instead, frame *k* being the *k*-th decoded picture: AVI files (FFmpeg gives their
packets decode-order times, AVI storing no presentation time), packets without pts or with
a repeated one, a packet count other than the header's frame count, and the rest of the
frames when a seek lands past a wanted frame.

**Luma.** Each decoded picture's Y plane is reduced to 8-bit gray on the full 0–255
scale: limited ("MPEG", video) range, the FFmpeg default and what YBR_PARTIAL_420 means,
is expanded as ``g = clip(round((Y/2^(b−8) − 16)·255/219), 0, 255)`` for a *b*-bit plane
(ITU-R BT.601/BT.709 quantisation); full-range ("JPEG", ``yuvj*``) streams keep
``Y/2^(b−8)`` rounded (:func:`studykit.cohort.gray.video_luma_table`, a lookup table).
Only the Y plane is read, so chroma is never converted. Frames are yielded as
``(rows, columns, 1)`` uint8 with an Image Pixel dataset saying YBR_FULL, 8 bits, so the gray
converter takes channel 0 as is. With ``luma_only`` (what ingestion and the TIC extraction
ask for) the Y plane is yielded as decoded, unconverted, with a dataset saying
YBR_PARTIAL_420 (limited range, whose converter is the same lookup table) or YBR_FULL (full
range) at the plane's bit depth, so only the pixels of the crops are converted.

PyAV is an optional dependency (``pip install 'studykit[video]'``, or ``pip install av``);
without it these files are refused with that hint, before any decoding starts.
"""

from __future__ import annotations

import bisect
import io
import re
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from studykit.cohort.gray import video_luma_table
from studykit.cohort.tables import CONTAINER_SUFFIXES
from studykit.cohort.video_header import VideoHeader
from studykit.errors import DataError

__all__ = ["CONTAINER_SUFFIXES", "INSTALL_HINT", "VIDEO_SYNTAXES", "container_times", "is_container",
           "iter_container", "iter_video_dicom", "luma8", "read_container_header", "require_av"]

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


def _plane(frame) -> tuple[np.ndarray, int, bool]:
    """(Y plane as stored (H, W), uint8 or uint16 — a view, no copy; bits per sample; full range)."""
    plane = frame.planes[0]
    bits = frame.format.components[0].bits
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    rows = np.frombuffer(plane, dtype).reshape(frame.height, plane.line_size // dtype.itemsize)
    full = frame.format.name.startswith("yuvj") or int(getattr(frame, "color_range", 0) or 0) == 2
    return rows[:, :frame.width], bits, full


def luma8(frame) -> np.ndarray:
    """8-bit full-range gray (H, W) from a decoded PyAV frame's Y plane (see module notes)."""
    rows, bits, full = _plane(frame)
    return video_luma_table(bits, full)[rows]


def _gray(frame) -> tuple[np.ndarray, Dataset]:
    """The frame's 8-bit full-range luma and the Image Pixel module saying so."""
    return luma8(frame), _image(frame.height, frame.width)


def _stored_luma(frame) -> tuple[np.ndarray, Dataset]:
    """The frame's Y plane as decoded (no copy, no conversion) and the Image Pixel module by which
    :func:`~studykit.cohort.gray.gray_converter` reduces it — or a crop of it — to the same gray
    as :func:`luma8` (limited range: YBR_PARTIAL_420, whose converter is the same lookup table).
    Full-range planes deeper than 8 bits are converted here."""
    rows, bits, full = _plane(frame)
    if full and bits > 8:
        return luma8(frame), _image(frame.height, frame.width)
    return rows, _image(frame.height, frame.width, "YBR_FULL" if full else "YBR_PARTIAL_420", bits)


@lru_cache(maxsize=32)
def _image(rows: int, columns: int, photometric: str = "YBR_FULL", bits: int = 8) -> Dataset:
    """The Image Pixel module describing the yielded (rows, columns, 1) luma (shared: read only)."""
    image = Dataset()
    image.Rows, image.Columns, image.SamplesPerPixel = rows, columns, 3
    image.PhotometricInterpretation = photometric
    image.BitsAllocated, image.BitsStored, image.HighBit, image.PixelRepresentation = (
        16 if bits > 8 else 8, bits, bits - 1, 0)
    return image


class _FragmentStream(io.RawIOBase):
    """The concatenated fragments of encapsulated Pixel Data, read lazily from an open file.

    Item headers are parsed here and each fragment's bytes are read from ``fp`` only as the
    demuxer asks for them, so memory holds PyAV's read buffer, not a whole fragment (a video
    stream is often one fragment the size of the file). The Basic Offset Table is skipped;
    the stream ends at the Sequence Delimitation Item or at the end of the file.
    :meth:`seek` goes to a byte position of the concatenated stream by walking the item
    headers (8 bytes read per fragment passed), never the fragments' bytes.
    """

    def __init__(self, fp, offset: int) -> None:
        fp.seek(offset)
        self._fp = fp
        self._left = 0  # bytes of the current fragment not yet read
        self._pos = 0   # position in the concatenated stream
        self._ended = False
        if self._next_item():  # the Basic Offset Table (empty for video)
            fp.seek(self._left, io.SEEK_CUR)
            self._left = 0
        self._start = fp.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Go to byte ``offset`` of the concatenated stream (``SEEK_CUR``/``SEEK_END`` too)."""
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: None}[whence]
        if target is None or offset + target < self._pos:  # walk from the first fragment
            self._fp.seek(self._start)
            self._pos, self._left, self._ended = 0, 0, False
        goal = None if target is None else offset + target
        while goal is None or self._pos + self._left < goal:
            self._pos += self._left
            self._fp.seek(self._left, io.SEEK_CUR)
            self._left = 0
            if not self._next_item():
                return self.seek(self._pos + offset) if goal is None else self._pos
        skip = goal - self._pos
        self._fp.seek(skip, io.SEEK_CUR)
        self._pos, self._left = goal, self._left - skip
        return self._pos

    def _next_item(self) -> bool:
        """Read the next item header; False at the delimiter or the end of the data."""
        if self._ended:
            return False
        raw = self._fp.read(8)
        self._ended = True
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
        self._left, self._ended = length, False
        return True

    def readinto(self, buffer) -> int:
        while not self._left:
            if not self._next_item():
                return 0
        view = memoryview(buffer).cast("B")
        n = self._fp.readinto(view[:min(len(view), self._left)])
        if not n:  # the file ends inside the fragment: a truncated stream
            self._left, self._ended = 0, True
            return 0
        self._left -= n
        self._pos += n
        return n


class _Spliced(io.RawIOBase):
    """``prefix`` (parameter sets), then ``stream`` from its current position; not seekable,
    so PyAV reads it front to back."""

    def __init__(self, prefix: bytes, stream: io.RawIOBase) -> None:
        self._prefix, self._stream = memoryview(prefix), stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            memoryview(buffer).cast("B")[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._stream.readinto(buffer)


#: Start codes an index scan stops at: every NAL unit; MPEG-2 picture, user data, sequence
#: header, extension, sequence end and GOP headers (not its slices, one per macroblock row).
_START_CODES = {"h264": re.compile(b"\x00\x00\x01"), "hevc": re.compile(b"\x00\x00\x01"),
                "mpegvideo": re.compile(b"\x00\x00\x01[\x00\xb2\xb3\xb5\xb7\xb8]")}
_MAX_PARAMETERS = 1 << 16  # a parameter set longer than this ends the scan (not a sane stream)
# Kinds of the units (NAL units, MPEG-2 start-code units) an index scan tells apart.
_PICTURE, _SLICE, _PARAMETERS, _AU, _OTHER, _CONTINUED = range(6)


def _h264_unit(head: bytes) -> tuple[int, bool]:
    """(kind, safe entry) of an H.264 NAL unit from its first bytes (H.264 §7.3.1, §7.4.1.2.3)."""
    kind = head[0] & 0x1F
    if kind in (1, 2, 5):  # a slice (or partition A): first_mb_in_slice ue(v) is 0 iff its first bit is 1
        return (_PICTURE if len(head) > 1 and head[1] & 0x80 else _SLICE), kind == 5  # 5: IDR
    if kind in (3, 4):
        return _SLICE, False
    if kind in (7, 8):  # SPS, PPS
        return _PARAMETERS, False
    return (_AU if kind in (6, 9, 14, 15, 16, 17, 18) else _OTHER), False


def _hevc_unit(head: bytes) -> tuple[int, bool]:
    """(kind, safe entry) of an HEVC NAL unit (H.265 §7.3.1.2, §7.4.2.4.4); base layer only."""
    kind, layer = head[0] >> 1 & 0x3F, (head[0] & 1) << 5 | (head[1] >> 3 if len(head) > 1 else 0)
    if layer:
        return _OTHER, False
    if kind <= 31:  # first_slice_segment_in_pic_flag: the first bit after the 2-byte header
        safe = kind in (19, 20)  # IDR_W_RADL, IDR_N_LP
        return (_PICTURE if len(head) > 2 and head[2] & 0x80 else _SLICE), safe
    if kind in (32, 33, 34):  # VPS, SPS, PPS
        return _PARAMETERS, False
    return (_AU if kind in (35, 39, 41, 42, 43, 44) or 48 <= kind <= 55 else _OTHER), False


class _StreamIndex:
    """One pass over an elementary stream: its pictures (access units) and safe entry points.

    ``entries`` holds ``(picture, offset, prefix)`` for picture 0 and each later safe
    entry point: the decode-order index of the picture, the byte offset of its access unit
    in the stream, and the latest parameter sets seen before it (to prepend). Only offsets
    and the parameter sets (a few hundred bytes) are kept, and ``chunk`` bytes are read at a
    time, so memory is flat in the stream's length.
    """

    def __init__(self, stream, fmt: str, chunk: int = 1 << 16) -> None:
        self.fmt, self.pictures, self.entries = fmt, 0, [(0, 0, b"")]
        self._sets: dict[bytes, None] = {}      # parameter sets, oldest first (a dict keeps order)
        self._prefix = b""                      # the parameter sets joined (one object, shared by entries)
        self._au: tuple[int, bytes] | None = None  # (offset, prefix) of the access unit being built
        self._collect: int | None = None        # offset where the parameter set being read starts
        self._gop_safe = False                  # MPEG-2: a closed, unbroken GOP header since the last picture
        self.complete = self._scan(stream, chunk)

    def _scan(self, stream, chunk: int) -> bool:
        buffer, base, pattern = b"", 0, _START_CODES[self.fmt]
        done, position = False, 0
        while not done:
            block = stream.read(chunk)
            done = not block
            buffer += block or b""
            stop = len(buffer) if done else len(buffer) - 8  # a unit's first bytes must be in the buffer
            for match in pattern.finditer(buffer, position):
                if match.start() >= stop:
                    break
                self._unit(buffer, base, match.start())
                position = match.end()
            keep = min(position, max(0, len(buffer) - 8))
            if self._collect is not None:
                if base + len(buffer) - self._collect > _MAX_PARAMETERS:
                    return False
                keep = min(keep, self._collect - base)
            buffer, base, position = buffer[keep:], base + keep, position - keep
        self._unit(buffer, base, len(buffer))  # closes an open parameter set
        return True

    def _unit(self, buffer: bytes, base: int, at: int) -> None:
        """The unit whose start code begins at ``buffer[at]`` (``at == len(buffer)``: the end)."""
        offset = base + at
        head = buffer[at + 3:at + 8]
        kind, safe = self._classify(head) if head else (_OTHER, False)
        if self._collect is not None and kind != _CONTINUED:
            blob = buffer[self._collect - base:at]
            self._sets.pop(blob, None)
            self._sets[blob] = None
            while len(self._sets) > 32:
                del self._sets[next(iter(self._sets))]
            self._prefix = b"".join(self._sets)
            self._collect = None
        if kind in (_PARAMETERS, _AU) and self._au is None:
            self._au = offset, self._prefix
        if kind == _PARAMETERS:
            self._collect = offset
        elif kind == _PICTURE:
            start, prefix = self._au or (offset, self._prefix)
            if safe and self.pictures:
                self.entries.append((self.pictures, start, prefix))
            self.pictures += 1
        if kind in (_PICTURE, _SLICE):
            self._au = None

    def _classify(self, head: bytes) -> tuple[int, bool]:
        if self.fmt == "h264":
            return _h264_unit(head)
        if self.fmt == "hevc":
            return _hevc_unit(head)
        return self._mpeg2_unit(head)

    def _mpeg2_unit(self, head: bytes) -> tuple[int, bool]:
        """(kind, safe entry) of an MPEG-2 start-code unit (H.262 §6.2.2.6, §6.2.3, §6.3.8).

        Safe: an I picture with temporal_reference 0 (no B picture of its GOP shown before
        it) right after a GOP header with closed_gop = 1 and broken_link = 0. An open GOP's
        leading B pictures need the previous GOP's last anchor, so its I picture is not safe.
        """
        code = head[0]
        if code == 0x00:  # picture header: temporal_reference (10 bits), picture_coding_type (3 bits)
            safe = (self._gop_safe and len(head) > 2 and (head[1] << 2 | head[2] >> 6) == 0
                    and (head[2] >> 3 & 7) == 1)
            self._gop_safe = False
            return _PICTURE, safe
        if code == 0xB8:  # GOP header: time_code (25 bits), closed_gop, broken_link
            self._gop_safe = len(head) > 4 and head[4] & 0x60 == 0x40
            return _AU, False
        if code == 0xB3:
            return _PARAMETERS, False
        return (_CONTINUED if self._collect is not None else _OTHER), False


def _runs(wanted: Sequence[int], entries: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Group ascending ``wanted`` frames into (entry, frames) decoding runs.

    Each run starts at the last entry point (``entries``, ascending, from 0) at or before its
    first frame; a frame starts a new run when an entry point lies past the frame decoded
    just before it, so the decoder skips the gap instead of decoding through it.
    """
    runs: list[tuple[int, list[int]]] = []
    for frame in wanted:
        entry = entries[bisect.bisect_right(entries, frame) - 1]
        if runs and entry <= runs[-1][1][-1] + 1:
            runs[-1][1].append(frame)
        else:
            runs.append((entry, [frame]))
    return runs


class _Short(Exception):
    """The decoder stopped before a wanted frame: ``count`` frames were seen."""

    def __init__(self, count: int) -> None:
        self.count = count


class _Missed(Exception):
    """A container's decoder, after a seek, gave a frame past a wanted one it never gave."""


def _take(numbered, targets: list[int], *, to_end: int = 0, convert=_gray
           ) -> Iterator[tuple[int, tuple[np.ndarray, Dataset]]]:
    """(index, convert(frame)) for ``targets`` (ascending, repeats yielded again) from (index, frame) pairs.

    Frames before a target are skipped; the pairs stop being read after the last target, unless
    ``to_end`` (the stated frame count) asks to count them to the end. Raises :class:`_Short`
    when the pairs end before a target or (``to_end``) before ``to_end`` frames, and
    :class:`_Missed` when a pair comes past a target.
    """
    position = iter(targets)
    target, seen = next(position, None), 0
    for index, frame in numbered:
        seen = index + 1
        if target is not None and index > target:
            raise _Missed(index)
        if index == target:
            pixels = convert(frame)
            while target == index:
                yield index, pixels
                target = next(position, None)
        if target is None and not to_end:
            return
    if target is not None or (to_end and seen != to_end):
        raise _Short(seen)


def _count_error(count: int, frames: int, last: int, label: str, what: str) -> DataError:
    return DataError(f"its {what} holds {count} decodable frame(s) but the header says {frames} "
                     f"(Number of Frames); frame {last} was requested.", file=label,
                     hint="the file is truncated or its Number of Frames is wrong: re-export it.")


def _decoded(container) -> Iterator:
    """Decoded pictures of the first video stream, in presentation order (one place to count them)."""
    yield from container.decode(video=0)


def _threaded(container, threads: int):
    """``container`` with its video decoder set to ``threads`` threads (frame and slice threading).

    FFmpeg's threaded decoders are bit-exact (its FATE suite checks every decoder at several
    thread counts against the same output), so the pixels do not depend on ``threads``; 1
    keeps PyAV's default (slice threading only, which one-slice pictures do not use).
    """
    if threads > 1:
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = "AUTO", threads
    return container


def _elementary_frames(av, stream: _FragmentStream, fmt: str, wanted: list[int], frames: int, convert,
                       threads: int) -> Iterator[tuple[int, tuple[np.ndarray, Dataset]]]:
    """(index, gray) of ``wanted`` (ascending) frames of a raw stream, seeking where safe.

    The stream is indexed (:class:`_StreamIndex`) unless the frames asked for leave no gap;
    the index is used only when it counts exactly ``frames`` pictures (one per frame: a
    field-coded, truncated or miscounted stream is decoded from its start, as before).
    """
    entries = [(0, 0, b"")]
    if len(set(wanted)) < wanted[-1] + 1:
        index = _StreamIndex(stream, fmt)
        if index.complete and index.pictures == frames:
            entries = index.entries
    to_end = frames if wanted[-1] == frames - 1 else 0
    starts = {picture: (offset, prefix) for picture, offset, prefix in entries}
    runs = _runs(wanted, sorted(starts))
    for number, (entry, targets) in enumerate(runs):
        offset, prefix = starts[entry]
        stream.seek(offset)
        with _threaded(av.open(_Spliced(prefix, stream), format=fmt), threads) as container:
            numbered = enumerate(_decoded(container), start=entry)
            yield from _take(numbered, targets, to_end=to_end if number == len(runs) - 1 else 0,
                             convert=convert)


def iter_video_dicom(path: Path, indices: Sequence[int], header: VideoHeader, *, name: str | None = None,
                     luma_only: bool = False, threads: int = 1) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Decode frames ``indices`` (ascending) of a video-syntax DICOM, seeking where safe (module notes).

    Yields
    ------
    (index, pixels, image) : int, ndarray (rows, columns, 1), Dataset
        ``pixels`` is the full-range 8-bit luma of DICOM frame ``index`` (0-based). With
        ``luma_only`` it is the decoded Y plane as stored (a view that keeps the decoded
        picture alive, not a copy; uint16 when deeper than 8 bits) and ``image`` says how
        :func:`~studykit.cohort.gray.gray_converter` reduces it, or a crop of it, to that same
        gray: only the crops' pixels are then converted.

    ``threads`` > 1 decodes with that many FFmpeg threads (:func:`_threaded`: same pixels).
    """
    label = name or str(path)
    av = require_av(label, f"a video DICOM ({header.transfer_syntax})")
    fmt = VIDEO_SYNTAXES[header.transfer_syntax]
    wanted = sorted(int(i) for i in indices)  # ascending, as documented (a stray order would lose frames)
    if not wanted:
        return
    try:
        with open(path, "rb") as fp:
            if header.pixel_offset < 0:
                raise ValueError("the Pixel Data offset is unknown")
            stream = _FragmentStream(fp, header.pixel_offset)
            frames = _elementary_frames(av, stream, fmt, wanted, header.frames,
                                        _stored_luma if luma_only else _gray, threads)
            yield from _checked(frames, wanted, header, label, "MPEG stream")
    except (av.FFmpegError, ValueError, struct.error, OSError) as exc:
        raise DataError(f"cannot decode its {fmt} video stream ({type(exc).__name__}: {exc}).", file=label,
                        hint="the file may be truncated or corrupt: re-export it.") from exc


def _checked(frames: Iterator[tuple[int, tuple[np.ndarray, Dataset]]], wanted: list[int], header: VideoHeader,
             label: str, what: str) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """``frames`` checked against the header's size and frame count, as (index, (H, W, 1), image)."""
    try:
        for index, (gray, image) in frames:
            if gray.shape != (header.rows, header.columns):
                raise DataError(f"decodes to {gray.shape[1]}×{gray.shape[0]} pictures but its header says "
                                f"{header.columns}×{header.rows}.", file=label,
                                hint="the file's Rows/Columns do not match its video stream: re-export it.")
            yield index, gray[..., None], image
    except _Short as short:
        raise _count_error(short.count, header.frames, wanted[-1], label, what) from None


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


def iter_container(path: Path, indices: Sequence[int], header: VideoHeader, *, name: str | None = None,
                   luma_only: bool = False, threads: int = 1) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Decode frames ``indices`` (ascending) of a plain video file, seeking to key frames (module notes).

    Yields as :func:`iter_video_dicom` does (``luma_only`` and ``threads`` too).
    """
    label = name or str(path)
    av = require_av(label, "a video file")
    wanted = sorted(int(i) for i in indices)  # ascending, as documented (a stray order would lose frames)
    if not wanted:
        return
    try:
        convert = _stored_luma if luma_only else _gray
        frames = _container_frames(av, str(path), wanted, header, convert, threads)
        yield from _checked(frames, wanted, header, label, "video stream")
    except av.FFmpegError as exc:
        raise DataError(f"cannot decode its video stream ({type(exc).__name__}: {exc}).", file=label,
                        hint="the file may be truncated or corrupt: re-export it.") from exc


def container_times(path: Path, header: VideoHeader, *, name: str | None = None) -> np.ndarray | None:
    """Each frame's presentation time in s from the first frame, shape (frames,), by demuxing.

    Frame *k* is the picture with the *k*-th smallest pts (as :func:`iter_container` numbers
    them), so a variable frame rate is kept. None where the pts cannot name the frames (an
    AVI, packets without pts or with repeated ones) or their count is not the header's frame
    count: the caller then falls back to the average frame rate.
    """
    label = name or str(path)
    av = require_av(label, "a video file")
    try:
        table = _presentation(av, str(path))
    except av.FFmpegError as exc:
        raise DataError(f"cannot be read as a video ({type(exc).__name__}: {exc}).", file=label,
                        hint="check that the file is a complete .mp4/.mov/.avi/.mkv video.") from exc
    if table is None or len(table[0]) != header.frames:
        return None
    order, _, time_base = table
    pts = np.asarray(order, dtype=np.float64)
    return (pts - pts[0]) * float(time_base)


def _presentation(av, path: str) -> tuple[list[int], list[int], Fraction] | None:
    """Sorted packet pts, the key frames' presentation indices and the stream's time base (s
    per pts unit), by demuxing (no decoding).

    None where the pts cannot name frames: an AVI (FFmpeg gives its packets decode-order
    times), a packet without pts, or two packets with the same pts.
    """
    with av.open(path) as container:
        if "avi" in container.format.name.split(","):
            return None
        stream = container.streams.video[0]
        time_base = Fraction(stream.time_base or 0)
        pts, keys = [], []
        for packet in container.demux(stream):
            if packet.size:  # not the demuxer's closing empty packet
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
    if None in pts or len(set(pts)) != len(pts):
        return None
    order = sorted(pts)
    rank = {p: i for i, p in enumerate(order)}
    return order, sorted({0, *(rank[p] for p in keys)}), time_base


def _container_frames(av, path: str, wanted: list[int], header: VideoHeader, convert, threads: int
                      ) -> Iterator[tuple[int, tuple[np.ndarray, Dataset]]]:
    """(index, gray) of ``wanted`` frames: frame k is the k-th smallest pts among the packets.

    Each run of frames seeks to the key frame at or before its first frame and maps each
    decoded picture's pts to its index. Without usable pts (:func:`_presentation`), with a
    packet count other than the header's, or when a seek lands past a wanted frame, the
    (remaining) frames are decoded from the start, frame k being the k-th decoded picture.
    """
    to_end = header.frames if wanted[-1] == header.frames - 1 else 0
    table = _presentation(av, path) if len(set(wanted)) < wanted[-1] + 1 else None
    done = 0
    if table is not None and len(table[0]) == header.frames:
        order, keys, _ = table
        rank = {p: i for i, p in enumerate(order)}
        try:
            with _threaded(av.open(path), threads) as container:
                stream = container.streams.video[0]
                for number, (entry, targets) in enumerate(_runs(wanted, keys)):
                    if number or entry:
                        container.seek(order[entry], stream=stream, backward=True, any_frame=False)
                    numbered = ((rank.get(f.pts, len(order)), f) for f in _decoded(container))
                    for item in _take(numbered, targets, convert=convert):
                        done += 1
                        yield item
            return
        except _Missed:
            pass
    with _threaded(av.open(path), threads) as container:
        yield from _take(enumerate(_decoded(container)), wanted[done:], to_end=to_end, convert=convert)
