"""Fixtures of the study tests: a tiny protocol (synthetic 12-patient cohort, 2 folds, 32-px
crops, tiny arms) written into a temporary folder, and one finished run of it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from torch_threads import _two_threads  # noqa: F401  (autouse, re-exported by conftest)

from studykit.study.lock import LOCK_NAME

MODELS = Path(__file__).resolve().parents[2] / "models"




def tiny_protocol(**changes) -> dict:
    """The tiny protocol as a dict; ``changes`` replace top-level sections."""
    arm = {"device": "cpu", "input_size": 32, "batch_size": 8, "epochs": 2}
    protocol = {
        "schema_version": 1,
        "name": "tiny_study",
        "title": "Tiny study",
        "cohort": {"synthetic": {"tiny": True, "seed": 0}},
        "columns": {"covariates": {"age": "continuous", "sex": "categorical"}},
        "design": {"folds": 2, "val_fraction": 0.25, "seed": 0, "crop_size": 32, "stratify_by": []},
        "arms": [
            {
                "model": str(MODELS / "tiny" / "bmode_net.yaml"),
                "name": "bmode_net",
                "overrides": {**arm, "gradcam_images": 0},
            },
            {
                "model": str(MODELS / "tiny" / "muf_net.yaml"),
                "name": "muf_net",
                "overrides": {**arm, "gradcam_images": 2},
            },
            {"readers": "{cohort}/reads.csv", "groups": ["junior", "senior"]},
        ],
        "analyses": {"reference": "muf_net", "n_boot": 200, "seed": 0},
        "outputs": {"decimals": 3},
    }
    protocol.update(changes)
    return protocol


def write_protocol(folder: Path, data: dict, name: str = "study.yaml") -> Path:
    """Write ``data`` as YAML into ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """(protocol path, results root) of one uninterrupted run of the tiny protocol."""
    from studykit.study import run

    folder = tmp_path_factory.mktemp("finished")
    protocol = write_protocol(folder, tiny_protocol())
    run(protocol, results=folder / "results", device="cpu")
    return protocol, folder / "results"


@pytest.fixture(scope="session")
def youden_finished(finished, tmp_path_factory) -> tuple[Path, Path]:
    """(protocol path, results root): the finished run copied and run again with ``threshold:
    youden_inner_val`` — nothing trains; each unit's Youden threshold is chosen and applied."""
    from studykit.study import run

    _, results = finished
    folder = tmp_path_factory.mktemp("youden")
    shutil.copytree(results, folder / "results")
    data = tiny_protocol()
    data["design"] = {**data["design"], "threshold": "youden_inner_val"}
    protocol = write_protocol(folder, data)
    summary = run(protocol, results=folder / "results", device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    return protocol, folder / "results"


def protocol_with_arm(folder: Path, arm: dict, *, position: int, **design) -> Path:
    """The tiny protocol with model arm ``arm`` inserted at ``position`` among its arms and
    ``design`` keys replaced, written into ``folder``."""
    data = tiny_protocol()
    data["arms"].insert(position, arm)
    if design:
        data["design"] = {**data["design"], **design}
    return write_protocol(folder, data)


def run_added_arm(finished: tuple[Path, Path], folder: Path, protocol: Path):
    """The finished tiny run copied into ``folder/results`` and run again with ``protocol`` (one
    more arm: only its units train); the results root of the study and the run's summary."""
    from studykit.study import run

    shutil.copytree(finished[1], folder / "results")
    summary = run(protocol, results=folder / "results", device="cpu")
    return folder / "results" / "tiny_study", summary


def assert_only_arm_trained(summary, root: Path, arm: str) -> pd.DataFrame:
    """Only ``arm``'s units trained (the others skipped) and it predicts every tested patient
    once, with an empty ``image_id``; its prediction rows."""
    status = {(u.arm, u.fold): u.status for u in summary.units}
    assert {s for (a, _), s in status.items() if a == arm} == {"trained"}
    assert {s for (a, _), s in status.items() if a != arm} == {"skipped"}
    preds = pd.read_csv(root / "predictions.csv", dtype={"patient_id": str})
    mine, muf = preds[preds["arm"] == arm], preds[preds["arm"] == "muf_net"]
    assert mine["image_id"].isna().all() and not mine["patient_id"].duplicated().any()
    assert set(mine["patient_id"]) == set(muf["patient_id"])  # every tested patient, once
    return mine


def assert_youden_thresholds(study_root: Path, folder: Path, protocol: Path, arm: str) -> None:
    """The finished study at ``study_root`` copied into ``folder``, run with ``protocol`` (its
    design's threshold Youden's): ``arm``'s units freeze a threshold and Table 3 says so."""
    from studykit.study import run

    shutil.copytree(study_root.parent, folder / "results")
    run(protocol, results=folder / "results", device="cpu")
    assert (folder / "results" / "tiny_study" / "arms" / arm / "fold-0" / "threshold.json").is_file()
    table3 = pd.read_csv(folder / "results" / "tiny_study" / "tables" / "table3_performance.csv")
    assert table3.loc[table3["arm"] == arm, "threshold_origin"].str.contains("Youden").all()


def copy_cohort(results: Path, target: Path) -> None:
    """Reuse a run's synthetic cohort and store in another results root (saves the synthesis)."""
    shutil.copytree(
        results / "tiny_study" / "cohort",
        target / "tiny_study" / "cohort",
        ignore=shutil.ignore_patterns("splits.json"),
    )


HOLD = """
import sys, time, pathlib
from studykit.study.lock import results_lock
with results_lock(sys.argv[1]):
    pathlib.Path(sys.argv[2]).write_text("held")
    time.sleep(float(sys.argv[3]))
"""


def lock_holder(folder: Path, seconds: float, tmp_path: Path) -> subprocess.Popen:
    """A process that holds ``folder``'s lock for ``seconds`` (returns once it holds it)."""
    flag = tmp_path / f"held-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(flag), str(seconds)])
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the holder did not start"
        time.sleep(0.05)
    return proc


@contextlib.contextmanager
def held_lock(folder: Path, seconds: float, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """:func:`lock_holder` for the block; the holder is killed and reaped afterwards."""
    proc = lock_holder(folder, seconds, tmp_path)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the (empty) lock file itself, which stays between runs."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME}


def invoke(*args: object) -> Result:
    """``studykit ARGS`` in this process (click's runner: output holds stdout and stderr)."""
    from studykit.cli import cli, commands  # noqa: F401  (registers the commands)

    return CliRunner().invoke(cli, [str(a) for a in args])
