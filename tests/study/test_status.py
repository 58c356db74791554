"""`studykit status`: units done / running / pending / failed from the unit files, the unit locks,
the job records and SLURM's states (given here; the live cluster is tests/study/test_slurm.py),
and the parsing of squeue/sacct output. No job runs."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from study_support import held_lock, invoke

from studykit.study.layout import Layout
from studykit.study.status import job_states, parse_sacct, status

STUDY = "tiny_study"


def test_sacct_and_squeue_lines_become_one_state_per_job_or_array_task():
    text = ("9_[2-3]|PENDING\n9_0|RUNNING\n9_1|COMPLETED\n10|CANCELLED by 0\n6_0.batch|CANCELLED\n"
            "12_[0-2,5%2]|PENDING\n13|FAILED\n13.0|FAILED\n14|TIMEOUT+\n\n")
    assert parse_sacct(text) == {"9_0": "RUNNING", "9_1": "COMPLETED", "9_2": "PENDING", "9_3": "PENDING",
                                 "10": "CANCELLED", "12_0": "PENDING", "12_1": "PENDING", "12_2": "PENDING",
                                 "12_5": "PENDING", "13": "FAILED", "14": "TIMEOUT"}


def test_without_slurm_commands_no_state_is_known(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct, no squeue
    assert job_states(["12_0", "13"]) == {}


@pytest.fixture
def study(finished, tmp_path):
    """A copy of the finished tiny study: every unit done."""
    _, results = finished
    shutil.copytree(results / STUDY, tmp_path / STUDY)
    return Layout(tmp_path / STUDY)


def _records(layout: Layout, units: dict[str, str], report: str | None = None) -> None:
    layout.jobs.mkdir(exist_ok=True)
    layout.job_records.write_text(json.dumps({"units": units, "report": report, "executor": "slurm"}))


def test_each_state_from_files_locks_jobs_and_logs(study, tmp_path):
    (study.unit("bmode_net", 0) / "done.json").unlink()  # failed: its job ended, log tail shown
    (study.unit("bmode_net", 1) / "predictions.csv").unlink()  # pending: queued
    (study.unit("muf_net", 0) / "done.json").unlink()  # running: its folder is locked
    _records(study, {"bmode_net fold 0": "41_0", "bmode_net fold 1": "41_1", "muf_net fold 0": "41_2"}, "42")
    lines = [f"bmode_net fold 0: epoch {k}/2" for k in (1, 2)] + ["Traceback …", "MemoryError"]
    log = "studykit: started bmode_net fold 0 (job 41_0)\n" + "\n".join(lines)
    study.unit_log("bmode_net", 0).write_text(log)
    states = {"41_0": "OUT_OF_MEMORY", "41_1": "PENDING", "41_2": "RUNNING", "42": "PENDING"}
    with held_lock(study.unit("muf_net", 0), 30, tmp_path):
        now = status(study.root, lines=3, states=states)
    got = {(u.arm, u.fold): (u.state, u.job, u.job_state) for u in now.units}
    assert got == {("bmode_net", 0): ("failed", "41_0", "OUT_OF_MEMORY"),
                   ("bmode_net", 1): ("pending", "41_1", "PENDING"),
                   ("muf_net", 0): ("running", "41_2", "RUNNING"),
                   ("muf_net", 1): ("done", None, None)}
    assert now.of("failed")[0].tail == ("bmode_net fold 0: epoch 2/2", "Traceback …", "MemoryError")
    assert now.counts == {"done": 1, "running": 1, "pending": 1, "failed": 1}
    assert (now.report_job, now.report_state, now.report) == ("42", "PENDING", study.report)


def test_a_unit_is_running_while_its_lock_is_held_even_without_a_job(study, tmp_path):
    (study.unit("muf_net", 1) / "done.json").unlink()
    with held_lock(study.unit("muf_net", 1), 30, tmp_path):
        assert status(study.root, states={}).units[3].state == "running"
    assert status(study.root, states={}).units[3].state == "pending"  # released: not done, never failed


def test_without_job_states_the_log_decides(study):
    """A local executor's unit (no SLURM job): failed when its last attempt's mark says so."""
    for fold in (0, 1):
        (study.unit("bmode_net", fold) / "done.json").unlink()
    study.jobs.mkdir()
    study.unit_log("bmode_net", 0).write_text(
        "studykit: started bmode_net fold 0 (pid 7 on h)\nstudykit: failed after 1.0 s: DataError: x\n")
    study.unit_log("bmode_net", 1).write_text(  # failed once, started again (and killed): not failed
        "studykit: started bmode_net fold 1 (pid 7 on h)\nstudykit: failed after 1.0 s: DataError: x\n"
        "studykit: started bmode_net fold 1 (pid 8 on h)\nbmode_net fold 1: epoch 1/2\n")
    states = [u.state for u in status(study.root, states={}).units]
    assert states == ["failed", "pending", "done", "done"]


def test_the_command_prints_the_table_the_report_job_and_failed_logs(study, monkeypatch):
    (study.unit("bmode_net", 1) / "done.json").unlink()
    _records(study, {"bmode_net fold 1": "7_1"}, "8")
    study.unit_log("bmode_net", 1).write_text("".join(f"line {k}\n" for k in range(30)))
    from studykit.study import status as status_module

    monkeypatch.setattr(status_module, "job_states", lambda ids: {"7_1": "TIMEOUT", "8": "CANCELLED"})
    out = invoke("status", study.root, "--lines", "2")
    assert out.exit_code == 0, out.output
    assert re.search(r"bmode_net fold 1\s*│\s*failed\s*│\s*7_1\s*│\s*TIMEOUT", out.output), out.output
    assert "3 done, 1 failed" in out.output
    assert "report job 8: CANCELLED" in out.output
    assert "bmode_net fold 1 failed (job 7_1 TIMEOUT); last lines of" in out.output
    assert "  line 28\n  line 29\n" in out.output and "line 27" not in out.output


def test_a_folder_without_a_lock_file_is_refused(tmp_path):
    out = invoke("status", tmp_path)
    assert out.exit_code == 2 and "no protocol.lock.yaml" in out.output
