"""Devices, seeding and data-parallel context for training.

``device: auto`` picks CUDA, then Apple MPS, then the CPU (a registry of probes in that
order). On CUDA, training uses bf16 autocast when the arm's ``amp`` is set and the
channels-last memory format when ``channels_last`` is set; on the CPU and MPS it runs in
float32 (so a CPU run is bit-reproducible). Data parallelism comes from ``torchrun``: when
``torch.distributed`` is initialised with more than one process, :func:`dist_context`
reports the rank and world size, and only rank 0 writes files.

:func:`configure_runtime` fixes torch's intra-op thread count and its deterministic-kernels
mode for the whole process (the study runner calls it with the protocol's ``runtime``);
:func:`seed_everything` then keeps to that choice.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from studykit.errors import InputError

__all__ = [
    "CUBLAS_WORKSPACE",
    "DistContext",
    "autocast",
    "configure_runtime",
    "dist_context",
    "resolve_device",
    "seed_everything",
]

#: ``CUBLAS_WORKSPACE_CONFIG`` value that makes cuBLAS deterministic (CUDA >= 10.2).
CUBLAS_WORKSPACE = ":4096:8"
#: Whether deterministic kernels are wanted: set by :func:`configure_runtime`, read by
#: :func:`seed_everything` (True until configured).
_POLICY = {"deterministic": True}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


#: Probes tried by ``device: auto``, in order of preference; the CPU always works.
_PROBES: dict[str, Callable[[], bool]] = {
    "cuda": torch.cuda.is_available,
    "mps": _mps_available,
    "cpu": lambda: True,
}


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The training device for an arm's ``device`` setting.

    Parameters
    ----------
    name
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``
        or a ``torch.device``. Under ``torchrun``, plain ``"cuda"`` means this process's
        GPU (``LOCAL_RANK``).

    Raises
    ------
    InputError
        An unknown device name, or one not available on this machine.
    """
    if name is None or str(name) == "auto":
        name = next(kind for kind, probe in _PROBES.items() if probe())
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {str(name)!r}.", field="device",
                         hint=f"use auto or one of {', '.join(_PROBES)}.") from None
    probe = _PROBES.get(device.type)
    if probe is None or not probe():
        raise InputError(f"device {str(name)!r} is not available on this machine.", field="device",
                         hint="use device: auto (CUDA, then MPS, then CPU) or device: cpu.")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``; a no-op elsewhere (float32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_runtime(threads: int, deterministic: bool) -> dict[str, int | bool | str | None]:
    """Set torch's intra-op thread count and deterministic-kernels mode for this process.

    Parameters
    ----------
    threads
        Intra-op CPU threads (a count, >= 1) for ``torch.set_num_threads``. A fixed count,
        not "all cores", keeps CPU results equal across machines.
    deterministic
        ``torch.use_deterministic_algorithms(deterministic, warn_only=True)``: kernels
        without a deterministic version warn instead of failing. When True and
        ``CUBLAS_WORKSPACE_CONFIG`` is unset, it is set to :data:`CUBLAS_WORKSPACE`
        (cuBLAS reads it when its first handle is made, so call this before any CUDA work).
        Later :func:`seed_everything` calls keep to this choice.

    Returns
    -------
    dict
        What is in force afterwards: ``threads`` and ``interop_threads`` (counts),
        ``deterministic`` (bool) and ``cublas_workspace_config`` (str or None).

    Raises
    ------
    InputError
        ``threads`` is not an integer >= 1.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be an integer >= 1, got {threads!r}.", field="threads",
                         hint="give the number of CPU threads torch may use, e.g. 2.")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(bool(deterministic), warn_only=True)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    _POLICY["deterministic"] = bool(deterministic)
    return {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def seed_everything(seed: int, *, deterministic: bool | None = None) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); ask torch for deterministic kernels.

    ``torch.use_deterministic_algorithms(True, warn_only=True)`` makes the CPU path
    reproducible bit for bit; on CUDA a few kernels have no deterministic version and only
    warn. cuDNN autotuning is switched off when ``deterministic``. ``deterministic=None``
    keeps to the last :func:`configure_runtime` choice (True when it was never called).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the global state other code may draw from)
    torch.manual_seed(seed)
    if deterministic is None:
        deterministic = _POLICY["deterministic"]
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


@dataclass(frozen=True)
class DistContext:
    """This process's place in data-parallel training (``world_size == 1``: none)."""

    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Whether this process writes files (rank 0)."""
        return self.rank == 0


def dist_context() -> DistContext:
    """Rank and world size from an initialised ``torch.distributed`` group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size())
    return DistContext()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if ctx.distributed:
        dist.barrier()

