"""Train one unit of a prepared results folder: ``python -m studykit.study.unit_main ROOT ARM FOLD``.

What an executor's job runs for a multi-GPU unit, under ``torchrun`` (one process per GPU,
:func:`studykit.study.executors.torchrun_command`); usable by hand too::

    torchrun --standalone --nproc_per_node=4 -m studykit.study.unit_main \\
        results/renal_ceus muf_net 3 --device cuda --no-lock

The unit is trained exactly as ``studykit run`` trains it (:func:`studykit.study.runner.run_unit`:
the protocol from ``protocol.lock.yaml``, its store and frozen splits). Under ``torchrun``
the process group is set up first (NCCL on CUDA, each process on GPU ``LOCAL_RANK``; gloo on
CPUs) and only rank 0 writes; the ranks do not take the unit's lock (one rank waiting for
another's lock would never reach the collectives: the job holds it). ``--no-lock``: without
torchrun too, the caller holds the lock. A :class:`~studykit.errors.StudyError` is printed without
a traceback and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from studykit.errors import EXIT_USER_ERROR, StudyError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studykit.study.unit_main",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("root", help="the run's results folder (results/<protocol name>)")
    parser.add_argument("arm", help="model arm name")
    parser.add_argument("fold", type=int, help="fold index (0-based)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (runtime.threads)")
    parser.add_argument("--no-lock", action="store_true", help="the caller holds the unit's lock")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, train the unit; the exit status."""
    from studykit.study.runner import run_unit
    from studykit.train import dist_context
    from studykit.train.launch import process_group

    args = _parser().parse_args(argv)
    with process_group() as started:
        try:
            result = run_unit(args.root, args.arm, args.fold, device=args.device, threads=args.threads,
                              lock=not (args.no_lock or started))  # ranks never wait for the unit's lock
            if dist_context().main:
                print(f"{result.arm} fold {result.fold}: {result.status} in {result.seconds:.1f} s",
                      flush=True)
        except StudyError as error:
            print(f"error ({type(error).__name__}): {error}", file=sys.stderr, flush=True)
            return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
