"""User-facing errors: location, message and hint render in one clear string."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studykit.errors import DataError, InputError, ProtocolError, StudyError


def test_message_names_file_row_field_and_hint():
    error = DataError("label 'maligant' is not benign|malignant.", file="manifest.csv", row=12,
                      field="label", hint="fix the label or declare it in the protocol.")
    assert str(error) == ("manifest.csv, row 12, field 'label': label 'maligant' is not benign|malignant."
                          "\n  hint: fix the label or declare it in the protocol.")
    assert (error.file, error.row, error.field) == ("manifest.csv", 12, "label")


def test_argument_errors_quote_the_argument():
    assert str(InputError("must be 0/1.", field="y_true")) == "'y_true': must be 0/1."
    assert str(ProtocolError("unknown key.")) == "unknown key."


@pytest.mark.parametrize("kind", [DataError, InputError, ProtocolError])
def test_every_user_error_is_a_study_error(kind):
    assert issubclass(kind, StudyError)
    with pytest.raises(StudyError):
        raise kind("x")


def test_stats_does_not_import_torch():
    code = "import sys, studykit.stats; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(("error", "message", "hint"), [
    (PermissionError(13, "Permission denied", "/r/arms"),
     "/r/arms: cannot be written or read: permission denied.", "read and write access"),
    (OSError(30, "Read-only file system", "/r/x.csv"), "the file system is read-only", "writable folder"),
    (OSError(28, "No space left on device", "/r/ck.pt"), "the disk is full", "resumes where it stopped"),
    (RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file"),
     "writing a checkpoint failed", "free space"),
])
def test_os_and_library_faults_become_clear_errors(error, message, hint):
    from studykit.errors import FaultError, fault_error

    fault = fault_error(error)
    assert isinstance(fault, FaultError) and isinstance(fault, StudyError)
    assert message in str(fault) and hint in fault.hint


@pytest.mark.parametrize("error", [OSError(22, "Invalid argument"), RuntimeError("shape mismatch"),
                                   KeyError("x")])
def test_other_errors_are_not_faults(error):
    from studykit.errors import fault_error

    assert fault_error(error) is None


def test_the_cli_prints_a_fault_without_traceback_and_a_bug_with_one():
    code = """
import errno, sys
from studykit.cli.app import cli
from studykit.cli import commands
import click
@cli.command("boom")
@click.argument("kind")
def boom(kind):
    if kind == "full":
        raise OSError(errno.ENOSPC, "No space left on device", "/results/x.pt")
    raise ValueError("an internal bug")
cli.main(args=sys.argv[1:], prog_name="studykit")
"""
    full = subprocess.run([sys.executable, "-c", code, "boom", "full"], capture_output=True, text=True,
                          timeout=60)
    assert full.returncode == 2 and "Traceback" not in full.stderr
    assert "/results/x.pt: cannot be written or read: the disk is full." in full.stderr
    bug = subprocess.run([sys.executable, "-c", code, "boom", "bug"], capture_output=True, text=True,
                         timeout=60)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "ValueError: an internal bug" in bug.stderr
    assert "internal error (a bug, not your input)" in bug.stderr
