"""The exception and warning types that studykit's users see.

Every user mistake raises a :class:`StudyError` subclass whose message names *where*
the problem is (file, 1-based row, column, YAML path or argument), *what* was expected
and received, and a *hint* with the fix. The CLI prints ``str(error)`` without a
traceback and exits with :data:`EXIT_USER_ERROR`.

This module is the bottom layer: it imports nothing from studykit, and every layer may
import it.
"""

from __future__ import annotations

import errno

__all__ = [
    "EXIT_USER_ERROR",
    "DataError",
    "FaultError",
    "InputError",
    "ProtocolError",
    "StudyError",
    "TrackingWarning",
    "UndefinedStatisticWarning",
    "fault_error",
]

#: Exit status of the CLI when a :class:`StudyError` is raised (bad input, not a bug).
EXIT_USER_ERROR = 2


class StudyError(Exception):
    """A user-facing error: bad input that the user can fix.

    Parameters
    ----------
    message
        What is wrong: expected vs received, naming the offending values.
    hint
        How to fix it (one sentence). Optional but strongly encouraged.
    file, row, field
        Where the problem is: a file path, a 1-based data row and a column name or
        YAML path (``arms[2].model``) or function argument (``y_true``).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        super().__init__(self._render())

    @property
    def location(self) -> str:
        """``file, row N, field X`` — the parts that are known, or ``""``."""
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field '{self.field}'" if self.file else f"'{self.field}'")
        return ", ".join(parts)

    def _render(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProtocolError(StudyError):
    """A protocol or arm-spec YAML is invalid (wrong key, type, value or path)."""


class DataError(StudyError):
    """An input data file (manifest, DICOM, annotations, reads) is invalid."""


class InputError(StudyError, ValueError):
    """An argument passed to a library function is invalid (wrong length, NaN, labels)."""


class FaultError(StudyError):
    """The machine refused an operation: permission denied, read-only or full disk (not a bug)."""


#: errno → (what happened, how to fix it), for :func:`fault_error`.
_FAULTS = {
    errno.EACCES: ("permission denied", "give your user read and write access to it, or choose another "
                                        "folder"),
    errno.EPERM: ("operation not permitted", "give your user access to it, or choose another folder"),
    errno.EROFS: ("the file system is read-only", "write the results to a writable folder"),
    errno.ENOSPC: ("the disk is full", "free space (or choose another disk); an interrupted run resumes "
                                       "where it stopped"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space within your quota; an interrupted run "
                                                 "resumes where it stopped"),
}
#: Substrings of torch's serialisation errors, which wrap a failed write without its errno.
_TORCH_WRITE_FAILED = ("inline_container", "PytorchStreamWriter failed")


def fault_error(error: BaseException) -> FaultError | None:
    """The clear :class:`FaultError` for an OS or library fault, or None when ``error`` is not one.

    One mapping for every layer and the CLI: permission denied, read-only file system, disk full
    or over quota (``OSError`` errno), and torch's checkpoint-writing ``RuntimeError``, which
    hides the ``ENOSPC`` it wraps (it is reported as a failed write, most often a full disk).
    """
    if isinstance(error, OSError) and error.errno in _FAULTS:
        what, fix = _FAULTS[error.errno]
        path = error.filename if error.filename is not None else None
        return FaultError(f"cannot be written or read: {what}.", file=path, hint=fix + ".")
    if isinstance(error, RuntimeError) and any(t in str(error) for t in _TORCH_WRITE_FAILED):
        return FaultError("writing a checkpoint failed (torch's serializer; most often the disk is full).",
                          hint="free space on the results folder's disk; the unit resumes from its last "
                               "complete checkpoint.")
    return None


class UndefinedStatisticWarning(UserWarning):
    """Legal data leaves a statistic undefined (one class only, zero variance…).

    The function returns NaN for the affected values instead of raising, as
    scikit-learn does for ``UndefinedMetricWarning``.
    """


class TrackingWarning(UserWarning):
    """Experiment tracking (MLflow) failed or is unavailable; the study ran and wrote its files.

    Tracking never stops a study (:mod:`studykit.study.tracking`): an unreachable tracking URI,
    an experiment that cannot be used or a missing ``mlflow`` package is this warning, naming
    what was not logged and the fix.
    """
