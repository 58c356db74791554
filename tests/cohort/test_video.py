"""Video DICOM (MPEG-2, H.264, HEVC) and plain MP4 files: written by the generator, decoded by ingestion.

Known answers: the generator's uncompressed rendering of the same seed
(:func:`~studykit.cohort.synth.render_patient`), against which every decoded frame must reach a
PSNR floor; the BT.601 limited-range quantisation (Y 16 → 0, 235 → 255); the frames the
decoder produced (counted); the planted PHI of the MP4 metadata. Seeking: every frame
reached by a seek is byte-identical to the same frame of a sequential decode from frame 0,
the entry points are the key frames the decoder itself marks (closed GOPs) or none (open
GOPs), and the pictures decoded match a brute-force count (:func:`_pictures_to_decode`).
"""

from __future__ import annotations

import io
import itertools
import re
import sys

import av
import numpy as np
import pandas as pd
import pydicom
import pytest
from click.testing import CliRunner

from studykit.cli import commands  # noqa: F401  (registers the commands, as main() does)
from studykit.cli.app import cli
from studykit.cohort import crop_jobs, dicom, video
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


def _decode_all(path, *, luma_only: bool = False) -> np.ndarray:
    """Every frame as 8-bit gray; ``luma_only``: the stored Y planes reduced by their gray converter."""
    header = _header(path)
    frames = dicom.iter_frames(path, range(header.frames), header=header, luma_only=luma_only)
    return np.stack([dicom.gray_converter(image)(pixels) for _, pixels, image in frames])


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
        # the stored Y planes (what ingestion crops before converting) reduce to the same gray
        np.testing.assert_array_equal(_decode_all(path, luma_only=True), decoded)
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
    stored = [(np.unique(p).tolist(), dicom.gray_converter(image)(p)) for _, p, image in
              dicom.iter_frames(tmp_path / "main10.dcm", range(4), header=header, luma_only=True)]
    assert [codes for codes, _ in stored] == [[64], [264], [464], [664]]  # the 10-bit codes, unconverted
    assert [np.unique(gray).tolist() for _, gray in stored] == levels


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
    for frame, expected in ((av.VideoFrame.from_ndarray(stack, format="yuv420p"), [0, 255, 128, 0]),
                            (full, [16, 235, 126, 0])):
        plane, image = video._stored_luma(frame)  # what ingestion crops, then converts
        assert plane.tolist() == levels.tolist()
        assert dicom.gray_converter(image)(plane[..., None])[0].tolist() == expected


@pytest.mark.parametrize("syntax", ["h264", "mp4"])
def test_the_store_does_not_depend_on_the_decoder_threads(cohorts, tmp_path, monkeypatch, syntax):
    """Ingest decodes with FFmpeg threads on the CPUs its workers leave idle; the pixels are the same."""
    folder, _ = cohorts[syntax]
    seen, original = [], video._threaded
    monkeypatch.setattr(video, "_threaded", lambda container, threads: seen.append(threads) or
                        original(container, threads))
    images = []
    for threads in (1, 3):
        monkeypatch.setattr(crop_jobs, "decoder_threads", lambda workers, t=threads: t)
        images.append(np.asarray(ingest(folder, tmp_path / f"threads{threads}", size=48).images).tobytes())
    assert images[0] == images[1] and set(seen) == {1, 3}


def test_decoder_threads_share_the_cpus_among_the_workers(monkeypatch):
    for cpus, workers, threads in ((2, 1, 2), (4, 2, 2), (4, 3, 1), (2, 4, 1), (32, 1, 8), (1, 1, 1)):
        monkeypatch.setattr(crop_jobs.os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)))
        assert crop_jobs.decoder_threads(workers) == threads, (cpus, workers)


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


# --- seeking to safe entry points (issue 14) ---------------------------------------------------

#: Long-clip tests: 40 frames (the tiny rendering five times, panned 2 px a frame), a key frame
#: every KEYINT frames, so key frames fall at 0, 8, 16, 24, 32.
KEYINT, CLIP_FRAMES = 8, 40
#: Sparse requests: first frame, right before / at / right after key frames, middle runs, last.
SPARSE = ([0], [7], [8], [9], [15, 16, 17], [3, 20, 21, 33], [39], [0, 39], [12, 12, 30], [23, 24, 38, 39])
SEEK_SYNTAXES = {"mpeg2": "mpeg2_main_main", "h264": "h264_high_41", "hevc": "hevc_main"}


@pytest.fixture(scope="module")
def clip():
    tiny = np.concatenate([render_patient("RC0001", tiny=True).video] * 5)
    return np.stack([np.roll(frame, 2 * k, axis=1) for k, frame in enumerate(tiny)])


def _stream_dicom(cohorts, path, syntax: str, stream: bytes, frames: int):
    """A copy of a generator video DICOM holding ``stream`` (syntax ``syntax``) and ``frames`` frames."""
    ds = pydicom.dcmread(cohorts[syntax][0] / "videos" / "RC0001.dcm")
    ds.NumberOfFrames = frames
    ds.PixelData = pydicom.encaps.encapsulate([stream], has_bot=False)
    ds.save_as(path)
    return path


def _units(stream: bytes, syntax: str):
    """(start, end, code) of each start-code unit of an elementary stream (code: NAL type / MPEG-2 code)."""
    starts = [m.start() for m in re.finditer(b"\x00\x00\x01", stream)] + [len(stream)]
    for a, b in itertools.pairwise(starts):
        head = stream[a + 3]
        yield a, b, {"h264": head & 0x1F, "hevc": head >> 1 & 0x3F, "mpeg2": head}[syntax]


def _strip_repeated_parameter_sets(stream: bytes, syntax: str) -> bytes:
    """``stream`` with the parameter sets (SPS/PPS; VPS/SPS/PPS; MPEG-2 sequence header and its
    extensions) kept only before the first picture, as some scanners write them."""
    sets, pictures = {"h264": {7, 8}, "hevc": {32, 33, 34}, "mpeg2": {0xB3}}[syntax], 0
    kept, in_header = [], False
    for a, b, code in _units(stream, syntax):
        if syntax == "mpeg2":
            in_header = code == 0xB3 or (in_header and code in (0xB5, 0xB2))
            drop = in_header and pictures > 0
            pictures += code == 0x00
        else:
            drop = code in sets and pictures > 0
            pictures += code not in sets and code < 32
        if not drop:
            kept.append(stream[a:b])
    return b"".join(kept)


def _counting(monkeypatch) -> list:
    """Patch ``video._decoded`` to count the decoded pictures; the list grows by one per picture."""
    counted, original = [], video._decoded

    def counting(container):
        for frame in original(container):
            counted.append(frame.pts)
            yield frame

    monkeypatch.setattr(video, "_decoded", counting)
    return counted


def _check_sparse(path, full: np.ndarray, counted: list) -> list[int]:
    """Each SPARSE request gives the frames of the sequential decode ``full``; the pictures decoded."""
    header = _header(path)
    decoded = []
    for wanted in SPARSE:
        counted.clear()
        got = list(dicom.iter_frames(path, wanted, header=header))
        assert [i for i, _, _ in got] == wanted
        for index, pixels, _ in got:
            assert np.array_equal(pixels[..., 0], full[index]), (wanted, index)
        decoded.append(len(counted))
    return decoded


def _pictures_to_decode(wanted: list[int], keys: list[int]) -> int:
    """Reference count: a decoder that restarts at the last key frame at or before a wanted frame
    whenever that key frame lies past the next picture it would give."""
    count, following = 0, None
    for frame in wanted:
        key = max(k for k in keys if k <= frame)
        if following is None or key > following:
            following = key
        if frame >= following:
            count, following = count + frame - following + 1, frame + 1
    return count


def _key_frames(path) -> list[int]:
    """Presentation indices of the pictures the decoder marks key frames (a sequential decode)."""
    header = _header(path)
    if header.container:
        with av.open(str(path)) as container:
            return [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]
    ds = pydicom.dcmread(path)
    stream = list(pydicom.encaps.generate_fragments(ds.PixelData))[1]
    with av.open(io.BytesIO(stream), format=video.VIDEO_SYNTAXES[header.transfer_syntax]) as container:
        return [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]


@pytest.mark.parametrize("syntax", list(SEEK_SYNTAXES))
@pytest.mark.parametrize("gop", ["closed", "closed, parameter sets once", "open"])
def test_seeked_frames_are_the_sequential_frames(cohorts, clip, tmp_path, monkeypatch, syntax, gop):
    """Closed GOPs (IDR, closed MPEG-2 GOPs) are entered mid-stream at their key frames, their
    parameter sets prepended when the stream carries them only at its start; open GOPs (MPEG-2
    closed_gop = 0, HEVC CRA, x264 open-gop) are not safe entry points: decoding starts at frame 0."""
    stream = writer.encode_stream(clip, SEEK_SYNTAXES[syntax], 40.0, keyint=KEYINT, open_gop=gop == "open")
    if "once" in gop:
        stripped = _strip_repeated_parameter_sets(stream, syntax)
        assert len(stripped) < len(stream)
        stream = stripped
    path = _stream_dicom(cohorts, tmp_path / "long.dcm", syntax, stream, CLIP_FRAMES)
    with open(path, "rb") as fp:
        index = video._StreamIndex(video._FragmentStream(fp, dicom.read_header(path).pixel_offset),
                                   video.VIDEO_SYNTAXES[UIDS[syntax]])
    keys = _key_frames(path)
    assert len(keys) >= 5  # a key frame every 6-9 frames
    safe = [0] if gop == "open" else keys
    assert index.complete and index.pictures == CLIP_FRAMES and [e[0] for e in index.entries] == safe
    assert all(prefix for _, _, prefix in index.entries[1:])  # the parameter sets to prepend
    full = _decode_all(path)
    assert writer.psnr(full, clip) > writer.PSNR_FLOOR_DB  # the sequential decode is the clip
    counted = _counting(monkeypatch)
    assert _check_sparse(path, full, counted) == [_pictures_to_decode(w, safe) for w in SPARSE]


def test_seeking_skips_the_pictures_before_the_key_frame(cohorts, clip, tmp_path, monkeypatch):
    """Frame 30 of a stream with IDR pictures every 8 frames: 7 pictures decoded (24–30), not 31."""
    stream = writer.encode_stream(clip, "h264_high_41", 40.0, keyint=KEYINT)
    path = _stream_dicom(cohorts, tmp_path / "long.dcm", "h264", stream, CLIP_FRAMES)
    header = dicom.read_header(path)
    counted = _counting(monkeypatch)
    (index, pixels, _), = dicom.iter_frames(path, [30], header=header)
    assert index == 30 and len(counted) == 7
    counted.clear()
    (_, reference, _), = list(dicom.iter_frames(path, range(31), header=header))[30:]  # no gap: no index
    assert len(counted) == 31 and np.array_equal(pixels, reference)


@pytest.mark.parametrize(("stated", "wanted", "message"), [
    (50, [49], "holds 40 decodable frame(s) but the header says 50"),
    (38, [3, 37], "holds 40 decodable frame(s) but the header says 38"),
])
def test_number_of_frames_is_checked_when_seeking(cohorts, clip, tmp_path, stated, wanted, message):
    """A stream whose picture count is not Number of Frames is not seeked: decoded and counted as before."""
    stream = writer.encode_stream(clip, "hevc_main", 40.0, keyint=KEYINT)
    path = _stream_dicom(cohorts, tmp_path / "wrong.dcm", "hevc", stream, stated)
    header = dicom.read_header(path, name="videos/wrong.dcm")
    with pytest.raises(DataError, match=re.escape(message)) as info:
        list(dicom.iter_frames(path, wanted, header=header, name="videos/wrong.dcm"))
    assert info.value.file == "videos/wrong.dcm"
    right = _stream_dicom(cohorts, tmp_path / "right.dcm", "hevc", stream, CLIP_FRAMES)
    assert [i for i, _, _ in dicom.iter_frames(right, [3, 39], header=dicom.read_header(right))] == [3, 39]


def test_runs_start_at_the_last_entry_point_before_their_first_frame():
    entries = [0, 8, 16, 24]
    assert video._runs([3, 20, 21, 33], entries) == [(0, [3]), (16, [20, 21]), (24, [33])]
    assert video._runs([7, 8, 9], entries) == [(0, [7, 8, 9])]  # 8 follows 7: no gap to skip
    assert video._runs([6, 9], entries) == [(0, [6]), (8, [9])]
    assert video._runs([12, 12, 30], entries) == [(8, [12, 12]), (24, [30])]
    assert video._runs([5, 40], [0]) == [(0, [5, 40])]


def test_fragment_stream_seeks_by_reading_item_headers_only(cohorts, tmp_path):
    ds = pydicom.dcmread(cohorts["h264"][0] / "videos" / "RC0004.dcm")
    stream = list(pydicom.encaps.generate_fragments(ds.PixelData))[1]
    cuts = [0, 2, 4098, len(stream) // 4 * 2, len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(cuts)]
    ds.PixelData = pydicom.encaps.encapsulate(pieces, has_bot=True)
    ds.save_as(tmp_path / "split.dcm")
    offset = dicom.read_header(tmp_path / "split.dcm").pixel_offset
    with open(tmp_path / "split.dcm", "rb", buffering=0) as fp:
        lazy = video._FragmentStream(fp, offset)
        for position in (5000, 1, len(stream) - 3, 4098, 0, 4097):
            assert lazy.seek(position) == position == lazy.tell()
            got = b""
            while len(got) < 7 and (more := lazy.read(7 - len(got))):  # a raw read stops at a fragment end
                got += more
            assert got == stream[position:position + 7]
        assert lazy.seek(0, io.SEEK_END) == len(stream) and lazy.read(4) == b""
        lazy.seek(len(stream) - 10)
        before = fp.tell()
        assert lazy.seek(4, io.SEEK_CUR) == len(stream) - 6 and fp.tell() == before + 4  # no bytes read
        assert lazy.read() == stream[-6:]


def _write_video_file(path, clip: np.ndarray, fmt: str, codec: str, *, open_gop: bool = False):
    """``clip`` as ``codec`` in a ``fmt`` file, a key frame every KEYINT frames (the generator's settings)."""
    options = writer.VIDEO_CODECS["hevc_main" if codec == "libx265" else "mp4"][2]
    with av.open(str(path), "w", format=fmt) as container:
        options = writer.gop_options(codec, options, KEYINT, open_gop)
        writer._encode_into(container, clip, codec, options, 40.0)
    return path


@pytest.mark.parametrize(("suffix", "fmt", "codec", "open_gop"), [
    (".mp4", "mp4", "libx264", False), (".mp4", "mp4", "libx264", True), (".mov", "mov", "libx265", True),
    (".mkv", "matroska", "libx264", False), (".mkv", "matroska", "libx265", False),
])
def test_container_seeks_land_on_key_frames(clip, tmp_path, monkeypatch, suffix, fmt, codec, open_gop):
    """Frame k is the k-th smallest packet pts; seeks land on the key frame at or before a run."""
    if suffix == ".mp4" and not open_gop:
        path = tmp_path / "long.mp4"
        writer.write_mp4(path, clip, 40.0, {"title": "x"}, keyint=KEYINT)  # the generator's own writer
    else:
        path = _write_video_file(tmp_path / f"long{suffix}", clip, fmt, codec, open_gop=open_gop)
    order, keys, time_base = video._presentation(av, str(path))
    assert len(order) == CLIP_FRAMES and keys == _key_frames(path) == list(range(0, CLIP_FRAMES, KEYINT))
    times = video.container_times(path, _header(path))  # written at 40 ms a frame
    np.testing.assert_allclose(times, (np.asarray(order) - order[0]) * float(time_base))
    np.testing.assert_allclose(times, np.arange(CLIP_FRAMES) * 0.040, atol=1e-3)
    full = _decode_all(path)
    assert full.shape == clip.shape and writer.psnr(full, clip) > writer.PSNR_FLOOR_DB
    assert _check_sparse(path, full, _counting(monkeypatch)) == [_pictures_to_decode(w, keys) for w in SPARSE]


def test_avi_is_decoded_from_its_start(clip, tmp_path, monkeypatch):
    """FFmpeg gives AVI packets decode-order times (no presentation times): no seek."""
    path = _write_video_file(tmp_path / "long.avi", clip, "avi", "libx264")
    with av.open(str(path)) as container:
        pts = [p.pts for p in container.demux(video=0) if p.size]
    with av.open(str(path)) as container:
        decoded = [f.pts for f in container.decode(video=0)]
    assert pts == sorted(pts) and decoded != sorted(decoded)  # packet order is not presentation order
    assert video._presentation(av, str(path)) is None
    full = _decode_all(path)
    assert writer.psnr(full, clip) > writer.PSNR_FLOOR_DB
    assert _check_sparse(path, full, _counting(monkeypatch)) == [max(w) + 1 for w in SPARSE]


@pytest.mark.parametrize("params", ["slices=4", "slices=2:interlaced=1:tff=1"])
def test_multi_slice_and_mbaff_pictures_count_once(cohorts, clip, tmp_path, monkeypatch, params):
    """Several slices per picture, and interlaced (MBAFF) frame pictures: one picture per access
    unit, found by first_mb_in_slice = 0. (HEVC slices are left out: this build's x265 writes
    corrupt pictures with ``slices`` > 1, or crashes.)"""
    options = writer.gop_options("libx264", writer.VIDEO_CODECS["h264_high_41"][2], KEYINT)
    options["x264-params"] += ":" + params
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="h264") as container:
        writer._encode_into(container, clip, "libx264", options, 40.0)
    stream = buffer.getvalue()
    assert sum(c in (1, 5) for _, _, c in _units(stream, "h264")) >= 2 * CLIP_FRAMES  # slices per picture
    path = _stream_dicom(cohorts, tmp_path / "sliced.dcm", "h264", stream, CLIP_FRAMES)
    with open(path, "rb") as fp:
        index = video._StreamIndex(video._FragmentStream(fp, dicom.read_header(path).pixel_offset), "h264")
    keys = _key_frames(path)
    assert index.pictures == CLIP_FRAMES and [e[0] for e in index.entries] == keys == list(range(0, 40, 8))
    full = _decode_all(path)
    assert writer.psnr(full, clip) > writer.PSNR_FLOOR_DB
    assert _check_sparse(path, full, _counting(monkeypatch)) == [_pictures_to_decode(w, keys) for w in SPARSE]
