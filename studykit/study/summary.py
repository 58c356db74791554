"""What a run did: :class:`UnitResult` per unit and the :class:`RunSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["RunSummary", "UnitResult"]


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
