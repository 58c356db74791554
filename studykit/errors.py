"""The exception and warning types that studykit's users see.

Every user mistake raises a :class:`StudyError` subclass whose message names *where*
the problem is (file, 1-based row, column, YAML path or argument), *what* was expected
and received, and a *hint* with the fix. The CLI prints ``str(error)`` without a
traceback and exits with :data:`EXIT_USER_ERROR`.

This module is the bottom layer: it imports nothing from studykit, and every layer may
import it.
"""

from __future__ import annotations

__all__ = [
    "EXIT_USER_ERROR",
    "DataError",
    "InputError",
    "ProtocolError",
    "StudyError",
    "UndefinedStatisticWarning",
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


class UndefinedStatisticWarning(UserWarning):
    """Legal data leaves a statistic undefined (one class only, zero variance…).

    The function returns NaN for the affected values instead of raising, as
    scikit-learn does for ``UndefinedMetricWarning``.
    """
