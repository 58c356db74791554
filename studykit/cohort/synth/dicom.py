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
Lossless (pydicom's native encoder).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import NamedTuple

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from .render import ScannerProfile

__all__ = ["SYNTAXES", "Identity", "VideoGeometry", "build_dataset", "draw_identity", "encode"]

#: Transfer syntax names used in the cohort and their UIDs.
SYNTAXES = {"explicit_vr_little_endian": ExplicitVRLittleEndian, "jpeg_baseline": JPEGBaseline8Bit,
            "rle_lossless": RLELossless}
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
    if syntax == "rle_lossless":
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


def write(ds: Dataset, path) -> None:
    """Write ``ds`` as a DICOM Part-10 file (preamble, file meta) at ``path``."""
    ds.save_as(path, enforce_file_format=True)


def check_decodes(path, video: np.ndarray, syntax: str) -> str | None:
    """Read ``path`` back with pydicom and decode every frame; a problem description or None.

    Lossless syntaxes must reproduce ``video`` exactly; JPEG within a mean error of 3 levels.
    """
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
