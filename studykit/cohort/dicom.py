"""Open ultrasound DICOM files, decode frames lazily and reduce them to 8-bit gray.

Three steps, each with clear errors (:class:`~studykit.errors.DataError` naming the file):

1. :func:`read_header` parses the header only (``stop_before_pixels``): image geometry,
   photometric interpretation, transfer syntax and the 2-D regions of the Sequence of
   Ultrasound Regions (0018,6011). It rejects files that are not DICOM, have no pixel data,
   have native pixel data shorter than their header promises (truncated), or use a
   compressed transfer syntax whose decoder is not installed (naming the package).
2. :func:`iter_frames` decodes only the requested frames, one at a time, straight from
   the file (pydicom's :func:`~pydicom.pixels.iter_pixels`, ``raw=True``), so memory holds
   one frame, never a whole video.
3. :func:`gray_converter` maps a decoded crop to ``uint8`` gray. Registry by photometric
   interpretation:

   - ``MONOCHROME2`` as is; ``MONOCHROME1`` inverted (``max − v``);
   - ``RGB`` (and JPEG 2000's ``YBR_RCT``/``YBR_ICT``, which decoders return as RGB):
     ITU-R BT.601 luma ``Y = (299 R + 587 G + 114 B + 500) // 1000`` in integers;
   - ``YBR_FULL`` / ``YBR_FULL_422``: the Y channel of the raw decode — already BT.601 luma,
     so no round trip through RGB;
   - ``PALETTE COLOR``: pydicom's :func:`~pydicom.pixels.apply_color_lut`, then luma.

   Values deeper than 8 bits (signed data shifted to unsigned first) are scaled linearly
   from the full stored range, ``v8 = (v·255 + M/2) // M`` with ``M = 2^bits − 1``.

Panels (:func:`panels`): the 2-D regions (RegionSpatialFormat 1), clipped to the frame
(exports and files resized after export sometimes overrun it). Two regions make a dual
display, left = B-mode, right = CEUS; with more than two, the two largest are taken. One
region or none make a single-panel file: the panel is that region or the whole frame.

Decoders for compressed syntaxes (pydicom 3 plug-ins): JPEG baseline/extended and JPEG 2000
decode through Pillow (a core dependency); RLE Lossless and Deflate through pydicom itself.
JPEG lossless, JPEG-LS and HTJ2K need ``pylibjpeg`` with ``pylibjpeg-libjpeg`` or
``pylibjpeg-openjpeg``. The video syntaxes (MPEG-2, H.264/AVC, H.265/HEVC), which pydicom
cannot decode, are decoded by :mod:`studykit.cohort.video` through PyAV (the ``video``
extra); so are plain ``.mp4/.mov/.avi/.mkv`` files.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import UID

from studykit.cohort import video
from studykit.cohort.deid import safe_attributes
from studykit.cohort.fastread import (  # re-exported: the direct readers are part of this module's API
    PREFERRED_PLUGINS,
    direct_kind,
    iter_direct,
    jpeg_luma,
    preferred_plugin,
    rle_decode_8bit,
)
from studykit.cohort.gray import PHOTOMETRIC, gray_converter, luma, read_png_gray, to_uint8
from studykit.cohort.tables import Box
from studykit.cohort.video_header import VideoHeader
from studykit.errors import DataError

__all__ = ["PHOTOMETRIC", "PREFERRED_PLUGINS", "VideoHeader", "direct_kind", "frame_time_vector",
           "gray_converter", "iter_frames", "jpeg_luma", "luma", "panels", "preferred_plugin", "read_header",
           "read_png_gray", "rle_decode_8bit", "to_uint8"]

_PIXEL_TAGS = {0x7FE00010: "Pixel Data", 0x7FE00008: "Float Pixel Data",
               0x7FE00009: "Double Float Pixel Data"}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UR", b"UT", b"UN", b"SV", b"UV"}
_HEADER_ERRORS = (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, struct.error,
                  NotImplementedError, AttributeError, IndexError)

#: pip packages that add a decoder, by transfer syntax (pydicom 3's plug-ins).
DECODER_PACKAGES = {
    **dict.fromkeys(["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                     "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"],
                    "pylibjpeg pylibjpeg-libjpeg"),
    **dict.fromkeys(["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
                     "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"], "pylibjpeg pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",
}






def read_header(path: Path, *, name: str | None = None) -> VideoHeader:
    """Parse a DICOM header and check that its pixel data can be decoded.

    Parameters
    ----------
    path : Path
    name : str, optional
        How to name the file in errors (the path as written in the annotations).

    Raises
    ------
    DataError
        Unreadable or non-DICOM file; no pixel data; missing image geometry; truncated
        native pixel data; unsupported photometric interpretation; compressed transfer
        syntax with no installed decoder.
    """
    label = name or str(path)
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            syntax = UID(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
            pixel_length, pixel_offset = (None, -1) if syntax.is_deflated else _pixel_element(fp, ds, label)
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror or exc}).", file=label,
                        hint="check that the file exists and is readable.") from exc
    except _HEADER_ERRORS as exc:
        raise DataError(f"is not a readable DICOM file ({type(exc).__name__}: {exc}).", file=label,
                        hint="re-export it from the scanner or PACS as a DICOM Part 10 file.") from exc
    header = _header(ds, syntax, label, pixel_offset)
    _check_decoder(syntax, label)
    if pixel_length is not None and not syntax.is_encapsulated:
        _check_native_length(header, pixel_length, label)
    return header


def _pixel_element(fp, ds: Dataset, label: str) -> tuple[int | None, int]:
    """(length, file offset of the value) of the pixel-data element at ``fp``'s position.

    The length is None when undefined (encapsulated data).
    """
    start = fp.tell()
    implicit, little = ds.original_encoding
    endian = "<" if little in (True, None) else ">"
    raw = fp.read(12)
    if len(raw) < 8:
        raise _no_pixel_data(label)
    group, element = struct.unpack(endian + "HH", raw[:4])
    tag = (group << 16) | element
    if tag not in _PIXEL_TAGS:
        raise _no_pixel_data(label)
    if tag != 0x7FE00010:
        raise DataError(f"holds {_PIXEL_TAGS[tag]}, which ultrasound ingestion does not support.", file=label,
                        hint="export integer (8-bit) pixel data.")
    if implicit:
        (length,) = struct.unpack(endian + "L", raw[4:8])
        header = 8
    elif raw[4:6] in _LONG_VRS:
        (length,) = struct.unpack(endian + "L", raw[8:12])
        header = 12
    else:
        (length,) = struct.unpack(endian + "H", raw[6:8])
        header = 8
    if length == 0xFFFFFFFF:
        return None, start + header
    available = os.fstat(fp.fileno()).st_size - start - header
    return min(length, max(available, 0)), start + header


def _no_pixel_data(label: str) -> DataError:
    return DataError("has no pixel data (no (7FE0,0010) Pixel Data element).", file=label,
                     hint="export the image or cine loop itself, not a report or presentation state.")


def _header(ds: Dataset, syntax: UID, label: str, pixel_offset: int = -1) -> VideoHeader:
    required = ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")
    missing = [k for k in required if ds.get(k) in (None, "")]
    if missing:
        raise DataError(f"lacks {', '.join(missing)} (Image Pixel module).", file=label,
                        hint="re-export the file with its complete image header.")
    photometric = str(ds.PhotometricInterpretation).strip()
    if photometric not in PHOTOMETRIC:
        raise DataError(f"has photometric interpretation {photometric!r}, which ingestion cannot reduce to "
                        f"gray (supported: {', '.join(PHOTOMETRIC)}).", file=label,
                        hint="export the cine loop as MONOCHROME2, RGB or YBR_FULL(_422).")
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 0
    if frames < 1:
        raise DataError(f"has an invalid NumberOfFrames {ds.get('NumberOfFrames')!r}.", file=label,
                        hint="re-export the file; NumberOfFrames must be a positive integer.")
    rows, columns = int(ds.Rows), int(ds.Columns)
    return VideoHeader(rows=rows, columns=columns, frames=frames, samples=int(ds.get("SamplesPerPixel") or 1),
                       photometric=photometric, bits_allocated=int(ds.BitsAllocated),
                       bits_stored=int(ds.get("BitsStored") or ds.BitsAllocated), transfer_syntax=str(syntax),
                       regions=_regions(ds, Box(0, 0, columns, rows)), attributes=_plain(safe_attributes(ds)),
                       pixel_offset=pixel_offset, pixel_representation=_int(ds.get("PixelRepresentation")),
                       planar_configuration=_int(ds.get("PlanarConfiguration")),
                       extended_offsets="ExtendedOffsetTable" in ds,
                       frame_time_vector=frame_time_vector(ds, frames, label))


def frame_time_vector(ds: Dataset, frames: int, label: str) -> tuple[float, ...]:
    """The Frame Time Vector (0018,1065) in ms, checked against Number of Frames; () when absent.

    PS3.3 C.7.6.5.1.2: one value per frame, the increment from the previous frame, the first
    0. A vector of ``frames − 1`` values is taken as missing its leading 0 (some exporters
    drop it). Any other length, a value that is not a finite number, or an increment after
    the first that is not positive means the file's frame accounting is inconsistent, so the
    frame numbers of the annotations could not be trusted either: a DataError naming both.
    """
    value = ds.get("FrameTimeVector")
    if value is None or value == "":
        return ()
    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    vector = [_float(v) for v in items]
    hint = "re-export the file with one Frame Time Vector increment per frame (the first 0), or drop it."
    if len(vector) not in (frames, frames - 1):
        raise DataError(f"its Frame Time Vector holds {len(vector)} value(s) but Number of Frames is "
                        f"{frames} (one per frame, the first 0).", file=label, field="FrameTimeVector",
                        hint=hint)
    increments = vector[1:] if len(vector) == frames else vector
    bad = next((k for k, v in enumerate(vector) if not math.isfinite(v) or v < 0), None)
    if bad is None:
        bad = next((k + len(vector) - len(increments) for k, v in enumerate(increments) if v <= 0), None)
    if bad is not None:
        raise DataError(f"its Frame Time Vector value {bad + 1} ({items[bad]} ms) is not a positive "
                        f"increment in ms.", file=label, field="FrameTimeVector", hint=hint)
    return tuple(vector)


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return -1


def _plain(values: dict) -> dict:
    """Whitelisted attribute values as JSON-ready int, float or str."""
    return {k: int(v) if isinstance(v, int) else float(v) if isinstance(v, float) else str(v)
            for k, v in values.items()}


def _regions(ds: Dataset, frame: Box) -> tuple[Box, ...]:
    """2-D ultrasound regions, clipped to ``frame``, the two largest, left to right."""
    boxes = []
    for item in ds.get("SequenceOfUltrasoundRegions", []):
        if item.get("RegionSpatialFormat") != 1:
            continue
        try:
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            # DICOM's max is inclusive; Box's is exclusive
            x1, y1 = int(item.RegionLocationMaxX1) + 1, int(item.RegionLocationMaxY1) + 1
        except (AttributeError, TypeError, ValueError):
            continue
        box = Box(max(x0, frame.x0), max(y0, frame.y0), min(x1, frame.x1), min(y1, frame.y1))
        if box.width > 0 and box.height > 0:
            boxes.append(box)
    largest = sorted(boxes, key=lambda b: -b.width * b.height)[:2]
    return tuple(sorted(largest, key=lambda b: (b.x0, b.y0)))


def panels(header: VideoHeader) -> tuple[Box, Box] | tuple[Box]:
    """``(bmode, ceus)`` panels of a dual display, or ``(panel,)`` for a single-panel file."""
    if len(header.regions) == 2:
        return header.regions[0], header.regions[1]
    if len(header.regions) == 1:
        return (header.regions[0],)
    return (header.frame_box,)


def _check_decoder(syntax: UID, label: str) -> None:
    if not syntax.is_compressed:
        return
    if str(syntax) in video.VIDEO_SYNTAXES:
        video.require_av(label, f"a video DICOM in transfer syntax {syntax.name} ({syntax})")
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise DataError(f"uses transfer syntax {syntax.name} ({syntax}), which pydicom cannot decode.",
                        file=label, hint="convert it to an uncompressed or JPEG transfer syntax first "
                                         "(e.g. `gdcmconv --raw IN OUT`).") from None
    if not decoder.is_available:
        packages = DECODER_PACKAGES.get(str(syntax), "pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg")
        raise DataError(f"uses transfer syntax {syntax.name} ({syntax}), whose decoder is not installed.",
                        file=label, hint=f"install one: pip install {packages}")


def _check_native_length(header: VideoHeader, length: int, label: str) -> None:
    samples = 2 if header.photometric == "YBR_FULL_422" else header.samples  # 4:2:2 subsampled
    need = math.ceil(header.frames * header.rows * header.columns * samples * header.bits_allocated / 8)
    if length < need:
        raise DataError(f"is truncated: its pixel data holds {length} bytes but {header.frames} frame(s) "
                        f"of {header.columns}×{header.rows}×{header.samples} at {header.bits_allocated} bits "
                        f"need {need}.", file=label, hint="copy or re-export the complete file.")



def iter_frames(path: Path, indices: Sequence[int], *, name: str | None = None, transfer_syntax: str = "",
                header: VideoHeader | None = None, luma_only: bool = False, threads: int = 1
                ) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Decode the frames ``indices`` (ascending) one at a time, straight from the file.

    With the file's ``header`` (from :func:`read_header`), the common 8-bit cases are read
    directly, bit-identical to pydicom's decode and much faster (:func:`direct_kind`):
    native little-endian frames are sliced out of the file at their offset, and RLE
    Lossless mono frames are unpacked with Pillow's C PackBits decoder. Any frame the direct
    reader cannot vouch for (non-conformant RLE, short file, …) and everything after it goes
    through pydicom, so errors and edge cases are pydicom's. With ``luma_only`` as well,
    JPEG baseline YBR_FULL(_422) frames are decoded by Pillow (the plug-in pydicom uses for
    them) straight to their Y channel, which libjpeg copies out unchanged without the
    chroma's inverse DCT, upsampling and colour conversion: ``pixels`` is then
    (rows, columns, 1), the one channel :func:`gray_converter` reads.

    Video syntaxes and plain video files (with their ``header``) are decoded by
    :mod:`studykit.cohort.video`: ``pixels`` is then the (rows, columns, 1) full-range luma,
    or with ``luma_only`` the decoded Y plane that :func:`gray_converter` reduces to it;
    ``threads`` > 1 decodes them with that many FFmpeg threads (the same pixels).

    Otherwise the plug-in of :data:`PREFERRED_PLUGINS` is tried first for ``transfer_syntax``;
    if it fails, the remaining frames are decoded with pydicom's own plug-in order.

    Yields
    ------
    (index, pixels, image) : int, ndarray (rows, columns[, samples]), Dataset
        ``pixels`` is the raw decode (YBR stays YBR); ``image`` holds the Image Pixel
        module (group 0028), enough for :func:`gray_converter`.
    """
    if header is None and transfer_syntax in video.VIDEO_SYNTAXES:
        header = read_header(path, name=name)
    if header is not None and header.container:
        yield from video.iter_container(path, indices, header, name=name, luma_only=luma_only,
                                        threads=threads)
        return
    if header is not None and header.transfer_syntax in video.VIDEO_SYNTAXES:
        yield from video.iter_video_dicom(path, indices, header, name=name, luma_only=luma_only,
                                          threads=threads)
        return
    todo = list(indices)
    kind = direct_kind(header, luma_only=luma_only) if header is not None else ""
    if kind and header is not None:
        done = 0
        for item in iter_direct(path, todo, header, kind):
            done += 1
            yield item
        todo = todo[done:]
        if not todo:
            return
    yield from _iter_pydicom(path, todo, name=name, transfer_syntax=transfer_syntax or
                             (header.transfer_syntax if header is not None else ""))


def _iter_pydicom(path: Path, todo: list[int], *, name: str | None, transfer_syntax: str
                  ) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    image = Dataset()
    plugin = preferred_plugin(transfer_syntax) if transfer_syntax else ""
    while True:
        done = 0
        try:
            for pixels in iter_pixels(path, ds_out=image, indices=todo, raw=True, decoding_plugin=plugin):
                done += 1
                yield todo[done - 1], pixels, image
            return
        except Exception as exc:  # pydicom and its plug-ins raise many types for corrupt data
            if plugin:
                plugin, todo = "", todo[done:]
                continue
            raise DataError(f"cannot decode its pixel data ({type(exc).__name__}: {exc}).",
                            file=name or str(path),
                            hint="the file may be truncated or corrupt: re-export it; for JPEG lossless, "
                                 "JPEG-LS or HTJ2K install pylibjpeg + pylibjpeg-libjpeg/-openjpeg.") from exc
