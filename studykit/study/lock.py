"""One writer per results folder: an advisory file lock held by ``run`` and ``report``.

The lock is :mod:`filelock`'s ``FileLock`` on ``<results folder>/.studykit.lock``: an
``flock`` on POSIX, which the operating system releases when the holding process dies
(SIGKILL, node reboot), so a lock left by a killed run is never stale — the next run simply
takes it. The holder writes its PID, host, start time and command to
``.studykit.lock.holder`` so a refused run can say who holds the folder.

Guarantee relied on: the results folder's file system implements ``flock`` across the
processes that share it. Local file systems do; Linux NFS clients (v3 with NLM, v4) map
``flock`` to POSIX byte-range locks that hold across hosts. File systems without working
locks (some FUSE mounts) give no mutual exclusion; run one study per folder there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from studykit.errors import StudyError, fault_error

__all__ = ["HOLDER_NAME", "LOCK_NAME", "held_by", "results_lock"]

LOCK_NAME = ".studykit.lock"
HOLDER_NAME = ".studykit.lock.holder"


@contextlib.contextmanager
def results_lock(folder: str | os.PathLike[str], *, wait: bool = False) -> Iterator[Path]:
    """Hold the lock of the results folder ``folder`` (created when missing) while the block runs.

    ``wait=False``: a folder held by another process raises :class:`StudyError` at once,
    naming the holder; ``wait=True``: block until it is released. Re-entrant within one
    process (``run`` may call ``report``'s code while holding it).
    """
    root = Path(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(root / LOCK_NAME, timeout=-1 if wait else 0)
        lock.acquire()
    except Timeout:
        raise StudyError(f"is in use by another studykit process ({_holder(root)}).", file=str(root),
                         hint="wait for it to finish, or pass --wait-lock to start when it does.") from None
    except OSError as exc:
        raise fault_error(exc) or exc from None
    try:
        since = dt.datetime.now().isoformat(timespec="seconds")
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since,
                  "command": " ".join(sys.argv[:3])}
        (root / HOLDER_NAME).write_text(json.dumps(holder) + "\n")
        yield root
    finally:
        with contextlib.suppress(OSError):
            (root / HOLDER_NAME).unlink()
        lock.release()


def held_by(folder: str | os.PathLike[str]) -> dict | None:
    """Who holds the lock of ``folder`` (``pid``, ``host``, ``since``, ``command``), or None when
    nobody does. Creates nothing.

    A holder writes its holder file while it holds the lock; the lock itself is only tried
    when that file exists, and a file left by a killed holder (whose lock the operating
    system has dropped) reads as not held. The try takes the lock for an instant: a process
    asking for it at that very instant without waiting may be refused, as by any holder.
    """
    root = Path(folder)
    if not (root / HOLDER_NAME).is_file():
        return None
    try:
        lock = FileLock(root / LOCK_NAME, timeout=0)
        lock.acquire()
    except Timeout:
        try:
            return json.loads((root / HOLDER_NAME).read_text())
        except (OSError, ValueError):
            return {"pid": None, "host": None, "since": None, "command": "holder unknown"}
    except OSError:
        return None
    lock.release()
    return None


def _holder(root: Path) -> str:
    """``PID 123 on host, since …, command …`` from the holder file, or ``holder unknown``."""
    try:
        info = json.loads((root / HOLDER_NAME).read_text())
        return f"PID {info['pid']} on {info['host']} since {info['since']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
