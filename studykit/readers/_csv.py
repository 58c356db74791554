"""Reading reader CSV files as text and pointing at their rows (private helpers).

Rows are counted as in :mod:`studykit.cohort.tables`: 1-based *data* rows, the header not
counted (data row 1 is the first line after the header; a spreadsheet shows it as row 2).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import DataError
from studykit.vocab import closest, read_utf8

FILE, ROW = "_file", "_row"  # provenance columns of the raw table, dropped before returning
_SHOW = 5  # ids listed in a message


def read_csv_text(path: Path) -> pd.DataFrame:
    """One CSV file as stripped strings plus ``_file`` and ``_row`` (1-based data row) columns.

    Blank lines are dropped but keep their row numbers, so later rows are named as counted.
    """
    if not path.is_file():
        raise DataError("file not found.", file=str(path),
                        hint="give the path of the reader CSV (relative paths start at the protocol's "
                             "folder).")
    text = read_utf8(path, DataError, example=Path(path).name)  # Excel's BOM dropped
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skip_blank_lines=False)  # blank lines count as rows, then are dropped
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot be read as CSV ({exc}).", file=str(path),
                        hint="save the table as UTF-8 comma-separated text with one header row.") from exc
    table.columns = [str(c).strip() for c in table.columns]
    table = table.apply(lambda col: col.astype(str).str.strip()).astype(object)
    blank = (table == "").all(axis=1).to_numpy()
    table[FILE] = str(path)
    table[ROW] = np.arange(1, len(table) + 1)
    return table[~blank].reset_index(drop=True)


def require_columns(table: pd.DataFrame, columns: Iterable[str], *, file: Path, why: str = "") -> None:
    """Raise for the first of ``columns`` missing from ``table``, suggesting a near match."""
    present = [c for c in table.columns if c not in (FILE, ROW)]
    for column in columns:
        if column in present:
            continue
        close = closest(column, present)
        hint = (f"did you mean {close!r}? Rename that column to {column!r}." if close else
                f"add a {column!r} column{why}; reader CSVs have columns reader_id, group, patient_id, "
                "call and optionally score.")
        if len(present) == 1 and ";" in present[0]:
            hint = "the file looks semicolon-separated: save it as comma-separated CSV."
        shown = ", ".join(repr(c) for c in present)
        raise DataError(f"has no column {column!r} (columns: {shown}).", file=str(file), field=column,
                        hint=hint)


def fail_at(raw: pd.DataFrame, mask: Any, message: str, *, field: str, hint: str) -> None:
    """Raise a :class:`DataError` at the first row where ``mask`` holds; nothing when none does.

    ``message`` may contain ``{value}``, replaced by the ``repr`` of the offending cell of
    ``field``. When several rows offend, the message says how many.
    """
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    if hits.size == 0:
        return
    first = raw.iloc[hits[0]]
    text = message.replace("{value}", repr(first[field])) if field in raw.columns else message
    if hits.size > 1:
        text = f"{text.rstrip('.')} ({hits.size} rows in all; this is the first)."
    raise DataError(text, file=first[FILE], row=int(first[ROW]), field=field, hint=hint)


def where(raw: pd.DataFrame, index: int) -> str:
    """``reads.csv row 3`` for one row of the raw table (for messages naming a second place)."""
    rec = raw.iloc[index]
    return f"{Path(rec[FILE]).name} row {rec[ROW]}"


def listed(ids: Sequence[Any]) -> str:
    """``'a', 'b', … (12 in all)``: the first few ids of a list."""
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:_SHOW])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > _SHOW else "")
