"""Plan the next study from a finished one: ``studykit plan RESULTS_DIR --effect 0.05``.

Reads the pilot's ``protocol.lock.yaml`` (its analysis settings: aggregation, compared pairs,
MRMC covariance, seed), ``predictions.csv`` and ``reads.csv``, computes
:func:`studykit.analysis.planning_table` and writes it to ``<results>/planning.csv``
(:attr:`Layout.planning`), with the results folder locked. Trains and changes nothing else.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from studykit.analysis import AnalysisOptions, planning_table
from studykit.errors import InputError, StudyError, UndefinedStatisticWarning
from studykit.readers import KIND, KIND_READER
from studykit.study.layout import Layout
from studykit.study.lock import results_lock
from studykit.study.options import analysis_options
from studykit.study.provenance import protocol_from_lock, read_lock_document
from studykit.vocab import ARM, GROUP, PATIENT, READER, atomic_write

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """A plan: the readers × cases table, the assumptions it rests on, and where it was written."""

    table: pd.DataFrame
    assumptions: list[str]
    path: Path
    effect: float
    power: float
    alpha: float


def plan(results_dir: str | Path, *, effect: float, power: float = 0.8, alpha: float = 0.05,
         readers: Sequence[int] = (3, 5, 10), analysis: str | Sequence[str] = "RRRC",
         method: str = "obuchowski", wait_lock: bool = False) -> Plan:
    """Readers × cases the next study needs, planned from the finished study in ``results_dir``.

    Parameters
    ----------
    results_dir : path
        ``results/<protocol name>`` of a finished run (``studykit run`` or ``studykit report``).
    effect : float in (0, 1)
        The AUC difference to detect, in every comparison.
    power, alpha : float
        Target power, two-sided level.
    readers : sequence of int ≥ 2
        Reader-panel sizes to plan the model-vs-readers comparisons for.
    analysis, method
        As :func:`studykit.analysis.planning_table`.

    Returns
    -------
    :class:`Plan`; its table is also written to ``<results_dir>/planning.csv``.

    Raises
    ------
    StudyError
        ``results_dir`` is not a finished study (no ``protocol.lock.yaml`` or no
        ``predictions.csv``), has no reads, or ``effect`` is not in (0, 1).
    """
    layout = Layout(Path(results_dir))
    _check_effect(effect)
    _check_study(layout)
    with results_lock(layout.root, wait=wait_lock):
        predictions, reads, options = _pilot(layout)
        with warnings.catch_warnings():  # undefined rows are NaN in the table, and said so in the assumptions
            warnings.simplefilter("ignore", UndefinedStatisticWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            table = planning_table(predictions, reads, effect=effect, power=power, alpha=alpha,
                                   readers=readers, analysis=analysis, method=method, options=options)
        atomic_write(layout.planning, lambda tmp: table.to_csv(tmp, index=False, lineterminator="\n"))
    return Plan(table, assumptions(table, layout, options.mrmc_cov, effect, power, alpha, method),
                layout.planning, effect, power, alpha)


def _check_effect(effect: float) -> None:
    try:
        number = float(effect)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number < 1:
        raise InputError(f"must be an AUC difference strictly between 0 and 1; got {effect!r}.",
                         field="effect",
                         hint="pass the smallest difference worth detecting, e.g. --effect 0.05.")


def _check_study(layout: Layout) -> None:
    """A finished study's folder: its lock document, predictions and reads are there."""
    if not layout.lock.is_file():
        raise StudyError("is not a study's results folder (no protocol.lock.yaml).", file=str(layout.root),
                         hint="pass results/<protocol name>, written by `studykit run PROTOCOL`.")
    if not layout.predictions.is_file():
        raise StudyError("is not a finished study: it has no predictions.csv.", file=str(layout.root),
                         hint="finish the pilot first (`studykit run PROTOCOL`, or `studykit report` after "
                              "cluster jobs), then plan from it.")
    if not layout.reads.is_file():
        raise StudyError("has no reads.csv: planning the model-vs-readers comparison needs the pilot's "
                         "reader reads.", file=str(layout.root),
                         hint="add reader arms to the protocol and re-run it (finished units are kept).")


def _pilot(layout: Layout) -> tuple[pd.DataFrame, pd.DataFrame, AnalysisOptions]:
    """The finished study's predictions, individual reads and analysis options."""
    protocol = protocol_from_lock(read_lock_document(layout.lock))
    predictions = pd.read_csv(layout.predictions, dtype={PATIENT: str, ARM: str})
    reads = pd.read_csv(layout.reads, dtype={PATIENT: str, READER: str, GROUP: str})
    if KIND in reads.columns:
        reads = reads[reads[KIND] == KIND_READER].reset_index(drop=True)
    available = set(predictions[ARM]) | set(reads[GROUP])
    return predictions, reads, analysis_options(protocol, available=available)


def assumptions(table: pd.DataFrame, layout: Layout, cov: str, effect: float, power: float, alpha: float,
                method: str) -> list[str]:
    """What the plan assumes, in sentences (printed by the CLI, stated in the README)."""
    mrmc = table[table["comparison"] == "model_vs_readers"]
    pilot = mrmc.iloc[0] if len(mrmc) else None
    size = ("" if pilot is None else f", {int(pilot['pilot_cases'])} patients ({int(pilot['pilot_n_pos'])} "
            f"malignant, {int(pilot['pilot_n_neg'])} benign)")
    lines = [f"Pilot: {layout.root}{size}.",
             f"Every comparison is planned to detect an AUC difference of {effect:g} with power {power:g} "
             f"at two-sided alpha {alpha:g}.",
             "Model vs readers: Obuchowski-Rockette variance components of the pilot's reader-minus-model "
             f"AUCs ({cov} covariance), the model a modality with no reader variance; error variance and "
             "covariances scaled by pilot patients / planned patients, reader variance unchanged (Hillis, "
             "Obuchowski & Berbaum 2011). Planned patients keep the pilot's prevalence and readers are "
             "like the pilot's; 'unreachable' means the power stays below the target however many patients.",
             f"Model vs model: paired AUC comparison, {method} variances of the pilot "
             "(stats.auc_power_paired), the pilot's benign-to-malignant ratio; no readers involved."]
    missing = table["cases"].isna()
    if missing.any():
        unreachable = int((missing & (table["power_max"] < power)).sum())
        undefined = int(missing.sum()) - unreachable
        parts = [f"{unreachable} unreachable with that many readers"] if unreachable else []
        if undefined:
            parts.append(f"{undefined} undefined (the pilot's variances could not be estimated)")
        lines.append(f"{int(missing.sum())} row(s) have no number of patients: {', '.join(parts)}.")
    if pilot is not None and pilot["pilot_cases"] < 50:
        lines.append(f"Caution: a pilot of {int(pilot['pilot_cases'])} patients gives imprecise variance "
                     "components; treat the numbers as rough.")
    return lines
