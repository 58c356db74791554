"""Reporting checklists: the STARD 2015 and CLAIM 2024 items, and their markdown rendering.

The item texts are the published checklists' items, paraphrased closely, numbered exactly
as published: STARD 2015 has 30 items, six of them split in two (10a/10b, 12a/12b,
13a/13b, 21a/21b), 34 entries in all; CLAIM 2024 has 44 items. Each item carries its
section as the checklist heads it.

:func:`render_checklist` writes one checklist as markdown: one table per section, each item
with its status — *from the run* (the run's files answer it; the row says where),
*partly from the run* (the run answers part; what remains is said), or *to be completed by
the authors* (registration, funding, clinical background … which no file of a run holds).
The study layer decides the answers from the run's files (:mod:`studykit.study.checklists`);
this module only holds the items and draws the page.

References
----------
Bossuyt PM, Reitsma JB, Bruns DE, et al. (2015). STARD 2015: an updated list of essential items
for reporting diagnostic accuracy studies. BMJ 351:h5527. doi:10.1136/bmj.h5527
Cohen JF, Korevaar DA, Altman DG, et al. (2016). STARD 2015 guidelines for reporting diagnostic
accuracy studies: explanation and elaboration. BMJ Open 6:e012799.
doi:10.1136/bmjopen-2016-012799
Tejani AS, Klontzas ME, Gatti AA, et al. (2024). Checklist for Artificial Intelligence in
Medical Imaging (CLAIM): 2024 update. Radiol Artif Intell 6:e240300. doi:10.1148/ryai.240300
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from studykit.errors import InputError
from studykit.vocab import did_you_mean

__all__ = ["AUTHORS", "CHECKLISTS", "CLAIM_2024", "STARD_2015", "Checklist", "Entry", "Item",
           "render_checklist"]

#: The status of an item no file of the run can answer.
AUTHORS = "to be completed by the authors"
FROM_RUN, PARTLY = "from the run", "partly from the run"


@dataclass(frozen=True)
class Item:
    """One checklist item: its official number (``"10a"``), its section and its text."""

    id: str
    section: str
    text: str


@dataclass(frozen=True)
class Entry:
    """What the run reports for an item: ``reported`` (the facts), ``where`` (files and sections
    holding them) and ``authors`` (what only the authors can add; empty when nothing is left)."""

    reported: str
    where: str
    authors: str = ""

    @property
    def status(self) -> str:
        """:data:`FROM_RUN` or :data:`PARTLY`."""
        return PARTLY if self.authors else FROM_RUN


@dataclass(frozen=True)
class Checklist:
    """A reporting checklist: ``key`` (``stard``, ``claim``), its title, citation and items."""

    key: str
    title: str
    reference: str
    items: tuple[Item, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """The item numbers, in order."""
        return tuple(item.id for item in self.items)


def _items(section: str, *pairs: tuple[str, str]) -> tuple[Item, ...]:
    return tuple(Item(number, section, text) for number, text in pairs)


STARD_2015 = Checklist("stard", "STARD 2015",
                       "Bossuyt PM et al. STARD 2015: an updated list of essential items for reporting "
                       "diagnostic accuracy studies. BMJ 2015;351:h5527, doi:10.1136/bmj.h5527", (
    *_items("Title or abstract",
            ("1", "Identification as a study of diagnostic accuracy using at least one measure of accuracy "
                  "(such as sensitivity, specificity, predictive values or AUC)")),
    *_items("Abstract",
            ("2", "Structured summary of study design, methods, results and conclusions (see STARD for "
                  "Abstracts)")),
    *_items("Introduction",
            ("3", "Scientific and clinical background, including the intended use and clinical role of the "
                  "index test"),
            ("4", "Study objectives and hypotheses")),
    *_items("Methods: study design",
            ("5", "Whether data collection was planned before the index test and reference standard were "
                  "performed (prospective study) or after (retrospective study)")),
    *_items("Methods: participants",
            ("6", "Eligibility criteria"),
            ("7", "On what basis potentially eligible participants were identified (such as symptoms, "
                  "results from previous tests, inclusion in registry)"),
            ("8", "Where and when potentially eligible participants were identified (setting, location and "
                  "dates)"),
            ("9", "Whether participants formed a consecutive, random or convenience series")),
    *_items("Methods: test methods",
            ("10a", "Index test, in sufficient detail to allow replication"),
            ("10b", "Reference standard, in sufficient detail to allow replication"),
            ("11", "Rationale for choosing the reference standard (if alternatives exist)"),
            ("12a", "Definition of and rationale for test positivity cut-offs or result categories of the "
                    "index test, distinguishing pre-specified from exploratory"),
            ("12b", "Definition of and rationale for test positivity cut-offs or result categories of the "
                    "reference standard, distinguishing pre-specified from exploratory"),
            ("13a", "Whether clinical information and reference standard results were available to the "
                    "performers or readers of the index test"),
            ("13b", "Whether clinical information and index test results were available to the assessors "
                    "of the reference standard")),
    *_items("Methods: analysis",
            ("14", "Methods for estimating or comparing measures of diagnostic accuracy"),
            ("15", "How indeterminate index test or reference standard results were handled"),
            ("16", "How missing data on the index test and reference standard were handled"),
            ("17", "Any analyses of variability in diagnostic accuracy, distinguishing pre-specified from "
                   "exploratory"),
            ("18", "Intended sample size and how it was determined")),
    *_items("Results: participants",
            ("19", "Flow of participants, using a diagram"),
            ("20", "Baseline demographic and clinical characteristics of participants"),
            ("21a", "Distribution of severity of disease in those with the target condition"),
            ("21b", "Distribution of alternative diagnoses in those without the target condition"),
            ("22", "Time interval and any clinical interventions between index test and reference standard")),
    *_items("Results: test results",
            ("23", "Cross tabulation of the index test results (or their distribution) by the results of the "
                   "reference standard"),
            ("24", "Estimates of diagnostic accuracy and their precision (such as 95% confidence intervals)"),
            ("25", "Any adverse events from performing the index test or the reference standard")),
    *_items("Discussion",
            ("26", "Study limitations, including sources of potential bias, statistical uncertainty and "
                   "generalisability"),
            ("27", "Implications for practice, including the intended use and clinical role of the index "
                   "test")),
    *_items("Other information",
            ("28", "Registration number and name of registry"),
            ("29", "Where the full study protocol can be accessed"),
            ("30", "Sources of funding and other support; role of funders")),
))

CLAIM_2024 = Checklist("claim", "CLAIM 2024",
                       "Tejani AS et al. Checklist for Artificial Intelligence in Medical Imaging (CLAIM): "
                       "2024 update. Radiol Artif Intell 2024;6(4):e240300, doi:10.1148/ryai.240300", (
    *_items("Title or abstract",
            ("1", "Identification as a study of AI methodology, specifying the category of technology used "
                  "(e.g., deep learning)")),
    *_items("Abstract",
            ("2", "Structured summary of study design, methods, results and conclusions")),
    *_items("Introduction",
            ("3", "Scientific and clinical background, including the intended use and role of the AI "
                  "approach"),
            ("4", "Study aims, objectives and hypotheses")),
    *_items("Methods: study design",
            ("5", "Prospective or retrospective study"),
            ("6", "Study goal, such as model creation, exploratory study, feasibility study or "
                  "non-inferiority trial")),
    *_items("Methods: data",
            ("7", "Data sources, including public or synthetic data, and how well they match the intended "
                  "use"),
            ("8", "Inclusion and exclusion criteria: how, where and when potentially eligible participants "
                  "or studies were identified"),
            ("9", "Data pre-processing steps"),
            ("10", "Selection of data subsets, if applicable"),
            ("11", "De-identification methods"),
            ("12", "How missing data were handled"),
            ("13", "Image acquisition protocol")),
    *_items("Methods: reference standard",
            ("14", "Definition of the method(s) used to obtain the reference standard, in sufficient detail "
                   "to allow replication"),
            ("15", "Rationale for choosing the reference standard (if alternatives exist)"),
            ("16", "Source of the reference standard annotations; qualifications and preparation of the "
                   "annotators"),
            ("17", "Annotation of the test set, in enough detail to replicate it (steps, instructions, "
                   "software)"),
            ("18", "Measures of inter- and intrarater variability; methods to mitigate variability and/or "
                   "resolve discrepancies")),
    *_items("Methods: data partitions",
            ("19", "How data were assigned to partitions; specify proportions"),
            ("20", "Level at which partitions are disjoint (e.g., patient, series, image)")),
    *_items("Methods: testing data",
            ("21", "Intended sample size and how it was determined")),
    *_items("Methods: model",
            ("22", "Detailed description of the model, including inputs, outputs, all intermediate layers "
                   "and connections"),
            ("23", "Software libraries, frameworks and packages, with their versions"),
            ("24", "Initialization of model parameters (e.g., randomization, transfer learning)")),
    *_items("Methods: training",
            ("25", "Details of the training approach, including data augmentation, hyperparameters and the "
                   "number of models trained"),
            ("26", "Method of selecting the final model"),
            ("27", "Ensembling techniques, if applicable")),
    *_items("Methods: evaluation",
            ("28", "Metrics of model performance"),
            ("29", "Statistical measures of significance and uncertainty (e.g., confidence intervals)"),
            ("30", "Robustness or sensitivity analysis"),
            ("31", "Methods for explainability or interpretability (e.g., saliency maps), and how they were "
                   "validated"),
            ("32", "Evaluation on internal data (e.g., cross-validation, internal test set)"),
            ("33", "Testing on external data"),
            ("34", "Clinical trial registration, if applicable")),
    *_items("Results: data",
            ("35", "Numbers of patients or examinations included and excluded, with a flow diagram"),
            ("36", "Demographic and clinical characteristics of cases in each partition")),
    *_items("Results: model performance",
            ("37", "Performance metrics and measures of statistical uncertainty on all data partitions"),
            ("38", "Estimates of diagnostic performance and their precision (such as 95% confidence "
                   "intervals)"),
            ("39", "Failure analysis of incorrect results")),
    *_items("Discussion",
            ("40", "Study limitations, including potential bias, statistical uncertainty and "
                   "generalizability"),
            ("41", "Implications for practice, including the intended use and/or clinical role")),
    *_items("Other information",
            ("42", "Reference to the full study protocol or to additional technical details"),
            ("43", "Statement about the availability of software, trained model and/or data"),
            ("44", "Sources of funding and other support; role of funders")),
))

#: The checklists by key.
CHECKLISTS = {c.key: c for c in (STARD_2015, CLAIM_2024)}


def render_checklist(checklist: Checklist, entries: Mapping[str, Entry], *, study: str) -> str:
    """``checklist`` as markdown, its items answered by ``entries`` (item id → :class:`Entry`).

    Items without an entry are marked :data:`AUTHORS`. ``study`` is the study's title. An
    entry for an id the checklist does not have is an :class:`InputError`.
    """
    unknown = [key for key in entries if key not in checklist.ids]
    if unknown:
        raise InputError(f"{checklist.title} has no item {unknown[0]!r}.", field="entries",
                         hint=did_you_mean(unknown[0], checklist.ids,
                                           f"its items: {', '.join(checklist.ids)}."))
    lines = [f"# {checklist.title} checklist: {study}", "", _preamble(checklist, entries)]
    section = None
    for item in checklist.items:
        if item.section != section:
            section = item.section
            lines += ["", f"## {section}", "", "| No. | Item | Status | Reported in this run | Where |",
                      "|---|---|---|---|---|"]
        lines.append(_row(item, entries.get(item.id)))
    return "\n".join(lines) + "\n"


def _preamble(checklist: Checklist, entries: Mapping[str, Entry]) -> str:
    statuses = [entries[i].status if i in entries else AUTHORS for i in checklist.ids]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in (FROM_RUN, PARTLY, AUTHORS))
    return (f"Written by studykit from this run's own files (item texts paraphrased from "
            f"{checklist.reference}). "
            f"Of {len(statuses)} items: {counts}. An item \"from the run\" names the file and section "
            "that report it; what no file of a run can hold (registration, funding, clinical background, "
            "how the patients were recruited …) is left to the authors, who should also check every answer "
            "against the manuscript.")


def _row(item: Item, entry: Entry | None) -> str:
    if entry is None:
        cells = [item.id, item.text, AUTHORS, "", ""]
    else:
        rest = f" *To be completed by the authors:* {entry.authors}" if entry.authors else ""
        reported = entry.reported + rest
        cells = [item.id, item.text, entry.status, reported, entry.where]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    """Markdown-table-safe text: pipes escaped, line breaks folded."""
    return " ".join(str(text).split()).replace("|", "\\|")
