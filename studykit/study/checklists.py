"""The reporting checklists of a run: STARD 2015 and CLAIM 2024, answered from the run's files.

:func:`write_checklists` reads what a finished run wrote — ``protocol.lock.yaml`` (the
protocol and arm specs as run), the cohort's flow counts and pair-store index,
``cohort/splits.json``, ``reads.csv``, ``tables/*.csv``, ``report.md``, ``figures/`` and the
provenance block (``provenance.json``'s versions) — and answers every checklist item those
files can answer, naming where (file and section or table). Items no file holds are left to
the authors (:data:`studykit.report.checklists.AUTHORS`); items the run answers in part say
what remains. The item texts and the markdown page are the report layer's
(:mod:`studykit.report.checklists`); the layout's ``stard_checklist.md`` and
``claim_checklist.md`` sit beside ``report.md``.

Every answer is a count, a setting or a method's name, never a rounded estimate: estimates are
pointed to (Table 3, the decision curve), so the checklist cannot disagree with the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from studykit.cohort import Cohort
from studykit.protocol.study import StudyProtocol
from studykit.report import CLAIM_2024, STARD_2015, Checklist, Entry, render_checklist
from studykit.study import _answers as A
from studykit.study import _model_answers as M
from studykit.study._run_files import RunFiles, read_run
from studykit.study.layout import Layout
from studykit.vocab import atomic_write

__all__ = ["CLAIM_ANSWERS", "STARD_ANSWERS", "answers", "write_checklists"]

Answer = Callable[[RunFiles], "Entry | None"]
#: STARD 2015 item → how the run answers it (items not listed are the authors').
STARD_ANSWERS: dict[str, Answer] = {
    "5": A.design_kind, "6": A.exclusions, "8": A.setting, "10a": A.index_test,
    "10b": A.reference_standard, "12a": A.cutoffs, "12b": A.reference_categories, "13a": A.blinding,
    "14": A.methods, "15": A.indeterminate, "16": A.missing, "17": A.variability, "19": A.flow,
    "20": A.baseline, "21a": lambda run: A.subtypes(run, True), "21b": lambda run: A.subtypes(run, False),
    "23": A.cross_tab, "24": A.estimates, "27": A.implications, "29": A.protocol_access,
}
#: CLAIM 2024 item → how the run answers it (items not listed are the authors').
CLAIM_ANSWERS: dict[str, Answer] = {
    "1": M.technology, "5": A.design_kind, "7": M.data_sources, "8": A.exclusions, "9": M.preprocessing,
    "10": M.subsets, "11": M.deidentification, "12": A.missing, "13": M.acquisition,
    "14": A.reference_standard, "17": M.test_annotation, "18": M.agreement, "19": M.partitions,
    "20": M.disjoint, "22": M.model, "23": M.software, "24": M.initialization, "25": M.training,
    "26": M.selection, "27": M.ensembling, "28": M.metrics, "29": A.methods, "30": A.variability,
    "31": M.explainability, "32": M.internal, "33": M.external, "35": A.flow,
    "36": A.partitions_characteristics, "37": M.partition_performance, "38": A.estimates,
    "41": A.implications, "42": A.protocol_access, "43": M.availability,
}


def answers(checklist: Checklist, run: RunFiles) -> dict[str, Entry]:
    """Item id → :class:`~studykit.report.Entry` for every item of ``checklist`` the run's files answer."""
    table = STARD_ANSWERS if checklist.key == STARD_2015.key else CLAIM_ANSWERS
    found = {item: answer(run) for item, answer in table.items()}
    return {item: entry for item, entry in found.items() if entry is not None}


def write_checklists(protocol: StudyProtocol, layout: Layout, *, outputs: Layout | None = None,
                     cohort: Cohort | None, provenance: Mapping[str, Any],
                     missing: list[tuple[str, int]] | tuple = ()) -> list[Path]:
    """Write ``stard_checklist.md`` and ``claim_checklist.md`` beside report.md; returns their paths.

    ``layout``: the results folder (lock file, splits); ``outputs``: where this build's outputs
    are written and the checklists go (default ``layout``; the staging folder during a build).

    ``cohort``: the validated cohort (its flow counts), None when its manifest is gone;
    ``provenance``: the block of report.md's provenance section; ``missing``: units not finished.
    """
    run = read_run(layout, outputs=outputs, cohort=cohort, provenance=provenance, missing=missing)
    outputs = outputs or layout
    study = protocol.title or protocol.name
    return [atomic_write(outputs.checklist(c.key), render_checklist(c, answers(c, run), study=study))
            for c in (STARD_2015, CLAIM_2024)]
