"""Training speed and memory: ``python benchmarks/bench_train.py [--quick]``.

(a) Full pipeline (pair store memmap → class-balanced sampler → on-device augmentation →
    MUF-Net step, i.e. ``studykit.train.fit``'s epoch loop) against a bare loop of the same
    model, loss and optimiser on pre-made float tensors, in the same run: images/s and their
    ratio (target ≥ 0.9 on CPU). test_efficientnet, 128 px, batch 16.
(b) The reference arm (MUF-Net, efficientnet_b3, 300 px): seconds per training step on this
    CPU, extrapolated to one epoch of 9794 pairs and to the full protocol (3 arms × 5 folds ×
    100 epochs; single arms counted at half a MUF-Net step). CUDA (bf16 + channels-last,
    images/s, peak memory) when a GPU is present; otherwise reported as not measured.
(c) Peak RSS of a training process over a store of N and of 4N pairs (memory-mapped: it
    should not grow with the store).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import machine

from studykit.cohort import Fold, PairStore
from studykit.cohort.store import INDEX_COLUMNS, STORE_FORMAT
from studykit.protocol.arms import ArmSpec
from studykit.train.device import DistContext
from studykit.train.fit import _build, _loss_parts, _train_epoch
from studykit.train.predict import forward

REFERENCE_PAIRS, ARMS, FOLDS, EPOCHS = 9794, 3, 5, 100


def make_store(folder: Path, n: int, size: int, seed: int = 0) -> PairStore:
    """A random pair store of ``n`` pairs, 8 images per patient, alternating labels."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with open(folder / "pairs.u8", "wb") as fh:
        for start in range(0, n, 1024):
            block = rng.integers(0, 256, size=(min(1024, n - start), 2, size, size), dtype=np.uint8)
            fh.write(block.tobytes())
    pids = [f"P{i // 8:05d}" for i in range(n)]
    index = pd.DataFrame({"image_id": [f"I{i:06d}" for i in range(n)], "patient_id": pids, "frame": 0,
                          "phase": "cortical", "label": [(i // 8) % 2 for i in range(n)], "subtype": "x",
                          "center": "c", "scanner": "s"})
    index.loc[:, list(INDEX_COLUMNS)].to_csv(folder / "index.csv", index=False)
    (folder / "store.json").write_text(json.dumps({"format": STORE_FORMAT, "key": f"bench{n}",
                                                   "shape": [n, 2, size, size]}))
    return PairStore(folder)


def fold_of(store: PairStore) -> Fold:
    patients = sorted(store.index["patient_id"].unique())
    return Fold(0, tuple(patients[:-4]), tuple(patients[-4:-2]), tuple(patients[-2:]))


def arm(backbone: str, size: int, batch: int, epoch_length: int, **extra) -> ArmSpec:
    return ArmSpec(name="bench", kind="mufnet", backbone=backbone, input_size=size, batch_size=batch,
                   device="cpu", sampler={"epoch_length": epoch_length}, **extra)


def bare_steps(unit, steps: int) -> float:
    """Seconds for ``steps`` steps on pre-made tensors (no store, sampler or augmentation)."""
    a = unit.arm
    x = torch.rand(a.batch_size, 2, a.input_size, a.input_size)
    y = torch.arange(a.batch_size) % 2
    unit.model.train()
    started = time.perf_counter()
    for _ in range(steps):
        parts = _loss_parts(unit, forward(unit.model, x), y)
        unit.optimizer.zero_grad(set_to_none=True)
        parts[0].backward()
        unit.optimizer.step()
    return time.perf_counter() - started


def pipeline_vs_bare(root: Path, steps: int) -> None:
    store = make_store(root / "a", 1024, 128)
    spec = arm("test_efficientnet", 128, 16, steps * 16)
    unit = _build(spec, store, fold_of(store), torch.device("cpu"), DistContext())
    _train_epoch(unit, 0), bare_steps(unit, 2)  # warm-up
    pipe, bare = [], []
    for epoch in range(1, 4):  # interleaved, best of 3
        started = time.perf_counter()
        _train_epoch(unit, epoch)
        pipe.append(time.perf_counter() - started)
        bare.append(bare_steps(unit, steps))
    images = steps * 16
    print(f"(a) pipeline {images / min(pipe):.1f} images/s, bare loop {images / min(bare):.1f} images/s, "
          f"ratio {min(bare) / min(pipe):.3f} (target >= 0.9); MUF-Net test_efficientnet 128 px, batch 16, "
          f"augmentation = reference recipe")


def reference_arm(steps: int, batch: int) -> None:
    spec = arm("efficientnet_b3", 300, batch, batch * steps)
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp) / "b", 64, 300)
        unit = _build(spec, store, fold_of(store), torch.device("cpu"), DistContext())
        bare_steps(unit, 1)
        started = time.perf_counter()
        _train_epoch(unit, 0)
        per_image = (time.perf_counter() - started) / (steps * batch)
    epoch = per_image * REFERENCE_PAIRS
    total = epoch * EPOCHS * FOLDS * (1 + 0.5 + 0.5)  # MUF-Net + two single arms at half the cost
    print(f"(b) CPU reference MUF-Net (efficientnet_b3, 300 px, batch {batch}): {per_image:.2f} s/image, "
          f"{epoch / 3600:.1f} h per epoch of {REFERENCE_PAIRS} pairs, projected protocol "
          f"({ARMS} arms x {FOLDS} folds x {EPOCHS} epochs) {total / 86400:.0f} days")
    if not torch.cuda.is_available():
        print("(b) CUDA: no GPU on this machine - bf16 + channels-last images/s and peak GPU memory "
              "not measured")


#: The child reports VmHWM (its own mm's peak), not ru_maxrss: Linux carries ru_maxrss over
#: exec from the forked parent, which has the big benchmark models in memory.
RSS_CHILD = """
import sys, torch
sys.path.insert(0, {bench!r})
import bench_train as b
from studykit.cohort import PairStore
from studykit.train.device import DistContext
torch.set_num_threads(2)
store = PairStore({store!r})
unit = b._build(b.arm("test_efficientnet", 128, 16, 16 * 16), store, b.fold_of(store), torch.device("cpu"),
                DistContext())
for epoch in range(2):
    b._train_epoch(unit, epoch)
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


def rss_vs_store(root: Path, n: int) -> None:
    peaks = {}
    for count in (n, 4 * n):
        store = make_store(root / f"c{count}", count, 128)
        code = RSS_CHILD.format(bench=str(Path(__file__).parent), store=str(store.path))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        peaks[count] = int(out.stdout.split()[-1]) / 1024
    size = {c: c * 2 * 128 * 128 / 2**20 for c in peaks}
    print("(c) peak RSS training over the store: " + ", ".join(
        f"{c} pairs ({size[c]:.0f} MiB store): {peaks[c]:.0f} MiB" for c in peaks)
        + f"; growth {peaks[4 * n] - peaks[n]:+.0f} MiB for {size[4 * n] - size[n]:.0f} MiB more store")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    print(f"machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_vs_bare(Path(tmp), 4 if args.quick else 12)
        reference_arm(1 if args.quick else 3, 4)
        rss_vs_store(Path(tmp), 1000 if args.quick else 4000)


if __name__ == "__main__":
    main()
