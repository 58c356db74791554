"""Provenance: content hashes of the inputs, the lock file, the versions of the run and
``provenance.json`` (versions, git commit, seeds, device, runtime, timings, units)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from studykit.errors import StudyError, fault_error
from studykit.protocol.arms import ArmSpec
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout, atomic_write_json
from studykit.vocab import atomic_write

__all__ = [
    "git_commit",
    "input_hashes",
    "lock_document",
    "protocol_from_lock",
    "provenance_block",
    "read_lock_document",
    "sha256_file",
    "versions",
    "write_lock_document",
    "write_provenance",
]

_PACKAGES = ("torch", "timm", "numpy", "pandas", "scipy", "pydicom", "matplotlib")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(
    protocol: StudyProtocol, cohort_dir: Path, reader_files: Iterable[Path], store_key: str | None
) -> dict[str, str]:
    """Content hashes of every input: protocol, arm specs, cohort tables, reader CSVs, store key.

    The videos are covered by the pair store's key (ingestion hashes every input byte).
    """
    files: list[Path] = [Path(protocol.source)] if protocol.source else []
    files += [Path(arm.model) for arm in protocol.arms if hasattr(arm, "model")]
    files += [cohort_dir / name for name in ("manifest.csv", "annotations.csv", "truth.csv")]
    files += list(reader_files)
    hashes = {str(f): sha256_file(f) for f in files if f.is_file()}
    if store_key is not None:
        hashes["pair_store_key"] = store_key
    return hashes


def lock_document(
    protocol: StudyProtocol, hashes: dict[str, str], cohort_dir: Path, store_path: Path | None
) -> str:
    """``protocol.lock.yaml``: the resolved protocol, loaded arm specs, cohort paths and input hashes."""
    document = {
        "source": protocol.source,
        "protocol": protocol.model_dump(mode="json"),
        "arm_specs": [spec.model_dump(mode="json") for spec in protocol.arm_specs],
        "cohort_dir": str(cohort_dir),
        "store": None if store_path is None else str(store_path),
        "inputs_sha256": hashes,
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def versions() -> dict[str, str]:
    """Python, studykit and the main libraries' versions."""
    found = {"python": platform.python_version()}
    for name in ("studykit", *_PACKAGES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_commit(folder: Path) -> str:
    """The git commit of ``folder`` (``+dirty`` with uncommitted changes), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def read_lock(path: Path) -> dict[str, Any]:
    """Parse ``protocol.lock.yaml``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def provenance_block(
    protocol: StudyProtocol,
    *,
    hashes: dict[str, str] | None,
    device: str | None,
    stages: dict[str, float] | None,
    wall_s: float | None,
    runtime: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Versions, git commit, seeds, input hashes, device, runtime and timings (JSON-ready).

    ``runtime``: torch's settings in force (:func:`studykit.train.configure_runtime`:
    ``threads``, ``interop_threads``, ``deterministic``, ``cublas_workspace_config``).
    """
    seeds = {
        "splits": protocol.design.seed,
        "analyses": protocol.analyses.seed,
        **{f"arm {s.name}": s.seed for s in protocol.arm_specs},
    }
    source = Path(protocol.source).parent if protocol.source else Path.cwd()
    block: dict[str, Any] = {
        "versions": versions(),
        "git_commit": git_commit(source),
        "seeds": seeds,
        "device": device or "unknown",
    }
    if runtime:
        block["runtime"] = dict(runtime)
    if hashes:
        block["inputs_sha256"] = hashes
    if stages:
        block["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    if wall_s is not None:
        block["wall_time_s"] = round(wall_s, 1)
    return block


def write_provenance(
    protocol: StudyProtocol,
    layout: Layout,
    *,
    hashes: dict[str, str],
    device: str,
    stages: dict[str, float],
    units: list[Any],
    wall_s: float,
    runtime: dict[str, Any] | None = None,
) -> Path:
    """``provenance.json``: :func:`provenance_block` plus what each unit did."""
    block = provenance_block(
        protocol, hashes=hashes, device=_device_name(device), stages=stages, wall_s=wall_s, runtime=runtime
    )
    block["units"] = [
        {"arm": u.arm, "fold": u.fold, "status": u.status, "seconds": round(u.seconds, 1)} for u in units
    ]
    return atomic_write_json(layout.provenance, block)


def _device_name(device: str) -> str:
    from studykit.train import resolve_device

    try:
        return str(resolve_device(device))
    except StudyError:
        return device


def write_lock_document(path: Path, protocol: StudyProtocol, hashes: dict[str, str], cohort_dir: Path,
                        store_path: Path | None) -> Path:
    """Replace ``protocol.lock.yaml`` by a checked successor: the document is written aside,
    read back as ``studykit report`` will read it (:func:`read_lock_document`) and only then
    renamed onto ``path`` (:func:`~studykit.vocab.atomic_write`)."""
    text = lock_document(protocol, hashes, cohort_dir, store_path)

    def write_checked(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        read_lock_document(tmp)

    return atomic_write(path, write_checked)


def read_lock_document(path: Path) -> dict:
    """``protocol.lock.yaml`` checked to be one this library wrote; a StudyError naming it otherwise."""
    try:
        lock = read_lock(path)
        protocol_from_lock(lock)
        Path(lock["cohort_dir"])
    except OSError as exc:
        raise fault_error(exc) or exc from None
    except Exception as exc:  # YAML, key, type and schema errors of a damaged or hand-edited file
        raise StudyError(f"is not a protocol lock studykit wrote ({type(exc).__name__}: {str(exc)[:200]}).",
                         file=str(path), hint="re-create it with `studykit run PROTOCOL` (finished units are "
                                              "kept and not retrained).") from None
    return lock


def protocol_from_lock(lock: dict) -> StudyProtocol:
    """The resolved protocol recorded in ``protocol.lock.yaml`` (arm specs as they were run)."""
    protocol = StudyProtocol.model_validate(lock["protocol"])
    specs = tuple(ArmSpec.model_validate(spec) for spec in lock["arm_specs"])
    return protocol.model_copy(update={"source": lock.get("source"), "arm_specs": specs})
