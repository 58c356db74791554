"""Decoded DICOM pixels (or PNG crops) to ``uint8`` gray, by photometric interpretation.

See :mod:`studykit.cohort.dicom` (step 3) for the rules: MONOCHROME2 as is, MONOCHROME1
inverted, RGB to ITU-R BT.601 integer luma, YBR_FULL(_422) by its Y channel, YBR_PARTIAL_420
(video) by its Y channel expanded from limited range, PALETTE COLOR
through the colour LUT; deeper than 8 bits scaled linearly from the full stored range.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from studykit.errors import DataError

__all__ = ["PHOTOMETRIC", "gray_converter", "luma", "read_png_gray", "to_uint8", "video_luma_table"]


def to_uint8(values: np.ndarray, maximum: int) -> np.ndarray:
    """Integers in [0, maximum] → uint8 by linear scaling with rounding."""
    if maximum == 255:
        return values.astype(np.uint8, copy=False)
    wide = np.clip(values.astype(np.int64), 0, maximum)
    return ((wide * 255 + maximum // 2) // maximum).astype(np.uint8)


def luma(rgb: np.ndarray, maximum: int) -> np.ndarray:
    """BT.601 luma of an (…, 3) integer array, scaled to uint8."""
    wide = rgb.astype(np.uint32 if maximum <= 0xFFFF else np.uint64)
    y = (wide[..., 0] * 299 + wide[..., 1] * 587 + wide[..., 2] * 114 + 500) // 1000
    return to_uint8(y, maximum)


def _mono(invert: bool) -> Callable[[Dataset], Callable[[np.ndarray], np.ndarray]]:
    def build(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
        bits = int(image.get("BitsStored") or image.BitsAllocated)
        maximum = (1 << bits) - 1
        offset = (1 << (bits - 1)) if int(image.get("PixelRepresentation") or 0) == 1 else 0
        if maximum == 255 and offset == 0 and not invert:
            return lambda crop: crop.astype(np.uint8, copy=False)

        def convert(crop: np.ndarray) -> np.ndarray:
            values = np.clip(crop.astype(np.int64) + offset, 0, maximum)
            return to_uint8(maximum - values if invert else values, maximum)
        return convert
    return build


def _rgb(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    maximum = (1 << int(image.get("BitsStored") or image.BitsAllocated)) - 1
    return lambda crop: luma(crop, maximum)


def _ybr(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    maximum = (1 << int(image.get("BitsStored") or image.BitsAllocated)) - 1
    return lambda crop: to_uint8(crop[..., 0], maximum)


@lru_cache(maxsize=8)
def video_luma_table(bits: int, full_range: bool) -> np.ndarray:
    """Lookup table from every ``bits``-bit Y code (any 16-bit value when ``bits`` > 8) to 8-bit gray.

    Limited ("video", YBR_PARTIAL) range, ITU-R BT.601/BT.709 quantisation:
    ``g = clip(round((Y / 2^(bits−8) − 16)·255/219), 0, 255)``; full range: ``round(Y / 2^(bits−8))``.
    """
    codes = np.arange(1 << (16 if bits > 8 else 8), dtype=np.float64) / float(1 << max(bits - 8, 0))
    gray = codes if full_range else (codes - 16.0) * (255.0 / 219.0)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def _ybr_partial(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    table = video_luma_table(int(image.get("BitsStored") or image.BitsAllocated), False)
    return lambda crop: table[crop[..., 0]]


def _palette(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    def convert(crop: np.ndarray) -> np.ndarray:
        rgb = apply_color_lut(crop, image)
        return luma(rgb, 255 if rgb.dtype == np.uint8 else 0xFFFF)
    return convert


#: Photometric interpretation → builder of a crop-to-uint8-gray function (see module notes).
PHOTOMETRIC: dict[str, Callable[[Dataset], Callable[[np.ndarray], np.ndarray]]] = {
    "MONOCHROME2": _mono(invert=False),
    "MONOCHROME1": _mono(invert=True),
    "RGB": _rgb,
    "YBR_RCT": _rgb,
    "YBR_ICT": _rgb,
    "YBR_FULL": _ybr,
    "YBR_FULL_422": _ybr,
    "YBR_PARTIAL_420": _ybr_partial,  # video syntaxes (MPEG-2, H.264, HEVC); decoded by .video
    "PALETTE COLOR": _palette,
}


def gray_converter(image: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    """The function that turns a raw-decoded crop of ``image`` into uint8 gray (H, W)."""
    return PHOTOMETRIC[str(image.PhotometricInterpretation).strip()](image)


def read_png_gray(path: Path) -> np.ndarray:
    """A PNG as uint8 gray (H, W): L as is, 16-bit scaled, colour and palette via BT.601 luma."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I"):
                return to_uint8(np.asarray(image).astype(np.int64), 0xFFFF)
            if image.mode == "L":
                return np.asarray(image)
            return luma(np.asarray(image.convert("RGB")), 255)
    except OSError as exc:
        raise DataError(f"cannot be read as an image ({exc}).", file=str(path),
                        hint="save the crop as an 8-bit gray or RGB PNG.") from exc
