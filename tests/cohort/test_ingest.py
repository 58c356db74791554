"""Ingestion: raw cohort → ROI pair store (issue 3, §2).

Known answers come from the fixtures' generating function (cohort_support.panel_value), or from
pydicom's own decode of its bundled files put through the documented gray formula.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from cohort_support import (
    ANNOTATED,
    BOX,
    PANEL,
    PATIENTS,
    PHI,
    PRIVATE_PHI,
    SEQUENCE_PHI,
    boxes_for,
    cell,
    expected_crop,
    make_cohort,
    panel_value,
    video_frames,
    write_video,
)
from PIL import Image
from pydicom.pixels import apply_color_lut, pixel_array
from pydicom.uid import JPEGBaseline8Bit, RLELossless

from studykit.cohort import deid, dicom, store
from studykit.cohort.ingest import ingest
from studykit.cohort.store import INDEX_COLUMNS, PairStore
from studykit.cohort.tables import parse_box
from studykit.errors import DataError, InputError

N_PAIRS = sum(len(f) for f in ANNOTATED.values())


def _ingest(cohort: Path, **kwargs) -> PairStore:
    return ingest(cohort, size=(BOX, BOX), **kwargs)


def _store_bytes(pairs: PairStore) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(pairs.path.iterdir())}


# ---------------------------------------------------------------- known answers, store layout


def test_store_shape_index_and_meta(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path)
    assert pairs.images.shape == (N_PAIRS, 2, BOX, BOX) and pairs.images.dtype == np.uint8
    assert not pairs.images.flags.writeable
    assert tuple(pairs.index.columns) == (*INDEX_COLUMNS, store.TIME_COLUMN)
    expected_ids = [f"{pid}-v1-f{f:04d}" for i, (pid, _, _) in enumerate(PATIENTS) for f in ANNOTATED[i]]
    assert pairs.index["image_id"].tolist() == expected_ids
    assert "RC0005" not in set(pairs.index["patient_id"])  # excluded patient
    first = pairs.index.iloc[0]
    assert (first["label"], first["subtype"], first["center"], first["phase"]) == (1, "ccrcc", "center_b",
                                                                                  "cortical")
    assert pairs.index.set_index("patient_id")["label"].groupby(level=0).first().to_dict() == \
        {"RC0001": 1, "RC0002": 0, "RC0003": 1, "RC0004": 0}
    assert pairs.meta["shape"] == [N_PAIRS, 2, BOX, BOX] and pairs.meta["key"] == pairs.path.name
    assert pairs.meta["counts"] == {"patients": 4, "images": N_PAIRS, "excluded_patients": 1}
    assert [s["layout"] for s in pairs.meta["inputs"]["sources"]] == ["dual"] * 4
    assert sorted(p.name for p in pairs.path.iterdir()) == ["index.csv", "pairs.u8", "store.json"]
    assert PairStore(pairs.path).index.equals(pairs.index)


def test_crops_are_exact_at_identity_size(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path)
    for i, row in pairs.index.iterrows():
        patient = int(row["patient_id"][2:]) - 1
        bmode, ceus = boxes_for(patient, row["frame"])
        np.testing.assert_array_equal(pairs.images[i, 0], expected_crop(patient, row["frame"], bmode, False))
        np.testing.assert_array_equal(pairs.images[i, 1], expected_crop(patient, row["frame"], ceus, True))


def test_margin_widens_and_clips_to_the_panel(cohort, edit_csv, tmp_path):
    # one box touching the B-mode panel's left/top edge, one in the CEUS panel's interior
    w = PANEL[1]

    def one_row(t):
        t = t.iloc[:1].copy()
        t["bmode_box"], t["ceus_box"] = "0,0,16,16", f"{w + 20},10,{w + 36},26"
        return t
    edit_csv(cohort / "annotations.csv", one_row)
    edit_csv(cohort / "manifest.csv", lambda t: t.assign(excluded_reason=["", "x", "x", "x", "x"]))
    pairs = ingest(cohort, store_root=tmp_path, size=(24, 24), margin=0.25)  # 16 + 2·4 = 24
    np.testing.assert_array_equal(pairs.images[0, 1], expected_crop(0, 1, (w + 16, 6, w + 40, 30), True))
    clipped = expected_crop(0, 1, (0, 0, 20, 20), False)  # clipped at x = y = 0: 20×20, resized to 24×24
    np.testing.assert_array_equal(pairs.images[0, 0], np.asarray(Image.fromarray(clipped).resize(
        (24, 24), Image.Resampling.BILINEAR)))


def test_constant_patches_stay_constant_after_resize(tmp_path):
    root = make_cohort(tmp_path / "c", constant=True)
    pairs = ingest(root, store_root=tmp_path / "s", size=(37, 23))
    assert pairs.images.shape[2:] == (37, 23)
    for i, row in pairs.index.iterrows():
        patient = int(row["patient_id"][2:]) - 1
        for c in (0, 1):
            value = panel_value(patient, row["frame"], np.zeros(1), np.zeros(1), bool(c))
            assert np.all(pairs.images[i, c] == value[0])


def test_compressed_syntaxes_match_the_native_decode(tmp_path):
    native = _ingest(make_cohort(tmp_path / "n"), store_root=tmp_path / "sn")
    packed = _ingest(make_cohort(tmp_path / "c", syntaxes={0: RLELossless, 1: JPEGBaseline8Bit}),
                     store_root=tmp_path / "sc")
    rle = native.index["patient_id"] == "RC0001"
    jpeg = (native.index["patient_id"] == "RC0002").to_numpy()
    np.testing.assert_array_equal(packed.images[rle.to_numpy()], native.images[rle.to_numpy()])
    error = np.abs(packed.images[jpeg].astype(int) - native.images[jpeg].astype(int))
    assert error.max() <= 12 and error.mean() < 2  # lossy JPEG of a gray image, Y channel only


def test_progress_hook_reports_hashing_and_cropping(base_cohort, tmp_path):
    calls = []
    _ingest(base_cohort, store_root=tmp_path, progress=lambda *a: calls.append(a))
    assert calls[-1] == (N_PAIRS, N_PAIRS, "crop frames")
    assert (6, 6, "hash inputs") in calls  # manifest, annotations, 4 videos


# ---------------------------------------------------------------- parallel, cache, atomicity


def test_two_workers_give_a_byte_identical_store(base_cohort, tmp_path):
    one = _ingest(base_cohort, store_root=tmp_path / "w1", workers=1)
    two = _ingest(base_cohort, store_root=tmp_path / "w2", workers=2)
    assert one.key == two.key
    assert _store_bytes(one) == _store_bytes(two)


def test_cache_hit_decodes_nothing(base_cohort, tmp_path, monkeypatch):
    first = _ingest(base_cohort, store_root=tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("a cached store must not open any DICOM")
    monkeypatch.setattr(dicom, "read_header", forbidden)
    monkeypatch.setattr(dicom, "iter_frames", forbidden)
    monkeypatch.setattr(pydicom, "dcmread", forbidden)
    again = _ingest(base_cohort, store_root=tmp_path, workers=2)
    assert again.path == first.path and _store_bytes(again) == _store_bytes(first)


def test_any_changed_byte_or_setting_rebuilds(cohort, tmp_path):
    first = _ingest(cohort, store_root=tmp_path)
    video = cohort / "videos" / "RC0002.dcm"
    data = bytearray(video.read_bytes())
    data[-1] ^= 0xFF  # last pixel of the last frame: not annotated, so the crops stay the same
    video.write_bytes(bytes(data))
    second = _ingest(cohort, store_root=tmp_path)
    assert second.key != first.key and (tmp_path / first.key).is_dir()
    np.testing.assert_array_equal(second.images, first.images)
    third = ingest(cohort, store_root=tmp_path, size=(8, 8))
    assert len({first.key, second.key, third.key}) == 3


def test_failed_build_leaves_nothing(cohort, tmp_path, monkeypatch):
    calls = []

    def crash_on_second(job, out, size, threads=1):
        calls.append(job)
        if len(calls) == 2:
            raise DataError("simulated decode failure.", file=job.name)
        return real(job, out, size, threads)
    jobs_module = importlib.import_module("studykit.cohort.crop_jobs")
    real = jobs_module.run_job
    monkeypatch.setattr(jobs_module, "run_job", crash_on_second)
    with pytest.raises(DataError, match="simulated"):
        _ingest(cohort, store_root=tmp_path / "store")
    assert len(calls) == 2 and not (tmp_path / "store").exists()  # no empty store folder left behind


def test_stale_temporary_folders_are_removed(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path / "a")
    import socket
    stale = tmp_path / "b" / f".tmp-{pairs.key}-{socket.gethostname()}-999999999-deadbeef"
    stale.mkdir(parents=True)
    (stale / "pairs.u8").write_bytes(b"half")
    rebuilt = _ingest(base_cohort, store_root=tmp_path / "b")
    assert not stale.exists() and [p.name for p in (tmp_path / "b").iterdir()] == [rebuilt.key]


def test_incomplete_store_folder_is_rejected(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path)
    with open(pairs.path / "pairs.u8", "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(DataError, match=r"not a complete pair store: pairs\.u8 does not hold"):
        PairStore(pairs.path)


# ---------------------------------------------------------------- bad input: message, file, row, field


def _error(cohort: Path, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        _ingest(cohort, store_root=cohort.parent / "store", **kwargs)
    assert not (cohort.parent / "store").exists() or not any((cohort.parent / "store").iterdir())
    return info.value


@pytest.mark.parametrize("table, change, message, row, field, hint", [
    ("manifest.csv", lambda t: t.rename(columns={"label": "diagnosis"}),
     "has no column 'label'", None, "label", "pass label_column="),
    ("manifest.csv", cell("patient_id", 2, "RC0001"), "patient id 'RC0001' appears twice (rows 1 and 3)",
     3, "patient_id", "exactly one manifest row"),
    ("manifest.csv", cell("label", 1, "malign"), "label 'malign' is not 'benign' or 'malignant'", 2, "label",
     "did you mean 'malignant'?"),
    ("annotations.csv", cell("patient_id", 0, "XQ-77"), "patient 'XQ-77' is not in manifest.csv", 1,
     "patient_id", "add the patient"),
    ("annotations.csv", cell("file", 1, "videos/RC0001.dicom"), "video 'videos/RC0001.dicom' not found", 2,
     "file", "relative to the cohort folder"),
    ("annotations.csv", cell("frame", 0, "6"), "frame 6 is out of range: 'videos/RC0001.dcm' has 6 frame(s) "
     "(0–5)", 1, "frame", "0-based"),
    ("annotations.csv", cell("frame", 0, "-1"), "frame '-1' is not a non-negative integer", 1, "frame", None),
    ("annotations.csv", cell("bmode_box", 0, "30,10,20,26"), "box '30,10,20,26' is inverted (x1 < x0)", 1,
     "bmode_box", "x0 < x1"),
    ("annotations.csv", cell("ceus_box", 1, "80,10,96,10"), "box '80,10,96,10' is empty (zero height)", 2,
     "ceus_box", None),
    ("annotations.csv", cell("ceus_box", 2, "100,40,140,60"), "box '100,40,140,60' lies outside the 128×48 "
     "frame", 3, "ceus_box", "0 ≤ x0 < x1 ≤ width"),
    ("annotations.csv", cell("bmode_box", 0, "70,10,86,26"), "is not inside the B-mode panel", 1, "bmode_box",
     "swapped"),
    ("annotations.csv", cell("bmode_box", 0, "ten,2,3,4"), "box 'ten,2,3,4' is not four numbers", 1,
     "bmode_box", None),
    ("annotations.csv", cell("phase", 0, "cortcal"), "phase 'cortcal' is not one of", 1, "phase",
     "did you mean 'cortical'?"),
    ("annotations.csv", cell("frame", 1, "1"), "frame 1 of 'videos/RC0001.dcm' is annotated twice "
     "(rows 1 and 2)", 2, "frame", None),
])
def test_bad_tables(cohort, edit_csv, table, change, message, row, field, hint):
    edit_csv(cohort / table, change)
    error = _error(cohort)
    assert message in error.message
    assert error.file is not None and error.file.endswith(table)
    assert (error.row, error.field) == (row, field)
    if hint:
        assert hint in error.hint
    assert table in str(error) and message in str(error)


def test_included_patient_without_annotation_or_video(cohort, edit_csv):
    edit_csv(cohort / "annotations.csv", lambda t: t[~t["patient_id"].isin(["RC0003", "RC0004"])])
    error = _error(cohort)
    assert "patient 'RC0003' is included but has no annotated frame in annotations.csv" in error.message
    assert (error.row, error.field) == (3, "patient_id") and error.file.endswith("manifest.csv")
    assert "excluded_reason" in error.hint
    edit_csv(cohort / "manifest.csv", cell("excluded_reason", 2, "no CEUS"))
    (cohort / "videos" / "RC0004.dcm").unlink()
    error = _error(cohort)
    assert ("patient 'RC0004' is included but has no video (videos/RC0004.dcm or "
            "videos/RC0004.mp4|mov|avi|mkv not found)") in error.message
    assert (error.row, error.field) == (4, "patient_id") and error.file.endswith("manifest.csv")


def test_excel_csv_quirks(cohort, tmp_path):
    manifest = cohort / "manifest.csv"
    manifest.write_text("\ufeff" + manifest.read_text(), encoding="utf-8")  # Excel's byte-order mark
    assert _ingest(cohort, store_root=tmp_path / "s").images.shape[0] == N_PAIRS
    manifest.write_text(manifest.read_text(encoding="utf-8-sig").replace(",", ";"))
    error = _error(cohort)
    assert error.field == "patient_id" and "semicolon-separated" in error.hint


def test_declared_column_names_are_used(cohort, edit_csv, tmp_path):
    edit_csv(cohort / "manifest.csv", lambda t: t.rename(columns={"label": "histology"}))
    pairs = ingest(cohort, store_root=tmp_path, size=BOX, label_column="histology")
    assert pairs.images.shape == (N_PAIRS, 2, BOX, BOX)


@pytest.mark.parametrize("argument, value, message", [
    ("size", (0, 4), "must be a positive integer or a (height, width) pair"),
    ("size", "big", "must be a positive integer or a (height, width) pair"),
    ("margin", -0.1, "must be a number between 0 and 10"),
    ("workers", 0, "must be an integer ≥ 1"),
])
def test_bad_arguments(base_cohort, tmp_path, argument, value, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        ingest(base_cohort, store_root=tmp_path, **{"size": BOX, argument: value})
    assert info.value.field == argument


def test_missing_cohort_folder(tmp_path):
    with pytest.raises(DataError, match="cohort folder not found"):
        ingest(tmp_path / "nowhere")


# ---------------------------------------------------------------- bad DICOM files


def test_truncated_dicom(cohort):
    video = cohort / "videos" / "RC0002.dcm"
    video.write_bytes(video.read_bytes()[:-500])
    error = _error(cohort)
    assert error.file == "videos/RC0002.dcm"
    assert "is truncated: its pixel data holds 36364 bytes but 6 frame(s) of 128×48×1 at 8 bits need 36864" \
        in error.message
    assert "re-export" in error.hint


def test_unreadable_dicom(cohort):
    (cohort / "videos" / "RC0003.dcm").write_bytes(b"this is not a DICOM file at all" * 10)
    error = _error(cohort)
    assert error.file == "videos/RC0003.dcm" and "is not a readable DICOM file" in error.message


def test_dicom_without_pixel_data(cohort):
    path = cohort / "videos" / "RC0001.dcm"
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    error = _error(cohort)
    assert error.file == "videos/RC0001.dcm"
    assert "has no pixel data (no (7FE0,0010) Pixel Data element)" in error.message


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_compressed_frame(tmp_path, workers):
    root = make_cohort(tmp_path / "c", syntaxes={2: JPEGBaseline8Bit})
    video = root / "videos" / "RC0003.dcm"
    data = bytearray(video.read_bytes())
    start = -1
    for _ in range(3):  # the third JPEG frame: frame 2, the annotated one
        start = data.index(b"\xff\xd8\xff", start + 1)
    data[start:start + 400] = bytes(400)
    video.write_bytes(bytes(data))
    error = _error(root, workers=workers)  # with 2 workers the error crosses the process boundary
    assert error.file == "videos/RC0003.dcm" and "cannot decode its pixel data" in error.message
    assert "re-export" in error.hint


def test_missing_decoder_names_the_package(tmp_path, monkeypatch):
    from pydicom.pixels.decoders.base import Decoder

    root = make_cohort(tmp_path / "c", syntaxes={1: JPEGBaseline8Bit})
    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    error = _error(root)
    assert error.file == "videos/RC0002.dcm"
    assert "uses transfer syntax JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50), whose decoder is not " \
           "installed" in error.message
    assert error.hint == "install one: pip install pylibjpeg pylibjpeg-libjpeg"


# ---------------------------------------------------------------- pydicom's real ultrasound files

REAL_FILES = {  # file: (frames, bmode box, ceus box); single-panel files: both boxes in the one panel
    "examples_ybr_color.dcm": ((0, 29), "100,60,180,140", "200,80,300,200"),
    "examples_rgb_color.dcm": ((0,), "20,20,120,100", "150,100,300,220"),
    "examples_palette.dcm": ((0,), "200,100,300,200", "400,120,600,300"),
    "examples_jpeg2k.dcm": ((0,), "100,100,300,250", "350,200,600,400"),
    "ExplVR_BigEnd.dcm": ((0,), "10,10,40,40", "40,20,70,50"),
}


def _expected_real(path: Path, frame: int, box: str, size: int) -> np.ndarray:
    ds = pydicom.dcmread(path)
    raw = pixel_array(path, index=frame, raw=True)
    photometric = ds.PhotometricInterpretation
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(raw, ds).astype(np.int64)
        gray = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000
        gray = (gray * 255 + 32767) // 65535
    elif photometric.startswith("YBR_FULL"):
        gray = raw[..., 0]
    else:  # RGB, and YBR_RCT which JPEG 2000 decoders return as RGB
        rgb = raw.astype(np.int64)
        gray = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000
    b = parse_box(box)
    crop = np.ascontiguousarray(gray[b.y0:b.y1, b.x0:b.x1].astype(np.uint8))
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR))


def test_pydicoms_ultrasound_files_ingest(tmp_path, pydicom_file):
    root = tmp_path / "real"
    manifest, notes = [], []
    for i, (name, (frames, bmode, ceus)) in enumerate(REAL_FILES.items()):
        pid = f"PD{i:02d}"
        (root / "videos").mkdir(parents=True, exist_ok=True)
        shutil.copy(pydicom_file(name), root / "videos" / f"{pid}.dcm")
        manifest.append([pid, "benign" if i % 2 else "malignant"])
        notes += [[pid, f"videos/{pid}.dcm", f, "cortical", bmode, ceus] for f in frames]
    pd.DataFrame(manifest, columns=["patient_id", "label"]).to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(notes, columns=["patient_id", "file", "frame", "phase", "bmode_box", "ceus_box"]).to_csv(
        root / "annotations.csv", index=False)
    pairs = ingest(root, size=32)
    assert pairs.images.shape == (len(notes), 2, 32, 32)
    assert [s["layout"] for s in pairs.meta["inputs"]["sources"]] == ["single"] * len(REAL_FILES)
    assert pairs.index[["subtype", "center", "scanner"]].eq("").all().all()  # absent columns stay empty
    for i, (_, name, frame, _, bmode, ceus) in enumerate(notes):
        for c, box in enumerate((bmode, ceus)):
            expected = _expected_real(root / name, frame, box, 32)
            np.testing.assert_array_equal(pairs.images[i, c], expected, err_msg=name)


def test_region_overrunning_the_frame_is_clipped(pydicom_file):
    header = dicom.read_header(pydicom_file("examples_ybr_color.dcm"))  # region 84–595 in a 320-wide frame
    assert header.regions == ((84, 31, 320, 240),) and dicom.panels(header) == header.regions
    palette = dicom.read_header(pydicom_file("examples_palette.dcm"))  # the 2-D region only, not the ECG
    assert palette.regions == ((120, 60, 800, 350),)


def test_pydicoms_truncated_and_pixelless_files_fail(pydicom_file, tmp_path):
    with pytest.raises(DataError, match=r"is truncated: its pixel data holds 8130 bytes but 1 frame\(s\) of "
                                        r"64×64×1 at 16 bits need 8192") as info:
        dicom.read_header(pydicom_file("MR_truncated.dcm"), name="MR_truncated.dcm")
    assert info.value.file == "MR_truncated.dcm"
    with pytest.raises(DataError, match=r"has no pixel data"):
        dicom.read_header(pydicom_file("rtplan.dcm"))


def test_gray_conversions():
    mono1 = pydicom.Dataset()
    mono1.PhotometricInterpretation, mono1.BitsAllocated, mono1.BitsStored = "MONOCHROME1", 16, 12
    mono1.PixelRepresentation = 0
    crop = np.array([[0, 4095, 2048]], np.uint16)
    np.testing.assert_array_equal(dicom.gray_converter(mono1)(crop), [[255, 0, 127]])
    rgb = pydicom.Dataset()
    rgb.PhotometricInterpretation, rgb.BitsAllocated, rgb.BitsStored = "RGB", 8, 8
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 10, 10]]], np.uint8)
    np.testing.assert_array_equal(dicom.gray_converter(rgb)(pixels), [[76, 150, 29, 10]])


# ---------------------------------------------------------------- pre-cropped PNG pairs


def test_precropped_png_pairs(tmp_path):
    root = tmp_path / "pngs"
    pd.DataFrame({"patient_id": ["P1", "P2"], "label": ["malignant", "benign"]}).to_csv(
        root.mkdir() or root / "manifest.csv", index=False)
    rng = np.random.default_rng(0)
    images = {}
    for pid, frames in (("P1", (3, 12)), ("P2", (7,))):
        (root / "crops" / pid).mkdir(parents=True)
        for f in frames:
            for kind in ("bmode", "ceus"):
                images[pid, f, kind] = rng.integers(0, 256, (20, 20), dtype=np.uint8)
                Image.fromarray(images[pid, f, kind]).save(root / "crops" / pid / f"{f:04d}_{kind}.png")
    pd.DataFrame({"patient_id": ["P1"], "frame": ["12"], "phase": ["medullary"]}).to_csv(
        root / "annotations.csv", index=False)
    pairs = ingest(root, size=20)
    assert pairs.index["image_id"].tolist() == ["P1-crops-f0003", "P1-crops-f0012", "P2-crops-f0007"]
    assert pairs.index["phase"].tolist() == ["", "medullary", ""]
    np.testing.assert_array_equal(pairs.images[1, 1], images["P1", 12, "ceus"])
    (root / "crops" / "P2" / "0007_ceus.png").unlink()
    with pytest.raises(DataError, match=r"has no ceus partner \(0007_ceus.png\)"):
        ingest(root, size=20)


# ---------------------------------------------------------------- de-identification


def test_no_phi_reaches_any_output_byte(tmp_path):
    root = make_cohort(tmp_path / "c", syntaxes={1: RLELossless, 2: JPEGBaseline8Bit})
    for name in ("RC0001", "RC0004"):  # the planted values really are in the inputs
        assert PHI["PatientName"].encode() in (root / "videos" / f"{name}.dcm").read_bytes()
    out = tmp_path / "store"
    ingest(root, store_root=out, size=BOX, workers=2)
    ingest(root, store_root=out, size=(BOX, 2 * BOX), margin=0.3)
    needles = [*PHI.values(), PRIVATE_PHI, SEQUENCE_PHI, PHI["PatientName"].split("^")[0]]
    needles += [n.replace("^", " ") for n in needles]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 6
    for path in files:
        data = path.read_bytes().lower()
        for needle in needles:
            assert needle.lower().encode() not in data, f"{needle!r} leaked into {path.name}"


def test_output_whitelist_is_not_identifying():
    for keyword in deid.OUTPUT_ATTRIBUTES:
        assert not deid.is_identifying(pydicom.datadict.tag_for_keyword(keyword)), keyword
    assert len(deid.BASIC_PROFILE) == 456
    assert all(deid.is_identifying(t) for t in (0x00291010, 0x60023000, 0x50000010))  # private, 60xx, 50xx


def test_list_and_strip_phi(tmp_path):
    path = write_video(tmp_path / "v.dcm", video_frames(0, 2))
    ds = pydicom.dcmread(path)
    report = deid.list_phi(ds)
    assert {"PatientName", "InstitutionName", "OtherPatientIDsSequence[0].PatientID"} <= set(report["path"])
    assert (report["path"] == "PatientName").sum() == 1
    assert report.loc[report["path"] == "InstitutionName", "action"].item() == "X/Z/D"
    assert not any(PHI["PatientName"] in str(v) for v in report.to_numpy().ravel())  # no values shown
    clean = deid.strip_phi(ds)
    clean.save_as(tmp_path / "clean.dcm")
    data = (tmp_path / "clean.dcm").read_bytes()
    for needle in [*PHI.values(), PRIVATE_PHI, SEQUENCE_PHI]:
        assert needle.encode() not in data, needle
    assert not clean.PatientName and "InstitutionName" not in clean and clean.Rows == ds.Rows
    assert clean.StudyInstanceUID != ds.StudyInstanceUID
    assert deid.strip_phi(ds).StudyInstanceUID == clean.StudyInstanceUID  # consistent replacement
    assert deid.list_phi(clean)["length"].max() <= 64  # only emptied values and new UIDs remain


def test_store_json_is_stable_json(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path)
    meta = json.loads((pairs.path / "store.json").read_text())
    assert meta["format"] == store.STORE_FORMAT and meta["settings"]["size"] == [BOX, BOX]
    assert all(len(s["sha256"]) == 64 for s in meta["inputs"]["sources"])


def test_synthetic_cohort_ingests_without_leaking_its_phi(tmp_path):
    synth = pytest.importorskip("studykit.cohort.synth")
    root = tmp_path / "synth"
    synth.synthesize(root, tiny=True)
    planted = set()
    for path in (root / "videos").glob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "OperatorsName",
                        "AccessionNumber", "ReferringPhysicianName", "StudyInstanceUID"):
            value = str(ds.get(keyword) or "")
            if len(value) >= 6:
                planted.add(value)
    assert len(planted) >= 10
    pairs = ingest(root, tmp_path / "store", size=32, workers=2)
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    included = manifest.loc[manifest["excluded_reason"] == "", "patient_id"]
    assert set(pairs.index["patient_id"]) == set(included)
    assert {s["layout"] for s in pairs.meta["inputs"]["sources"]} == {"dual"}
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [v for v in planted if v.encode() in data], path.name


# ---------------------------------------------------------------- fast decoding paths == pydicom

BUNDLED = ["examples_rgb_color.dcm", "examples_ybr_color.dcm", "examples_palette.dcm", "examples_jpeg2k.dcm",
           "ExplVR_BigEnd.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_rle.dcm", "SC_rgb_jpeg_dcmtk.dcm",
           "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_jpeg_no_color_transform.dcm",
           "SC_ybr_full_422_uncompressed.dcm", "MR_small.dcm", "MR_small_RLE.dcm"]


def _native_variants(root: Path) -> list[Path]:
    """Small multi-frame files in every native layout the direct reader handles, and some it must not."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    rng, paths = np.random.default_rng(5), []
    layouts = [("MONOCHROME2", 1, 0, 8), ("MONOCHROME1", 1, 0, 8), ("RGB", 3, 0, 8), ("RGB", 3, 1, 8),
               ("YBR_FULL", 3, 0, 8), ("YBR_FULL", 3, 1, 8), ("MONOCHROME2", 1, 0, 16)]
    for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian):
        for i, (photometric, samples, planar, bits) in enumerate(layouts):
            rows, cols, n = 7 + i, 9 + 2 * i, 3
            dtype = np.uint8 if bits == 8 else np.uint16
            values = rng.integers(0, 1 << bits, (n, rows, cols, samples)).astype(dtype)
            data = values.transpose(0, 3, 1, 2) if planar else values
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.5.{i}"
            ds.file_meta.TransferSyntaxUID = syntax
            ds.Rows, ds.Columns, ds.NumberOfFrames, ds.SamplesPerPixel = rows, cols, n, samples
            ds.PhotometricInterpretation, ds.BitsAllocated, ds.BitsStored = photometric, bits, bits
            ds.HighBit, ds.PixelRepresentation = bits - 1, 0
            if samples == 3:
                ds.PlanarConfiguration = planar
            order = "<" if syntax.is_little_endian else ">"
            raw = np.ascontiguousarray(data).astype(data.dtype.newbyteorder(order)).tobytes()
            ds.PixelData = raw + b"\0" * (len(raw) % 2)
            ds["PixelData"].VR = "OW" if bits == 16 else "OB"
            path = root / f"{syntax.name.replace(' ', '_')}_{i}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def test_direct_readers_match_pydicom_exactly(tmp_path, pydicom_file):
    from pydicom.pixels import iter_pixels

    fixtures = make_cohort(tmp_path / "c", syntaxes={1: JPEGBaseline8Bit, 2: RLELossless})
    paths = _native_variants(tmp_path) + sorted((fixtures / "videos").glob("*.dcm"))
    paths += [pydicom_file(name) for name in BUNDLED]
    kinds = set()
    for path in paths:
        header = dicom.read_header(path)
        indices = list(range(header.frames))
        expected = list(iter_pixels(path, indices=indices, raw=True))
        for luma_only in (False, True):
            kind = dicom.direct_kind(header, luma_only=luma_only)
            kinds.add(kind)
            got = list(dicom.iter_frames(path, indices, header=header, luma_only=luma_only))
            assert [i for i, _, _ in got] == indices
            for (_, pixels, image), want in zip(got, expected):
                if kind == "jpeg":  # the Y channel only, which is all gray_converter reads
                    assert pixels.shape == (*want.shape[:2], 1)
                    np.testing.assert_array_equal(pixels[..., 0], want[..., 0], err_msg=str(path))
                else:
                    assert pixels.dtype == want.dtype, path
                    np.testing.assert_array_equal(pixels, want, err_msg=str(path))
                crop = (slice(1, 5), slice(2, 6))
                np.testing.assert_array_equal(dicom.gray_converter(image)(pixels[crop]),
                                              dicom.gray_converter(pydicom.dcmread(path))(want[crop]))
    assert kinds == {"", "native", "rle", "jpeg"}
    big_endian = dicom.read_header(pydicom_file("ExplVR_BigEnd.dcm"))
    assert dicom.direct_kind(big_endian) == "" and dicom.direct_kind(dicom.read_header(
        pydicom_file("examples_rgb_color.dcm"))) == "native"


def test_rle_fast_path_is_pydicoms_decode_or_declines():
    import warnings

    from pydicom.pixels.decoders.rle import _rle_decode_segment

    rng = np.random.default_rng(11)
    accepted = 0
    for _ in range(3000):
        rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, 50))
        target = max(rows * cols + int(rng.choice([0, 0, 0, -1, 1, -3, 4, 130])), 0)
        segment, out = bytearray(), 0
        while out < target:
            kind, k = rng.random(), min(int(rng.integers(1, 129)), target - out)
            if kind < 0.05:
                segment.append(0x80)  # no-op
                continue
            if kind < 0.5 or k < 2:
                segment += bytes([k - 1]) + rng.integers(0, 256, k).astype(np.uint8).tobytes()
            else:
                segment += bytes([257 - k, int(rng.integers(0, 256))])
            out += k
        segment += [b"", b"\x00", b"\x05\x01\x02", b"\x80", b"\x81", b"\x80" * 12, bytes([0x7F, 1])][
            int(rng.integers(0, 7))]
        frame = (1).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(56) + bytes(segment)
        got = dicom.rle_decode_8bit(frame, rows, cols)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            expected = _rle_decode_segment(bytes(segment))
        if got is not None:  # accepted only when pydicom gives exactly the frame, without warnings
            accepted += 1
            assert len(expected) == rows * cols and not caught
            assert got.tobytes() == bytes(expected)
    assert accepted > 300  # the fast path is exercised, not just declined
    two_segments = (2).to_bytes(4, "little") + bytes(60) + b"\x00\x01"
    assert dicom.rle_decode_8bit(two_segments, 1, 1) is None


@pytest.mark.parametrize("shape", [(5, 7), (50, 46), (224, 224), (300, 17), (1, 1)])
def test_resize_into_equals_pillow_resize(shape):
    import importlib

    module = importlib.import_module("studykit.cohort.crop_jobs")
    assert module._CORE_RESIZE  # the core-image path is the one under test here
    rng = np.random.default_rng(shape[0])
    gray = rng.integers(0, 256, (shape[0] + 3, shape[1] + 2), np.uint8)[2:-1, 1:-1]  # a non-contiguous view
    for size in ((224, 224), (32, 48), shape):
        out = np.zeros(size, np.uint8)
        module._resize_into(gray, out)
        np.testing.assert_array_equal(out, module._resize(gray, size))


# ---------------------------------------------------------------- time since injection (time_s)


def test_time_since_injection_of_the_synthetic_cohort(tmp_path):
    """The generator's frames are evenly spaced from −4 s to 88 s (an integer number of ms apart)
    around an injection at 4 s of video time: t_k = −4 + k · round(92000 / (frames − 1)) / 1000."""
    synth = pytest.importorskip("studykit.cohort.synth")
    root = tmp_path / "synth"
    summary = synth.synthesize(root, tiny=True, seed=1)
    pairs = ingest(root, tmp_path / "store", size=16)
    interval_ms = round(92000 / (summary.frames - 1))
    expected = -4.0 + pairs.index["frame"].to_numpy() * interval_ms / 1000.0
    np.testing.assert_allclose(pairs.index[store.TIME_COLUMN].to_numpy(), expected, atol=1e-6)
    assert pairs.index[store.TIME_COLUMN].dtype == np.float64
    assert PairStore(pairs.path).index[store.TIME_COLUMN].equals(pairs.index[store.TIME_COLUMN])
    # an empty injection_s: that patient's times are unknown (NaN), the others' unchanged
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    first = manifest.loc[manifest["excluded_reason"] == "", "patient_id"].iat[0]
    manifest.loc[manifest["patient_id"] == first, "injection_s"] = ""
    manifest.to_csv(root / "manifest.csv", index=False)
    again = ingest(root, tmp_path / "store", size=16)
    times = again.index.set_index("patient_id")[store.TIME_COLUMN]
    assert times.loc[first].isna().all()
    np.testing.assert_allclose(times.drop(first).to_numpy(), expected[pairs.index["patient_id"] != first])


def test_time_is_unknown_without_injection_column_or_for_png_pairs(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path / "store")
    assert pairs.index[store.TIME_COLUMN].isna().all()  # no injection_s column in this manifest
    root = tmp_path / "pngs"
    (root / "crops" / "P1").mkdir(parents=True)
    pd.DataFrame({"patient_id": ["P1"], "label": ["malignant"], "injection_s": ["4"]}).to_csv(
        root / "manifest.csv", index=False)
    for kind in ("bmode", "ceus"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "crops" / "P1" / f"0003_{kind}.png")
    assert ingest(root, size=8).index[store.TIME_COLUMN].isna().all()


def test_bad_injection_time_names_the_manifest_row(cohort, edit_csv):
    edit_csv(cohort / "manifest.csv", lambda t: t.assign(injection_s=["4", "soon", "4", "4", "4"]))
    with pytest.raises(DataError, match="injection time 'soon' is not a number") as info:
        _ingest(cohort)
    assert (info.value.row, info.value.field) == (2, "injection_s")


def test_a_format_1_store_is_refused_with_a_reingest_hint(base_cohort, tmp_path):
    pairs = _ingest(base_cohort, store_root=tmp_path)
    meta = json.loads((pairs.path / "store.json").read_text())
    (pairs.path / "store.json").write_text(json.dumps({**meta, "format": 1}))
    with pytest.raises(DataError, match=r"pair store of format 1, written by an older studykit") as info:
        PairStore(pairs.path)
    assert "ingest the cohort again" in info.value.hint
    assert store.store_key({"a": 1}) != _key_of_format(1, {"a": 1})  # a new format: a new key


def _key_of_format(version: int, fingerprint: dict) -> str:
    import hashlib
    text = json.dumps({"format": version, **fingerprint}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
