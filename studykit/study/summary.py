"""What a run did: :class:`UnitResult` per unit and the :class:`RunSummary`; what trains the
units when it is not the runner's own loop (:class:`UnitExecutor`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

__all__ = ["RunSummary", "UnitExecutor", "UnitResult"]


@dataclass(frozen=True)
class UnitResult:
    """What happened to a unit: ``trained``, ``retrained`` (inputs changed) or ``skipped``."""

    arm: str
    fold: int
    status: str
    seconds: float


@dataclass
class RunSummary:
    """The outcome of :func:`run` (and of :func:`studykit.study.report`).

    Attributes
    ----------
    results : the run's results folder.
    units : what happened to each selected unit.
    missing : (arm, fold) units of the protocol not finished yet.
    tables : table name → CSV path.
    figures : figure name → PNG path.
    headline : Table 3 rows at patient level: ``arm, metric, estimate, ci_low, ci_high``.
    report : ``report.md``.
    stages : stage → wall seconds.
    wall_s : total wall seconds.
    jobs : submitted to a scheduler (``--executor slurm``): what → job id (``bmode_net fold 0``,
        ``report``); the outputs are then the report job's, and ``missing`` the units submitted.
    """

    results: Path
    units: list[UnitResult] = field(default_factory=list)
    missing: list[tuple[str, int]] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    headline: pd.DataFrame | None = None
    report: Path | None = None
    stages: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    jobs: dict[str, str] = field(default_factory=dict)


class UnitExecutor(Protocol):
    """Trains a run's units in other processes (``studykit.study.executors``).

    ``train`` gets the units that need work and returns what happened to each, once all are
    done; or None when it submitted them to a scheduler together with a report job, whose ids
    are then in ``jobs``.
    """

    jobs: dict[str, str]

    def train(self, protocol: Any, layout: Any, units: Sequence[Any], *, device: str, threads: int | None,
              progress: Any) -> list[UnitResult] | None: ...
