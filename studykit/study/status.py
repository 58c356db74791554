"""Where a study's units stand: ``studykit status RESULTS_DIR``.

Each (arm, fold) unit of the protocol in ``protocol.lock.yaml`` is

- ``done``: it has what the outputs merge (``done.json``, ``predictions.csv``, and
  ``threshold.json`` under the Youden rule; :meth:`Layout.unit_complete`);
- ``running``: a process holds its folder's lock (:func:`~studykit.study.lock.held_by`), or
  its job runs;
- ``failed``: its last job ended without finishing it (SLURM states FAILED, TIMEOUT,
  CANCELLED, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, …), or its log's last attempt says so;
- ``pending``: anything else — its job is queued, or it was never started.

Job ids come from ``slurm/jobs.json`` (written when units are submitted,
:mod:`studykit.study.executors`), their states from SLURM: ``squeue`` for the jobs it still
holds, ``sacct`` (the accounting database) for the ended ones. Without a reachable SLURM the
states read ``unknown`` and the unit files and logs decide. A failed unit shows the last
lines of its log, ``slurm/<arm>.fold-<k>.log``. Imports neither torch nor the runner: it
answers in a moment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from studykit.errors import StudyError
from studykit.study.layout import Layout
from studykit.study.lock import held_by
from studykit.study.provenance import protocol_from_lock, read_lock_document

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "RUNNING",
    "StudyStatus",
    "UnitStatus",
    "job_states",
    "last_mark",
    "parse_sacct",
    "parse_squeue",
    "read_job_records",
    "status",
    "unit_key",
]

DONE, RUNNING, PENDING, FAILED = "done", "running", "pending", "failed"
#: SLURM job states of a job that is still queued or running (it may yet finish its unit).
QUEUED_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
                           "CONFIGURING", "RESIZING"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED"})
LIVE_STATES = QUEUED_STATES | RUNNING_STATES
#: Lines of the unit log that mark an attempt's start and end (written by the executors' jobs).
LOG_MARK = "studykit:"
ATTEMPT_FAILED = "studykit: failed"


@dataclass(frozen=True)
class UnitStatus:
    """One unit: its state, its last job and that job's SLURM state, its log and the log's tail."""

    arm: str
    fold: int
    state: str
    job: str | None = None
    job_state: str | None = None
    log: Path | None = None
    tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyStatus:
    """Every unit of a results folder, and its report job (id, SLURM state) when one was submitted."""

    results: Path
    units: list[UnitStatus]
    report_job: str | None = None
    report_state: str | None = None
    report: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def of(self, state: str) -> list[UnitStatus]:
        """The units in ``state``."""
        return [u for u in self.units if u.state == state]


def unit_key(arm: str, fold: int) -> str:
    """``<arm> fold <k>``: how a unit is named in ``jobs.json``, ``RunSummary.jobs`` and messages."""
    return f"{arm} fold {int(fold)}"


def read_job_records(layout: Layout) -> dict:
    """``slurm/jobs.json`` (``{"units": {unit key: job id}, "report": job id, …}``), or empty."""
    try:
        records = json.loads(layout.job_records.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"units": {}}
    except (OSError, ValueError) as exc:
        raise StudyError(f"cannot be read as the job records studykit writes ({exc}).",
                         file=str(layout.job_records),
                         hint="delete it: units still queued are then not known to be, and a new "
                              "`--executor slurm` run submits every unfinished unit.") from None
    records.setdefault("units", {})
    return records


def status(results_dir: str | Path, *, lines: int = 10,
           states: Mapping[str, str] | None = None) -> StudyStatus:
    """Each unit of ``results_dir`` done, running, pending or failed; failed ones with their log's tail.

    Parameters
    ----------
    results_dir : a run's results folder (``results/<protocol name>``).
    lines : how many last lines of a failed unit's log to keep.
    states : job id → SLURM state, instead of asking SLURM (:func:`job_states`).

    Raises
    ------
    StudyError
        ``results_dir`` holds no ``protocol.lock.yaml`` (no run prepared it).
    """
    layout = Layout(Path(results_dir))
    if not layout.lock.is_file():
        raise StudyError("is not a study's results folder (no protocol.lock.yaml).", file=str(results_dir),
                         hint="pass results/<protocol name>, written by `studykit run PROTOCOL`.")
    protocol = protocol_from_lock(read_lock_document(layout.lock))
    records = read_job_records(layout)
    jobs = dict(records["units"])
    report_job = records.get("report")
    if states is None:
        states = job_states([*jobs.values(), *([report_job] if report_job else [])])
    units = [_unit_status(layout, arm.name, k, protocol.design.threshold, jobs.get(unit_key(arm.name, k)),
                          states, lines)
             for arm in protocol.arm_specs for k in range(protocol.design.folds)]
    counts = {s: sum(u.state == s for u in units) for s in (DONE, RUNNING, PENDING, FAILED)}
    return StudyStatus(layout.root, units, report_job, states.get(report_job) if report_job else None,
                       layout.report if layout.report.is_file() else None, counts)


def _unit_status(layout: Layout, arm: str, fold: int, threshold_rule: str, job: str | None,
                 states: Mapping[str, str], lines: int) -> UnitStatus:
    job_state = states.get(job) if job else None
    log = layout.unit_log(arm, fold)
    log = log if log.is_file() else None
    if layout.unit_complete(arm, fold, threshold_rule):
        return UnitStatus(arm, fold, DONE, job, job_state, log)
    if held_by(layout.unit(arm, fold)) is not None or job_state in RUNNING_STATES:
        return UnitStatus(arm, fold, RUNNING, job, job_state, log)
    if job_state in QUEUED_STATES:
        return UnitStatus(arm, fold, PENDING, job, job_state, log)
    tail = _tail(log, lines) if log else ()
    ended = job_state is not None and job_state != "UNKNOWN"  # a job ended without finishing the unit
    if ended or _last_attempt_failed(tail, log):
        return UnitStatus(arm, fold, FAILED, job, job_state, log, tail)
    return UnitStatus(arm, fold, PENDING, job, job_state, log)


def _tail(path: Path, lines: int) -> tuple[str, ...]:
    """The last ``lines`` lines of ``path`` (read from its last 64 KiB)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, os.path.getsize(path) - 65536))
        text = handle.read().decode("utf-8", errors="replace")
    return tuple(text.splitlines()[-lines:])


def last_mark(log: Path) -> str | None:
    """The unit log's last ``studykit:`` line (an attempt's start or end), None when it has none."""
    if not log.is_file():
        return None
    marks = [line for line in _tail(log, 10_000) if line.startswith(LOG_MARK)]
    return marks[-1] if marks else None


def _last_attempt_failed(tail: tuple[str, ...], log: Path | None) -> bool:
    """Whether the unit log's last ``studykit:`` line marks a failed attempt."""
    mark = last_mark(log) if log is not None else None
    return mark is not None and mark.startswith(ATTEMPT_FAILED)


# --- SLURM job states --------------------------------------------------------------------------
_ARRAY = re.compile(r"^(?P<job>\d+)_\[(?P<tasks>[0-9,\-]+)(%\d+)?\]$")


def _expand(job_id: str) -> list[str]:
    """``12_[0-2,5%2]`` → ``12_0, 12_1, 12_2, 12_5``; any other id as it is."""
    match = _ARRAY.match(job_id)
    if match is None:
        return [job_id]
    out = []
    for part in match["tasks"].split(","):
        first, _, last = part.partition("-")
        out += [f"{match['job']}_{k}" for k in range(int(first), int(last or first) + 1)]
    return out


def parse_sacct(text: str) -> dict[str, str]:
    """Job id → state from ``sacct -n -P -X -o JobID,State`` output.

    Pending array tasks come as one line ``12_[0-3%2]``; a state may carry a note
    (``CANCELLED by 0``), dropped here. Job steps (``12.batch``) are skipped.
    """
    states: dict[str, str] = {}
    for line in text.splitlines():
        job, _, state = line.strip().partition("|")
        if not job or "." in job or not state:
            continue
        for one in _expand(job):
            states[one] = state.split()[0].rstrip("+")
    return states


def parse_squeue(text: str) -> dict[str, str]:
    """Job id → state from ``squeue -h -r -o %i|%T`` output (array tasks one per line)."""
    return parse_sacct(text)


def job_states(job_ids: Iterable[str]) -> dict[str, str]:
    """The SLURM state of each of ``job_ids`` (``12``, ``12_3``): ``squeue`` for the jobs the
    controller holds, else ``sacct``; ids neither knows are left out (no SLURM here: ``{}``)."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    states: dict[str, str] = {}
    if shutil.which("sacct"):
        states |= parse_sacct(_run(["sacct", "-n", "-P", "-X", "-o", "JobID,State",
                                    "-j", ",".join(sorted({j.split("_")[0] for j in wanted}))]))
    if shutil.which("squeue"):
        states |= parse_squeue(_run(["squeue", "-h", "-r", "-o", "%i|%T"]))
    return {j: states[j] for j in wanted if j in states}


def _run(command: list[str]) -> str:
    """``command``'s output, or ``""`` when it fails (no controller, no accounting)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""
