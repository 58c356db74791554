"""The one progress hook: library code reports ``(done, total, description)``; the CLI draws.

Library functions accept ``progress: studykit.vocab.Progress | None`` — a callable
``(done, total, description)`` — and call it as work completes; they never print.
:func:`progress_bar` yields such a callable backed by a rich progress bar (one task per
distinct description).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from studykit.cli.app import stderr
from studykit.vocab import Progress as ProgressHook


@contextmanager
def progress_bar() -> Iterator[ProgressHook]:
    """A rich progress display on stderr; yields the hook to pass to library functions."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=False) as bar:
        tasks: dict[str, int] = {}

        def hook(done: int, total: int, description: str) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
            bar.update(tasks[description], completed=done, total=total)

        yield hook
