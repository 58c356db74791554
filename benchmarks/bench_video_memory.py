"""Peak memory of video ingest against the video's length (issue 14). Run: ``bench_video_memory.py``.

Issue 14 asks for memory flat in the video length: ingest decodes each video's annotated
frames one at a time and keeps none of them (:mod:`studykit.cohort.video`), so a video
four times as long must not need four times the memory. For each of ``--formats``
(H.264 video DICOM and plain H.264 MP4 by default) two cohorts of ``--patients`` patients
are written with ``studykit.cohort.synth.synthesize`` (seed 0, panels ``--size`` high,
by default 160 × 192):

* 1×: ``--frames`` frames per video (default 24, one every 4 s from −4 s to 88 s);
* 4×: ``(frames − 1)·factor + 1`` frames (default 93, one every second over the same
  92 s), so frame ``factor·k`` of the long video is frame ``k`` of the short one, at the
  same instant.

Synthesis annotates every cortical/medullary frame, so the long video would have about
four times as many annotated frames. Its ``annotations.csv`` is cut to the rows of frames
``factor·k`` for the ``k`` annotated in the short video (rendered at the same instant,
with the long video's own boxes): both cohorts have the same annotated frames, the same
work per frame and the same crops written, while the long video's last annotated frame
lies ``factor`` times as deep into the stream, so decoding from the first frame takes
about ``factor`` times as many pictures to reach it; ingest decodes fewer where it can seek
(the long H.264 videos have x264 scene-cut IDR pictures mid-stream). Both counts are
shown: the pictures ingest decodes (counted through ``video._decoded``) and those from the
first frame to the last annotated one.

Measured, each in a fresh process (``sys.executable`` running this file), on Linux:

1. Ingest, one worker, cold store, 224 × 224 crops: peak RSS (``VmHWM``) minus the RSS
   after importing ingest and PyAV (numpy, pandas, pydicom, Pillow; no torch), so the
   import baseline is separated. ``VmHWM`` rather than ``ru_maxrss``: ``ru_maxrss``
   carries the parent's peak over ``exec`` (the parent has just run the synthesis).
2. Whole-video decode, what ingest claims not to do: PyAV decodes every frame of the
   cohort's largest video into one (frames, rows, columns) uint8 luma array (the DICOM
   stream read whole into memory first, as a naive reader would), same baseline.

Ratios 4× ÷ 1× of the peaks above baseline: ingest should stay near 1, the whole-video
decode near ``factor``. Exit status 1 when the ingest ratio exceeds ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from _common import machine

FORMATS = ("h264", "mp4")


def _hwm_kib() -> int:
    """This process image's peak RSS (``VmHWM``) in KiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def _child(task: str, target: str, scratch: str) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import resource

    import av  # ingest imports PyAV lazily: in the baseline here
    import numpy as np

    from studykit import __version__  # noqa: F401  (imported by ingest's last step)
    from studykit.cohort import dicom, video
    from studykit.cohort.ingest import ingest

    base = _hwm_kib()
    out: dict[str, object] = {}
    if task == "ingest":
        counted = [0]
        original = video._decoded

        def counting(container):  # pictures ingest decodes, seeking where it can
            for frame in original(container):
                counted[0] += 1
                yield frame

        video._decoded = counting
        pairs = ingest(target, scratch, size=224, workers=1)
        out.update(pairs=int(pairs.images.shape[0]), decoded=counted[0])
    else:
        path = Path(target)
        header = video.read_container_header(path) if video.is_container(path) else dicom.read_header(path)
        frames = np.empty((header.frames, header.rows, header.columns), np.uint8)
        if header.container:
            container = av.open(str(path))
        else:
            import io

            import pydicom
            from pydicom.encaps import generate_fragments

            ds = pydicom.dcmread(path)
            stream = b"".join(list(generate_fragments(ds.PixelData))[1:])
            container = av.open(io.BytesIO(stream), format=video.VIDEO_SYNTAXES[header.transfer_syntax])
        count = 0
        with container:
            for count, picture in enumerate(container.decode(video=0), start=1):
                frames[count - 1] = video.luma8(picture)
        out.update(decoded=count, array_mib=frames.nbytes / 2**20)
    out.update(base_kib=base, peak_kib=_hwm_kib(),
               ru_maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps(out))


def _run_child(task: str, target: Path, scratch: Path, repeat: int) -> dict[str, float]:
    """Fewest MiB above baseline over ``repeat`` fresh processes, with that run's figures."""
    best: dict[str, float] | None = None
    for attempt in range(repeat):  # a fresh store each time: a second ingest into one returns at once
        done = subprocess.run([sys.executable, __file__, "--child", task, str(target),
                               str(scratch / f"{task}-{attempt}")],
                              capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["above_mib"] = (result["peak_kib"] - result["base_kib"]) / 1024
        if best is None or result["above_mib"] < best["above_mib"]:
            best = result
    assert best is not None
    return best


def _align(short: Path, long: Path, factor: int) -> tuple[int, int]:
    """Cut ``long``'s annotations to frames ``factor·k`` of ``short``'s; (rows kept, rows before)."""
    table = long / "annotations.csv"
    ours, theirs = pd.read_csv(short / "annotations.csv"), pd.read_csv(table)
    wanted = {(f, factor * k) for f, k in zip(ours["file"], ours["frame"])}
    kept = theirs[[(f, k) in wanted for f, k in zip(theirs["file"], theirs["frame"])]]
    if len(kept) != len(ours):
        raise SystemExit(f"{long}: {len(kept)} of {len(ours)} annotated frames found at factor·k")
    kept.to_csv(table, index=False)
    return len(kept), len(theirs)


def _decoded(cohort: Path) -> int:
    """Pictures from each video's first frame to its last annotated one (decoding without seek)."""
    notes = pd.read_csv(cohort / "annotations.csv")
    return int((notes.groupby("file")["frame"].max() + 1).sum())


def measure(root: Path, name: str, patients: int, frames: int, factor: int, repeat: int,
            size: int | None) -> dict[str, object]:
    from studykit.cohort.synth import synthesize

    lengths = {"1x": frames, f"{factor}x": (frames - 1) * factor + 1}
    cohorts = {tag: root / f"{name}-{n}" for tag, n in lengths.items()}
    for tag, n in lengths.items():
        synthesize(cohorts[tag], patients=patients, seed=0, frames=n, size=size, syntax=name)
    (short, long), (tag_s, tag_l) = cohorts.values(), lengths
    annotated, before = _align(short, long, factor)
    row: dict[str, object] = {"format": name, "frames/video": " / ".join(map(str, lengths.values())),
                              "annotated": f"{annotated} (of {before})"}
    figures = {}
    for tag, cohort in cohorts.items():
        videos = sorted((cohort / "videos").iterdir())
        largest = max(videos, key=lambda p: p.stat().st_size)
        scratch = root / f"{cohort.name}-stores"
        scratch.mkdir()
        ingest_ = _run_child("ingest", cohort, scratch, repeat)
        whole = _run_child("decode", largest, scratch, repeat)
        assert ingest_["pairs"] == annotated and whole["decoded"] == lengths[tag], (ingest_, whole)
        figures[tag] = {"kB": sum(p.stat().st_size for p in videos) / len(videos) / 1e3,
                        "decoded": ingest_["decoded"], "to last": _decoded(cohort),
                        "base": ingest_["base_kib"] / 1024,
                        "ingest": ingest_["above_mib"], "whole": whole["above_mib"],
                        "array": whole["array_mib"]}
    s, m = figures[tag_s], figures[tag_l]

    def pair(key: str, fmt: str) -> str:
        return f"{s[key]:{fmt}} / {m[key]:{fmt}}"

    row.update({"kB/video": pair("kB", ".0f"), "pictures ingest decodes": pair("decoded", "d"),
                "pictures to the last annotated frame": pair("to last", "d"),
                "baseline MiB": pair("base", ".0f"), "ingest MiB": pair("ingest", ".1f"),
                "whole-decode MiB": pair("whole", ".1f"), "luma array MiB": pair("array", ".1f"),
                "ingest ratio": m["ingest"] / s["ingest"], "whole ratio": m["whole"] / s["whole"]})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10, help="included patients per cohort (≥ 10)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video of the 1× cohort")
    parser.add_argument("--factor", type=int, default=4, help="the long cohort samples the same 92 s this "
                                                              "many times as densely")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="comma-separated: h264, mp4, mpeg2, hevc")
    parser.add_argument("--size", type=int, default=None,
                        help="panel height in pixels (default: synthesize's, 160 × 192 panels)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per figure (fewest MiB kept)")
    parser.add_argument("--max-ratio", type=float, default=1.25,
                        help="fail (exit 1) when ingest's peak above baseline grows more than this")
    parser.add_argument("--child", nargs=3, metavar=("TASK", "TARGET", "SCRATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    import av

    print(machine(), f"PyAV {av.__version__}", f"FFmpeg {av.library_versions.get('libavcodec')}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(Path(tmp), name, args.patients, args.frames, args.factor, args.repeat,
                        args.size)
                for name in args.formats.split(",")]
    table = pd.DataFrame(rows).set_index("format")
    print(table.to_markdown(floatfmt=".2f"))
    worst = float(table["ingest ratio"].max())
    print(f"ingest peak ratio {args.factor}x / 1x: worst {worst:.2f} (limit {args.max_ratio})")
    if worst > args.max_ratio:
        sys.exit(1)


if __name__ == "__main__":
    main()
