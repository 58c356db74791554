"""The ``studykit`` command: version, help, the error handler (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import studykit
from studykit import stats
from studykit.cli import main
from studykit.cli.app import cli


def run(*args: str):
    from studykit.cli import commands  # noqa: F401  (registers commands, as main() does)

    return CliRunner().invoke(cli, list(args))


def test_version_and_help():
    assert run("--version").output.strip() == f"studykit, version {studykit.__version__}"
    result = run("--help")
    assert result.exit_code == 0 and "diagnostic-accuracy study" in result.output and "auc" in result.output


def test_run_help_documents_threads_and_rejects_zero():
    result = run("run", "--help")
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "--threads" in text
    assert "overrides the protocol's runtime.threads (default: the protocol's value, 2 unless" in text
    result = run("run", "protocol.yaml", "--threads", "0")
    assert result.exit_code == 2 and "'--threads': 0 is not in the range x>=1" in result.output


def test_console_script_error_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "from studykit.cli import main; main()", "auc",
                           str(tmp_path / "missing.csv"), "--label", "y", "--score", "p"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "missing.csv: file not found." in proc.stderr and "hint: check the path" in proc.stderr


@pytest.fixture
def reads_csv(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.random(80) < 0.5
    frame = pd.DataFrame({"label": np.where(y, "malignant", "benign"), "patient": np.arange(80),
                          "muf": rng.normal(size=80) + 1.5 * y, "ceus": rng.normal(size=80) + 0.8 * y})
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_auc_command_prints_aucs_and_comparison(reads_csv):
    path, frame = reads_csv
    result = run("auc", str(path), "--label", "label", "--pos-label", "malignant",
                 "--score", "muf", "--score", "ceus")
    assert result.exit_code == 0, result.output
    expected = stats.roc_auc(frame["label"], frame["muf"], pos_label="malignant")["estimate"].item()
    assert f"{expected:.4f}" in result.output
    diff = stats.delong_test(frame["label"], frame["muf"], frame["ceus"], pos_label="malignant")
    assert f"{diff['estimate'].item():+.4f}" in result.output and "Holm" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--label", "lable", "--score", "muf"], "did you mean 'label'"),
    (["--label", "label", "--score", "muf"], "no positive label was given"),
    (["--label", "label", "--pos-label", "malignant", "--score", "muf", "--confidence", "1.5"],
     "strictly between 0 and 1"),
])
def test_user_errors_exit_2_with_message(reads_csv, args, message):
    path, _ = reads_csv
    result = run("auc", str(path), *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from studykit.cli import main; main()", *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_auc_messages_speak_the_command_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("label,s1,s2\nbenign,0.1,0.3\nmalignant,0.9,\nbenign,0.2,0.5\nmalignant,0.8,0.7\n")
    cases = [
        (["--label", "label", "--score", "s1"],
         ["s.csv, field '--label label': has non-numeric labels",
          "hint: pass --pos-label naming the positive value, e.g. --pos-label malignant."]),
        (["--label", "label", "--pos-label", "malignant", "--score", "s2"],
         ["field '--score s2': contains 1 value (CSV row 3) that are NaN or infinite."]),
        (["--label", "label", "--pos-label", "malignnt", "--score", "s1"],
         ["field '--pos-label': --pos-label malignnt is not among the labels"]),
        (["--label", "lab", "--pos-label", "malignant", "--score", "s1"],
         ["field '--label lab': column 'lab' is not a column of the file.", "did you mean 'label'?"]),
        (["--label", "label", "--pos-label", "malignant", "--score", "s1", "--score", "s1"],
         ["--score s1 is given more than once."]),
    ]
    for args, expected in cases:  # in this process: the console script's own path is tested below
        result = run("auc", str(path), *args)
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        for text in expected:
            assert text in result.stderr, (args, result.stderr)
        assert "y_true" not in result.stderr and "pos_label=" not in result.stderr


def test_auc_warnings_are_one_clean_line_each(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("label,s1\n0,0.1\n0,0.2\n0,0.4\n")
    proc = _cli("auc", str(path), "--label", "label", "--score", "s1")
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["warning: the AUC is undefined: --label label holds one class only; "
                                        "returning NaN."]


def test_unreadable_csv_is_a_data_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = run("auc", str(path), "--label", "y", "--score", "p")
    assert result.exit_code == 2 and "cannot be read as CSV" in result.output


def test_main_is_the_console_entry_point(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and studykit.__version__ in capsys.readouterr().out


def test_synth_command_writes_prints_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "cohort"
    first = run("synth", str(out), "--tiny")
    assert first.exit_code == 0, first.output
    assert "12 patients" in first.output and "Bayes-optimal" in first.output and "junior" in first.output
    assert (out / "manifest.csv").is_file() and (out / "reads.csv").is_file()
    again = run("synth", str(out), "--tiny")
    assert again.exit_code == 0 and "already there (same arguments)" in again.output
    clash = run("synth", str(out), "--tiny", "--seed", "3")
    assert clash.exit_code == 2 and "refusing to overwrite" in clash.output
    assert "Traceback" not in clash.output


@pytest.mark.parametrize(("size", "expected"), [("48x64", "48×"), ("bad", "expected HEIGHTxWIDTH")])
def test_synth_size_option(tmp_path, size, expected):
    result = run("synth", str(tmp_path / "c"), "--tiny", "--size", size)
    if expected.startswith("expected"):
        assert result.exit_code == 2 and expected in result.output
    else:
        assert result.exit_code == 0, result.output


def test_ingest_command_builds_then_reuses_the_store(tmp_path):
    cohort = tmp_path / "cohort"
    assert run("synth", str(cohort), "--tiny").exit_code == 0
    first = run("ingest", str(cohort), "--size", "32x40")
    assert first.exit_code == 0, first.output
    assert "48 pairs of 32×40 px from 12 patients" in first.output
    stores = list((cohort / "store").iterdir())
    assert len(stores) == 1 and (stores[0] / "pairs.u8").stat().st_size == 48 * 2 * 32 * 40
    again = run("ingest", str(cohort), "--size", "32x40")
    assert again.exit_code == 0 and str(stores[0]) in again.output
    assert list((cohort / "store").iterdir()) == stores


def test_ingest_command_reports_bad_input_without_traceback(tmp_path):
    cohort = tmp_path / "cohort"
    assert run("synth", str(cohort), "--tiny").exit_code == 0
    text = (cohort / "manifest.csv").read_text().replace("malignant", "malign", 1)
    (cohort / "manifest.csv").write_text(text)
    result = run("ingest", str(cohort))
    assert result.exit_code == 2 and "manifest.csv, row" in result.output and "'malign'" in result.output
    assert "Traceback" not in result.output and not (cohort / "store").exists()
