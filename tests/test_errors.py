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
