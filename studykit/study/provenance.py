"""Provenance: content hashes of the inputs, the lock file and the versions of the run."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from studykit.protocol.study import StudyProtocol

__all__ = ["git_commit", "input_hashes", "lock_document", "sha256_file", "versions"]

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
