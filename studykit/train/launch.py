"""Entry point for training one (arm, fold) unit, alone or data-parallel under ``torchrun``.

::

    # one process (CPU, one GPU or MPS)
    python -m studykit.train.launch models/muf_net.yaml STORE_DIR splits.json 0 \
        results/renal/arms/muf_net/fold-0
    # 4 GPUs of one machine, DistributedDataParallel
    torchrun --standalone --nproc_per_node=4 -m studykit.train.launch \\
        models/muf_net.yaml STORE_DIR splits.json 0 results/renal/arms/muf_net/fold-0

``STORE_DIR`` is the pair store folder (``cohort/store/<key>``) and ``splits.json`` the
frozen folds. Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is initialised with
NCCL on CUDA (each process on GPU ``LOCAL_RANK``) or gloo on CPUs; the batch size in the
arm spec is per process, so the effective batch is ``nproc × batch_size`` — scale ``lr``
accordingly if you want the single-GPU recipe's dynamics. After training, rank 0 predicts
the test patients with the best checkpoint (``predictions.csv``, ``gradcam.npz``). Progress
goes to the ``studykit.train`` logger; a :class:`~studykit.errors.StudyError` is logged
without a traceback and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from studykit.cohort import PairStore, Splits
from studykit.errors import EXIT_USER_ERROR, StudyError
from studykit.protocol.arms import load_arm

from .device import dist_context
from .fit import fit
from .predict import predict

__all__ = ["init_distributed", "main", "process_group"]

log = logging.getLogger("studykit.train")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studykit.train.launch",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("arm", type=Path, help="arm spec YAML (models/<arm>.yaml)")
    parser.add_argument("store", type=Path, help="pair store folder (cohort/store/<key>)")
    parser.add_argument("splits", type=Path, help="frozen splits.json")
    parser.add_argument("fold", type=int, help="fold index (0-based)")
    parser.add_argument("out", type=Path, help="unit folder (results/<name>/arms/<arm>/fold-<k>)")
    parser.add_argument("--device", default=None, help="override the arm's device (auto, cpu, cuda, mps)")
    parser.add_argument("--fresh", action="store_true", help="retrain from scratch instead of resuming")
    return parser


def init_distributed() -> bool:
    """Initialise the process group under torchrun; whether it did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


@contextlib.contextmanager
def process_group() -> Iterator[bool]:
    """The torchrun process group for the block (NCCL on CUDA, else gloo), destroyed after it
    if this block started it; yields whether it did (False outside torchrun)."""
    started = init_distributed()
    try:
        yield started
    finally:
        if started:
            dist.destroy_process_group()


def run(args: argparse.Namespace) -> None:
    """Fit the unit, then (rank 0) predict its test patients with the best checkpoint."""
    arm = load_arm(args.arm)
    store = PairStore(args.store)
    fold = Splits.from_json(args.splits.read_text(), file=str(args.splits)).fold(args.fold)

    def progress(done: int, total: int, description: str) -> None:
        log.info("%s", description)

    result = fit(arm, store, fold, args.out, device=args.device, progress=progress, resume=not args.fresh)
    if dist_context().main:
        predict(arm, store, fold, result.best_checkpoint, device=args.device, out_dir=args.out)
        flag = " (optimistic: selected on the test fold)" if result.optimistic else ""
        log.info("%s fold %d: best epoch %d, %s %.4f%s", arm.name, fold.index, result.best_epoch,
                 result.metric, result.best_metric, flag)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, train and predict; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with process_group():
        try:
            run(args)
        except StudyError as error:
            log.error("%s", error)
            return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
