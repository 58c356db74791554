"""Executors: who trains a run's (arm, fold) units — this process, local processes, or SLURM.

``studykit run PROTOCOL --executor sequential|local|slurm``:

- ``sequential`` (default): the runner trains the units one after the other in its own
  process (:func:`studykit.study.runner.run` without an executor).
- ``local`` (:class:`LocalUnits`): each unit in its own process through submitit's
  ``LocalExecutor``, at most ``max_parallel`` at once (GPUs shared out among them), then the
  outputs in this process.
- ``slurm`` (:class:`SlurmUnits`): every unit that needs work is submitted through submitit
  as a SLURM job array (one array per distinct ``resources``), and the report as one more job
  that depends on them all (``afterok``); :meth:`SlurmUnits.train` returns at once with the
  job ids (``slurm/jobs.json``), :func:`wait` follows them.

Whatever the executor, each unit is trained by :class:`UnitJob`, which calls
:func:`studykit.study.runner.run_unit` — the sequential runner's own per-unit work on the
prepared results folder — so the tables are byte-identical to a sequential run's. A job
appends everything it prints to its unit's log, ``slurm/<arm>.fold-<k>.log``, between
``studykit:`` lines that mark each attempt. Each unit trains holding its folder's lock
(waiting for another holder), so two jobs never train one unit; a job that meets a unit
finished meanwhile only skips it. A unit killed by SLURM (time limit, preemption, node
failure, ``scancel``) resumes from ``checkpoint-last.pt`` when it runs again: resubmitted by
the next ``--executor slurm`` run, which submits only the units that are not done and have
no job queued or running, or requeued at once by submitit (``--requeue``: the job is
:class:`submitit.helpers.Checkpointable`; SLURM signals it ``USR2`` 90 s before its time
limit or on preemption, submitit requeues it).

A unit whose arm has ``resources.gpus > 1`` runs data-parallel under ``torchrun`` inside its
job: one task on one node, ``torchrun --standalone --nproc_per_node=gpus`` running
``python -m studykit.study.unit_main`` (one process per GPU; rank 0 writes), so an
interrupted unit resumes with the same world size.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import Checkpointable

from studykit.errors import InputError, StudyError
from studykit.protocol.resources import ResourcesSpec
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout, atomic_write_json
from studykit.study.lock import results_lock
from studykit.study.status import (
    ATTEMPT_FAILED,
    FAILED,
    LIVE_STATES,
    LOG_MARK,
    StudyStatus,
    job_states,
    last_mark,
    read_job_records,
    status,
    unit_key,
)
from studykit.study.summary import UnitResult
from studykit.vocab import Progress, did_you_mean

__all__ = [
    "EXECUTORS",
    "LocalUnits",
    "ReportJob",
    "RequeueableUnitJob",
    "SlurmUnits",
    "UnitJob",
    "UnitJobsFailedError",
    "make_executor",
    "sbatch_parameters",
    "torchrun_command",
    "wait",
]

EXECUTORS = ("sequential", "local", "slurm")
#: Seconds between looks at the jobs while waiting for them.
POLL_S = 1.0


class UnitJobsFailedError(StudyError):
    """Units run by an executor failed (their jobs ended without finishing them)."""


# --- the work of one job --------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitJob:
    """Train one unit of a prepared results folder in this process: the callable a job runs.

    Picklable (plain fields, a module-level class), so submitit can ship it to a job. Calls
    :func:`~studykit.study.runner.run_unit` — or, for ``gpus > 1``, runs it under ``torchrun``
    (:func:`torchrun_command`) while holding the unit's lock — with stdout and stderr
    appended to the unit's log.

    ``SIGTERM`` (``scancel``, a time limit, a preemption that cancels) stops it at once: the
    unit resumes from the ``checkpoint-last.pt`` of its last finished epoch. (A
    :class:`RequeueableUnitJob` leaves ``SIGTERM`` to submitit, which outlives it to catch the
    ``USR2`` that requeues it.)
    """

    root: str
    arm: str
    fold: int
    device: str = "auto"
    threads: int | None = None
    gpus: int = 0

    def __call__(self) -> UnitResult:
        layout = Layout(Path(self.root))
        if not isinstance(self, Checkpointable):
            signal.signal(signal.SIGTERM, _terminate)
        with _appended_to(layout.unit_log(self.arm, self.fold)):
            _mark(f"started {unit_key(self.arm, self.fold)} ({_where()})")
            start = time.perf_counter()
            try:
                result = self._train(layout)
            except Exception as exc:
                _mark(f"failed after {time.perf_counter() - start:.1f} s: {type(exc).__name__}: {exc}")
                raise
            except BaseException as exc:  # SystemExit of submitit's requeue, KeyboardInterrupt
                _mark(f"interrupted after {time.perf_counter() - start:.1f} s ({type(exc).__name__})")
                raise
            _mark(f"finished: {result.status} in {result.seconds:.1f} s")
            return result

    def _train(self, layout: Layout) -> UnitResult:
        from studykit.study.runner import run_unit  # torch and the layers below, in the job only

        if self.gpus <= 1:
            def progress(done: int, total: int, description: str) -> None:
                print(f"{description}: epoch {done}/{total}", flush=True)

            return run_unit(self.root, self.arm, self.fold, device=self.device, threads=self.threads,
                            progress=progress)
        start = time.perf_counter()
        with results_lock(layout.unit(self.arm, self.fold), wait=True):
            done = subprocess.run(torchrun_command(self), check=False)
        if done.returncode != 0:
            raise StudyError(f"unit {unit_key(self.arm, self.fold)}: torchrun ended with status "
                             f"{done.returncode}.", file=str(layout.unit_log(self.arm, self.fold)),
                             hint="its log holds every rank's output.")
        return UnitResult(self.arm, self.fold, "trained", time.perf_counter() - start)


class RequeueableUnitJob(UnitJob, Checkpointable):
    """A :class:`UnitJob` that submitit requeues on timeout or preemption (``--requeue``).

    Its ``checkpoint`` (submitit's default) resubmits the job as it is: run again, the unit
    resumes from its ``checkpoint-last.pt`` (written after every epoch), so nothing else needs
    saving.
    """


@dataclass(frozen=True)
class ReportJob:
    """Build the outputs of a results folder from its finished units: ``studykit report`` in a job."""

    root: str

    def __call__(self) -> str:
        from studykit.study.runner import report

        summary = report(self.root, wait_lock=True)
        if summary.missing:
            print("missing units: " + ", ".join(unit_key(a, k) for a, k in summary.missing), flush=True)
        return str(summary.report)


def torchrun_command(job: UnitJob) -> list[str]:
    """The ``torchrun`` command line of a multi-GPU unit: one node, one process per GPU, each
    running ``python -m studykit.study.unit_main ROOT ARM FOLD`` (the unit lock is the job's)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc_per_node={job.gpus}", "-m", "studykit.study.unit_main", job.root, job.arm,
               str(job.fold), "--device", job.device, "--no-lock"]
    return command + (["--threads", str(job.threads)] if job.threads is not None else [])


@contextlib.contextmanager
def _appended_to(log: Path) -> Iterator[None]:
    """File descriptors 1 and 2 (this process's and its children's output) appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM's handler in a unit job: stop now (the exit status a shell gives a SIGTERM)."""
    raise SystemExit(128 + signum)


def _mark(text: str) -> None:
    """One ``studykit:`` line of the unit log (an attempt's start or end; one line, time-stamped); a failed
    attempt's line starts with :data:`~studykit.study.status.ATTEMPT_FAILED`."""
    one_line = " ".join(part.strip() for part in text.splitlines())
    print(f"{LOG_MARK} {one_line} [{dt.datetime.now().isoformat(timespec='seconds')}]", flush=True)


def _where() -> str:
    """``job 12_3 on node7`` (SLURM), ``pid 4242 on host`` elsewhere."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")
    restarts = os.environ.get("SLURM_RESTART_COUNT")
    again = f", restart {restarts}" if restarts and restarts != "0" else ""
    who = f"job {job}" if job else f"pid {os.getpid()}"
    return f"{who} on {socket.gethostname()}{again}"


# --- resources → scheduler parameters ---------------------------------------------------------
def unit_resources(protocol: StudyProtocol, arm: str, overrides: dict[str, Any]) -> ResourcesSpec:
    """Arm ``arm``'s ``resources`` with the command line's ``overrides`` (``--partition`` …) applied.

    Raises
    ------
    InputError
        An override the schema refuses (``--gpus -1``), naming the flag.
    """
    try:
        return protocol.resources(arm).with_overrides(**overrides)
    except ValueError as exc:
        given = [k for k, v in overrides.items() if v is not None]
        flag = f"--{given[0].replace('_', '-')}" if given else "--resources"
        raise InputError(f"cannot apply the resource overrides: {exc}", field=flag,
                         hint="see `studykit run --help` for the allowed values.") from None


def _mem(gb: float) -> str:
    """``16`` → ``16GB``; ``1.5`` → ``1536MB`` (sbatch ``--mem`` takes whole units)."""
    return f"{int(gb)}GB" if float(gb).is_integer() else f"{round(gb * 1024)}MB"


def sbatch_parameters(resources: ResourcesSpec, *, name: str, threads: int,
                      parallelism: int | None = None) -> dict[str, Any]:
    """submitit ``SlurmExecutor.update_parameters`` keywords for jobs asking for ``resources``.

    One task on one node; ``cpus`` (else ``threads``, the protocol's torch threads) cores,
    ``gpus`` GPUs of that node, ``mem_gb`` memory, ``time_min`` minutes; partition, account,
    qos and constraint when given; ``extra`` as further ``#SBATCH`` lines (a ``false`` flag
    left out); ``parallelism`` caps how many tasks of an array run at once (``%N``).
    """
    params: dict[str, Any] = {"job_name": name, "time": resources.time_min, "nodes": 1, "ntasks_per_node": 1,
                              "cpus_per_task": resources.cpus or threads}
    if resources.gpus:
        params["gpus_per_node"] = resources.gpus
    if resources.mem_gb is not None:
        params["mem"] = _mem(resources.mem_gb)
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(resources, key) is not None:
            params[key] = getattr(resources, key)
    extra = {k.replace("_", "-").lstrip("-"): v for k, v in resources.extra.items() if v is not False}
    if extra:
        params["additional_parameters"] = extra
    if parallelism is not None:
        params["array_parallelism"] = parallelism
    return params


def _report_resources(protocol: StudyProtocol, overrides: dict[str, Any]) -> ResourcesSpec:
    """The report job's request: no GPU, the protocol's threads as cores, an hour, and the first
    model arm's partition, account, qos and constraint (command-line overrides applied)."""
    first = protocol.resources(protocol.arm_specs[0].name)
    where = {k: getattr(first, k) for k in ("partition", "account", "qos", "constraint")}
    base = ResourcesSpec(time_min=60, **where)
    return base.with_overrides(**{k: v for k, v in overrides.items() if k not in ("gpus", "time_min")})


# --- executors ------------------------------------------------------------------------------------
@dataclass
class LocalUnits:
    """Train units in parallel local processes (submitit's ``LocalExecutor``), then return.

    At most ``max_parallel`` run at once; a unit with ``gpus`` GPUs gets its own
    ``CUDA_VISIBLE_DEVICES`` slice (slot k: GPUs k·gpus … k·gpus + gpus − 1) and is stopped
    after its ``time_min``. Failures are collected: every unit runs, then
    :class:`UnitJobsFailedError` names each failed one with its log's last lines.
    """

    max_parallel: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)

    def train(self, protocol: StudyProtocol, layout: Layout, units: Sequence[Any], *, device: str,
              threads: int | None, progress: Progress | None) -> list[UnitResult]:
        progress = progress or (lambda done, total, what: None)
        executor = submitit.LocalExecutor(folder=layout.submitit / "local")
        queue = [(u, unit_resources(protocol, u.arm.name, self.overrides)) for u in units]
        running: dict[int, tuple[Any, Any]] = {}
        results: dict[str, UnitResult] = {}
        failed: list[tuple[Any, str]] = []
        progress(0, len(units), "units")
        while queue or running:
            while queue and len(running) < self.max_parallel:
                slot = min(set(range(self.max_parallel)) - set(running))
                unit, resources = queue.pop(0)
                executor.update_parameters(timeout_min=resources.time_min, gpus_per_node=resources.gpus,
                                           visible_gpus=tuple(range(slot * resources.gpus,
                                                                    (slot + 1) * resources.gpus)))
                job = executor.submit(UnitJob(str(layout.root), unit.arm.name, unit.fold, device, threads,
                                              resources.gpus))
                self.jobs[unit_key(unit.arm.name, unit.fold)] = job.job_id
                running[slot] = (unit, job)
            time.sleep(0.2)
            for slot, (unit, job) in list(running.items()):
                if job.done():
                    del running[slot]
                    try:
                        results[unit_key(unit.arm.name, unit.fold)] = job.result()
                    except Exception as exc:  # submitit's FailedJobError carries the job's traceback
                        mark = last_mark(layout.unit_log(unit.arm.name, unit.fold)) or ""
                        why = mark.removeprefix(LOG_MARK).strip() if mark.startswith(ATTEMPT_FAILED) else ""
                        failed.append((unit, why or str(exc).strip().splitlines()[-1]))
                    progress(len(results) + len(failed), len(units), "units")
        if failed:
            raise _failed_error(layout, [(u.arm.name, u.fold, why) for u, why in failed])
        return [results[unit_key(u.arm.name, u.fold)] for u in units]


@dataclass
class SlurmUnits:
    """Submit the units that need work as SLURM job arrays and the report as a dependent job.

    Units with a job still queued or running (``slurm/jobs.json`` and SLURM's states) are not
    submitted again; the report job waits for them too. A report job of an earlier submission
    that has not run yet is cancelled (the new one replaces it). ``max_parallel`` caps the
    tasks of an array running at once; ``requeue`` makes the unit jobs requeue themselves on
    timeout or preemption.
    """

    max_parallel: int | None = None
    requeue: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)
    already_queued: list[str] = field(default_factory=list)

    def train(self, protocol: StudyProtocol, layout: Layout, units: Sequence[Any], *, device: str,
              threads: int | None, progress: Progress | None) -> None:
        if shutil.which("sbatch") is None or shutil.which("srun") is None:
            raise StudyError("--executor slurm needs SLURM's sbatch and srun, which are not on PATH here.",
                             file=str(layout.root), hint="run it on a cluster's login node, or use "
                                                         "--executor local (parallel processes here).")
        with _sbatch_errors(layout):
            self._submit(protocol, layout, units, device, threads)

    def _submit(self, protocol: StudyProtocol, layout: Layout, units: Sequence[Any], device: str,
                threads: int | None) -> None:
        records = read_job_records(layout)
        earlier_report = [records["report"]] if records.get("report") else []
        states = job_states([*records["units"].values(), *earlier_report])
        live = {key: job for key, job in records["units"].items() if states.get(job) in LIVE_STATES}
        todo = [u for u in units if unit_key(u.arm.name, u.fold) not in live]
        cores = threads or protocol.runtime.threads
        job_class = RequeueableUnitJob if self.requeue else UnitJob
        submitted: dict[str, str] = {}
        for resources, group in _by_resources(protocol, todo, self.overrides):
            executor = submitit.SlurmExecutor(folder=layout.submitit)
            executor.update_parameters(**sbatch_parameters(resources, name=f"{protocol.name}-units",
                                                           threads=cores, parallelism=self.max_parallel))
            with executor.batch():
                jobs = [executor.submit(job_class(str(layout.root), u.arm.name, u.fold, device, threads,
                                                  resources.gpus)) for u in group]
            submitted |= {unit_key(u.arm.name, u.fold): job.job_id for u, job in zip(group, jobs)}
            records["units"] |= submitted
            atomic_write_json(layout.job_records, records)  # known even if a later submission fails
        waits = {**live, **submitted}  # the report merges every unit: it waits for all in flight
        old_report = records.get("report")
        if old_report and states.get(old_report) in LIVE_STATES - {"RUNNING", "COMPLETING"}:
            subprocess.run(["scancel", old_report], check=False, capture_output=True)
        report = submitit.SlurmExecutor(folder=layout.submitit)
        report.update_parameters(**sbatch_parameters(_report_resources(protocol, self.overrides),
                                                     name=f"{protocol.name}-report", threads=cores),
                                 **({"dependency": "afterok:" + ":".join(waits.values())} if waits else {}))
        report_job = report.submit(ReportJob(str(layout.root))).job_id
        records.update(report=report_job, submitted=dt.datetime.now().isoformat(timespec="seconds"),
                       executor="slurm")
        atomic_write_json(layout.job_records, records)
        self.jobs = {**waits, "report": report_job}
        self.already_queued = sorted(live)


@contextlib.contextmanager
def _sbatch_errors(layout: Layout) -> Iterator[None]:
    """sbatch refusing a submission (an unknown partition, a time over the limit, …) as a StudyError."""
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    try:
        yield
    except (FailedJobError, FailedSubmissionError) as exc:
        raise StudyError(f"sbatch refused the jobs: {str(exc).strip() or type(exc).__name__}.",
                         file=str(layout.root),
                         hint="check the arms' resources (partition, account, qos, time_min …) and the "
                              "--partition/--time/… options against `sinfo` and your cluster's limits; "
                              "jobs submitted before the refusal are in slurm/submitit/.") from None


def _by_resources(protocol: StudyProtocol, units: Sequence[Any], overrides: dict[str, Any]
                  ) -> list[tuple[ResourcesSpec, list[Any]]]:
    """The units grouped by their resources (one job array each), in unit order."""
    groups: dict[str, tuple[ResourcesSpec, list[Any]]] = {}
    for unit in units:
        resources = unit_resources(protocol, unit.arm.name, overrides)
        groups.setdefault(resources.model_dump_json(), (resources, []))[1].append(unit)
    return list(groups.values())


def _failed_error(layout: Layout, failed: list[tuple[str, int, str]], lines: int = 5) -> UnitJobsFailedError:
    """One error naming each failed unit, why, and where its log is."""
    parts = []
    for arm, fold, why in failed:
        parts.append(f"{unit_key(arm, fold)} ({why}; log {layout.unit_log(arm, fold)})")
    return UnitJobsFailedError(f"{len(failed)} unit(s) failed: " + "; ".join(parts) + ".",
                               file=str(layout.root),
                               hint="`studykit status RESULTS_DIR` shows each log's last lines; fix the "
                                    "cause and run again: only the units not done run (interrupted ones "
                                    "resume from checkpoint-last.pt).")


def make_executor(name: str, *, max_parallel: int | None = None, requeue: bool = False,
                  overrides: dict[str, Any] | None = None) -> LocalUnits | SlurmUnits | None:
    """The executor named ``name`` (:data:`EXECUTORS`); None for ``sequential`` (the runner's loop).

    Raises
    ------
    InputError
        An unknown name (did-you-mean), or options the executor does not take.
    """
    if name not in EXECUTORS:
        raise InputError(f"no executor named {name!r}; executors: {', '.join(EXECUTORS)}.",
                         field="--executor", hint=did_you_mean(name, EXECUTORS, "use one of those."))
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if name == "sequential":
        used = [f for f, on in (("--max-parallel", max_parallel is not None), ("--requeue", requeue)) if on]
        used += [f"--{k.replace('_', '-')}" for k in given]
        if used:
            raise InputError(f"{', '.join(used)} only apply with --executor local or slurm.", field=used[0],
                             hint="add --executor slurm (or local), or drop the option.")
        return None
    if name == "local":
        if requeue:
            raise InputError("--requeue only applies with --executor slurm.", field="--requeue",
                             hint="drop it, or use --executor slurm.")
        return LocalUnits(max_parallel=max_parallel or 2, overrides=given)
    return SlurmUnits(max_parallel=max_parallel, requeue=requeue, overrides=given)


# --- waiting --------------------------------------------------------------------------------------
def wait(results_dir: str | Path, *, progress: Progress | None = None, poll_s: float = POLL_S,
         lines: int = 10) -> StudyStatus:
    """Follow a submission until no unit job is queued or running any more and the report job has
    ended, or a unit failed (then the report job never runs: it waits for every unit, ``afterok``).

    ``progress(done, total, "units")`` and ``progress(0|1, 1, "report")`` as states change.
    Returns the last :class:`~studykit.study.status.StudyStatus`.
    """
    progress = progress or (lambda done, total, what: None)
    while True:
        now = status(results_dir, lines=lines)
        progress(now.counts["done"], len(now.units), "units")
        report_over = now.report_state is not None and now.report_state not in LIVE_STATES
        progress(int(now.report_state == "COMPLETED"), 1, "report")
        units_live = now.counts["running"] + sum(
            u.state == "pending" and u.job_state in LIVE_STATES for u in now.units)
        if not units_live and (report_over or now.counts[FAILED] or now.report_job is None):
            return now
        time.sleep(poll_s)


def failed_units_error(now: StudyStatus) -> UnitJobsFailedError:
    """The error ``--wait`` ends with when units failed (or the report job did not complete)."""
    layout = Layout(now.results)
    failed = [(u.arm, u.fold, f"job {u.job} {u.job_state}" if u.job_state else "its last attempt failed")
              for u in now.of(FAILED)]
    if failed:
        return _failed_error(layout, failed)
    return UnitJobsFailedError(f"the report job {now.report_job} ended {now.report_state}.",
                               file=str(now.results),
                               hint=f"its log is in {layout.submitit}; `studykit report {now.results}` "
                                    "builds the outputs here.")
