"""Executors without a cluster: sbatch parameters from resources, the torchrun command line, option
errors, pickling of the job callables, and --executor local on the tiny study (units in parallel
processes, a failing one reported, tables byte-identical to the sequential run)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import cloudpickle
import pytest
from study_support import copy_cohort, invoke
from submitit.slurm.slurm import _make_sbatch_string

from studykit.errors import InputError
from studykit.protocol import load_protocol
from studykit.protocol.resources import ResourcesSpec
from studykit.study import unit_main
from studykit.study.executors import (
    LocalUnits,
    RequeueableUnitJob,
    SlurmUnits,
    UnitJob,
    make_executor,
    sbatch_parameters,
    torchrun_command,
)
from studykit.study.provenance import protocol_from_lock, read_lock_document
from studykit.train.checkpoint import fingerprint

STUDY = "tiny_study"


def _sbatch_lines(resources: ResourcesSpec, **kwargs) -> set[str]:
    params = sbatch_parameters(resources, name="renal-units", threads=2, **kwargs)
    return set(_make_sbatch_string(command="python -m x", folder="/r/slurm/submitit", map_count=4,
                                   **params).splitlines())


def test_resources_become_these_sbatch_lines():
    lines = _sbatch_lines(ResourcesSpec(gpus=2, cpus=8, mem_gb=1.5, time_min=720, partition="gpu",
                                        account="renal", qos="high", constraint="a100",
                                        extra={"exclusive": True, "mail_type": "END", "requeue": False}),
                          parallelism=3)
    assert {"#SBATCH --gpus-per-node=2", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=1536MB",
            "#SBATCH --time=720", "#SBATCH --partition=gpu", "#SBATCH --account=renal", "#SBATCH --qos=high",
            "#SBATCH --constraint=a100", "#SBATCH --exclusive", "#SBATCH --mail-type=END",
            "#SBATCH --array=0-3%3", "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1",
            "#SBATCH --job-name=renal-units", "#SBATCH --signal=USR2@90"} <= lines
    assert not any("requeue" in line for line in lines)  # a false flag is left out


def test_defaults_ask_for_the_protocol_threads_and_nothing_else():
    lines = {line for line in _sbatch_lines(ResourcesSpec(mem_gb=16)) if line.startswith("#SBATCH")}
    assert "#SBATCH --cpus-per-task=2" in lines and "#SBATCH --mem=16GB" in lines
    assert "#SBATCH --time=1440" in lines and "#SBATCH --array=0-3%4" in lines
    assert not any(k in line for line in lines for k in ("gpus", "partition", "account", "qos", "constraint"))


def test_a_multi_gpu_unit_runs_under_torchrun_one_process_per_gpu():
    job = UnitJob("/r/renal", "muf_net", 3, "cuda", 4, gpus=4)
    command = torchrun_command(job)
    assert command == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                       "--nproc_per_node=4", "-m", "studykit.study.unit_main", "/r/renal", "muf_net", "3",
                       "--device", "cuda", "--no-lock", "--threads", "4"]
    args = unit_main._parser().parse_args(command[8:])  # what each rank parses
    assert (args.root, args.arm, args.fold, args.device, args.threads, args.no_lock) == \
        ("/r/renal", "muf_net", 3, "cuda", 4, True)


def test_job_callables_survive_pickling_and_a_requeued_job_is_the_same_job():
    for job in (UnitJob("/r/x", "a", 1), RequeueableUnitJob("/r/x", "a", 1, "cpu", 2)):
        assert cloudpickle.loads(cloudpickle.dumps(job)) == job
    job = RequeueableUnitJob("/r/x", "a", 1)
    again = job.checkpoint()
    assert again.function is job and again.args == () and not hasattr(UnitJob("/r/x", "a", 1), "checkpoint")


def test_executor_options_that_do_not_apply_are_errors():
    assert make_executor("sequential") is None
    assert isinstance(make_executor("local", max_parallel=3), LocalUnits)
    assert isinstance(make_executor("slurm", requeue=True, overrides={"partition": "gpu"}), SlurmUnits)
    with pytest.raises(InputError, match="--requeue, --partition only apply with --executor local or slurm"):
        make_executor("sequential", requeue=True, overrides={"partition": "gpu"})
    with pytest.raises(InputError, match="--requeue only applies with --executor slurm"):
        make_executor("local", requeue=True)
    with pytest.raises(InputError, match="did you mean 'slurm'"):
        make_executor("slurn")
    out = invoke("run", "protocol.yaml", "--wait")
    assert out.exit_code == 2 and "--wait only applies with --executor slurm" in out.output
    out = invoke("run", "protocol.yaml", "--time", "0", "--executor", "slurm")
    assert out.exit_code == 2 and "'--time': 0 is not in the range x>=1" in out.output


def test_jobs_see_the_arm_specs_the_sequential_run_trained(finished):
    """A job reads the protocol back from protocol.lock.yaml: its units' fingerprints are those of
    the protocol file, so a unit trained by one executor counts as done for another."""
    protocol, results = finished
    loaded = load_protocol(protocol)
    locked = protocol_from_lock(read_lock_document(results / STUDY / "protocol.lock.yaml"))
    assert [a.model_dump() for a in locked.arm_specs] == [a.model_dump() for a in loaded.arm_specs]
    from studykit.cohort import PairStore, Splits

    store = PairStore(read_lock_document(results / STUDY / "protocol.lock.yaml")["store"])
    fold = Splits.from_json((results / STUDY / "cohort" / "splits.json").read_text()).fold(0)
    assert fingerprint(locked.arm_specs[1], store, fold) == fingerprint(loaded.arm_specs[1], store, fold)


def _marks(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("studykit:")]


def _stamp(line: str) -> str:
    return re.search(r"\[([0-9T:-]+)\]$", line)[1]


def test_local_executor_runs_units_in_parallel_reports_a_failure_and_matches_the_sequential_tables(
        finished, tmp_path):
    protocol, results = finished
    root = tmp_path / "results"
    copy_cohort(results, root)
    arms = results / STUDY / "arms"
    for unit in ("bmode_net/fold-1", "muf_net/fold-1"):  # done: not started again
        shutil.copytree(arms / unit, root / STUDY / "arms" / unit)
    broken = root / STUDY / "arms" / "muf_net" / "fold-0"
    broken.mkdir(parents=True)
    (broken / "checkpoint-last.pt").write_bytes(b"cut off")
    args = ("run", protocol, "--results", root, "--device", "cpu", "--executor", "local",
            "--max-parallel", "2")

    out = invoke(*args)
    assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    assert "1 unit(s) failed: muf_net fold 0 (" in out.output
    assert "cannot be loaded as a checkpoint" in out.output
    study = root / STUDY
    assert not (study / "tables").exists()  # a failed unit: no outputs, as in a sequential run
    logs = {p.name for p in (study / "slurm").glob("*.log")}
    assert logs == {"bmode_net.fold-0.log", "muf_net.fold-0.log"}
    first, second = (_marks(study / "slurm" / f"{arm}.fold-0.log") for arm in ("bmode_net", "muf_net"))
    assert first[-1].startswith("studykit: finished: trained")
    assert second[-1].startswith("studykit: failed after")
    assert _stamp(second[0]) <= _stamp(first[-1]) and _stamp(first[0]) <= _stamp(second[-1])  # overlapped
    status = invoke("status", study)
    assert re.search(r"muf_net fold 0\s*│\s*failed", status.output) and "3 done, 1 failed" in status.output

    shutil.rmtree(broken)  # the fix: here, the unit as the sequential run trained it
    shutil.copytree(arms / "muf_net" / "fold-0", broken)
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "units: 4 skipped" in again.output  # nothing left to train: no process started
    tables = {p.name: p.read_bytes() for p in sorted((study / "tables").glob("*.csv"))}
    assert len(tables) == 11
    assert tables == {p.name: p.read_bytes() for p in sorted((results / STUDY / "tables").glob("*.csv"))}
