"""From the pair store to device batches.

The store's ``pairs.u8`` is a raw uint8 array ``N × 2 × H × W`` (channel 0 B-mode, 1 CEUS);
a batch is gathered from it by row number with ``os.preadv`` straight into the batch array,
so memory holds one batch, never the store. (Fancy-indexing the memmap instead maps the
kernel's read-around of every touched row into the process: on the development machine
256 random rows of a 500 MiB store grew the resident set by 320 MiB.) Where ``preadv`` is
missing (Windows) the memmap is indexed. On CUDA the gathered batch goes through pinned
memory with a non-blocking copy.
When the store's crop size differs from the arm's ``input_size``, the batch is resized on
the device (``F.interpolate``, bilinear, antialiased when shrinking) to float32 in [0, 1];
otherwise it stays uint8 (the nets and the augmenter accept both).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from studykit.cohort import PairStore
from studykit.errors import DataError
from studykit.nets import model_kind
from studykit.protocol.arms import ArmSpec

__all__ = ["CHANNELS", "arm_channels", "arm_modalities", "load_batch", "patient_rows", "store_rows"]

#: Store channel of each modality.
CHANNELS = {"bmode": 0, "ceus": 1}


def arm_modalities(arm: ArmSpec) -> tuple[str, ...]:
    """Modalities an arm's net reads, in its input order (its kind's, :class:`studykit.nets.ModelKind`)."""
    return model_kind(arm.kind).inputs(arm.modality)


def arm_channels(arm: ArmSpec) -> tuple[int, ...]:
    """Store channels an arm reads, one per modality of :func:`arm_modalities`."""
    return tuple(CHANNELS[m] for m in arm_modalities(arm))


def store_rows(store: PairStore, patients: Sequence[str], *, split: str = "train") -> np.ndarray:
    """Sorted store rows of every image of ``patients``.

    Raises
    ------
    DataError
        A patient of the fold has no image in the store (splits and store do not match).
    """
    ids = store.index["patient_id"].astype(str)
    wanted = [str(p) for p in patients]
    missing = sorted(set(wanted) - set(ids))
    if missing:
        raise DataError(f"{len(missing)} {split} patient(s) of the fold have no image in the pair store "
                        f"(e.g. {', '.join(missing[:5])}).", file=str(store.path), field="patient_id",
                        hint="make the splits from the same cohort as the store (cohort/splits.json).")
    return np.flatnonzero(ids.isin(wanted).to_numpy())


def patient_rows(store: PairStore, patients: Sequence[str], *, split: str = "train") -> list[np.ndarray]:
    """Each patient's store rows in time order, one array per patient, patients in store order.

    Time order: the index's ``time_s`` (s since injection) ascending, frames of unknown time
    (NaN) after the timed ones, ties in store order (video, then frame). Errors as
    :func:`store_rows`.
    """
    rows = store_rows(store, patients, split=split)
    index = store.index.iloc[rows]
    times = index["time_s"].to_numpy(np.float64) if "time_s" in index else np.full(len(rows), np.nan)
    ids = index["patient_id"].astype(str).to_numpy()
    order = np.lexsort((rows, np.where(np.isnan(times), np.inf, times)))
    by_patient: dict[str, list[int]] = {pid: [] for pid in dict.fromkeys(ids)}
    for k in order:
        by_patient[ids[k]].append(int(rows[k]))
    return [np.asarray(r, dtype=np.int64) for r in by_patient.values()]


def load_batch(store: PairStore, rows: np.ndarray, device: torch.device, *, channels: Sequence[int],
               size: int) -> torch.Tensor:
    """Gather ``rows`` of the store onto ``device``, resized to ``size × size``.

    Parameters
    ----------
    store
        The pair store (memmap).
    rows
        Store row numbers, shape ``(N,)``, any order.
    device
        Target device.
    channels
        Store channels to keep (``(0, 1)`` pairs, ``(0,)`` B-mode, ``(1,)`` CEUS).
    size
        The arm's ``input_size`` in pixels.

    Returns
    -------
    torch.Tensor
        ``N × len(channels) × size × size``: uint8 when the store already has that size,
        else float32 in [0, 1].
    """
    batch = torch.from_numpy(read_rows(store, np.asarray(rows, dtype=np.int64), tuple(channels)))
    if device.type == "cuda":
        batch = batch.pin_memory().to(device, non_blocking=True)
    else:
        batch = batch.to(device)
    return resize(batch, size)


def resize(batch: torch.Tensor, size: int) -> torch.Tensor:
    """``batch`` unchanged if already ``size × size``, else float32 in [0, 1] resized bilinearly."""
    if tuple(batch.shape[-2:]) == (size, size):
        return batch
    images = batch.to(torch.float32).div_(255.0) if batch.dtype == torch.uint8 else batch.float()
    shrink = size < max(batch.shape[-2:])
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return out.clamp_(0.0, 1.0)



@functools.lru_cache(maxsize=8)
def _open(path: str) -> int:
    """A read-only descriptor of a store's ``pairs.u8``, kept open for the process's life."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


def read_rows(store: PairStore, rows: np.ndarray, channels: tuple[int, ...]) -> np.ndarray:
    """``store.images[rows][:, channels]`` as a new C-contiguous uint8 array (``N × C × H × W``).

    Each requested panel is read with one ``os.preadv`` into its slot of the output, so no
    page of the store is mapped into the process.
    """
    n_channels, height, width = store.images.shape[1:]
    out = np.empty((len(rows), len(channels), height, width), dtype=np.uint8)
    if not hasattr(os, "preadv") or len(rows) == 0:
        out[:] = store.images[rows][:, list(channels)]
        return out
    fd, panel = _open(str(store.path / "pairs.u8")), height * width
    for i, row in enumerate(rows.tolist()):
        for j, channel in enumerate(channels):
            offset = (row * n_channels + channel) * panel
            if os.preadv(fd, [memoryview(out[i, j]).cast("B")], offset) != panel:
                raise DataError(f"pairs.u8 ends before row {row}.", file=str(store.path),
                                hint="the store is truncated; delete it and ingest again.")
    return out
