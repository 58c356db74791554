"""studykit frames: frames proposed by time since injection on the tiny synthetic cohort.

The synthetic videos start 4 s before the injection (``synth.options.VIDEO_START_S``), so the
manifest copies get ``injection_s = 4``; expected frames are computed here from the DICOM's
own Frame Time (read with pydicom), independently of :mod:`studykit.cohort.frames`.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from click.testing import CliRunner

from studykit.cli import commands  # noqa: F401  (registers the commands, as main() does)
from studykit.cli.app import cli
from studykit.cohort.dicom import read_header
from studykit.cohort.frames import parse_window, propose_frames, video_times
from studykit.cohort.ingest import ingest
from studykit.cohort.synth import synthesize
from studykit.cohort.synth.dicom import write_mp4
from studykit.cohort.synth.options import VIDEO_START_S
from studykit.cohort.tables import read_annotations, read_manifest
from studykit.cohort.video import read_container_header
from studykit.errors import DataError, InputError

WINDOWS = {"cortical": (10.0, 45.0), "medullary": (45.0, 180.0)}
TIMING = ("FrameTime", "CineRate", "FrameIncrementPointer", "RecommendedDisplayFrameRate",
          "ActualFrameDuration")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames") / "cohort"
    synthesize(out, tiny=True, seed=0)
    return out


@pytest.fixture
def cohort(synthetic, tmp_path) -> Path:
    """A copy of the tiny cohort whose manifest has ``injection_s`` = 4 s for everyone."""
    copy = tmp_path / "cohort"
    shutil.copytree(synthetic, copy)
    _set_injection(copy, {})
    return copy


def _set_injection(folder: Path, values: dict[str, str]) -> None:
    manifest = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["injection_s"] = [values.get(pid, f"{-VIDEO_START_S:g}") for pid in manifest["patient_id"]]
    manifest.to_csv(folder / "manifest.csv", index=False)


def _expected(times: np.ndarray, start: float, end: float, n: int) -> list[int]:
    """Nearest frames to the centres of n equal parts of the window's covered span."""
    inside = [k for k, t in enumerate(times) if start <= t <= end]
    if not inside:
        return []
    a, b = max(start, min(times[k] for k in inside)), min(end, max(times[k] for k in inside))
    picked = set()
    for j in range(n):
        target = a + (j + 0.5) * (b - a) / n
        picked.add(min(inside, key=lambda k: (abs(times[k] - target), k)))
    return sorted(picked)


def _dicom_times(path: Path, injection: float) -> np.ndarray:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return np.arange(int(ds.NumberOfFrames)) * float(ds.FrameTime) / 1000.0 - injection


def _proposed(template: pd.DataFrame, file: str, phase: str) -> list[int]:
    rows = template[(template["file"] == file) & (template["phase"] == phase)]
    return sorted(int(f) for f in rows["frame"])


def test_window_syntax() -> None:
    assert parse_window("10-45", "--cortical") == (10.0, 45.0)
    assert parse_window(" 2.5 - 7 ", "--medullary") == (2.5, 7.0)
    for bad in ("10to45", "45-10", "10-10", "-5-10", ""):
        with pytest.raises(InputError) as caught:
            parse_window(bad, "--cortical")
        assert caught.value.field == "--cortical" and "10-45" in caught.value.hint


def test_frames_lie_in_windows_nearest_to_even_targets(cohort) -> None:
    proposal = propose_frames(cohort, WINDOWS, 3)
    template = proposal.template
    assert list(template.columns) == ["patient_id", "file", "frame", "phase", "bmode_box", "ceus_box",
                                      "cortex_box"]
    assert (template[["bmode_box", "ceus_box", "cortex_box"]] == "").all().all()
    assert proposal.template_path == cohort / "annotations_template.csv"
    on_disk = pd.read_csv(proposal.template_path, dtype=str, keep_default_na=False)
    assert on_disk.equals(template.astype(str))
    manifest = read_manifest(cohort / "manifest.csv")
    assert sorted(template["patient_id"].unique()) == sorted(manifest.included)
    assert proposal.skipped.empty
    for file in template["file"].unique():
        times = _dicom_times(cohort / file, 4.0)
        for phase, (start, end) in WINDOWS.items():
            frames = _proposed(template, file, phase)
            assert frames == _expected(times, start, end, 3), (file, phase)
            assert all(start <= times[f] <= end for f in frames)
            assert len(set(frames)) == len(frames)


def test_known_frames_of_the_tiny_video(cohort) -> None:
    # 8 frames 13.143 s apart from -4 s: cortical 10-45 holds frames 2, 3 (22.3, 35.4 s); the covered
    # medullary span is 48.6-88.0 s, targets 58.4 and 78.1 s -> frames 5 (61.7 s) and 6 (74.9 s)
    template = propose_frames(cohort, WINDOWS, 2).template
    for file in template["file"].unique():
        assert _proposed(template, file, "cortical") == [2, 3]
        assert _proposed(template, file, "medullary") == [5, 6]
    one = propose_frames(cohort, {"cortical": (10.0, 45.0)}, 1).template
    assert set(one["frame"]) == {2} and set(one["phase"]) == {"cortical"}  # centre 28.9 s: 22.3 is nearer


def test_skipped_videos_have_reasons(cohort) -> None:
    ds = pydicom.dcmread(cohort / "videos/RC0001.dcm")
    for keyword in TIMING:
        delattr(ds, keyword)
    ds.save_as(cohort / "videos/RC0001.dcm")
    _set_injection(cohort, {"RC0002": ""})
    proposal = propose_frames(cohort, {"cortical": (10.0, 45.0), "medullary": (100.0, 150.0)}, 2)
    skipped = proposal.skipped
    assert list(skipped.columns) == ["patient_id", "file", "phase", "reason"]
    by_patient = {pid: rows for pid, rows in skipped.groupby("patient_id")}
    assert by_patient["RC0001"]["phase"].tolist() == [""]
    assert by_patient["RC0001"]["reason"].iat[0].startswith("no frame timing")
    assert by_patient["RC0002"]["reason"].tolist() == [
        "no injection time (injection_s is empty in the manifest)"]
    others = skipped[~skipped["patient_id"].isin(["RC0001", "RC0002"])]
    assert len(others) == 10 and (others["phase"] == "medullary").all()
    assert others["reason"].str.startswith("too short for the medullary window 100-150 s").all()
    assert others["reason"].str.contains("covers -4.0 to 88.0 s").all()
    template = proposal.template
    assert not template["patient_id"].isin(["RC0001", "RC0002"]).any()
    assert set(template["phase"]) == {"cortical"} and template["patient_id"].nunique() == 10
    written = pd.read_csv(cohort / "annotations_template_skipped.csv", dtype=str, keep_default_na=False)
    assert written.equals(skipped.astype(str))


def test_frame_time_vector_takes_precedence(cohort) -> None:
    path = cohort / "videos/RC0003.dcm"
    ds = pydicom.dcmread(path)
    increments = [0, 1000, 2000, 30000, 500, 500, 40000, 1000]  # ms; the first is 0 (PS3.3 C.7.6.5.1.2)
    ds.FrameTimeVector = increments
    ds.save_as(path)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert int(header.NumberOfFrames) == len(increments)
    times = video_times(path, read_header(path))
    np.testing.assert_allclose(times, np.cumsum(increments) / 1000.0)
    template = propose_frames(cohort, {"cortical": (0.0, 30.0)}, 5).template
    # since injection: -4, -3, -1, 29, 29.5, 30, 70, 71 s; the window 0-30 holds frames 3, 4, 5 and its
    # covered span is 29-30 s: targets 29.1, 29.3, 29.5, 29.7, 29.9 -> 3, 4, 4, 5, 5, each kept once
    assert _proposed(template, "videos/RC0003.dcm", "cortical") == [3, 4, 5]


@pytest.mark.parametrize(("vector", "needle"), [
    ([1000, 2000, 30000, 500, 500, 40000, 1000], None),  # frames − 1 values: accepted, see below
    ([0, 1000, 2000], "holds 3 value(s) but Number of Frames is 8"),
    ([0, 1000, 2000, 30000, 0, 500, 40000, 1000], "value 5 (0 ms) is not a positive increment"),
    ([0, 1000, 2000, 30000, -5, 500, 40000, 1000], "value 5 (-5 ms) is not a positive increment"),
    ([0, 1000, "soon", 30000, 5, 500, 40000, 1000], "value 3 (soon ms) is not a positive increment"),
])
def test_a_frame_time_vector_must_fit_the_frames(cohort, tmp_path, vector, needle) -> None:
    """PS3.3 C.7.6.5.1.2: one increment per frame, the first 0; a vector that does not fit Number of
    Frames makes the frame numbering untrustworthy, so every reader of the header refuses it (it was
    silently ignored before), exit code 2 from the CLI and no store left by ingest."""
    path = cohort / "videos/RC0003.dcm"
    ds = pydicom.dcmread(path)
    if all(isinstance(v, int) for v in vector):
        ds.FrameTimeVector = [str(v) for v in vector]
    else:  # a value DS cannot hold, written under another VR as a broken exporter might
        ds.add(pydicom.DataElement(0x00181065, "LO", [str(v) for v in vector]))
    ds.save_as(path)
    if needle is None:  # 7 values for 8 frames: read as missing its leading 0
        np.testing.assert_allclose(video_times(path, read_header(path)), np.cumsum([0, *vector]) / 1000.0)
        return
    with pytest.raises(DataError) as caught:
        read_header(path)
    assert caught.value.field == "FrameTimeVector" and needle in caught.value.message
    assert caught.value.file == str(path)
    bad = CliRunner().invoke(cli, ["frames", str(cohort), "--out", str(tmp_path / "t.csv")])
    assert bad.exit_code == 2 and needle in bad.output and "Traceback" not in bad.output, bad.output
    assert not (tmp_path / "t.csv").exists()
    with pytest.raises(DataError) as caught:
        ingest(cohort, tmp_path / "stores", size=32)
    assert caught.value.field == "FrameTimeVector" and "RC0003.dcm" in caught.value.file
    assert not (tmp_path / "stores").exists() or not any((tmp_path / "stores").iterdir())


def test_a_variable_frame_rate_video_keeps_its_presentation_times(cohort) -> None:
    """A plain video's frame times are its packets' pts (s, from the first), not the average rate."""
    import av

    (cohort / "videos/RC0001.dcm").unlink()
    path = cohort / "videos/RC0001.mp4"
    times_ms = [0, 100, 200, 1200, 1250, 1300, 5300, 5400]  # a burst, a pause, a burst
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bframes": "0"}
        for k, t in enumerate(times_ms):
            picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * k, np.uint8), format="rgb24")
            picture.pts, picture.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    header = read_container_header(path)
    assert header.frames == 8
    np.testing.assert_allclose(video_times(path, header), np.asarray(times_ms) / 1000.0, atol=1e-9)
    average = np.arange(8) * header.attributes["FrameTime"] / 1000.0  # what the average rate would give
    assert np.abs(average - np.asarray(times_ms) / 1000.0).max() > 1.0


def test_plain_video_uses_the_container_frame_rate(cohort) -> None:
    (cohort / "videos/RC0001.dcm").unlink()
    pixels = np.random.default_rng(0).integers(0, 256, (8, 32, 32), dtype=np.uint8)
    write_mp4(cohort / "videos/RC0001.mp4", pixels, 250.0, {})
    assert read_container_header(cohort / "videos/RC0001.mp4").attributes["FrameTime"] == 250.0
    _set_injection(cohort, {"RC0001": "0.5"})
    template = propose_frames(cohort, {"cortical": (0.0, 1.0), "medullary": (1.1, 100.0)}, 2).template
    # since injection -0.5 + 0.25 k: cortical targets 0.25, 0.75 s -> frames 3, 5; medullary: frame 7 only
    assert _proposed(template, "videos/RC0001.mp4", "cortical") == [3, 5]
    assert _proposed(template, "videos/RC0001.mp4", "medullary") == [7]


def test_template_and_the_annotation_reader(cohort) -> None:
    proposal = propose_frames(cohort, WINDOWS, 2)
    manifest = read_manifest(cohort / "manifest.csv")
    with pytest.raises(DataError) as caught:  # empty boxes: the reader names the first row and column
        read_annotations(proposal.template_path, manifest, cohort)
    assert (caught.value.row, caught.value.field) == (1, "bmode_box") and "''" in caught.value.message
    filled = proposal.template.assign(bmode_box="2,20,30,50", ceus_box="90,20,120,50")
    filled.to_csv(proposal.template_path, index=False)
    annotations = read_annotations(proposal.template_path, manifest, cohort)
    assert [(a.patient_id, a.frame, a.phase) for a in annotations] == list(
        zip(filled["patient_id"], filled["frame"], filled["phase"]))


def test_errors(cohort, synthetic) -> None:
    before = (cohort / "annotations.csv").read_bytes()
    with pytest.raises(InputError) as caught:
        propose_frames(cohort, WINDOWS, 2, out=cohort / "annotations.csv")
    assert caught.value.field == "--out"
    assert (cohort / "annotations.csv").read_bytes() == before
    with pytest.raises(InputError) as caught:
        propose_frames(cohort, {"cortical": (10.0, 50.0), "medullary": (45.0, 180.0)}, 2)
    assert caught.value.field == "--medullary" and "overlap" in caught.value.message
    with pytest.raises(InputError) as caught:
        propose_frames(cohort, WINDOWS, 0)
    assert caught.value.field == "--per-phase"
    with pytest.raises(DataError) as caught:
        propose_frames(cohort.parent / "missing", WINDOWS, 2)
    assert "cohort folder not found" in caught.value.message
    manifest = pd.read_csv(cohort / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.drop(columns="injection_s").to_csv(cohort / "manifest.csv", index=False)
    with pytest.raises(DataError) as caught:  # a manifest without the column (cohort format 2)
        propose_frames(cohort, WINDOWS, 2, out=cohort / "t.csv")
    assert caught.value.field == "injection_s"
    manifest.to_csv(cohort / "manifest.csv", index=False)
    _set_injection(cohort, {"RC0004": "soon"})
    with pytest.raises(DataError) as caught:
        propose_frames(cohort, WINDOWS, 2)
    assert (caught.value.row, caught.value.field) == (4, "injection_s")


def test_cli_exit_codes(cohort, tmp_path) -> None:
    out = tmp_path / "proposed.csv"
    ok = CliRunner().invoke(cli, ["frames", str(cohort), "--cortical", "10-45", "--medullary", "45-180",
                                  "--per-phase", "2", "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "48 frames of 12 videos (24 cortical, 24 medullary)" in ok.output
    assert len(pd.read_csv(out)) == 48 and (tmp_path / "proposed_skipped.csv").is_file()
    for args, needle in ((["--cortical", "10to45"], "--cortical"), (["--cortical", "10-50"], "overlap"),
                         (["--per-phase", "0"], "--per-phase"), (["--out", str(cohort / "annotations.csv")],
                                                                 "never overwrites")):
        bad = CliRunner().invoke(cli, ["frames", str(cohort), *args])
        assert bad.exit_code == 2 and needle in bad.output and "Traceback" not in bad.output, bad.output
    missing = CliRunner().invoke(cli, ["frames", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "cohort folder not found" in missing.output
