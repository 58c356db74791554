"""Speed of the on-device pair augmentation (issue 4, §2/§5). Run: ``python benchmarks/bench_augment.py``.

On a batch of 64 B-mode/CEUS pairs of 300 × 300 px (uint8, as the pair store serves them),
on the CPU and on CUDA when available, each figure measured in the same run:

1. ``PairAugmenter`` throughput (pairs/s) with the reference-like settings below, and with
   all magnitudes zero (only the uint8 → float conversion and the clamp), plus a stage
   breakdown (spatial only, intensity only).
2. The same augmenter applied one pair at a time in a Python loop (the per-image baseline
   a ``Dataset.__getitem__`` transform amounts to): ratio batched ÷ loop.
3. Context: a forward + backward step of a tiny timm model (``test_efficientnet``, 3 × 300
   × 300, batch 64) and of ``efficientnet_b3`` (the reference backbone; batch 8, scaled to
   per-pair time; MUF-Net runs two such branches): the augmentation's cost as a fraction
   of the training step it feeds.
4. The CPU figures again in a child process whose glibc keeps freed memory instead of
   returning every large block to the kernel (``MALLOC_MMAP_THRESHOLD_`` and friends, see
   ``TUNED_MALLOC``): PyTorch has no caching allocator on the CPU, so each fresh
   tens-of-MB tensor otherwise costs page faults, which dominate memory-bound batched code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import timm
import torch
from _common import best_time, machine

from studykit.train.augment import PairAugmenter

#: Reference-like settings (the paper names spatial, elastic and noise augmentation without
#: magnitudes): no vertical flip, since depth runs top to bottom in an ultrasound image.
REFERENCE = {"rotation_deg": 15.0, "scale": 0.1, "translate": 0.05, "hflip_p": 0.5, "elastic_px": 4.0,
             "elastic_grid": 4, "gain": 0.1, "contrast": 0.1, "gamma": 0.1, "speckle": 0.1, "noise": 0.02}
SPATIAL = {k: REFERENCE[k] for k in ("rotation_deg", "scale", "translate", "hflip_p", "elastic_px")}
INTENSITY = {k: REFERENCE[k] for k in ("gain", "contrast", "gamma", "speckle", "noise")}
#: glibc settings (read at process start) that keep freed large blocks for reuse.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "4000000000", "MALLOC_TRIM_THRESHOLD_": "4000000000",
                "MALLOC_TOP_PAD_": "200000000"}


def timed(fn, device: torch.device, repeat: int) -> float:
    """Best wall time of ``fn`` with the device synchronised (warm-up call first)."""
    def run():
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    run()
    return best_time(run, repeat=repeat)


def bench_augment(device: torch.device, n: int, side: int, repeat: int) -> float:
    batch = torch.randint(0, 256, (n, 2, side, side), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0)).to(device)
    figures = {}
    for name, cfg in [("identity", {}), ("spatial", SPATIAL), ("intensity", INTENSITY),
                      ("reference", REFERENCE), ("reference, independent", {**REFERENCE,
                                                                           "pair_spatial": "independent"})]:
        augment = PairAugmenter(cfg, seed=0)
        figures[name] = timed(lambda a=augment: a(batch), device, repeat)
        print(f"  {name:24s} {figures[name] * 1e3:8.1f} ms / batch  {n / figures[name]:8.0f} pairs/s")
    loop_augment = PairAugmenter(REFERENCE, seed=0)
    loop = timed(lambda: [loop_augment(batch[i:i + 1]) for i in range(n)], device, max(1, repeat // 2))
    batched = figures["reference"]
    print(f"  per-pair Python loop     {loop * 1e3:8.1f} ms / batch  {n / loop:8.0f} pairs/s"
          f"  -> batched is {loop / batched:.1f}x faster")
    return batched


def step_seconds(name: str, device: torch.device, n: int, side: int) -> float:
    """Best wall time of one SGD forward + backward + step at batch ``n`` (3 × side × side)."""
    model = timm.create_model(name, pretrained=False, num_classes=2).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.rand(n, 3, side, side, device=device)
    y = torch.randint(0, 2, (n,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return timed(step, device, repeat=2)


def bench_device(device: torch.device, n: int, side: int, repeat: int, b3_batch: int) -> None:
    where = f"{torch.cuda.get_device_name(device)}, " if device.type == "cuda" else ""
    print(f"\n{device.type.upper()} ({where}{torch.get_num_threads()} torch threads), "
          f"batch {n} x 2 x {side} x {side} uint8:")
    augment = bench_augment(device, n, side, repeat)
    tiny = step_seconds("test_efficientnet", device, n, side)
    print(f"  test_efficientnet fwd+bwd+step, batch {n}: {tiny * 1e3:.0f} ms "
          f"(augmentation = {augment / tiny:.2f}x of one tiny branch step)")
    if b3_batch:
        b3 = step_seconds("efficientnet_b3", device, b3_batch, side) / b3_batch
        print(f"  efficientnet_b3 fwd+bwd+step: {b3 * 1e3:.0f} ms / image (batch {b3_batch}); "
              f"MUF-Net (two branches) ~ {2 * b3 * n:.1f} s / batch of {n}; augmentation = "
              f"{100 * augment / (2 * b3 * n):.1f}% of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--side", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--b3-batch", type=int, default=8, help="0 skips the efficientnet_b3 step")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    tuned = all(os.environ.get(key) == value for key, value in TUNED_MALLOC.items())
    if not tuned:
        print(f"machine: {machine()}; torch {torch.__version__}, timm {timm.__version__}; "
              f"{time.strftime('%Y-%m-%d')}")
    bench_device(torch.device("cpu"), args.batch, args.side, args.repeat, args.b3_batch)
    if torch.cuda.is_available() and not args.cpu_only:
        bench_device(torch.device("cuda"), args.batch, args.side, 10 * args.repeat, 4 * args.b3_batch)
    if not tuned:
        settings = " ".join(f"{key}={value}" for key, value in TUNED_MALLOC.items())
        print(f"\nCPU again, glibc keeping freed memory ({settings}):", flush=True)
        child = [sys.executable, __file__, "--cpu-only", "--batch", str(args.batch), "--side", str(args.side),
                 "--repeat", str(args.repeat), "--b3-batch", "0"]
        subprocess.run(child, env={**os.environ, **TUNED_MALLOC}, check=True)


if __name__ == "__main__":
    main()
