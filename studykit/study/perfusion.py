"""A cohort's perfusion outputs: ``studykit perfusion COHORT --out DIR``.

Fits every included patient's lesion and cortex TICs (:func:`studykit.cohort.perfusion.perfusion_fits`),
compares the fitted parameters by class (:func:`studykit.analysis.perfusion_by_class`),
summarises the relative curves per group (:func:`studykit.analysis.tic_summary`) and draws them
with a few patients' fits (:func:`studykit.report.figures.tic_figure`). Everything is computed
before anything is written; each file is written atomically. Needs no protocol and no results
folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from studykit.analysis import perfusion_by_class, relative_tic, tic_summary
from studykit.cohort.perfusion import perfusion_fits
from studykit.errors import InputError
from studykit.report import save_figure, tic_figure
from studykit.vocab import GROUP, PATIENT, atomic_write, require_columns

__all__ = ["PERFUSION_FILES", "PerfusionOutputs", "example_patients", "perfusion_outputs"]

#: The tables written, by name (CSV under the output folder); the figure is ``tic.png`` and ``tic.pdf``.
PERFUSION_FILES = {"table": "perfusion.csv", "by_class": "perfusion_by_class.csv", "curves": "tic_curves.csv",
                   "summary": "tic_summary.csv"}
FIGURE = "tic"


@dataclass(frozen=True)
class PerfusionOutputs:
    """What :func:`perfusion_outputs` computed and the files it wrote (figure last; none when no
    patient has a TIC)."""

    table: pd.DataFrame
    by_class: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    examples: tuple[str, ...]
    written: tuple[Path, ...]


def perfusion_outputs(cohort_dir: str | Path, out: str | Path, *, group: str = "label", examples: int = 3,
                      grid_s: float = 2.0, **fit_options: Any) -> PerfusionOutputs:
    """Write ``perfusion.csv``, ``perfusion_by_class.csv``, ``tic_curves.csv``, ``tic_summary.csv``
    and ``tic.png`` / ``tic.pdf`` under ``out``.

    Parameters
    ----------
    cohort_dir : the cohort folder (``manifest.csv`` with ``injection_s``, ``annotations.csv``, videos).
    out : the output folder (created).
    group : column of the curves the mean TICs are grouped by (``label``, ``subtype`` …).
    examples : patients drawn in the figure's panel B (:func:`example_patients`); 0 for none.
    grid_s : the summary's time grid, s.
    fit_options : keyword arguments of :func:`~studykit.cohort.perfusion.perfusion_fits`
        (``model``, ``dynamic_range_db``, ``gamma``, ``motion``, ``first_pass_s`` …).
    """
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise InputError(f"must be a whole number ≥ 0; got {examples!r}.", field="examples",
                         hint="pass examples=3, or 0 for no panel of patients.")
    fits = perfusion_fits(cohort_dir, **fit_options)
    require_columns(fits.curves, [group], table="group")
    summary = tic_summary(fits.curves, group=group, grid_s=grid_s)
    by_class = perfusion_by_class(fits.table)
    chosen = example_patients(fits.table, fits.curves, group=group, count=examples)
    figure = None
    if len(summary):
        shown = fits.curves[fits.curves[PATIENT].isin(chosen)]
        panel = relative_tic(shown).assign(**{GROUP: shown[group]}) if chosen else None
        figure = tic_figure(summary, examples=panel)
    target = Path(out)
    tables = {"table": fits.table, "by_class": by_class, "curves": fits.curves, "summary": summary}
    written = [_write_csv(tables[key], target / name) for key, name in PERFUSION_FILES.items()]
    if figure is not None:
        written += save_figure(figure, target / FIGURE)
    return PerfusionOutputs(fits.table, by_class, fits.curves, summary, chosen, tuple(written))


def example_patients(table: pd.DataFrame, curves: pd.DataFrame, *, group: str = "label",
                     count: int = 3) -> tuple[str, ...]:
    """Up to ``count`` patients whose fit is ``ok``: the first of each group by id (groups sorted),
    then the second of each, and so on — deterministic, and every group shown before any twice."""
    ok = set(table.loc[table["status"] == "ok", PATIENT])
    members = curves.loc[curves[PATIENT].isin(ok), [PATIENT, group]].drop_duplicates(PATIENT)
    queues = [sorted(part[PATIENT]) for _, part in members.groupby(group, sort=True)]
    return tuple(_round_robin(queues)[:count])


def _round_robin(queues: Sequence[list[str]]) -> list[str]:
    longest = max((len(q) for q in queues), default=0)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
