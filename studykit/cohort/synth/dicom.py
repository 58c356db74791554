"""Writing a synthetic patient's video as an Ultrasound Multi-frame DICOM file.

Attributes follow the US Multi-frame Image IOD (PS3.3 A.7): patient, general study and
series, US region calibration (Sequence of Ultrasound Regions, one region per panel), cine
(Frame Time, Frame Increment Pointer, Cine Rate), contrast/bolus and multi-frame modules.
Identifying attributes carry realistic-looking *fake* values (names, IDs, dates, addresses,
institutions, device serial numbers, a private tag repeating the name) so that
de-identification downstream has something to remove. UIDs are derived from the seed and
the patient (``generate_uid(entropy_srcs=…)``) and dates are drawn, never read from the clock,
so the same arguments give byte-identical files.

Transfer syntaxes: Explicit VR Little Endian; JPEG Baseline (frames encoded by Pillow as
YBR_FULL_422 4:2:2, quality 92, then encapsulated with a basic offset table); RLE
Lossless (pydicom's native encoder); and the video syntaxes MPEG-2 MP@ML, H.264 High
Profile @ 4.1 and HEVC Main (:func:`encode_stream`: the gray video as limited-range Y with
neutral chroma, yuv420p, one elementary stream encapsulated after an empty Basic Offset
Table; PhotometricInterpretation YBR_PARTIAL_420, 3 samples, planar configuration 0).
Encoders run on one thread, libx264 with its macroblock tree off (``mbtree=0``): with it,
PyAV's libx264 gave a different stream now and then for the same input, breaking the
same-arguments-same-bytes promise.
4:2:0 needs even frame sides: an odd frame is padded by repeating its last row/column
(:func:`even_frames`), Rows/Columns then give the padded size and the regions stay put.
:func:`write_mp4` writes the same H.264 stream in an MP4 container instead, with planted
metadata tags (title, comment, artist, creation time, GPS location) as PHI. Both take
``keyint`` (a key frame every so many frames, closed GOPs unless ``open_gop``;
:func:`gop_options`) for long clips with key frames mid-stream; without it the encoders'
defaults stand (the cohort's files are unchanged).
"""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    HEVCMP51,
    MPEG2MPML,
    MPEG4HP41,
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from .render import ScannerProfile

__all__ = ["MIXED_SYNTAXES", "PSNR_FLOOR_DB", "SYNTAXES", "VIDEO_CODECS", "Identity", "VideoGeometry",
           "build_dataset", "draw_identity", "encode", "encode_stream", "even_frames", "gop_options", "psnr",
           "write_mp4"]

#: Transfer syntax names used in the cohort and their UIDs ("mp4" is a plain video file).
MIXED_SYNTAXES = ("explicit_vr_little_endian", "jpeg_baseline", "rle_lossless")
SYNTAXES = {"explicit_vr_little_endian": ExplicitVRLittleEndian, "jpeg_baseline": JPEGBaseline8Bit,
            "rle_lossless": RLELossless, "mpeg2_main_main": MPEG2MPML, "h264_high_41": MPEG4HP41,
            "hevc_main": HEVCMP51, "mp4": ""}
#: Video syntax key → (FFmpeg encoder, raw elementary-stream muxer, encoder options, lossy method).
VIDEO_CODECS = {
    "mpeg2_main_main": ("mpeg2video", "mpeg2video",
                        {"flags": "+qscale", "global_quality": str(2 * 118), "g": "12", "bf": "2"},
                        "ISO_13818_2"),
    "h264_high_41": ("libx264", "h264", {"crf": "16", "preset": "medium", "profile": "high",
                                          "level": "4.1", "threads": "1",
                                          "x264-params": "mbtree=0"}, "ISO_14496_10"),
    "hevc_main": ("libx265", "hevc", {"crf": "16", "preset": "medium",
                                      "x265-params": "log-level=error:pools=none:frame-threads=1"},
                  "ISO_23008_2"),
}
VIDEO_CODECS["mp4"] = VIDEO_CODECS["h264_high_41"]
#: MPEG-2 allows only 23.976–60 frames/s: its stream carries this nominal rate, Frame Time the real one.
MPEG2_NOMINAL_RATE = 25
#: Least PSNR (dB, over all frames, against the uncompressed rendering) a written video must reach
#: (a sanity floor; tiny cohorts measure ≥ 43.4 dB MPEG-2 at qscale 2, ≥ 46.9 H.264 and ≥ 48.3 HEVC
#: at CRF 16).
PSNR_FLOOR_DB = 35.0
JPEG_QUALITY = 92
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root (deterministic hash suffix)

_SURNAMES = ("Vandermolen", "Okonkwo-Reyes", "Haverkamp", "Lindqvist", "Castellanos", "Whitcombe",
             "Abernathy", "Szczepanski", "Moreau-Tissot", "Nakashima", "Fairweather", "Oyelaran",
             "Brannigan", "Kowalczyk", "Delacroix", "Thorvaldsen", "Quarrington", "Esterhuizen",
             "Montgomery-Bell", "Yamamura", "Pettigrew", "Dalgliesh", "Iwasaki", "Kerrigan")
_GIVEN = {"F": ("Margarethe", "Ottilie", "Rosalind", "Imogen", "Svetlana", "Beatrix", "Philippa",
                "Lucinda", "Henrietta", "Annelies"),
          "M": ("Bartholomew", "Evander", "Leopold", "Cornelius", "Thaddeus", "Ignatius", "Florian",
                "Rupert", "Casimir", "Ambrose")}
_STREETS = ("Larkspur Lane", "Quillfeather Road", "Old Tannery Row", "Marigold Crescent", "Brackenbury Way")
_TOWNS = ("Fenwick Harbour", "Upper Ashcombe", "Little Thornbury", "Kestrel Bay")
_STAFF = ("Quist^Evander^^Dr", "Haldane^Rosamund^^Dr", "Okafor^Chidubem^^Dr", "Bergstrom^Ylva^^Dr")
_SONOGRAPHERS = ("Pemberton^Wilhelmina", "Achterberg^Joost", "Featherstonehaugh^Clio", "Marchetti^Dario")
_INSTITUTIONS = {"center_a": ("Saint Aldric Renal Institute", "1 Cathedral Close, Upper Ashcombe"),
                 "center_b": ("Harbourside University Hospital", "200 Quay Street, Kestrel Bay")}
_PRIVATE_CREATOR = "SYNTHVENDOR PRIVATE 1.0"
_SOFTWARE = {"GE Healthcare": "R6.1.2", "Mindray": "V3.0.1", "Philips Medical Systems": "6.3.2.1"}


class Identity(NamedTuple):
    """A patient's fake identifying data (all strings in DICOM formats)."""

    name: str
    patient_id: str
    other_id: str
    birth_date: str
    address: str
    telephone: str
    study_date: str
    study_time: str
    accession: str
    study_id: str
    referring: str
    performing: str
    operator: str


class VideoGeometry(NamedTuple):
    """Frame layout: panel size, top bar, cm per pixel, skin row, frame interval (ms)."""

    panel_height: int
    panel_width: int
    bar: int
    pixel_cm: float
    skin_row: float
    frame_time_ms: int


def draw_identity(age: int, sex: str, rng: np.random.Generator) -> Identity:
    """Fake but realistic identifying data for one patient of ``age`` years and ``sex``."""
    start = dt.date(2012, 1, 1)
    study = start + dt.timedelta(days=int(rng.integers(0, (dt.date(2021, 12, 31) - start).days)))
    birth = study - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
    given = _GIVEN.get(sex, _GIVEN["F"])
    name = f"{rng.choice(_SURNAMES)}^{rng.choice(given)}^{chr(65 + int(rng.integers(0, 26)))}"
    digits = rng.integers(0, 10, 20)
    number = "".join(map(str, digits))
    return Identity(
        name=name, patient_id=f"H{number[:8]}",
        other_id=f"NHS {number[8:11]} {number[11:14]} {number[14:18]}",
        birth_date=birth.strftime("%Y%m%d"),
        address=f"{int(rng.integers(1, 240))} {rng.choice(_STREETS)}, {rng.choice(_TOWNS)}",
        telephone=f"+44 1632 960{number[4:7]}", study_date=study.strftime("%Y%m%d"),
        study_time="".join(f"{int(rng.integers(lo, hi)):02d}" for lo, hi in ((8, 17), (0, 60), (0, 60))),
        accession=f"A{study.year}{number[10:16]}", study_id=number[2:7],
        referring=str(rng.choice(_STAFF)), performing=str(rng.choice(_STAFF)),
        operator=str(rng.choice(_SONOGRAPHERS)))


def _uid(seed: int, patient_id: str, kind: str, *extra: str) -> str:
    """Deterministic UID from the seed, the patient and the object kind."""
    return generate_uid(prefix=UID_ROOT, entropy_srcs=["studykit-synth", str(seed), patient_id, kind, *extra])


def _serial(center: str, scanner: str) -> str:
    """Fixed fake serial number of a centre's device."""
    code = sum(ord(c) * (i + 1) for i, c in enumerate(center + scanner)) % 90000 + 10000
    return f"{scanner[:2].upper()}{code}"


def _region(x0: int, geometry: VideoGeometry) -> Dataset:
    """One Sequence-of-Ultrasound-Regions item: a 2-D tissue panel starting at column x0."""
    item = Dataset()
    item.RegionSpatialFormat = 1  # 2D
    item.RegionDataType = 1  # tissue
    item.RegionFlags = 0
    item.RegionLocationMinX0 = x0
    item.RegionLocationMinY0 = geometry.bar
    item.RegionLocationMaxX1 = x0 + geometry.panel_width - 1  # inclusive (DICOM)
    item.RegionLocationMaxY1 = geometry.bar + geometry.panel_height - 1
    item.PhysicalUnitsXDirection = 3  # cm
    item.PhysicalUnitsYDirection = 3
    item.PhysicalDeltaX = geometry.pixel_cm
    item.PhysicalDeltaY = geometry.pixel_cm
    item.ReferencePixelX0 = geometry.panel_width // 2
    item.ReferencePixelY0 = round(geometry.skin_row)
    item.ReferencePixelPhysicalValueX = 0.0
    item.ReferencePixelPhysicalValueY = 0.0
    item.TransducerFrequency = 3500  # kHz
    return item


def _patient_module(ds: Dataset, identity: Identity, row: dict) -> None:
    """Patient and (fake) identifying attributes, plus a private tag repeating the name."""
    ds.PatientName = identity.name
    ds.PatientID = identity.patient_id
    ds.IssuerOfPatientID = _INSTITUTIONS[row["center"]][0]
    other = Dataset()
    other.PatientID = identity.other_id
    other.TypeOfPatientID = "TEXT"
    other.IssuerOfPatientID = "NHS"
    ds.OtherPatientIDsSequence = Sequence([other])
    ds.PatientBirthDate = identity.birth_date
    ds.PatientSex = row["sex"]
    ds.PatientAge = f"{int(row['age']):03d}Y"
    height = 1.70 if row["sex"] == "M" else 1.62
    ds.PatientSize = f"{height:.2f}"
    ds.PatientWeight = f"{row['bmi'] * height ** 2:.1f}"
    ds.PatientAddress = identity.address
    ds.PatientTelephoneNumbers = identity.telephone
    block = ds.private_block(0x0009, _PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", f"{identity.name}|{identity.patient_id}")


def _study_module(ds: Dataset, identity: Identity, row: dict, scanner: ScannerProfile,
                  uids: dict[str, str]) -> None:
    """Study, series, equipment and contrast attributes (dates fixed by the identity)."""
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids["study"], uids["series"]
    ds.FrameOfReferenceUID = uids["frame_of_reference"]
    for prefix in ("Study", "Series", "Acquisition", "Content"):
        setattr(ds, f"{prefix}Date", identity.study_date)
        setattr(ds, f"{prefix}Time", identity.study_time)
    ds.AccessionNumber, ds.StudyID = identity.accession, identity.study_id
    ds.ReferringPhysicianName, ds.PerformingPhysicianName = identity.referring, identity.performing
    ds.OperatorsName = identity.operator
    ds.StudyDescription, ds.SeriesDescription = "US KIDNEY CEUS", "CEUS dual display cine"
    ds.BodyPartExamined, ds.Modality = "KIDNEY", "US"
    ds.SeriesNumber, ds.InstanceNumber = 2, 1
    ds.InstitutionName, ds.InstitutionAddress = _INSTITUTIONS[row["center"]]
    ds.InstitutionalDepartmentName = "Department of Ultrasound"
    ds.Manufacturer, ds.ManufacturerModelName = scanner.manufacturer, scanner.model
    ds.DeviceSerialNumber = _serial(row["center"], row["scanner"])
    ds.StationName = f"US{row['scanner'][:3].upper()}{ds.DeviceSerialNumber[-2:]}"
    ds.SoftwareVersions = _SOFTWARE.get(scanner.manufacturer, "6.3.2.1")
    ds.TransducerData, ds.TransducerType = "C1-5", "CURVED LINEAR"
    ds.MechanicalIndex = "0.08"
    ds.ContrastBolusAgent, ds.ContrastBolusRoute = "SonoVue (sulphur hexafluoride microbubbles)", "IV"
    ds.ContrastBolusVolume = "1.2"
    start = dt.datetime.strptime(identity.study_time, "%H%M%S") + dt.timedelta(seconds=4)
    ds.ContrastBolusStartTime = start.strftime("%H%M%S")


def _image_module(ds: Dataset, geometry: VideoGeometry, n_frames: int) -> None:
    """Image pixel, cine, multi-frame and US region attributes (MONOCHROME2, 8 bit)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = geometry.bar + geometry.panel_height, 2 * geometry.panel_width
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.NumberOfFrames = n_frames
    ds.FrameTime = str(geometry.frame_time_ms)
    ds.FrameIncrementPointer = Tag("FrameTime")
    ds.CineRate = max(1, round(1000.0 / geometry.frame_time_ms))
    ds.RecommendedDisplayFrameRate = ds.CineRate
    ds.ActualFrameDuration = geometry.frame_time_ms
    ds.FrameDelay = "0"
    ds.StartTrim, ds.StopTrim, ds.PreferredPlaybackSequencing = 1, n_frames, 0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.SequenceOfUltrasoundRegions = Sequence([_region(0, geometry), _region(geometry.panel_width, geometry)])


def build_dataset(video: np.ndarray, row: dict, identity: Identity, scanner: ScannerProfile,
                  geometry: VideoGeometry, seed: int, content_key: str) -> Dataset:
    """Uncompressed (Explicit VR Little Endian) dataset of one patient's video.

    Parameters
    ----------
    video : uint8 array, shape (F, rows, columns)
    row : dict
        The patient's manifest row (``patient_id, center, scanner, age, sex, bmi``).
    content_key : str
        Distinguishes instances rendered with other frames/size (enters the SOP UID).
    """
    pid = row["patient_id"]
    uids = {k: _uid(seed, pid, k) for k in ("study", "series", "frame_of_reference")}
    sop = _uid(seed, pid, "sop", content_key)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "STUDYKIT_SYNTH"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = UltrasoundMultiFrameImageStorage, sop
    _patient_module(ds, identity, row)
    _study_module(ds, identity, row, scanner, uids)
    _image_module(ds, geometry, video.shape[0])
    ds.PixelData = np.ascontiguousarray(video).tobytes()
    return ds


def _jpeg_frames(video: np.ndarray) -> list[bytes]:
    """Each gray frame as a JPEG baseline codestream in YCbCr 4:2:2 (Pillow/libjpeg)."""
    frames = []
    for frame in video:
        buffer = io.BytesIO()
        Image.fromarray(frame).convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY,
                                                   subsampling="4:2:2", optimize=False)
        frames.append(buffer.getvalue())
    return frames


def encode(ds: Dataset, video: np.ndarray, syntax: str) -> None:
    """Re-encode ``ds``'s pixel data in place with transfer syntax ``syntax`` (a SYNTAXES key)."""
    if syntax in VIDEO_CODECS:
        _encode_video(ds, video, syntax)
    elif syntax == "rle_lossless":
        ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    elif syntax == "jpeg_baseline":
        frames = _jpeg_frames(video)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
        ds.PixelData = encapsulate(frames, has_bot=True)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = f"{video.nbytes * 3 / sum(map(len, frames)):.2f}"[:16]
        ds.LossyImageCompressionMethod = "ISO_10918_1"


def even_frames(video: np.ndarray) -> np.ndarray:
    """``video`` (F, H, W) padded to even H and W by repeating its last row/column (4:2:0 needs it)."""
    pad = ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2))
    return np.pad(video, pad, mode="edge") if any(p[1] for p in pad) else video


def _yuv420(frame: np.ndarray) -> np.ndarray:
    """One gray frame as a yuv420p plane stack: limited-range Y = 16 + 219·g/255, neutral chroma."""
    y = np.rint(16.0 + frame.astype(np.float32) * (219.0 / 255.0)).astype(np.uint8)
    return np.concatenate([y, np.full((frame.shape[0] // 2, frame.shape[1]), 128, np.uint8)])


def _picture(av, frame: np.ndarray):
    """A yuv420p VideoFrame of the gray ``frame`` with every byte of its planes set.

    Each plane is written whole, line padding included (zeros): libx264 reads past the
    visible width, and uninitialised padding made its output differ between runs.
    """
    height, width = frame.shape
    planes = _yuv420(frame)
    picture = av.VideoFrame(width, height, "yuv420p")
    for plane, data in zip(picture.planes, (planes[:height], *_chroma(planes, height, width))):
        padded = np.zeros((plane.height, plane.line_size), np.uint8)
        padded[:, :plane.width] = data
        plane.update(padded.tobytes())
    return picture


def _chroma(planes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The (H/2, W/2) U and V planes packed below Y in :func:`_yuv420`'s stack."""
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    return chroma[0], chroma[1]


def gop_options(codec: str, options: dict, keyint: int | None, open_gop: bool = False) -> dict:
    """``options`` with a key frame every ``keyint`` frames (None: the encoder's default GOP).

    Scene-cut key frames are turned off so the key frames fall exactly every ``keyint``
    frames. Closed GOPs by default (MPEG-2 ``+cgop``; x264/x265 IDR pictures); ``open_gop``
    gives open ones (MPEG-2 GOPs whose leading B pictures use the previous GOP, HEVC CRA
    pictures, x264 ``open-gop``): key frames a decoder cannot start at without its
    leading pictures going wrong.
    """
    if keyint is None:
        return dict(options)
    out = dict(options)
    if codec == "mpeg2video":
        out.update(g=str(keyint), sc_threshold="1000000000")
        if not open_gop:
            out["flags"] = out.get("flags", "") + "+cgop"
        return out
    key = "x264-params" if codec == "libx264" else "x265-params"
    gop = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:open-gop={int(open_gop)}"
    out[key] = f"{out[key]}:{gop}" if out.get(key) else gop
    return out


def _encode_into(container, video: np.ndarray, codec: str, options: dict, frame_time_ms: float) -> None:
    """Encode the even-sided gray ``video`` into ``container``'s new video stream."""
    import av

    rate = (MPEG2_NOMINAL_RATE if codec == "mpeg2video"
            else Fraction(1000, 1) / Fraction(frame_time_ms).limit_denominator(1000))
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
    stream.codec_context.color_range = 1  # limited ("MPEG") range
    stream.options = dict(options)
    stream.codec_context.thread_count = 1  # one thread, and libx264 without mbtree: byte-identical reruns
    for index, frame in enumerate(video):
        picture = _picture(av, frame)
        picture.pts = index
        for packet in stream.encode(picture):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def encode_stream(video: np.ndarray, syntax: str, frame_time_ms: float, *, keyint: int | None = None,
                  open_gop: bool = False) -> bytes:
    """The elementary stream (MPEG-2 video / H.264 / HEVC Annex B) of the even-sided ``video``.

    ``keyint``, ``open_gop``: a key frame every ``keyint`` frames (:func:`gop_options`).
    """
    import av

    codec, muxer, options, _ = VIDEO_CODECS[syntax]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as container:
        _encode_into(container, video, codec, gop_options(codec, options, keyint, open_gop), frame_time_ms)
    return buffer.getvalue()


def _encode_video(ds: Dataset, video: np.ndarray, syntax: str) -> None:
    """Video transfer syntax: one stream in the encapsulated Pixel Data, YBR_PARTIAL_420."""
    padded = even_frames(video)
    stream = encode_stream(padded, syntax, float(ds.FrameTime))
    ds.Rows, ds.Columns = padded.shape[1], padded.shape[2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_PARTIAL_420", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([stream], has_bot=False)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = SYNTAXES[syntax]
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = f"{video.nbytes / max(len(stream), 1):.2f}"[:16]
    ds.LossyImageCompressionMethod = VIDEO_CODECS[syntax][3]


def write_mp4(path, video: np.ndarray, frame_time_ms: float, metadata: dict[str, str], *,
              keyint: int | None = None, open_gop: bool = False) -> None:
    """The gray ``video`` as H.264 (as :func:`encode_stream`) in an MP4 file with ``metadata`` tags.

    ``keyint``, ``open_gop``: a key frame every ``keyint`` frames (:func:`gop_options`).
    """
    import av

    codec, _, options, _ = VIDEO_CODECS["mp4"]
    with av.open(str(path), "w", format="mp4") as container:
        container.metadata.update(metadata)
        _encode_into(container, even_frames(video), codec, gop_options(codec, options, keyint, open_gop),
                     frame_time_ms)


def psnr(decoded: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB, peak 255) over all pixels; inf when identical."""
    error = np.mean((decoded.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10.0 * np.log10(255.0 ** 2 / error))


def write(ds: Dataset, path) -> None:
    """Write ``ds`` as a DICOM Part-10 file (preamble, file meta) at ``path``."""
    ds.save_as(path, enforce_file_format=True)


def check_decodes(path, video: np.ndarray, syntax: str) -> str | None:
    """Read ``path`` back with pydicom and decode every frame; a problem description or None.

    Lossless syntaxes must reproduce ``video`` exactly; JPEG within a mean error of 3 levels.
    Video syntaxes and MP4 are decoded by ingestion's own reader (:mod:`studykit.cohort.video`)
    and must reach :data:`PSNR_FLOOR_DB` against ``video`` (the padding left out).
    """
    if syntax in VIDEO_CODECS:
        return _check_video(path, video, syntax)
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as exc:
        return f"pydicom cannot decode it: {type(exc).__name__}: {exc}"
    if pixels.ndim == 4:  # colour JPEG decoded to RGB: the gray value is any channel
        pixels = pixels[..., 0]
    if pixels.shape != video.shape:
        return f"decoded shape {pixels.shape} != written {video.shape}"
    if syntax == "jpeg_baseline":
        error = float(np.abs(pixels.astype(np.int16) - video).mean())
        return None if error < 3.0 else f"JPEG round-trip mean error {error:.2f} levels"
    return None if np.array_equal(pixels, video) else "lossless round trip differs"


def _check_video(path, video: np.ndarray, syntax: str) -> str | None:
    """Decode every frame of a written video file through ingestion's reader; PSNR against ``video``."""
    from studykit.cohort import dicom as reader
    from studykit.cohort import video as video_reader
    from studykit.errors import DataError

    try:
        header = (video_reader.read_container_header(path) if syntax == "mp4" else reader.read_header(path))
        frames = reader.iter_frames(path, range(header.frames), header=header)
        decoded = np.stack([pixels[..., 0] for _, pixels, _ in frames])
    except DataError as exc:
        return f"it does not decode: {exc}"
    if decoded.shape[0] != video.shape[0] or any(d < v for d, v in zip(decoded.shape[1:], video.shape[1:])):
        return f"decoded shape {decoded.shape} does not hold the written {video.shape}"
    value = psnr(decoded[:, :video.shape[1], :video.shape[2]], video)
    return (None if value >= PSNR_FLOOR_DB else
            f"PSNR {value:.1f} dB against the rendering is below {PSNR_FLOOR_DB} dB")
