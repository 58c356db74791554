"""The results layout of one protocol run (DESIGN.md, "Derived files") — the one module that knows it.

::

    results/<protocol-name>/
        protocol.lock.yaml      fully resolved protocol + content hashes of every input
        provenance.json         versions, git commit, seeds, device, timings
        cohort/raw/             the synthetic cohort (synthetic protocols only)
        cohort/store/           ROI pair store (content-addressed)
        cohort/splits.json      frozen patient-grouped folds
        cohort/perfusion/<key>/ TIC fits shared by the perfusion arms (perfusion.csv, tic_curves.csv)
        arms/<arm>/fold-<k>/    one (arm, fold) unit (``studykit.vocab.unit_dir``)
        predictions.csv         merged test predictions of every finished unit
        reads.csv               validated reads + majority votes
        tables/                 <name>.csv and <name>.tex
        figures/                <name>.png and <name>.pdf
        report.md
        stard_checklist.md      STARD 2015 items answered from the files above
        claim_checklist.md      CLAIM 2024 items answered from the files above
        planning.csv            readers × cases for the next study (``studykit plan``, this run as pilot)
        tracking.json           the MLflow parent run of the study (``outputs.tracking`` only)
        mlruns/                 the default MLflow store: mlflow.db (SQLite) and artifacts/
        arms/<arm>/fold-<k>/tracking.json   the unit's MLflow run (logged once)
        slurm/                  executor jobs (``--executor local|slurm``): <arm>.fold-<k>.log per
                                unit, jobs.json (the job ids last submitted), submitit/ (its files)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studykit.vocab import (
    BEST,
    DONE,
    GRADCAM,
    HISTORY,
    LAST,
    PREDICTIONS,
    THRESHOLD_YOUDEN,
    atomic_write,
    fsync_dir,
    remove_dead_temps,
    temp_name,
    unit_dir,
)

THRESHOLD = "threshold.json"
TRACKING = "tracking.json"

__all__ = ["Layout", "atomic_write_json", "staged_outputs"]

#: Prefix of the folder the outputs are written into before they replace the published ones.
STAGING_PREFIX = ".outputs-staging-"


@dataclass(frozen=True)
class Layout:
    """Paths of one run's results folder ``root`` (``results/<protocol-name>``)."""

    root: Path

    @classmethod
    def of(cls, results: str | Path, name: str) -> Layout:
        """The layout of protocol ``name`` under the results folder ``results``."""
        return cls(Path(results) / name)

    @property
    def lock(self) -> Path:
        return self.root / "protocol.lock.yaml"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    @property
    def raw_cohort(self) -> Path:
        return self.root / "cohort" / "raw"

    @property
    def store_root(self) -> Path:
        return self.root / "cohort" / "store"

    @property
    def splits(self) -> Path:
        return self.root / "cohort" / "splits.json"

    def perfusion_fits(self, key: str) -> Path:
        """The folder of the cached TIC fits of cache key ``key`` (perfusion.csv, tic_curves.csv)."""
        return self.root / "cohort" / "perfusion" / key

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def reads(self) -> Path:
        return self.root / "reads.csv"

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def planning(self) -> Path:
        """``planning.csv``: the readers × cases plan of ``studykit plan`` (this run as the pilot)."""
        return self.root / "planning.csv"

    @property
    def tracking(self) -> Path:
        """The study's MLflow parent run record (:mod:`studykit.study.tracking`)."""
        return self.root / TRACKING

    @property
    def mlruns(self) -> Path:
        """The default MLflow store: ``mlflow.db`` (SQLite) and ``artifacts/``."""
        return self.root / "mlruns"

    def checklist(self, key: str) -> Path:
        """``<key>_checklist.md`` beside report.md (``stard``, ``claim``)."""
        return self.root / f"{key}_checklist.md"

    def unit(self, arm: str, fold: int) -> Path:
        """The folder of unit (``arm``, ``fold``)."""
        return unit_dir(self.root, arm, fold)

    def unit_file(self, arm: str, fold: int, what: str) -> Path:
        """A file of a unit: ``done``, ``best``, ``last``, ``history``, ``predictions``, ``gradcam``,
        ``threshold`` (the decision threshold chosen on the inner-validation patients),
        ``tracking`` (the unit's MLflow run, once logged)."""
        names = {
            "done": DONE,
            "best": BEST,
            "last": LAST,
            "history": HISTORY,
            "predictions": PREDICTIONS,
            "gradcam": GRADCAM,
            "threshold": THRESHOLD,
            "tracking": TRACKING,
        }
        return self.unit(arm, fold) / names[what]

    def unit_complete(self, arm: str, fold: int, threshold_rule: str) -> bool:
        """Whether unit (``arm``, ``fold``) has what the outputs merge: ``done.json``,
        ``predictions.csv`` and, under the ``youden_inner_val`` rule, ``threshold.json``."""
        needed = ("done", "predictions", "threshold") if threshold_rule == THRESHOLD_YOUDEN else (
            "done", "predictions")
        return all(self.unit_file(arm, fold, what).is_file() for what in needed)

    @property
    def jobs(self) -> Path:
        """``slurm/``: the executors' job files (unit logs, job records, submitit's folder)."""
        return self.root / "slurm"

    @property
    def job_records(self) -> Path:
        """``slurm/jobs.json``: the job id last submitted for each unit and for the report."""
        return self.jobs / "jobs.json"

    @property
    def submitit(self) -> Path:
        """``slurm/submitit/``: submitit's pickles and its per-job logs."""
        return self.jobs / "submitit"

    def unit_log(self, arm: str, fold: int) -> Path:
        """``slurm/<arm>.fold-<k>.log``: every job attempt of unit (``arm``, ``fold``), appended."""
        return self.jobs / f"{arm}.fold-{int(fold)}.log"

    def figure(self, name: str) -> Path:
        """``figures/<name>`` without suffix (``save_figure`` adds them)."""
        return self.figures / name

    def relative(self, path: Path) -> str:
        """``path`` relative to the results folder, with forward slashes."""
        return Path(path).relative_to(self.root).as_posix()


def atomic_write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON to ``path`` (:func:`~studykit.vocab.atomic_write`)."""
    return atomic_write(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def staged_outputs(layout: Layout) -> Iterator[Layout]:
    """A :class:`Layout` of a staging folder inside ``layout.root`` for the outputs of one build.

    Write predictions.csv, reads.csv, tables, figures and report.md into the yielded layout.
    When the block ends without an exception each staged file replaces its published
    counterpart (``os.replace``, so each file is old or new, never a part), report.md last,
    so a report never points at outputs that are not in place yet. When the block raises,
    nothing published changes. The staging folder is removed either way; one left by a killed
    process is removed by the next build (:func:`~studykit.vocab.remove_dead_temps`).
    """
    remove_dead_temps(layout.root, STAGING_PREFIX)
    stage = Layout(layout.root / temp_name(STAGING_PREFIX))
    stage.root.mkdir(parents=True)
    try:
        yield stage
        _publish_staged(stage, layout)
    finally:
        shutil.rmtree(stage.root, ignore_errors=True)


def _publish_staged(stage: Layout, layout: Layout) -> None:
    """Move every file of ``stage`` to the same place under ``layout`` (report.md last)."""
    files = sorted((p for p in stage.root.rglob("*") if p.is_file()), key=lambda p: (p == stage.report, p))
    folders = set()
    for path in files:
        target = layout.root / stage.relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        folders.add(target.parent)
    for folder in sorted(folders):
        fsync_dir(folder)
