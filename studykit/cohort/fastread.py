"""Direct reading of the common 8-bit DICOM frame encodings, without pydicom's decode.

Used by :func:`studykit.cohort.dicom.iter_frames` when the header allows it
(:func:`direct_kind`): native little-endian frames sliced out of the file at their offset,
RLE Lossless mono frames unpacked with Pillow's C PackBits decoder, JPEG baseline
YBR_FULL(_422) decoded by Pillow straight to the Y channel. Each reader returns ``None`` (or
stops) at anything it cannot vouch for, and pydicom decodes that frame and the rest, so the
output is bit-identical to pydicom's and errors stay pydicom's.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from studykit.cohort.video_header import VideoHeader

__all__ = ["PREFERRED_PLUGINS", "direct_kind", "iter_direct", "jpeg_luma", "preferred_plugin",
           "rle_decode_8bit"]

#: Plug-in tried first where pydicom's default order is slower: with pylibjpeg installed pydicom
#: would decode baseline JPEG with it, about 4 × slower than with Pillow (a core dependency).
PREFERRED_PLUGINS = {"1.2.840.10008.1.2.4.50": "pillow", "1.2.840.10008.1.2.4.51": "pillow"}


def preferred_plugin(transfer_syntax: str) -> str:
    """The decoding plug-in to try first for ``transfer_syntax`` ("" = pydicom's own order)."""
    plugin = PREFERRED_PLUGINS.get(transfer_syntax, "")
    if plugin and plugin in get_decoder(UID(transfer_syntax)).available_plugins:
        return plugin
    return ""


_NATIVE_LITTLE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})  # Implicit / Explicit VR LE
_RLE_LOSSLESS = "1.2.840.10008.1.2.5"
_DIRECT_PHOTOMETRIC = {"MONOCHROME1": 1, "MONOCHROME2": 1, "RGB": 3, "YBR_FULL": 3}


def direct_kind(header: VideoHeader, *, luma_only: bool = False) -> str:
    """How :func:`iter_frames` reads ``header``'s frames without pydicom.

    ``"native"``, ``"rle"``, ``"jpeg"`` or ``""`` (pydicom). Only unsigned 8-bit data
    (BitsAllocated = BitsStored = 8): native little-endian MONOCHROME1/2 (1 sample), RGB or
    YBR_FULL (3 samples, either planar configuration); RLE Lossless MONOCHROME1/2; with
    ``luma_only``, JPEG baseline/extended YBR_FULL(_422) when Pillow is pydicom's plug-in for
    it. Anything else (big endian, deeper or signed data, PALETTE COLOR, native
    YBR_FULL_422, deflated, other compressions, an Extended Offset Table) is pydicom's.
    """
    if (header.pixel_offset < 0 or header.bits_allocated != 8 or header.bits_stored != 8
            or header.pixel_representation != 0):
        return ""
    syntax, photometric = header.transfer_syntax, header.photometric
    if (syntax in _NATIVE_LITTLE and _DIRECT_PHOTOMETRIC.get(photometric) == header.samples
            and header.planar_configuration in (0, 1)):
        return "native"
    if header.extended_offsets:
        return ""
    if syntax == _RLE_LOSSLESS and header.samples == 1 and photometric in ("MONOCHROME1", "MONOCHROME2"):
        return "rle"
    if (luma_only and syntax in PREFERRED_PLUGINS and header.samples == 3
            and photometric in ("YBR_FULL", "YBR_FULL_422") and preferred_plugin(syntax) == "pillow"):
        return "jpeg"
    return ""


def _image_module(header: VideoHeader) -> Dataset:
    """The Image Pixel attributes :func:`gray_converter` reads, from the header."""
    image = Dataset()
    image.SamplesPerPixel, image.PhotometricInterpretation = header.samples, header.photometric
    image.Rows, image.Columns = header.rows, header.columns
    image.BitsAllocated, image.BitsStored = header.bits_allocated, header.bits_stored
    image.HighBit, image.PixelRepresentation = header.bits_stored - 1, header.pixel_representation
    if header.samples > 1:
        image.PlanarConfiguration = header.planar_configuration
    return image


def iter_direct(path: Path, todo: list[int], header: VideoHeader, kind: str
                 ) -> Iterator[tuple[int, np.ndarray, Dataset]]:
    """Frames read without pydicom; stops (without error) at the first it cannot vouch for."""
    image = _image_module(header)
    rows, columns, samples = header.rows, header.columns, header.samples
    size = rows * columns * samples
    try:
        fp = open(path, "rb")  # closed in the finally below
    except OSError:
        return
    try:
        for index in todo:
            try:
                if kind == "native":
                    fp.seek(header.pixel_offset + index * size)
                    data = fp.read(size)
                    if len(data) != size:
                        return
                    pixels = np.frombuffer(data, np.uint8)
                    if samples == 1:
                        pixels = pixels.reshape(rows, columns)
                    elif header.planar_configuration == 0:
                        pixels = pixels.reshape(rows, columns, samples)
                    else:
                        pixels = pixels.reshape(samples, rows, columns).transpose(1, 2, 0)
                else:
                    fp.seek(header.pixel_offset)
                    frame = get_frame(fp, index, number_of_frames=header.frames)
                    pixels = (rle_decode_8bit(frame, rows, columns) if kind == "rle"
                              else jpeg_luma(frame, rows, columns))
                    if pixels is None:
                        return
            except Exception:  # anything odd: pydicom decodes this frame and the rest (and reports errors)
                return
            yield index, pixels, image
    finally:
        fp.close()


def jpeg_luma(frame: bytes, rows: int, columns: int) -> np.ndarray | None:
    """The Y channel (rows, columns, 1) of a YCbCr JPEG frame, or None to leave it to pydicom.

    pydicom decodes such a frame with Pillow in ``draft("YCbCr")`` mode (no colour
    transform) and ingestion keeps channel 0; asking libjpeg for grayscale output instead
    returns the same Y samples (its grayscale "conversion" of YCbCr is a copy of Y) and
    skips the chroma. Frames with an Adobe colour transform marker (which pydicom decodes
    differently), not 3-component or of another size are left to pydicom.
    """
    with Image.open(io.BytesIO(frame), formats=("JPEG",)) as image:
        if image.mode != "RGB" or "adobe_transform" in image.info or image.size != (columns, rows):
            return None
        image.draft("L", image.size)
        if image.mode != "L":
            return None
        return np.asarray(image).reshape(rows, columns, 1)


def rle_decode_8bit(frame: bytes, rows: int, columns: int) -> np.ndarray | None:
    """One RLE Lossless frame of 8-bit, 1-sample data, or None when pydicom's result could differ.

    Pillow's C PackBits decoder (the same byte format as a DICOM RLE segment) unpacks the
    segment into a line of ``rows·columns`` bytes, about 10× faster than pydicom's Python
    loop (``_rle_decode_segment``). The decode is proven equal to pydicom's, including the
    absence of its "non-conformant padding" warning, by feeding the segment in three parts:
    all but the last few bytes, which must not fill the line; the runs from where Pillow
    stopped up to the last run that produces output, also not filling it; and that last
    run, whose very last byte must fill the line exactly. The tail is parsed in Python with
    pydicom's rules (a dangling header adds nothing, a truncated literal adds what is there).
    Anything else — several segments, too few or too many bytes, trailing runs — returns
    None and pydicom decodes the frame.
    """
    if len(frame) < 64 or int.from_bytes(frame[:4], "little") != 1:
        return None
    segment = memoryview(frame)[int.from_bytes(frame[4:8], "little"):]
    n = rows * columns
    line = Image.core.new("L", (n, 1))
    decoder = Image._getdecoder("L", "packbits", "L", ())
    decoder.setimage(line, (0, 0, n, 1))
    head = max(len(segment) - 8, 0)
    status, error = decoder.decode(segment[:head])
    if status < 0 or error:  # filled before the end: more output than the frame holds
        return None
    tail = bytes(segment[status:])
    last = _last_output_run(tail)
    if last is None:
        return None
    start, value = last
    if start:
        status, error = decoder.decode(tail[:start])
        if status != start or error:
            return None
    if len(value) > 1:  # the last run but its final byte, as one literal (≤ 127 bytes)
        status, error = decoder.decode(bytes([len(value) - 2]) + value[:-1])
        if status < 0 or error:
            return None
    status, error = decoder.decode(bytes([0]) + value[-1:])
    if status != -1 or error:
        return None
    return np.asarray(Image.Image()._new(line)).reshape(rows, columns)


def _last_output_run(tail: bytes) -> tuple[int, bytes] | None:
    """(start, output) of the last run of ``tail`` that outputs anything, by pydicom's rules.

    None when there is none or it is a literal cut short by the end of the data.
    """
    pos, last = 0, None
    while pos < len(tail):
        header = tail[pos]
        if header > 128:  # replicate the next byte 257 − header times (nothing if it is missing)
            if pos + 1 < len(tail):
                last = (pos, tail[pos + 1:pos + 2] * (257 - header))
            pos += 2
        elif header < 128:  # copy the next header + 1 bytes (what is there of them)
            if pos + 1 < len(tail):
                if pos + header + 2 > len(tail):
                    return None
                last = (pos, tail[pos + 1:pos + header + 2])
            pos += header + 2
        else:
            pos += 1
    return last

