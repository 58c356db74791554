"""Time and size of the synthetic cohort (``studykit.cohort.synth``), with same-run baselines.

    python benchmarks/bench_synth.py [--out /tmp/studykit-bench-synth] [--skip-default]

Figures:

- the tiny preset (12 patients, 8 frames of 64 × 80 panels): wall time, first call (with
  the Monte-Carlo Bayes AUC) and best of 3 later calls (Monte-Carlo cached);
- the default cohort (181 patients, 24 frames of 160 × 192 panels): wall time, bytes on
  disk, peak resident memory of this process;
- baselines measured in the same run: (a) plain pydicom writing the same number of
  uncompressed multi-frame DICOM files with the same total pixel bytes (random pixels, no
  rendering), (b) drawing the default cohort's tables only (latents, posteriors, readers).

The targets (issue 3): default cohort ≤ 2 minutes on 2 cores and ≤ 300 MB; tiny ≈ 2–3 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_time, machine

from studykit.cohort import synth


def timed_synth(out: Path, **kwargs) -> tuple[float, synth.SynthSummary]:
    """Wall time of one synthesize() into a fresh folder, and its summary."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = synth.synthesize(out, **kwargs)
    return time.perf_counter() - start, summary


def plain_pydicom_write(folder: Path, n_files: int, frames: int, shape: tuple[int, int]) -> float:
    """Seconds for pydicom to write n_files uncompressed multi-frame files of random pixels."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, (frames, *shape), dtype=np.uint8).tobytes()
    start = time.perf_counter()
    for i in range(n_files):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(i)])
        ds.SOPClassUID = UltrasoundMultiFrameImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Rows, ds.Columns, ds.NumberOfFrames = shape[0], shape[1], frames
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = pixels
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    return time.perf_counter() - start


def bench_tiny(root: Path) -> None:
    """Tiny preset: first call and best later call."""
    first, summary = timed_synth(root / "tiny", tiny=True)
    later = min(timed_synth(root / "tiny", tiny=True)[0] for _ in range(3))
    print(f"tiny: {summary.patients} patients, {summary.frames} frames {summary.frame_shape}, "
          f"{summary.bytes_written / 1e6:.2f} MB; first call {first:.2f} s (incl. Monte-Carlo AUC), "
          f"later calls {later:.2f} s")


def bench_default(root: Path) -> None:
    """Default cohort: time, size and memory, against the two baselines."""
    seconds, summary = timed_synth(root / "default")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    plain = plain_pydicom_write(root / "plain", summary.patients, summary.frames, summary.frame_shape)
    tables = best_time(lambda: synth.draw_cohort(), repeat=3)
    raw = summary.patients * summary.frames * summary.frame_shape[0] * summary.frame_shape[1] / 1e6
    print(f"default: {summary.patients} patients (+{summary.excluded} excluded), {summary.frames} frames "
          f"{summary.frame_shape}, {summary.annotated_frames} annotated frames, {summary.transfer_syntaxes}")
    print(f"  time {seconds:.1f} s (target ≤ 120 s); size {summary.bytes_written / 1e6:.1f} MB "
          f"(target ≤ 300 MB; raw pixels {raw:.1f} MB); peak RSS {peak_mb:.0f} MB")
    print(f"  baseline (a) plain pydicom, same files uncompressed, random pixels: {plain:.2f} s "
          f"→ synth is {seconds / plain:.1f} × that")
    print(f"  baseline (b) drawing the tables only (latents, posteriors, reads): {tables * 1e3:.0f} ms "
          f"→ rendering and writing are {seconds / tables:.0f} × that")
    print(f"  per video: {seconds / summary.patients * 1e3:.0f} ms")
    pop, coh = summary.bayes_auc_population, summary.bayes_auc
    for level in ("frame", "video", "all"):
        values = [(getattr(pop, f"{level}_{m}"), getattr(coh, f"{level}_{m}"))
                  for m in ("bmode", "ceus", "both")]
        print(f"  Bayes AUC, {level} level — population (Monte-Carlo, 200 000) / this cohort: "
              + ", ".join(f"{m} {p:.3f} / {c:.3f}" for m, (p, c) in zip(("B-mode", "CEUS", "both"), values)))
    for group in summary.readers:
        print(f"  {group.group}: majority sens {group.sensitivity:.3f}, spec {group.specificity:.3f}, "
              f"ICC(2,1) {group.icc:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "studykit-bench-synth")
    parser.add_argument("--skip-default", action="store_true", help="tiny preset only")
    args = parser.parse_args()
    print(machine())
    bench_tiny(args.out)
    if not args.skip_default:
        bench_default(args.out)
    shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
