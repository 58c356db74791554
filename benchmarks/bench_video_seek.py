"""What seeking to key frames gains (issue 14). Run: ``bench_video_seek.py [--seconds 60] [--keyint 30,60]``.

Ingest needs a handful of sparse frames from a long clip. A clip of ``--seconds`` at
``--fps`` (default 60 s at 30 frames/s: 1,800 frames of 174 × 384, the default rendering
size — one patient's 24 rendered frames cycled, panned 1 px a frame so that every frame
differs) is written with a key frame every ``--keyint`` frames (closed GOPs:
:func:`studykit.cohort.synth.dicom.gop_options`) as each of ``--formats`` (H.264 video
DICOM and plain H.264 MP4 by default; ``mpeg2``, ``hevc`` too). Then ``--frames`` frames
spread over the clip (15 % … 90 % of its length, 7 frames past a key frame's multiple so
none is one) are read, in the same run (page cache warm), best of ``--repeat``:

* **seek**: ``dicom.iter_frames`` as ingest calls it (index pass, then decoding from the
  last safe entry point before each frame);
* **sequential**: the same call with the index disabled (``video._StreamIndex`` /
  ``video._presentation`` patched to find no entry point): decoding from frame 0 up to
  the last wanted frame, what ingest did before;
* **index pass**: the index alone (start-code scan of the DICOM stream; packet demux of
  the file), part of *seek*;
* pictures decoded by each (counted through ``video._decoded``).

Ratio = sequential ÷ seek seconds. Frames returned must be byte-identical between the two.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pydicom
from _common import best_time, machine
from pydicom.encaps import encapsulate

from studykit.cohort import dicom, video
from studykit.cohort.synth import dicom as writer
from studykit.cohort.synth import render_patient, synthesize

SYNTAX = {"mpeg2": "mpeg2_main_main", "h264": "h264_high_41", "hevc": "hevc_main"}


def _clip(n: int) -> np.ndarray:
    """``n`` frames: the default-size rendering of one patient, cycled and panned 1 px a frame."""
    base = writer.even_frames(render_patient("RC0001", seed=0).video)
    return np.stack([np.roll(base[k % len(base)], k, axis=1) for k in range(n)])


def _write(root: Path, name: str, clip: np.ndarray, keyint: int, fps: int) -> Path:
    if name == "mp4":
        path = root / f"clip-{keyint}.mp4"
        writer.write_mp4(path, clip, 1000.0 / fps, {}, keyint=keyint)
        return path
    template = next((root / "template" / "videos").iterdir())
    ds = pydicom.dcmread(template)
    stream = writer.encode_stream(clip, SYNTAX[name], 1000.0 / fps, keyint=keyint)
    ds.file_meta.TransferSyntaxUID = writer.SYNTAXES[SYNTAX[name]]
    ds.Rows, ds.Columns, ds.NumberOfFrames = clip.shape[1], clip.shape[2], len(clip)
    ds.FrameTime, ds.CineRate = f"{1000.0 / fps:.3f}", fps
    ds.PixelData = encapsulate([stream], has_bot=False)
    path = root / f"clip-{name}-{keyint}.dcm"
    ds.save_as(path)
    return path


class _NoIndex:
    """A stream index that found no entry point but frame 0."""

    def __init__(self, stream, fmt: str) -> None:
        self.complete, self.pictures, self.entries = False, 0, [(0, 0, b"")]


def _read(path: Path, wanted: list[int], counted: list, *, seek: bool) -> list[np.ndarray]:
    header = video.read_container_header(path) if video.is_container(path) else dicom.read_header(path)
    saved = video._StreamIndex, video._presentation
    if not seek:
        video._StreamIndex, video._presentation = _NoIndex, lambda av_, p: None
    counted.clear()
    try:
        return [p[..., 0] for _, p, _ in dicom.iter_frames(path, wanted, header=header)]
    finally:
        video._StreamIndex, video._presentation = saved


def _index_pass(path: Path) -> None:
    if video.is_container(path):
        video._presentation(av, str(path))
        return
    header = dicom.read_header(path)
    with open(path, "rb") as fp:
        stream = video._FragmentStream(fp, header.pixel_offset)
        video._StreamIndex(stream, video.VIDEO_SYNTAXES[header.transfer_syntax])


def measure(path: Path, name: str, keyint: int, wanted: list[int], repeat: int) -> dict[str, object]:
    counted: list = []
    original = video._decoded

    def counting(container):
        for frame in original(container):
            counted.append(1)
            yield frame

    video._decoded = counting
    try:
        seeked = _read(path, wanted, counted, seek=True)
        seek_pictures = len(counted)
        sequential = _read(path, wanted, counted, seek=False)
        sequential_pictures = len(counted)
        assert all(np.array_equal(a, b) for a, b in zip(seeked, sequential, strict=True)), path
        seek_s = best_time(lambda: _read(path, wanted, counted, seek=True), repeat)
        sequential_s = best_time(lambda: _read(path, wanted, counted, seek=False), repeat)
    finally:
        video._decoded = original
    index_s = best_time(lambda: _index_pass(path), repeat)
    return {"format": name, "key frame every": keyint, "MB": path.stat().st_size / 1e6,
            "pictures seek / sequential": f"{seek_pictures} / {sequential_pictures}",
            "seek s": seek_s, "index pass s": index_s, "sequential s": sequential_s,
            "ratio": sequential_s / seek_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--keyint", default="30,60", help="key frame intervals (frames), comma-separated")
    parser.add_argument("--frames", type=int, default=4, help="sparse frames to read")
    parser.add_argument("--formats", default="h264,mp4", help="of mpeg2,h264,hevc,mp4")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine(), f"PyAV {av.__version__}", f"FFmpeg {av.library_versions.get('libavcodec')}")
    n = args.seconds * args.fps
    wanted = sorted({min(n - 1, int(f * n) // 30 * 30 + 7) for f in np.linspace(0.15, 0.9, args.frames)})
    clip = _clip(n)
    print(f"{n} frames of {clip.shape[2]} × {clip.shape[1]}; frames read: {wanted}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthesize(root / "template", seed=0, tiny=True, syntax="h264")  # the DICOM attributes
        for name in args.formats.split(","):
            for keyint in map(int, args.keyint.split(",")):
                rows.append(measure(_write(root, name, clip, keyint, args.fps), name, keyint, wanted,
                                    args.repeat))
    print(pd.DataFrame(rows).set_index("format").to_markdown(floatfmt=".3g"))


if __name__ == "__main__":
    main()
