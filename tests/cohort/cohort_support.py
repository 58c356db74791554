"""Tiny raw cohorts in the input formats for the ingestion tests (README, "Your own data").

Every video is an Ultrasound Multi-frame DICOM with a dual display: B-mode panel on the
left half, CEUS on the right, a Sequence of Ultrasound Regions giving both, frame timing
tags and planted PHI (:data:`PHI`) in identifying attributes, a private tag and a sequence.
Pixel values follow :func:`panel_value`, so any crop's content is known exactly.
"""

from __future__ import annotations

import io
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
PANEL = (48, 64)  # height, width of each panel
BOX = 16          # annotation boxes are BOX × BOX

#: Distinctive fake PHI planted in the fixture DICOMs; none may reach any output byte.
PHI = {
    "PatientName": "Quixotebrandt^Philomena",
    "PatientID": "MRN-PHI-774411",
    "PatientBirthDate": "19450317",
    "PatientAddress": "17 Zyzzyva Lane, Phiville",
    "OtherPatientIDs": "ALTPHI-55231",
    "InstitutionName": "Saint Phineas Kidney Hospital",
    "InstitutionAddress": "99 Phineas Plaza",
    "OperatorsName": "Sonographer^Phyllida",
    "ReferringPhysicianName": "Referrer^Phelonius",
    "PerformingPhysicianName": "Performer^Phaedra",
    "AccessionNumber": "ACCPHI90817",
    "StudyID": "STPHI4471",
    "StudyDescription": "PHI study of Philomena",
    "SeriesDescription": "PHI series xq77",
    "StationName": "PHISTATION9",
    "DeviceSerialNumber": "SERPHI31337",
    "StudyDate": "20190723",
    "StudyInstanceUID": "1.2.826.0.1.3680043.10.999.74417744",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.10.999.74417745",
}
PRIVATE_PHI = "Private-Phineas-Note"
SEQUENCE_PHI = "SEQPHI-OTHERID-8080"


def panel_value(patient: int, frame: int, y: np.ndarray, x: np.ndarray, ceus: bool) -> np.ndarray:
    """Pixel value at panel coordinates (y, x): a gradient unique to patient, frame and panel."""
    value = (3 * x + 5 * y + 11 * frame + 29 * patient + (101 if ceus else 0)) % 256
    return value.astype(np.uint8)


def video_frames(patient: int, n_frames: int, *, constant: bool = False) -> np.ndarray:
    """(F, H, 2W) uint8 dual-display frames; ``constant`` fills each panel with one value."""
    h, w = PANEL
    y, x = np.mgrid[0:h, 0:w]
    frames = np.empty((n_frames, h, 2 * w), np.uint8)
    for f in range(n_frames):
        for c, ceus in enumerate((False, True)):
            block = panel_value(patient, f, y, x, ceus)
            frames[f, :, c * w:(c + 1) * w] = block[0, 0] if constant else block
    return frames


def _phi(ds: Dataset) -> None:
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    other = Dataset()
    other.PatientID = SEQUENCE_PHI
    ds.OtherPatientIDsSequence = Sequence([other])
    block = ds.private_block(0x0029, "PHI FIXTURE", create=True)
    block.add_new(0x10, "LO", PRIVATE_PHI)


def _regions(width: int, height: int) -> Sequence:
    items = []
    for x0 in (0, width):
        item = Dataset()
        item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = 1, 1, 0
        item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, 0
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x0 + width - 1, height - 1
        item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3
        item.PhysicalDeltaX = item.PhysicalDeltaY = 0.02
        items.append(item)
    return Sequence(items)


def write_video(path: Path, frames: np.ndarray, *, syntax: str = ExplicitVRLittleEndian,
                regions: bool = True, phi: bool = True) -> Path:
    """Write (F, H, W) gray frames as a US multi-frame DICOM in the input format (README)."""
    n, rows, cols = frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    uid = "1.2.826.0.1.3680043.10.999.1." + str(zlib.crc32(path.name.encode()))
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SOPClassUID, ds.SOPInstanceUID = US_MULTIFRAME, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Manufacturer = "Fixture Medical"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, n
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime, ds.CineRate = 100.0, 10
    ds.FrameIncrementPointer = 0x00181063
    if regions:
        ds.SequenceOfUltrasoundRegions = _regions(cols // 2, rows)
    if phi:
        _phi(ds)
    _pixels(ds, frames, syntax)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _pixels(ds: Dataset, frames: np.ndarray, syntax: str) -> None:
    if syntax == JPEGBaseline8Bit:  # Pillow JPEG, 4:2:2 chroma, encapsulated one frame per fragment
        encoded = []
        for frame in frames:
            buf = io.BytesIO()
            rgb = np.repeat(frame[..., None], 3, axis=2)
            Image.fromarray(rgb).save(buf, "JPEG", quality=95, subsampling=1)
            encoded.append(buf.getvalue())
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.LossyImageCompression = "01"
    elif syntax == RLELossless:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(RLELossless, frames)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = frames.tobytes()


def boxes_for(patient: int, frame: int) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Annotation boxes (full-frame pixels, x1/y1 exclusive): B-mode left, CEUS right."""
    h, w = PANEL
    bx = 4 + (7 * patient + 3 * frame) % (w - BOX - 8)
    by = 4 + (5 * patient + frame) % (h - BOX - 8)
    cx, cy = w + 8 + (bx % 20), by + 2
    return (bx, by, bx + BOX, by + BOX), (cx, cy, cx + BOX, cy + BOX)


MANIFEST_COLUMNS = ["patient_id", "label", "subtype", "center", "scanner", "age", "sex", "bmi", "size_cm",
                    "symptoms", "surgery", "excluded_reason"]
PATIENTS = [("RC0001", "malignant", "ccrcc"), ("RC0002", "benign", "typical_aml"),
            ("RC0003", "malignant", "prcc"), ("RC0004", "benign", "atypical_aml")]
ANNOTATED = {0: (1, 3), 1: (0, 4, 5), 2: (2,), 3: (1, 2)}  # patient index → annotated frames
N_FRAMES = 6


def make_cohort(root: Path, *, syntaxes: dict[int, str] | None = None, constant: bool = False) -> Path:
    """A 4-patient (+1 excluded) cohort at ``root``; returns ``root``."""
    syntaxes = syntaxes or {}
    rows, notes = [], []
    for i, (pid, label, subtype) in enumerate(PATIENTS):
        rows.append([pid, label, subtype, "center_a" if i % 2 else "center_b", "ge_logiq_e9", 50 + i, "F",
                     24.5, 3.1, "no", "partial", ""])
        write_video(root / "videos" / f"{pid}.dcm", video_frames(i, N_FRAMES, constant=constant),
                    syntax=syntaxes.get(i, ExplicitVRLittleEndian))
        for f in ANNOTATED[i]:
            bmode, ceus = boxes_for(i, f)
            notes.append([pid, f"videos/{pid}.dcm", f, "cortical" if f < 3 else "medullary",
                          ",".join(map(str, bmode)), ",".join(map(str, ceus))])
    rows.append(["RC0005", "benign", "typical_aml", "center_a", "philips_iu22", 61, "M", 27.0, 2.2, "yes",
                 "radical", "poor image quality"])
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(notes, columns=["patient_id", "file", "frame", "phase", "bmode_box", "ceus_box"]).to_csv(
        root / "annotations.csv", index=False)
    return root


def expected_crop(patient: int, frame: int, box: tuple[int, int, int, int], ceus: bool) -> np.ndarray:
    """The exact pixels of a full-frame ``box`` (inside one panel) of a fixture video."""
    x0, y0, x1, y1 = box
    offset = PANEL[1] if ceus else 0
    y, x = np.mgrid[y0:y1, x0 - offset:x1 - offset]
    return panel_value(patient, frame, y, x, ceus)


@pytest.fixture(scope="session")
def base_cohort(tmp_path_factory) -> Path:
    """The default native cohort, built once (copy it before changing anything)."""
    return make_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture
def cohort(base_cohort, tmp_path) -> Path:
    """A private copy of the default cohort that a test may edit."""
    return Path(shutil.copytree(base_cohort, tmp_path / "cohort"))


def cell(column: str, row: int, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A table change for :func:`edit_csv`: cell (0-based ``row``, ``column``) becomes ``value``."""
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table
    return change


@pytest.fixture
def edit_csv() -> Callable[[Path, Callable[[pd.DataFrame], pd.DataFrame]], None]:
    """Rewrite a CSV through a DataFrame function (all values read as text)."""
    def edit(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        change(table).to_csv(path, index=False)
    return edit


@pytest.fixture(scope="session")
def pydicom_file() -> Callable[[str], Path]:
    """Path of a file in pydicom's bundled test data (present offline)."""
    def get(name: str) -> Path:
        return Path(pydicom.data.get_testdata_file(name))
    return get
