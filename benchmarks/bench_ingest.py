"""Speed and memory of ingestion (issue 3, §4). Run: ``python benchmarks/bench_ingest.py``.

The cohort is ``studykit.cohort.synth.synthesize``'s when that exists, else one this
script writes itself to the same file contract (/tmp/cohort_contract.md): dual-display
US multi-frame DICOMs (B-mode left, CEUS right, Ultrasound Regions, timing tags, fake PHI),
two thirds Explicit VR Little Endian, one sixth JPEG Baseline (YBR_FULL_422) and one sixth
RLE Lossless; ``annotations.csv`` selects the cortical and medullary frames with a box per
panel. Figures, each measured in the same run on the same files (page cache warm for all):

1. Ingest throughput, one worker (cold store: everything hashed, decoded, written), against
   pydicom decoding the same files with its own ``pixel_array``, two ways:
   (a) the annotated frames only — ``dcmread`` once per file, then
   ``pydicom.pixels.pixel_array(ds, index=i)`` per annotated frame (the same work ingest
   must do); (b) whole videos — ``dcmread(path).pixel_array``. Ratio = ingest frames/s ÷
   pydicom frames/s (a), best of ``--repeat`` for both; target ≥ 0.8. Ingest does strictly
   more than (a): it hashes every input, parses headers, crops, reduces to gray, resizes
   every crop (two per frame) and writes and fsyncs the store. Also per transfer syntax:
   the headline cohort split by syntax (its own videos, symlinked), and this script's
   generator with one syntax per cohort.
2. Speed-up from ``workers=2``.
3. The cached re-run: wall time, and the number of headers read and frames decoded (0).
4. Peak RSS of a fresh process ingesting N and 2N videos with one worker: bounded by one
   video plus the write buffer, not by the cohort size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from _common import machine
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import pixel_array
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

from studykit.cohort import dicom
from studykit.cohort.ingest import ingest

SYNTAX_NAMES = {ExplicitVRLittleEndian: "native", JPEGBaseline8Bit: "jpeg", RLELossless: "rle"}


# ---------------------------------------------------------------- a contract-conformant cohort


def _frames(rng: np.random.Generator, n: int, rows: int, cols: int) -> np.ndarray:
    """Speckle-like frames: a smooth tissue map drifting across the cine, times noise."""
    tissue = np.kron(rng.integers(40, 200, (rows // 8 + 2, cols // 8 + 2)), np.ones((8, 8)))
    out = np.empty((n, rows, cols), np.uint8)
    for f in range(n):
        shift = f % 8
        speckle = rng.integers(0, 64, (rows, cols))
        out[f] = np.clip(tissue[shift:shift + rows, shift:shift + cols] * 0.8 + speckle, 0, 255)
    return out


def _dataset(frames: np.ndarray, uid: str) -> Dataset:
    n, rows, cols = frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = uid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "MRN0001", "19600101"
    ds.InstitutionName, ds.OperatorsName, ds.AccessionNumber = "General Hospital", "Op^Erator", "A1"
    ds.Modality, ds.Rows, ds.Columns, ds.NumberOfFrames = "US", rows, cols, n
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime, ds.CineRate, ds.FrameIncrementPointer = 250.0, 4, 0x00181063
    regions = []
    for x0 in (0, cols // 2):
        item = Dataset()
        item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = 1, 1, 0
        item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, 0
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x0 + cols // 2 - 1, rows - 1
        item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3
        item.PhysicalDeltaX = item.PhysicalDeltaY = 0.03
        regions.append(item)
    ds.SequenceOfUltrasoundRegions = Sequence(regions)
    return ds


def write_video(path: Path, frames: np.ndarray, syntax: str, uid: str) -> None:
    ds = _dataset(frames, uid)
    if syntax == JPEGBaseline8Bit:
        encoded = []
        for frame in frames:
            buf = io.BytesIO()
            Image.fromarray(np.repeat(frame[..., None], 3, 2)).save(buf, "JPEG", quality=90, subsampling=1)
            encoded.append(buf.getvalue())
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    elif syntax == RLELossless:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(RLELossless, frames)
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)


def make_cohort(root: Path, n_videos: int, *, frames: int, rows: int, panel_cols: int, annotated: int,
                syntaxes: tuple[str, ...] | None = None, seed: int = 0) -> Path:
    """``n_videos`` patients, one video each; ``annotated`` frames per video with two boxes."""
    rng = np.random.default_rng(seed)
    mix = syntaxes or (ExplicitVRLittleEndian, JPEGBaseline8Bit, ExplicitVRLittleEndian,
                       ExplicitVRLittleEndian, RLELossless, ExplicitVRLittleEndian)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    manifest, notes = [], []
    for i in range(n_videos):
        pid = f"RC{i + 1:04d}"
        manifest.append([pid, "malignant" if i % 3 else "benign", "ccrcc" if i % 3 else "typical_aml",
                         "center_a", "ge_logiq_e9", ""])
        write_video(root / "videos" / f"{pid}.dcm", _frames(rng, frames, rows, 2 * panel_cols),
                    mix[i % len(mix)], f"1.2.826.0.1.3680043.10.999.{i + 1}")
        start = (frames - annotated) // 2
        for f in range(start, start + annotated):
            w, h = rng.integers(48, 120), rng.integers(48, 120)
            x, y = rng.integers(0, panel_cols - w), rng.integers(0, rows - h)
            notes.append([pid, f"videos/{pid}.dcm", f, "cortical" if f < frames // 2 else "medullary",
                          f"{x},{y},{x + w},{y + h}", f"{x + panel_cols},{y},{x + w + panel_cols},{y + h}"])
    pd.DataFrame(manifest, columns=["patient_id", "label", "subtype", "center", "scanner",
                                    "excluded_reason"]).to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(notes, columns=["patient_id", "file", "frame", "phase", "bmode_box", "ceus_box"]).to_csv(
        root / "annotations.csv", index=False)
    return root


def split_by_syntax(cohort: Path, out: Path) -> dict[str, Path]:
    """One sub-cohort per transfer syntax of ``cohort``: its patients, annotations and videos (symlinked)."""
    manifest, notes = pd.read_csv(cohort / "manifest.csv", dtype=str, keep_default_na=False), \
        pd.read_csv(cohort / "annotations.csv", dtype=str, keep_default_na=False)
    by_syntax: dict[str, list[str]] = {}
    for file in sorted(notes["file"].unique()):
        syntax = pydicom.dcmread(cohort / file, stop_before_pixels=True).file_meta.TransferSyntaxUID
        by_syntax.setdefault(SYNTAX_NAMES.get(syntax, syntax.name), []).append(file)
    subs = {}
    for name, files in sorted(by_syntax.items()):
        sub = out / name
        (sub / "videos").mkdir(parents=True)
        rows = notes[notes["file"].isin(files)]
        for file in files:
            (sub / file).symlink_to(cohort / file)
        patients = manifest[manifest["patient_id"].isin(set(rows["patient_id"]))]
        patients.to_csv(sub / "manifest.csv", index=False)
        rows.to_csv(sub / "annotations.csv", index=False)
        subs[name] = sub
    return subs


def have_synth() -> bool:
    try:
        from studykit.cohort.synth import synthesize  # noqa: F401
    except ImportError:
        return False
    return True


def cohort_of(root: Path, videos: int, shape: dict[str, int], synth: bool) -> Path:
    """``cohort.synth``'s cohort (default frames and size) when ``synth``, else this script's."""
    if synth:
        from studykit.cohort.synth import synthesize

        synthesize(root, patients=videos, seed=0)
        return root
    return make_cohort(root, videos, **shape)


def syntax_mix(cohort: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted((cohort / "videos").glob("*.dcm")):
        syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        name = SYNTAX_NAMES.get(syntax, syntax.name)
        counts[name] = counts.get(name, 0) + 1
    return counts


# ---------------------------------------------------------------- measurements


def annotated_frames(cohort: Path) -> dict[Path, list[int]]:
    notes = pd.read_csv(cohort / "annotations.csv")
    return {cohort / f: sorted(g["frame"].tolist()) for f, g in notes.groupby("file", sort=True)}


def time_ingest(cohort: Path, workers: int, repeat: int, **kwargs) -> float:
    """Best wall time of ``repeat`` cold ingests (fresh store root each time)."""
    best = float("inf")
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(dir=cohort.parent))
        start = time.perf_counter()
        ingest(cohort, root, workers=workers, **kwargs)
        best = min(best, time.perf_counter() - start)
        shutil.rmtree(root)
    return best


def time_pydicom(files: dict[Path, list[int]], repeat: int, whole: bool) -> float:
    """Best wall time of pydicom decoding the annotated frames (or whole videos) of ``files``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for path, frames in files.items():
            ds = pydicom.dcmread(path)
            if whole:
                ds.pixel_array  # noqa: B018  (decode every frame)
            else:
                for f in frames:
                    pixel_array(ds, index=f)
        best = min(best, time.perf_counter() - start)
    return best


def cached_rerun(cohort: Path) -> tuple[float, int]:
    """Wall time of a re-run on a built store, and how many headers/frames it opened."""
    root = Path(tempfile.mkdtemp(dir=cohort.parent))
    ingest(cohort, root)
    opened = {"n": 0}
    real_header, real_frames = dicom.read_header, dicom.iter_frames

    def count_header(*a, **k):
        opened["n"] += 1
        return real_header(*a, **k)

    def count_frames(*a, **k):
        for item in real_frames(*a, **k):
            opened["n"] += 1
            yield item
    dicom.read_header, dicom.iter_frames = count_header, count_frames
    try:
        start = time.perf_counter()
        ingest(cohort, root)
        elapsed = time.perf_counter() - start
    finally:
        dicom.read_header, dicom.iter_frames = real_header, real_frames
    shutil.rmtree(root)
    return elapsed, opened["n"]


# VmHWM is the peak RSS of this process image (ru_maxrss would include the parent's, kept over exec).
PEAK_SCRIPT = """
import sys, tempfile
from studykit.cohort.ingest import ingest
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
base = hwm()
ingest(sys.argv[1], tempfile.mkdtemp(dir=sys.argv[2]), workers=1)
print(base, hwm())
"""


def peak_rss_mib(cohort: Path) -> tuple[float, float]:
    """(after imports, peak) RSS in MiB of a fresh process ingesting ``cohort`` (Linux)."""
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(cohort), str(cohort.parent)],
                         capture_output=True, text=True, check=True)
    base, peak = (int(v) / 1024 for v in out.stdout.split())
    return base, peak


def _rate(frames: int, seconds: float) -> str:
    return f"{frames / seconds:,.0f} frames/s ({seconds:.2f} s)"


def report_throughput(cohort: Path, label: str, repeat: int) -> dict[str, float]:
    files = annotated_frames(cohort)
    n_annotated = sum(len(f) for f in files.values())
    n_video = sum(int(pydicom.dcmread(p, stop_before_pixels=True).NumberOfFrames) for p in files)
    ours = time_ingest(cohort, 1, repeat)
    same = time_pydicom(files, repeat, whole=False)
    whole = time_pydicom(files, repeat, whole=True)
    row = {"ingest_fps": n_annotated / ours, "pydicom_same_fps": n_annotated / same,
           "pydicom_whole_fps": n_video / whole, "ratio_same": same / ours,
           "ratio_whole_videos": whole / ours}
    print(f"[{label}] {len(files)} videos, {n_video} frames, {n_annotated} annotated")
    print(f"  ingest, 1 worker, cold:              {_rate(n_annotated, ours)} annotated")
    print(f"  pydicom pixel_array, same frames:    {_rate(n_annotated, same)} -> ratio {same / ours:.2f}")
    print(f"  pydicom pixel_array, whole videos:   {_rate(n_video, whole)} video frames; ingest takes "
          f"{ours / whole:.2f}x its time -> ratio {whole / ours:.2f}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=None,
                        help="videos in the headline cohort: default 181 with cohort.synth, else 24")
    parser.add_argument("--no-synth", action="store_true", help="use this script's generator")
    parser.add_argument("--frames", type=int, default=80, help="frames per video (generator)")
    parser.add_argument("--annotated", type=int, default=40, help="annotated frames per video (generator)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    shape = {"frames": args.frames, "rows": 240, "panel_cols": 320, "annotated": args.annotated}
    synth = have_synth() and not args.no_synth
    videos = args.videos or (181 if synth else 24)
    figures: dict[str, object] = {"machine": machine(), "videos": videos,
                                  "source": "cohort.synth" if synth else f"bench_ingest generator {shape}"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        cohort = cohort_of(tmp / "cohort", videos, shape, synth)
        figures["syntaxes"] = syntax_mix(cohort)
        print(f"cohort: {figures['source']}, {videos} videos {figures['syntaxes']}, "
              f"written in {time.perf_counter() - start:.0f} s")
        figures["mixed"] = report_throughput(cohort, "cohort", args.repeat)
        for name, sub in split_by_syntax(cohort, tmp / "by_syntax").items():
            figures[f"cohort_{name}"] = report_throughput(sub, f"cohort, {name} videos only", args.repeat)
        for syntax, name in SYNTAX_NAMES.items():  # this script's generator, one syntax each
            sub = make_cohort(tmp / name, 6, syntaxes=(syntax,), seed=1, **shape)
            figures[name] = report_throughput(sub, name, args.repeat)
        time_ingest(cohort, 2, 1)  # start the fork server once (a one-off per Python process)
        one, two = time_ingest(cohort, 1, args.repeat), time_ingest(cohort, 2, args.repeat)
        figures["speedup_2_workers"] = one / two
        print(f"workers=2: {two:.2f} s vs {one:.2f} s with 1 -> speed-up {one / two:.2f}x")
        cached, opened = cached_rerun(cohort)
        figures["cached"] = {"seconds": cached, "headers_and_frames_opened": opened}
        print(f"cached re-run: {cached * 1e3:.0f} ms, {opened} DICOM headers/frames opened")
        half = cohort_of(tmp / "half", videos // 2, shape, synth)
        video_mib = max(p.stat().st_size for p in (cohort / "videos").glob("*.dcm")) / 2**20
        (_, p1), (b2, p2) = peak_rss_mib(half), peak_rss_mib(cohort)
        figures["peak_rss_mib"] = {"videos_n": videos // 2, "peak_n": p1, "videos_2n": videos,
                                   "peak_2n": p2, "after_imports": b2, "largest_video_mib": video_mib}
        print(f"peak RSS, 1 worker: {p1:.0f} MiB for {videos // 2} videos, {p2:.0f} MiB for "
              f"{videos}; {b2:.0f} MiB after imports, so ingest adds {p1 - b2:.0f} / {p2 - b2:.0f} MiB "
              f"(largest video {video_mib:.1f} MiB; write buffer 64 pairs = "
              f"{64 * 2 * 224 * 224 / 2**20:.1f} MiB)")
    figures["load_average_1min_at_end"] = os.getloadavg()[0]
    print(f"machine: {machine()}; 1-min load average at the end {os.getloadavg()[0]:.2f} "
          "(other processes share the cores: timings are best-of-repeat)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
