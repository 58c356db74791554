"""Executors on the command line: ``run``'s ``--executor`` options, printing a submission, following
it (``--wait``) and ``studykit status RESULTS_DIR``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from studykit.cli.app import cli, stdout
from studykit.errors import InputError

#: ``--flag`` → resources field it overrides, for every arm's jobs.
RESOURCE_FLAGS = {"partition": "partition", "time": "time_min", "cpus": "cpus", "gpus": "gpus",
                  "mem": "mem_gb", "account": "account", "qos": "qos", "constraint": "constraint"}
_STATE_STYLE = {"done": "green", "running": "cyan", "pending": "yellow", "failed": "bold red"}


def executor_options(command: Callable) -> Callable:
    """``--executor``, ``--wait``, ``--max-parallel``, ``--requeue`` and the resource overrides."""
    options = [
        click.option("--executor", type=click.Choice(["sequential", "local", "slurm"]), default="sequential",
                     show_default=True, help="Who trains the units: this process one after the other, "
                     "parallel local processes, or SLURM jobs (one array; the report as a job after it)."),
        click.option("--wait", "wait_jobs", is_flag=True,
                     help="slurm: follow the jobs until the report exists; exit 2 if a unit failed."),
        click.option("--max-parallel", type=click.IntRange(min=1), default=None,
                     help="Units running at once (local: default 2; slurm: the array's %N)."),
        click.option("--requeue", is_flag=True, help="slurm: a unit job that times out or is preempted "
                     "requeues itself and resumes from checkpoint-last.pt."),
        click.option("--partition", default=None,
                     help="slurm partition of every unit job (resources.partition)."),
        click.option("--time", "time_", type=click.IntRange(min=1), default=None,
                     help="Wall-time limit of every unit job in minutes (resources.time_min)."),
        click.option("--cpus", type=click.IntRange(min=1), default=None, help="CPU cores per unit job."),
        click.option("--gpus", type=click.IntRange(min=0), default=None,
                     help="GPUs per unit job (> 1: torchrun, one process per GPU)."),
        click.option("--mem", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Memory per unit job in GB."),
        click.option("--account", default=None, help="slurm account."),
        click.option("--qos", default=None, help="slurm quality of service."),
        click.option("--constraint", default=None, help="slurm node constraint (features)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_executor(executor: str, wait_jobs: bool, max_parallel: int | None, requeue: bool,
                  resources: dict[str, Any]) -> Any:
    """The library executor for the options (None: sequential)."""
    from studykit.study.executors import make_executor as make

    if wait_jobs and executor != "slurm":
        raise InputError("--wait only applies with --executor slurm (the others finish before they return).",
                         field="--wait", hint="drop --wait, or add --executor slurm.")
    overrides = {RESOURCE_FLAGS["time" if k == "time_" else k]: v for k, v in resources.items()}
    return make(executor, max_parallel=max_parallel, requeue=requeue, overrides=overrides)


def print_submission(summary, executor) -> None:
    """The job ids of a SLURM submission and how to follow it."""
    table = Table(title=f"Submitted to SLURM — {summary.results}")
    for name in ("what", "job"):
        table.add_column(name)
    queued = set(getattr(executor, "already_queued", ()))
    for what, job in summary.jobs.items():
        note = " (already queued)" if what in queued else ""
        table.add_row("report (after every unit: afterok)" if what == "report" else what + note, job)
    stdout.print(table)
    units = len(summary.jobs) - 1
    stdout.print(f"{units} unit job(s) and a report job; follow them with "
                 f"`studykit status {summary.results}`; logs in {summary.results / 'slurm'}/.")


def follow(results: Path) -> None:
    """``--wait``: progress bars until the report job ends, then the status; exit 2 on a failure."""
    from studykit.cli.progress import progress_bar
    from studykit.study.executors import failed_units_error, wait

    with progress_bar() as hook:
        now = wait(results, progress=hook)
    print_status(now)
    if now.of("failed") or now.report_state != "COMPLETED":
        raise failed_units_error(now)
    stdout.print(f"report: [bold]{now.report}[/]")


def print_status(now) -> None:
    """The units' table and the report job; failed units' log tails below it."""
    table = Table(title=f"Units — {now.results}")
    for name in ("unit", "state", "job", "SLURM state"):
        table.add_column(name)
    for unit in now.units:
        style = _STATE_STYLE[unit.state]
        table.add_row(f"{unit.arm} fold {unit.fold}", f"[{style}]{unit.state}[/]", unit.job or "—",
                      unit.job_state or "—")
    stdout.print(table)
    stdout.print(", ".join(f"{n} {state}" for state, n in now.counts.items() if n) or "no units")
    if now.report_job:
        stdout.print(f"report job {now.report_job}: {now.report_state or 'unknown'}")
    stdout.print(f"report.md: {now.report or 'not written yet'}")
    for unit in now.of("failed"):
        stdout.print(f"\n[bold red]{unit.arm} fold {unit.fold} failed[/] "
                     f"({'job ' + unit.job + ' ' + (unit.job_state or '') if unit.job else 'no job'}); "
                     f"last lines of {unit.log or 'its log (none written)'}:")
        for line in unit.tail:
            stdout.print(f"  {line}", markup=False, highlight=False)


@cli.command("status")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--lines", type=click.IntRange(min=1), default=10, show_default=True,
              help="Last lines shown of a failed unit's log.")
def status_command(results_dir: Path, lines: int) -> None:
    """Each unit of RESULTS_DIR done, running, pending or failed, with its SLURM job and state."""
    from studykit.study.status import status

    print_status(status(results_dir, lines=lines))
