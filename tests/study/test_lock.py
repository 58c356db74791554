"""The results-folder lock: a second process is refused (naming the holder) or waits; a killed
holder's lock is taken over; a damaged protocol.lock.yaml is a clear error. Nothing is touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from study_support import copy_cohort, held_lock, lock_holder, snapshot, tiny_protocol, write_protocol

from studykit.errors import StudyError
from studykit.study import report, run
from studykit.study.lock import HOLDER_NAME, results_lock


def test_a_held_folder_refuses_a_second_process_naming_thelock_holder(tmp_path):
    folder = tmp_path / "results" / "study"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "table3.csv").write_text("arm,auc\nmuf,0.9\n")
    with held_lock(folder, 30, tmp_path) as proc:
        before = snapshot(folder)
        with pytest.raises(StudyError, match=rf"is in use by another studykit process \(PID {proc.pid} on "):
            with results_lock(folder):
                pass
        assert snapshot(folder) == before


def test_wait_lock_starts_when_the_holder_finishes(tmp_path):
    folder = tmp_path / "study"
    proc = lock_holder(folder, 1.5, tmp_path)
    start = time.monotonic()
    with results_lock(folder, wait=True):
        assert time.monotonic() - start > 1.0  # granted only once the holder let go
        assert proc.wait(timeout=30) == 0


def test_a_killed_holders_lock_is_taken_over(tmp_path):
    folder = tmp_path / "study"
    proc = lock_holder(folder, 60, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (folder / HOLDER_NAME).is_file()  # left behind by the killed process
    with results_lock(folder):
        assert str(os.getpid()) in (folder / HOLDER_NAME).read_text()
    assert not (folder / HOLDER_NAME).exists()


def test_the_cli_report_on_a_held_folder_exits_2(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "protocol.lock.yaml").write_text("protocol: {}\n")
    with held_lock(folder, 30, tmp_path):
        before = snapshot(folder)
        command = [sys.executable, "-c", "from studykit.cli import main; main()", "report", str(folder)]
        cli = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 2 and "Traceback" not in cli.stderr
        assert "is in use by another studykit process" in cli.stderr and "--wait-lock" in cli.stderr
        assert snapshot(folder) == before


@pytest.mark.parametrize("text", ["protocol: {}\n", ": : not yaml [\n", "- a list\n", "\x00\x01"])
def test_a_damaged_protocol_lock_is_named_and_nothing_is_touched(tmp_path, text):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "protocol.lock.yaml").write_text(text)
    (folder / "predictions.csv").write_text("arm\nmuf\n")
    before = snapshot(folder)
    expected = r"protocol.lock.yaml: is not a protocol lock studykit wrote"
    with pytest.raises(StudyError, match=expected) as info:
        report(folder)
    assert "studykit run PROTOCOL" in info.value.hint
    assert snapshot(folder) == before


def test_a_unit_trained_by_another_process_is_not_trained_twice(tmp_path, finished):
    _, results = finished
    copy_cohort(results, tmp_path / "results")
    protocol = write_protocol(tmp_path, tiny_protocol())
    unit = tmp_path / "results" / "tiny_study" / "arms" / "bmode_net" / "fold-0"
    with held_lock(unit, 60, tmp_path) as proc:  # another job is training bmode_net fold 0
        expected = rf"fold-0: unit bmode_net fold 0: is in use by another studykit process \(PID {proc.pid}"
        with pytest.raises(StudyError, match=expected):
            run(protocol, results=tmp_path / "results", device="cpu", arms=["bmode_net"], folds=[0])
        assert not (unit / "done.json").exists()
        run(protocol, results=tmp_path / "results", device="cpu", arms=["bmode_net"], folds=[1])  # other unit
        assert (unit.parent / "fold-1" / "done.json").is_file()


@pytest.fixture(scope="module")
def youden_run(youden_finished):
    """A finished tiny study whose thresholds are Youden's on the inner validation patients."""
    return youden_finished[1] / "tiny_study"


@pytest.mark.parametrize("text", ['{"value": ', '{"rule": "youden_inner_val"}', '{"value": "high"}'])
def test_a_damaged_threshold_record_is_named_and_nothing_is_touched(tmp_path, youden_run, text):
    import shutil

    folder = tmp_path / "tiny_study"
    shutil.copytree(youden_run, folder)
    path = folder / "arms" / "muf_net" / "fold-1" / "threshold.json"
    assert "youden" in path.read_text()
    path.write_text(text)
    before = snapshot(folder)
    expected = r"fold-1/threshold.json: is not a threshold record studykit wrote"
    with pytest.raises(StudyError, match=expected) as info:
        report(folder)
    assert "unit muf_net fold 1's threshold" in info.value.hint
    assert snapshot(folder) == before
