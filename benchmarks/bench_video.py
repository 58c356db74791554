"""Throughput of the video formats (issue 14). Run: ``bench_video.py [--patients N] [--formats h264]``.

For each format ``studykit synth --syntax`` writes — uncompressed DICOM (``explicit``, the
reference), MPEG-2, H.264 and HEVC video DICOM, plain H.264 MP4 — one synthetic cohort of
``--patients`` patients at the default size (24 frames of 173 × 384, padded to 174 rows for
4:2:0) is written, then measured in the same run (page cache warm):

1. Writing: seconds per video (render + encode + read-back check) and the bytes per video.
2. Fidelity at the default size: PSNR of every decoded frame against the uncompressed
   rendering (``render_patient``), worst video and mean.
3. Ingest, one worker, cold store, 224 × 224 crops: annotated frames per second.
4. Peer: PyAV alone decoding the same annotated frames of the same files (the stream read
   whole into memory, decoded from its start up to the last annotated frame, Y plane only),
   frames per second; ratio = ingest ÷ PyAV. Ingest does more (hashing, header parsing,
   crops, gray, resizing, writing the store). Two peers: PyAV with its default decoder
   settings (slice threading, which one-slice pictures do not use: one core), and PyAV with
   the FFmpeg threads ingest decodes with (``crop_jobs.decoder_threads(1)``: the CPUs of
   this process, 2 here), so the second ratio is ingest's own overhead at equal decoding.
5. What decoding only up to the last needed frame saves: decoded pictures ÷ stream frames.
   The synthesised 24-frame videos have no safe entry point after their first frame (x264
   puts no scene-cut IDR within its 25-frame min-keyint, x265's scene cuts are open-GOP CRA
   pictures, MPEG-2 GOPs of 12 are open), so ingest seeks nowhere here and pays its index
   pass for nothing. ``bench_video_seek.py`` measures the seek.

Best of ``--repeat`` for the timings.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pydicom
from _common import best_time, machine
from pydicom.encaps import generate_fragments

from studykit.cohort import dicom, video
from studykit.cohort.crop_jobs import decoder_threads
from studykit.cohort.ingest import ingest
from studykit.cohort.synth import dicom as writer
from studykit.cohort.synth import render_patient, synthesize

FORMATS = ("explicit", "mpeg2", "h264", "hevc", "mp4")


def _annotated(cohort: Path) -> dict[Path, list[int]]:
    notes = pd.read_csv(cohort / "annotations.csv")
    return {cohort / f: sorted(g["frame"].tolist()) for f, g in notes.groupby("file", sort=True)}


def _peer(files: dict[Path, list[int]], threads: int = 1) -> tuple[int, int]:
    """PyAV alone on the annotated frames: (frames returned, pictures decoded); ``threads`` > 1:
    that many FFmpeg frame and slice threads, as ingest sets them."""
    returned = decoded = 0
    for path, frames in files.items():
        if path.suffix == ".mp4":
            container = av.open(str(path))
        else:
            ds = pydicom.dcmread(path)
            stream = b"".join(list(generate_fragments(ds.PixelData))[1:])
            fmt = video.VIDEO_SYNTAXES[str(ds.file_meta.TransferSyntaxUID)]
            container = av.open(io.BytesIO(stream), format=fmt)
        if threads > 1:
            stream = container.streams.video[0]
            stream.thread_type, stream.thread_count = "AUTO", threads
        wanted, last = set(frames), max(frames)
        with container:
            for k, picture in enumerate(container.decode(video=0)):
                decoded += 1
                if k in wanted:
                    np.asarray(picture.planes[0])  # the Y plane only, as ingest reads it
                    returned += 1
                if k == last:
                    break
    return returned, decoded


def _fidelity(cohort: Path) -> tuple[float, float]:
    values = []
    for path in sorted((cohort / "videos").iterdir()):
        header = video.read_container_header(path) if video.is_container(path) else dicom.read_header(path)
        decoded = np.stack([p[..., 0] for _, p, _ in dicom.iter_frames(path, range(header.frames),
                                                                          header=header)])
        reference = render_patient(path.stem, patients=len(list((cohort / "videos").iterdir())), seed=0).video
        values.append(writer.psnr(decoded[:, :reference.shape[1], :reference.shape[2]], reference))
    return min(values), float(np.mean(values))


def measure(root: Path, name: str, patients: int, repeat: int) -> dict[str, object]:
    cohort = root / name
    start = time.perf_counter()
    synthesize(cohort, patients=patients, seed=0, syntax=name)
    write_s = time.perf_counter() - start
    videos = sorted((cohort / "videos").iterdir())
    files = _annotated(cohort)
    n_frames = sum(map(len, files.values()))
    stores = root / f"{name}-stores"

    def cold_ingest():
        shutil.rmtree(stores, ignore_errors=True)
        ingest(cohort, stores, size=224)

    ingest_s = best_time(cold_ingest, repeat)
    row: dict[str, object] = {"format": name, "write s/video": write_s / len(videos),
                              "kB/video": sum(p.stat().st_size for p in videos) / len(videos) / 1e3,
                              "annotated frames": n_frames, "ingest frames/s": n_frames / ingest_s}
    if name != "explicit":
        peer_s = best_time(lambda: _peer(files), repeat)
        threads = decoder_threads(1)
        threaded_s = best_time(lambda: _peer(files, threads), repeat)
        returned, decoded = _peer(files)
        header = _header(videos[0])
        row.update({"PyAV frames/s": returned / peer_s, "ratio": n_frames / ingest_s / (returned / peer_s),
                    f"PyAV {threads} threads frames/s": returned / threaded_s,
                    "ratio, equal threads": n_frames / ingest_s / (returned / threaded_s),
                    "decoded / stream frames": decoded / (len(videos) * header.frames)})
        row["PSNR worst dB"], row["PSNR mean dB"] = _fidelity(cohort)
    return row


def _header(path: Path):
    return video.read_container_header(path) if video.is_container(path) else dicom.read_header(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="comma-separated subset, e.g. h264 (issue 14: the 181-patient cohort)")
    args = parser.parse_args()
    print(machine(), f"PyAV {av.__version__}", f"FFmpeg {av.library_versions.get('libavcodec')}",
          f"ingest decoder threads {decoder_threads(1)}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(Path(tmp), name, args.patients, args.repeat) for name in args.formats.split(",")]
    table = pd.DataFrame(rows).set_index("format")
    print(table.to_markdown(floatfmt=".3g"))


if __name__ == "__main__":
    main()
