"""The ``studykit`` command: one group, one error handler, thin commands.

Every :class:`~studykit.errors.StudyError` raised below a command is printed as one
message with its hint, without a traceback, and the process exits with status 2
(:data:`~studykit.errors.EXIT_USER_ERROR`); so are the OS faults that
:func:`~studykit.errors.fault_error` recognises (permission denied, read-only or full disk).
Anything else is a bug: it keeps its traceback, followed by a line asking for a report.
"""

from __future__ import annotations

import warnings

import click
from rich.console import Console

from studykit import __version__
from studykit.errors import EXIT_USER_ERROR, StudyError, TrackingWarning, fault_error

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)


class StudyGroup(click.Group):
    """A click group that turns :class:`StudyError` into a clean message and exit 2."""

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.showwarning = _house_warning(warnings.showwarning)
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StudyError as error:
            print_error(error)
            ctx.exit(EXIT_USER_ERROR)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (OSError, RuntimeError) as error:
            fault = fault_error(error)
            if fault is None:
                _report_bug()
                raise
            print_error(fault)
            ctx.exit(EXIT_USER_ERROR)
        except Exception:
            _report_bug()
            raise


def _house_warning(default):
    """``warnings.showwarning`` that prints a :class:`TrackingWarning` as one ``warning: …`` line
    (the study went on; the message names what was not logged and the fix); others as ``default``."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, TrackingWarning):
            stderr.print(f"warning: {message}", markup=False, highlight=False)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def _report_bug() -> None:
    stderr.print("studykit hit an internal error (a bug, not your input): please report it to the "
                 "studykit maintainers with the traceback below and the command you ran.", markup=False)


def print_error(error: StudyError) -> None:
    """Print ``error`` (location, message, hint) to stderr in the house format."""
    kind = type(error).__name__
    stderr.print(f"[bold red]error[/] ({kind}): ", end="")
    stderr.print(str(error), markup=False)


@click.group(cls=StudyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="studykit")
def cli() -> None:
    """studykit: a diagnostic-accuracy study, end to end, from one YAML protocol.

    Trains the model arms, imports the readers' reads, runs every statistical
    comparison and writes publication tables, figures and a report.
    """

