"""Video DICOM (MPEG-2, H.264, HEVC) and plain MP4 files: written by the generator, decoded by ingestion.

Known answers: the generator's uncompressed rendering of the same seed
(:func:`~studykit.cohort.synth.render_patient`), against which every decoded frame must reach a
PSNR floor; the BT.601 limited-range quantisation (Y 16 → 0, 235 → 255); the frames the
decoder produced (counted); the planted PHI of the MP4 metadata.
"""

from __future__ import annotations

import itertools
import sys

import av
import numpy as np
import pandas as pd
import pydicom
import pytest
from click.testing import CliRunner

from studykit.cli import commands  # noqa: F401  (registers the commands, as main() does)
from studykit.cli.app import cli
from studykit.cohort import dicom, video
from studykit.cohort.ingest import ingest
from studykit.cohort.synth import dicom as writer
from studykit.cohort.synth import render_patient, synthesize
from studykit.errors import DataError

#: Least PSNR (dB) of every tiny-cohort video against its rendering; measured minima over the
#: 12 videos (means): MPEG-2 (qscale 2) 43.4 (43.7), H.264 (CRF 16, no mbtree) 46.9 (47.9),
#: HEVC (CRF 16) 48.3 (48.7), MP4 (the same H.264) 46.9 (47.9).
FLOORS = {"mpeg2": 42.0, "h264": 46.0, "hevc": 47.0, "mp4": 46.0}
UIDS = {"mpeg2": "1.2.840.10008.1.2.4.100", "h264": "1.2.840.10008.1.2.4.102",
        "hevc": "1.2.840.10008.1.2.4.107"}


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    """One tiny synthetic cohort per video format (12 patients, 8 frames of 72 × 160)."""
    root = tmp_path_factory.mktemp("video")
    return {syntax: (root / syntax, synthesize(root / syntax, tiny=True, syntax=syntax)) for syntax in FLOORS}


def _header(path):
    return video.read_container_header(path) if video.is_container(path) else dicom.read_header(path)


def _decode_all(path) -> np.ndarray:
    header = _header(path)
    frames = dicom.iter_frames(path, range(header.frames), header=header, luma_only=True)
    return np.stack([pixels[..., 0] for _, pixels, _ in frames])


@pytest.mark.parametrize("syntax", list(FLOORS))
def test_every_video_decodes_close_to_its_rendering(cohorts, syntax):
    folder, summary = cohorts[syntax]
    assert sum(summary.transfer_syntaxes.values()) == summary.patients == 12
    files = sorted((folder / "videos").iterdir())
    assert [p.suffix for p in files] == [".mp4" if syntax == "mp4" else ".dcm"] * 12
    worst = np.inf
    for path in files:
        reference = render_patient(path.stem, tiny=True).video
        decoded = _decode_all(path)
        assert decoded.shape == reference.shape == (8, 72, 160)
        worst = min(worst, writer.psnr(decoded, reference))
    assert FLOORS[syntax] <= worst < 56.7  # lossy, but close; 56.7 dB: the 8-bit → 220-level Y round trip


@pytest.mark.parametrize("syntax", ["mpeg2", "h264", "hevc"])
def test_video_dicom_attributes_and_panels(cohorts, syntax):
    folder, _ = cohorts[syntax]
    ds = pydicom.dcmread(folder / "videos" / "RC0001.dcm")
    assert ds.file_meta.TransferSyntaxUID == UIDS[syntax]
    assert ds.PhotometricInterpretation == "YBR_PARTIAL_420"
    assert (ds.SamplesPerPixel, ds.PlanarConfiguration) == (3, 0)
    assert (ds.BitsAllocated, ds.BitsStored, ds.NumberOfFrames, ds.LossyImageCompression) == (8, 8, 8, "01")
    assert float(ds.FrameTime) == 13143 and ds.CineRate == 1  # 8 frames over 92 s
    fragments = list(pydicom.encaps.generate_fragments(ds.PixelData))
    assert fragments[0] == b"" and len(fragments) == 2  # empty Basic Offset Table, then the stream
    pairs = ingest(folder, folder.parent / f"store-{syntax}", size=16)
    assert {s["layout"] for s in pairs.meta["inputs"]["sources"]} == {"dual"}  # boxes inside their panels
    assert len(pairs.index) == len(pd.read_csv(folder / "annotations.csv"))


@pytest.mark.parametrize("uid", sorted(video.VIDEO_SYNTAXES))
def test_every_video_syntax_uid_decodes_its_stream(cohorts, tmp_path, uid):
    """MPEG-2 (.100, .101), H.264 (.102–.106, the stereo/3-D ones included), HEVC (.107, .108), ± .1."""
    source = {"mpegvideo": "mpeg2", "h264": "h264", "hevc": "hevc"}[video.VIDEO_SYNTAXES[uid]]
    ds = pydicom.dcmread(cohorts[source][0] / "videos" / "RC0005.dcm")
    ds.file_meta.TransferSyntaxUID = uid
    ds.save_as(tmp_path / "v.dcm")
    header = dicom.read_header(tmp_path / "v.dcm")
    (index, pixels, _), = dicom.iter_frames(tmp_path / "v.dcm", [3], header=header)
    assert index == 3 and writer.psnr(pixels[..., 0], render_patient("RC0005", tiny=True).video[3]) > 40


def test_hevc_main10_luma_is_scaled_from_ten_bits(cohorts, tmp_path):
    """Y = 4·(16 + 50 k) at 10 bits (limited range) reads as round(50 k · 255/219) = 0, 58, 116, 175."""
    import io

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="hevc") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p10le"
        stream.options = {"crf": "16", "x265-params": "log-level=error"}
        for k in range(4):
            planes = np.concatenate([np.full((48, 64), 4 * (16 + 50 * k), np.uint16),
                                     np.full((24, 64), 512, np.uint16)])
            picture = av.VideoFrame.from_ndarray(planes, format="yuv420p10le")
            picture.pts = k
            for packet in [*stream.encode(picture), *([] if k < 3 else stream.encode())]:
                out.mux(packet)
    ds = pydicom.dcmread(cohorts["hevc"][0] / "videos" / "RC0001.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.108"
    ds.Rows, ds.Columns, ds.NumberOfFrames, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 48, 64, 4, 16, 10, 9
    ds.PixelData = pydicom.encaps.encapsulate([buffer.getvalue()], has_bot=False)
    ds.save_as(tmp_path / "main10.dcm")
    header = dicom.read_header(tmp_path / "main10.dcm")
    levels = [np.unique(p).tolist() for _, p, _ in dicom.iter_frames(tmp_path / "main10.dcm", range(4),
                                                                      header=header)]
    assert levels == [[0], [58], [116], [175]]


def test_limited_range_quantisation_of_the_gray_levels():
    """BT.601 limited range: Y = 16 + 219 g/255 on writing, g = (Y − 16)·255/219 on reading."""
    gray = np.tile(np.arange(256, dtype=np.uint8), (2, 1))
    picture = av.VideoFrame.from_ndarray(writer._yuv420(gray), format="yuv420p")
    back = video.luma8(picture)[0].astype(int)
    assert np.abs(back - gray[0]).max() == 1 and np.all(np.diff(back) >= 0)  # 256 → 220 levels: ±1, monotone
    assert len(np.unique(back)) == 220 and (back[0], back[255]) == (0, 255)
    levels = np.array([[16, 235, 126, 0]], np.uint8).repeat(2, 0)
    stack = np.concatenate([levels, np.full((1, 4), 128, np.uint8)])  # Y (2 × 4), then U and V (1 × 2 each)
    assert video.luma8(av.VideoFrame.from_ndarray(stack, format="yuv420p"))[0].tolist() == [0, 255, 128, 0]
    image = pydicom.Dataset()
    image.PhotometricInterpretation, image.BitsAllocated, image.BitsStored = "YBR_PARTIAL_420", 8, 8
    raw = levels[..., None].repeat(3, 2)  # a raw YBR_PARTIAL decode, as pydicom would give it
    assert dicom.gray_converter(image)(raw)[0].tolist() == [0, 255, 128, 0]
    full = av.VideoFrame.from_ndarray(stack, format="yuvj420p")
    assert video.luma8(full)[0].tolist() == [16, 235, 126, 0]  # full ("JPEG") range kept as is


def test_odd_frames_are_padded_and_streams_are_deterministic():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 33, 47), dtype=np.uint8)
    padded = writer.even_frames(clip)
    assert padded.shape == (3, 34, 48)
    assert np.array_equal(padded[:, :33, :47], clip) and np.array_equal(padded[:, 33, :47], clip[:, 32])
    rendered = render_patient("RC0002", tiny=True).video  # libx264 with mbtree varied on this one
    for syntax in ("mpeg2_main_main", "h264_high_41", "hevc_main"):
        assert len({writer.encode_stream(rendered, syntax, 13143.0) for _ in range(6)}) == 1, syntax


def test_only_the_needed_frames_are_decoded(cohorts, monkeypatch):
    path = cohorts["h264"][0] / "videos" / "RC0002.dcm"
    header = dicom.read_header(path)
    counted = []
    original = video._decoded

    def counting(container):
        for frame in original(container):
            counted.append(frame)
            yield frame

    monkeypatch.setattr(video, "_decoded", counting)
    everything = _decode_all(path)
    assert len(counted) == 8
    for wanted, decoded in (([0], 1), ([2, 4], 5), ([7], 8)):
        counted.clear()
        got = list(dicom.iter_frames(path, wanted, header=header))
        assert [i for i, _, _ in got] == wanted and len(counted) == decoded
        for index, pixels, _ in got:  # frame k of the stream is DICOM frame k
            assert np.array_equal(pixels[..., 0], everything[index])


@pytest.mark.parametrize(("stated", "wanted", "message"), [
    (10, [9], "holds 8 decodable frame(s) but the header says 10"),
    (6, [5], "holds 8 decodable frame(s) but the header says 6"),
])
def test_number_of_frames_must_match_the_stream(cohorts, tmp_path, stated, wanted, message):
    ds = pydicom.dcmread(cohorts["hevc"][0] / "videos" / "RC0003.dcm")
    ds.NumberOfFrames = stated
    path = tmp_path / "wrong.dcm"
    ds.save_as(path)
    header = dicom.read_header(path, name="videos/wrong.dcm")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        list(dicom.iter_frames(path, wanted, header=header, name="videos/wrong.dcm"))
    assert info.value.file == "videos/wrong.dcm" and "re-export" in info.value.hint
    assert len(list(dicom.iter_frames(path, [1, 4], header=header))) == 2  # earlier frames still decode


def test_missing_pyav_is_a_clear_error(cohorts, monkeypatch):
    dcm = cohorts["mpeg2"][0] / "videos" / "RC0001.dcm"
    mp4 = cohorts["mp4"][0] / "videos" / "RC0001.mp4"
    monkeypatch.setitem(sys.modules, "av", None)
    for read in (lambda: dicom.read_header(dcm, name="videos/RC0001.dcm"),
                 lambda: video.read_container_header(mp4, name="videos/RC0001.mp4")):
        with pytest.raises(DataError, match="needs PyAV") as info:
            read()
        assert "pip install 'studykit[video]'" in info.value.hint and "pip install av" in info.value.hint
        assert info.value.file.startswith("videos/RC0001.")
    with pytest.raises(DataError, match="MPEG2 Main Profile"):  # names the syntax
        dicom.read_header(dcm)
    cohort = dcm.parent.parent
    result = CliRunner().invoke(cli, ["ingest", str(cohort), "--store-root", str(cohort / "s")])
    assert result.exit_code == 2 and "studykit[video]" in result.output and "Traceback" not in result.output
    assert not (cohort / "s").exists()  # nothing written


def test_mp4_ingests_end_to_end_without_leaking_its_metadata(cohorts, tmp_path):
    folder, _ = cohorts["mp4"]
    dicom_twin = pydicom.dcmread(cohorts["h264"][0] / "videos" / "RC0001.dcm", stop_before_pixels=True)
    planted = set()
    for path in (folder / "videos").glob("*.mp4"):
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
        assert {"title", "comment", "artist", "creation_time"} <= set(tags)
        planted |= {tags["title"], tags["comment"], tags["artist"], *tags["title"].split()}
        planted |= set(tags["comment"].split("; "))
        assert all(v.encode() in path.read_bytes() for v in (tags["title"], tags["comment"]))
    assert str(dicom_twin.PatientName) in planted and len(planted) >= 40
    header = video.read_container_header(folder / "videos" / "RC0001.mp4")
    assert (header.frames, header.rows, header.columns, header.regions) == (8, 72, 160, ())
    timing = {"Container": "mp4", "CineRate": 0.076, "FrameTime": 13143.0}  # from the container
    assert header.attributes == timing
    store = tmp_path / "store"
    pairs = ingest(folder, store, size=16, workers=2)
    twin = ingest(cohorts["h264"][0], tmp_path / "twin", size=16)
    same = writer.psnr(pairs.images, twin.images)  # the same encoder settings as the H.264 DICOM
    assert same > 50 and np.abs(pairs.images.astype(int) - twin.images).max() <= 3
    assert {s["layout"] for s in pairs.meta["inputs"]["sources"]} == {"single"}  # no regions in an MP4
    files = [p for p in store.rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        data = path.read_bytes()
        assert not [v for v in planted if v.encode() in data], path.name


def test_synth_cli_writes_a_video_syntax(tmp_path):
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "c"), "--tiny", "--syntax", "mpeg2"])
    assert result.exit_code == 0, result.output
    assert dicom.read_header(tmp_path / "c" / "videos" / "RC0001.dcm").transfer_syntax == UIDS["mpeg2"]
    bad = CliRunner().invoke(cli, ["synth", str(tmp_path / "d"), "--tiny", "--syntax", "mpeg4"])
    assert bad.exit_code == 2 and "mpeg4" in bad.output


def test_truncated_stream_is_a_clear_error(cohorts, tmp_path):
    ds = pydicom.dcmread(cohorts["h264"][0] / "videos" / "RC0006.dcm")
    stream = list(pydicom.encaps.generate_fragments(ds.PixelData))[1]
    ds.PixelData = pydicom.encaps.encapsulate([stream[: len(stream) // 3]], has_bot=False)
    ds.save_as(tmp_path / "cut.dcm")
    header = dicom.read_header(tmp_path / "cut.dcm")
    assert len(list(dicom.iter_frames(tmp_path / "cut.dcm", [0], header=header))) == 1
    with pytest.raises(DataError, match=r"decodable frame\(s\) but the header says 8") as info:
        list(dicom.iter_frames(tmp_path / "cut.dcm", [0, 7], header=header, name="videos/cut.dcm"))
    assert info.value.file == "videos/cut.dcm"


def test_a_frame_asked_twice_comes_twice(cohorts):
    path = cohorts["mpeg2"][0] / "videos" / "RC0001.dcm"
    got = [i for i, _, _ in dicom.iter_frames(path, [1, 1, 3], header=dicom.read_header(path))]
    assert got == [1, 1, 3]


def test_fragments_are_read_lazily_and_concatenated(cohorts, tmp_path):
    """The stream is read from the file as the demuxer asks, never a whole fragment at once."""
    source = cohorts["h264"][0] / "videos" / "RC0004.dcm"
    ds = pydicom.dcmread(source)
    stream = list(pydicom.encaps.generate_fragments(ds.PixelData))[1]
    header = dicom.read_header(source)
    with open(source, "rb", buffering=0) as fp:  # unbuffered: tell() is what was read
        lazy = video._FragmentStream(fp, header.pixel_offset)
        chunk = bytearray(4096)
        assert lazy.readinto(chunk) == 4096 and bytes(chunk) == stream[:4096]
        assert fp.tell() == header.pixel_offset + 8 + 8 + 4096  # BOT item, stream item, 4 KiB
        assert len(stream) > 4 * 4096
    # several fragments of uneven (but even-length, as DICOM pads them) sizes, and a Basic
    # Offset Table, read back as the one stream
    half = len(stream) // 4 * 2
    cuts = [0, 2, 4098, half, half + 2, len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(cuts)]
    ds.PixelData = pydicom.encaps.encapsulate(pieces, has_bot=True)
    ds.save_as(tmp_path / "split.dcm")
    split = dicom.read_header(tmp_path / "split.dcm")
    with open(tmp_path / "split.dcm", "rb") as fp:
        assert video._FragmentStream(fp, split.pixel_offset).read() == stream
    assert np.array_equal(_decode_all(tmp_path / "split.dcm"), _decode_all(source))


def test_a_file_cut_inside_its_fragment_is_a_clear_error(cohorts, tmp_path):
    data = (cohorts["h264"][0] / "videos" / "RC0005.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) * 2 // 3])
    header = dicom.read_header(tmp_path / "cut.dcm")
    with pytest.raises(DataError, match=r"decodable frame\(s\) but the header says 8") as info:
        list(dicom.iter_frames(tmp_path / "cut.dcm", [0, 7], header=header, name="videos/cut.dcm"))
    assert info.value.file == "videos/cut.dcm"
