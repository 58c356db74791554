"""Atomic checkpoint and record files of one (arm, fold) unit, RNG states and fingerprints.

Every file is written through :func:`studykit.vocab.atomic_write` (a temporary file in the
same folder, flushed and renamed over the target), so a crash at any moment leaves either
the previous or the new version, never a torn file. ``done.json`` carries the fingerprint of
the unit's inputs — a hash of the arm spec, the pair store's key and a hash of the fold's
patient ids — so a finished unit is recognised, and a folder trained from other inputs is
never mixed up with them.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from studykit.cohort import Fold, PairStore
from studykit.errors import DataError, fault_error
from studykit.protocol.arms import ArmSpec
from studykit.vocab import atomic_write

__all__ = ["fingerprint", "get_rng_states", "load_checkpoint", "read_done",
           "save_checkpoint", "set_rng_states", "write_csv", "write_json"]


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` onto the CPU.

    ``weights_only=False``: the checkpoint holds NumPy and Python RNG states; load only
    checkpoints this library wrote (torch's pickle caveat).

    Raises
    ------
    DataError
        The file is truncated or corrupt (naming it, and how to retrain the unit).
    FaultError
        It cannot be read (permissions).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, OSError … for bad bytes
        raise fault_error(exc) or _corrupt(path, f"cannot be loaded as a checkpoint ({type(exc).__name__})") \
            from None


def write_json(data: dict[str, Any], path: Path) -> None:
    """Indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
    atomic_write(path, text)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV without the index, ``\\n`` line ends, atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))


def read_done(path: Path) -> dict[str, Any] | None:
    """The content of ``done.json``, or None when the unit has not finished.

    A file that is not a JSON object raises :class:`DataError` naming it (a unit is never
    taken as finished on a corrupt record).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise fault_error(exc) or exc from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise _corrupt(path, "is not valid JSON") from None
    if not isinstance(data, dict):
        raise _corrupt(path, "is not a JSON object")
    return data


def _corrupt(path: Path, what: str) -> DataError:
    """The error for a unit file that cannot be read back: which unit, and how to retrain it."""
    unit = Path(path).parent
    return DataError(f"{what}: this unit's files are truncated or corrupt.", file=str(path),
                     hint=f"delete the unit folder {unit} to retrain that unit on the next run "
                          "(or run again with --fresh to retrain every unit).")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(arm: ArmSpec, store: PairStore | str, fold: Fold) -> dict[str, str | int]:
    """What identifies a unit's inputs: arm-spec hash, input key, fold index and ids hash.

    ``store``: the pair store a network arm trains on (its key, ``store_key``), or the SHA-256
    of a perfusion arm's feature table (``features_sha256``,
    :func:`studykit.train.perfusion.features_key`). The arm hash covers every field of the
    spec (its canonical JSON dump), so any change in the recipe, device options included, is
    a different unit.
    """
    arm_json = json.dumps(arm.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    ids = json.dumps({"train": list(fold.train), "val": list(fold.val), "test": list(fold.test)},
                     separators=(",", ":"))
    inputs = {"features_sha256": store} if isinstance(store, str) else {"store_key": store.key}
    return {"arm_sha256": _sha(arm_json), **inputs, "fold": int(fold.index), "fold_ids_sha256": _sha(ids)}


def get_rng_states() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (when present) every CUDA device's RNG state."""
    states: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_states` returned."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])  # noqa: NPY002 (the global state other code may draw from)
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
