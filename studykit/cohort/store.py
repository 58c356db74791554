"""The ROI pair store: a content-addressed folder of paired B-mode/CEUS crops.

Layout (one folder per key, under a store root, by default ``COHORT/store/``)::

    <root>/<key>/pairs.u8     raw uint8, C order, shape N × 2 × H × W (channel 0 B-mode, 1 CEUS)
    <root>/<key>/index.csv    image_id, patient_id, frame, phase, label, subtype, center, scanner,
                              time_s (row i describes pairs[i]; label 1 = positive class; time_s
                              the frame's time since the contrast injection in s, empty = unknown)
    <root>/<key>/store.json   shape, dtype, key, settings, input hashes, format and studykit versions

The key is a SHA-256 over the SHA-256 of every input file's bytes (manifest, annotations,
each video or PNG, hashed streaming), the settings that change the result (size, margin,
column names, labels) and :data:`STORE_FORMAT`; the number of workers is not part of it.
The same inputs therefore find the same folder and nothing is decoded again; any changed
byte gives a new key and a new folder.

A store is built in a hidden temporary folder beside its final place (``.tmp-<key>-…``),
flushed to disk, and renamed into place in one step, so a folder named by a key is
always complete; a crashed build leaves only a ``.tmp-`` folder, removed by the next
build on the same machine once its process is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import DataError
from studykit.vocab import Progress, fsync_dir, remove_dead_temps, temp_name

__all__ = ["CHANNELS", "INDEX_COLUMNS", "STORE_FORMAT", "TIME_COLUMN", "PairStore", "hash_file", "hash_files",
           "store_key"]

#: Version of the on-disk layout; part of every key, so a new layout never reuses old stores.
#: 2: ``index.csv`` gains ``time_s`` (format-1 stores are not opened; ingesting the same inputs
#: again builds a format-2 store under its new key).
STORE_FORMAT = 2
PAIRS_FILE, INDEX_FILE, META_FILE = "pairs.u8", "index.csv", "store.json"
CHANNELS = ("bmode", "ceus")
#: The index columns every store has, in order.
INDEX_COLUMNS = ("image_id", "patient_id", "frame", "phase", "label", "subtype", "center", "scanner")
#: The index column after them: the frame's time since the contrast injection, s (NaN where the
#: video has no frame timing, the manifest no ``injection_s``, and for PNG pairs). Ingestion always
#: writes it; a store written by hand may leave it out (it then reads as NaN).
TIME_COLUMN = "time_s"
_TEXT_COLUMNS = ("image_id", "patient_id", "phase", "subtype", "center", "scanner")
_CHUNK = 1 << 20  # bytes read at a time while hashing


def hash_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (hex digest)."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def hash_files(paths: Sequence[Path], *, workers: int = 1, progress: Progress | None = None) -> list[str]:
    """SHA-256 of each file, in order; ``workers`` threads (hashlib releases the GIL)."""
    if workers <= 1 or len(paths) < 2:
        digests = []
        for i, path in enumerate(paths, start=1):
            digests.append(hash_file(path))
            if progress:
                progress(i, len(paths), "hash inputs")
        return digests
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = []
        for i, digest in enumerate(pool.map(hash_file, paths), start=1):
            digests.append(digest)
            if progress:
                progress(i, len(paths), "hash inputs")
        return digests


def store_key(fingerprint: dict[str, Any]) -> str:
    """20 hex digits of the SHA-256 of the canonical JSON of ``fingerprint``."""
    text = json.dumps({"format": STORE_FORMAT, **fingerprint}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class PairStore:
    """A finished pair store, opened read-only.

    Parameters
    ----------
    path : str or Path
        The store folder (``<root>/<key>``).

    Attributes
    ----------
    images : np.memmap, uint8, shape (N, 2, H, W)
        Read-only; ``images[i, 0]`` is the B-mode crop and ``images[i, 1]`` the CEUS crop
        of ``index.iloc[i]``.
    index : DataFrame
        One row per pair: ``image_id, patient_id, frame, phase, label, subtype, center,
        scanner, time_s`` (text columns as strings, ``frame`` and ``label`` as integers,
        ``time_s`` float, NaN where unknown).
    meta : dict
        The content of ``store.json``.
    key : str
    path : Path

    Raises
    ------
    DataError
        When the folder is not a complete store of this format.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.meta = _read_meta(self.path)
        self.key = str(self.meta["key"])
        shape = tuple(int(s) for s in self.meta["shape"])
        pairs = self.path / PAIRS_FILE
        if not pairs.is_file() or pairs.stat().st_size != int(np.prod(shape)):
            raise _corrupt(self.path, f"{PAIRS_FILE} does not hold {' × '.join(map(str, shape))} bytes")
        self.index = _read_index(self.path, shape[0])
        self.images = np.memmap(pairs, dtype=np.uint8, mode="r", shape=shape) if shape[0] else \
            np.zeros(shape, np.uint8)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.images.shape)  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        return f"PairStore({str(self.path)!r}, {n} pairs of {h}×{w})"


def _read_index(path: Path, n: int) -> pd.DataFrame:
    """``index.csv`` of ``n`` rows with :data:`INDEX_COLUMNS` and :data:`TIME_COLUMN` (NaN if absent)."""
    dtypes = {c: str for c in _TEXT_COLUMNS} | {"frame": np.int64, "label": np.int64, TIME_COLUMN: str}
    index = pd.read_csv(path / INDEX_FILE, keep_default_na=False, dtype=dtypes)
    columns = tuple(index.columns)
    if len(index) != n or columns not in (INDEX_COLUMNS, (*INDEX_COLUMNS, TIME_COLUMN)):
        raise _corrupt(path, f"{INDEX_FILE} does not describe the {n} pairs")
    times = index[TIME_COLUMN] if TIME_COLUMN in index else pd.Series("", index=index.index)
    index[TIME_COLUMN] = pd.to_numeric(times.replace("", "nan"), errors="coerce").astype(np.float64)
    return index


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise _corrupt(path, f"{META_FILE} is missing or unreadable ({exc})") from exc
    found = meta.get("format")
    if isinstance(found, int) and found < STORE_FORMAT:
        raise DataError(f"is a pair store of format {found}, written by an older studykit; this one reads "
                        f"format {STORE_FORMAT} (its index gained {TIME_COLUMN}).", file=str(path),
                        hint="ingest the cohort again (`studykit ingest`, or rerun the study): the same "
                             "inputs build a new store beside this one, which can then be deleted.")
    if found != STORE_FORMAT:
        raise _corrupt(path, f"its format {found!r} is not {STORE_FORMAT}")
    return meta


def _corrupt(path: Path, why: str) -> DataError:
    return DataError(f"is not a complete pair store: {why}.", file=str(path),
                     hint="delete the folder; `studykit ingest` builds it again.")


def find_store(root: Path, key: str) -> PairStore | None:
    """The finished store ``root/key``, or None when it has not been built."""
    folder = root / key
    return PairStore(folder) if (folder / META_FILE).is_file() else None


@contextlib.contextmanager
def building(root: Path, key: str) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success move it to ``root/key`` atomically.

    On any exception the temporary folder is removed and the exception propagates. When
    another process finished the same key first, its store is kept and ours discarded.
    """
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    remove_dead_temps(root, f".tmp-{key}-")
    tmp = root / temp_name(f".tmp-{key}-")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_folder(tmp)
        try:
            os.rename(tmp, root / key)
        except OSError:
            if not (root / key / META_FILE).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:  # a store folder this build made and nothing else uses: not left behind empty
            with contextlib.suppress(OSError):
                root.rmdir()
        raise


def _fsync_folder(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)


def allocate(folder: Path, shape: tuple[int, int, int, int]) -> Path:
    """Create ``pairs.u8`` of ``prod(shape)`` zero bytes (sparse) for workers to fill."""
    path = folder / PAIRS_FILE
    with open(path, "wb") as fh:
        fh.truncate(int(np.prod(shape)))
    return path


def write_index(folder: Path, index: pd.DataFrame) -> None:
    """``index.csv`` with the fixed column order (``time_s`` last) and ``\\n`` line ends."""
    columns = [*INDEX_COLUMNS, TIME_COLUMN]
    index.loc[:, columns].to_csv(folder / INDEX_FILE, index=False, lineterminator="\n")


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """``store.json`` (sorted keys, so equal content gives equal bytes)."""
    text = json.dumps({"format": STORE_FORMAT, **meta}, sort_keys=True, indent=1)
    (folder / META_FILE).write_text(text + "\n")
