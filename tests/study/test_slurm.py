"""`--executor slurm` on a real SLURM cluster (tests/cluster/start.sh; `.ci/run` starts one).

Two submissions in all, to keep the SLURM time small:

- the tiny study with muf_net's units taken from the sequential run (``finished``) and
  bmode_net's two submitted as one array plus a report job after it: job ids, status while
  queued, a second run that submits no unit again and follows the jobs (``--wait``), tables
  byte-identical to the sequential run's, status and logs afterwards;
- a one-arm study whose fold 1 fails (a damaged ``checkpoint-last.pt``) while fold 0 is
  cancelled mid-training (``scancel``): ``--wait`` exits 2 naming both, ``status`` shows them
  failed with their logs' last lines, the report job is cancelled by SLURM; once the damaged
  file is gone, a second ``--requeue`` run resubmits only those two, fold 0 resumes from its
  ``checkpoint-last.pt``, fold 1 is sent ``USR2`` (SLURM's warning before a time limit or a
  preemption) mid-training, requeues itself and resumes too, and the report is built.

Marked ``slurm``: skipped with a reason when no cluster answers, failed instead when
``STUDYKIT_REQUIRE_SLURM=1`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from study_support import copy_cohort, invoke, tiny_protocol, write_protocol

pytestmark = pytest.mark.slurm
STUDY = "tiny_study"


def _cluster_problem() -> str | None:
    """Why no SLURM cluster can take jobs here, or None when one can."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "SLURM's client commands (sbatch, sinfo) are not installed"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.rstrip("*~#") in ("idle", "mix", "alloc") for s in states):
        return f"no SLURM node is up (sinfo: {(out.stdout + out.stderr).strip()[:200] or 'nothing'})"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    problem = _cluster_problem()
    if problem is None:
        return
    message = f"{problem}; start a test cluster with `sudo tests/cluster/start.sh`"
    if os.environ.get("STUDYKIT_REQUIRE_SLURM") == "1":
        pytest.fail(f"STUDYKIT_REQUIRE_SLURM=1 but {message}")
    pytest.skip(message)


def _tables(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / STUDY / "tables").glob("*.csv"))}


def _jobs(study: Path) -> dict:
    return json.loads((study / "slurm" / "jobs.json").read_text())


def _squeue_state(job: str) -> tuple[str, str]:
    """(state, reason) of a job the controller holds, ("", "") otherwise."""
    out = subprocess.run(["squeue", "-h", "-r", "-j", job.split("_")[0], "-o", "%i|%T|%r"],
                         capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        jid, state, reason = line.split("|")
        if jid == job:
            return state, reason
    return "", ""


def _history(unit: Path) -> pd.DataFrame:
    path = unit / "history.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


# --- one array of two units and a report job after it ---------------------------------------------
@pytest.fixture(scope="module")
def submitted(finished, cluster, tmp_path_factory) -> SimpleNamespace:
    """The tiny study submitted with muf_net already done: the first run's output (no --wait),
    status right after it, and a second run with --wait."""
    protocol, results = finished
    root = tmp_path_factory.mktemp("slurm_array") / "results"
    copy_cohort(results, root)
    shutil.copytree(results / STUDY / "arms" / "muf_net", root / STUDY / "arms" / "muf_net")
    start = time.monotonic()
    args = ("run", protocol, "--results", root, "--device", "cpu", "--executor", "slurm", "--cpus", "1")
    first = invoke(*args)
    queued = invoke("status", root / STUDY)
    waited = invoke(*args, "--wait")
    return SimpleNamespace(root=root, study=root / STUDY, first=first, queued=queued, waited=waited,
                           seconds=time.monotonic() - start)


def test_run_submits_the_unfinished_units_as_one_array_and_the_report_after_them(submitted):
    assert submitted.first.exit_code == 0, submitted.first.output
    out = submitted.first.output
    array = re.search(r"bmode_net fold 0\s*│\s*(\d+)_0", out)
    assert array and re.search(rf"bmode_net fold 1\s*│\s*{array[1]}_1", out), out
    assert "muf_net" not in out  # done by the sequential run: not submitted
    report = re.search(r"report \(after every unit: afterok\)\s*│\s*(\d+)", out)
    assert report, out
    script = (submitted.study / "slurm" / "submitit" / f"{array[1]}_submission.sh").read_text()
    assert "#SBATCH --array=0-1%2" in script and "#SBATCH --cpus-per-task=1" in script
    assert "#SBATCH --job-name=tiny_study-units" in script
    first_report = (submitted.study / "slurm" / "submitit" / f"{report[1]}_submission.sh").read_text()
    assert f"#SBATCH --dependency=afterok:{array[1]}_0:{array[1]}_1" in first_report


def test_status_right_after_submission_shows_the_queued_jobs(submitted):
    out = submitted.queued.output
    assert submitted.queued.exit_code == 0, out
    for fold in (0, 1):
        row = re.search(rf"bmode_net fold {fold}\s*│\s*(\w+)\s*│\s*(\d+_{fold})\s*│\s*(\w+)", out)
        assert row and row[1] in ("pending", "running") and row[3] in ("PENDING", "RUNNING"), out
        assert row[2] == _jobs(submitted.study)["units"][f"bmode_net fold {fold}"]
    assert re.search(r"muf_net fold 0\s*│\s*done", out) and re.search(r"muf_net fold 1\s*│\s*done", out)
    assert "report.md: not written yet" in out


def test_second_run_submits_nothing_again_and_waits_for_the_report(submitted):
    out = submitted.waited.output
    assert submitted.waited.exit_code == 0, out
    assert out.count("(already queued)") == 2 and "report: " in out
    first = re.search(r"bmode_net fold 0\s*│\s*(\d+_0)", submitted.first.output)[1]
    assert _jobs(submitted.study)["units"]["bmode_net fold 0"] == first
    assert re.search(r"4 done", out), out


def test_tables_are_byte_identical_to_the_sequential_run(submitted, finished):
    _, results = finished
    tables = _tables(submitted.root)
    assert len(tables) == 11 and tables == _tables(results)
    assert (submitted.study / "report.md").is_file()


def test_status_after_the_jobs_names_them_and_each_unit_has_one_log(submitted):
    out = invoke("status", submitted.study)
    assert out.exit_code == 0, out.output
    assert "4 done" in out.output and "COMPLETED" in out.output
    report_job = _jobs(submitted.study)["report"]
    assert f"report job {report_job}: COMPLETED" in out.output
    logs = sorted(p.name for p in (submitted.study / "slurm").glob("*.log"))
    assert logs == ["bmode_net.fold-0.log", "bmode_net.fold-1.log"]
    job = _jobs(submitted.study)["units"]["bmode_net fold 1"]
    text = (submitted.study / "slurm" / "bmode_net.fold-1.log").read_text()
    assert f"studykit: started bmode_net fold 1 (job {job} on " in text
    assert "bmode_net fold 1: epoch 2/2" in text and "studykit: finished: trained in" in text


def test_a_request_sbatch_refuses_is_a_clear_error(submitted, finished):
    protocol, _ = finished
    out = invoke("run", protocol, "--results", submitted.root, "--device", "cpu", "--executor", "slurm",
                 "--partition", "no_such_partition")
    assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    assert "sbatch refused the jobs" in out.output and "invalid partition" in out.output.lower()


# --- a failing unit, a cancelled one, resubmission, requeue ---------------------------------------
EPOCHS = 6


def _one_arm_protocol(folder: Path) -> Path:
    data = tiny_protocol()
    data["arms"] = [{**data["arms"][0], "overrides": {**data["arms"][0]["overrides"], "epochs": EPOCHS}},
                    data["arms"][2]]
    data["analyses"] = {**data["analyses"], "reference": "bmode_net",
                        "tables": {"mrmc": False, "decision_curve": False, "calibration": False}}
    data["outputs"] = {**data["outputs"], "figures": False}
    return write_protocol(folder, data)


def _when(condition, then, timeout: float = 240) -> threading.Thread:
    """A thread that calls ``then()`` once ``condition()`` holds (looked at every 20 ms)."""
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                then()
                return
            time.sleep(0.02)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_failed_and_cancelled_units_are_reported_resubmitted_and_resume(finished, cluster, tmp_path):
    _, results = finished
    protocol = _one_arm_protocol(tmp_path)
    root = tmp_path / "results"
    copy_cohort(results, root)
    study = root / STUDY
    fold0, fold1 = study / "arms" / "bmode_net" / "fold-0", study / "arms" / "bmode_net" / "fold-1"
    fold1.mkdir(parents=True)
    (fold1 / "checkpoint-last.pt").write_bytes(b"cut off")  # a checkpoint damaged by a full disk, say
    args = ("run", protocol, "--results", root, "--device", "cpu", "--executor", "slurm", "--cpus", "1")

    # fold 0 is cancelled once it has trained an epoch; fold 1 fails on its checkpoint
    seen: dict[str, pd.DataFrame] = {}

    def cancel() -> None:
        seen["fold0"] = _history(fold0)
        subprocess.run(["scancel", _jobs(study)["units"]["bmode_net fold 0"]], check=True)

    watcher = _when(lambda: len(_history(fold0)) >= 1, cancel)
    out = invoke(*args, "--wait")
    watcher.join(5)
    assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    first = _jobs(study)
    job0, job1 = first["units"]["bmode_net fold 0"], first["units"]["bmode_net fold 1"]
    assert "2 unit(s) failed" in out.output
    assert f"bmode_net fold 0 (job {job0} CANCELLED" in out.output
    assert f"bmode_net fold 1 (job {job1} FAILED" in out.output
    assert f"report job {first['report']}: " in out.output  # pending on a dependency never met, then…
    assert not (fold0 / "done.json").exists() and 1 <= len(_history(fold0)) < EPOCHS  # stopped mid-training

    status = invoke("status", study)
    assert status.exit_code == 0 and "2 failed" in status.output, status.output
    assert f"report job {first['report']}: CANCELLED" in status.output  # …cancelled (kill_invalid_depend)
    tail = status.output.split("bmode_net fold 1 failed")[1]
    assert "cannot be loaded as a checkpoint" in tail and "studykit: failed after" in tail
    tail = status.output.split("bmode_net fold 0 failed")[1].split("bmode_net fold 1 failed")[0]
    assert f"bmode_net fold 0: epoch 1/{EPOCHS}" in tail
    assert "studykit: interrupted after" in tail  # stopped at SIGTERM

    # the fix; then only these two are submitted again, and fold 1 is signalled as before a preemption
    (fold1 / "checkpoint-last.pt").unlink()
    interrupted = threading.Event()

    def preempt() -> None:
        job = _jobs(study)["units"]["bmode_net fold 1"]
        seen["fold1"] = _history(fold1)
        subprocess.run(["scancel", "--signal=USR2", job], check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _squeue_state(job)[0] != "PENDING":
            time.sleep(0.05)
        # SLURM holds a requeued job back for a while (BeginTime); let it start now
        subprocess.run(["scontrol", "update", f"jobid={job}", "starttime=now"], check=False)
        interrupted.set()

    watcher = _when(lambda: job1 != _jobs(study)["units"]["bmode_net fold 1"] and len(_history(fold1)) >= 1,
                    preempt)
    again = invoke(*args, "--requeue", "--wait")
    watcher.join(5)
    assert interrupted.is_set()
    assert again.exit_code == 0, again.output
    second = _jobs(study)
    assert second["units"]["bmode_net fold 0"] != job0 and second["units"]["bmode_net fold 1"] != job1
    assert "2 done" in again.output and (study / "report.md").is_file()
    for fold, unit in (("fold0", fold0), ("fold1", fold1)):  # resumed: the epochs before are kept as were
        before, after = seen[fold], _history(unit)
        assert len(after) == EPOCHS and 1 <= len(before) < EPOCHS
        pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    log1 = (study / "slurm" / "bmode_net.fold-1.log").read_text()
    assert log1.count("studykit: started bmode_net fold 1") == 3  # failed, preempted, finished
    assert "restart 1" in log1 and "interrupted after" in log1 and "Caught signal SIGUSR2" in log1
    log0 = (study / "slurm" / "bmode_net.fold-0.log").read_text()
    assert log0.count("studykit: started bmode_net fold 0") == 2
    assert log0.rstrip().splitlines()[-1].startswith("studykit: finished: trained")
