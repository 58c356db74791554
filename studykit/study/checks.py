"""``studykit validate``: check a protocol and its inputs without training anything.

:func:`check_inputs` is the one list of checks of a protocol's inputs; ``studykit run``
calls it too, before it writes anything (the lock file, the store, the splits) or trains
a unit, so a run that would fail on its inputs fails before it touches a finished study.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studykit.cohort import Cohort
from studykit.cohort import tables as cohort_tables
from studykit.cohort.store import INDEX_COLUMNS
from studykit.errors import ProtocolError
from studykit.protocol.study import StudyProtocol, load_protocol
from studykit.study import merge
from studykit.study.layout import Layout
from studykit.study.lock import results_lock
from studykit.study.options import analysis_options
from studykit.vocab import Progress

__all__ = ["Check", "check_inputs", "validate"]


@dataclass(frozen=True)
class Check:
    """One passed check: what was checked and what was found."""

    what: str
    detail: str


def _cohort_checks(protocol: StudyProtocol, cohort: Cohort) -> list[Check]:
    """Manifest and annotations tables (as ingestion reads them; videos are not decoded)."""
    c, cohort_dir, manifest = protocol.columns, cohort.dir, cohort.validated
    positives = int(cohort.labels.sum())
    checks = [
        Check(
            "manifest",
            f"{len(cohort.included)} included patients ({positives} {c.positive}, "
            f"{len(cohort.included) - positives} {c.negative}), "
            f"{len(cohort.excluded)} excluded",
        )
    ]
    annotations = cohort_dir / "annotations.csv"
    if annotations.is_file() and (cohort_dir / "videos").is_dir():
        rows = cohort_tables.read_annotations(annotations, manifest, cohort_dir)
        cohort_tables.check_coverage(manifest, rows, cohort_dir, annotations)
        checks.append(Check("annotations", f"{len(rows)} annotated frames; every included patient has one"))
    elif (cohort_dir / "crops").is_dir():
        checks.append(Check("crops", "pre-cropped PNG pairs (checked when ingested)"))
    _check_manifest_columns(protocol, manifest.table.columns, c.covariates, "columns.covariates")
    _check_manifest_columns(protocol, manifest.table.columns, protocol.design.stratify_by,
                            "design.stratify_by")
    return checks


def _check_manifest_columns(protocol: StudyProtocol, columns, named, field: str) -> None:
    """``named`` columns must be manifest columns or columns of the store's index (what
    :func:`~studykit.study.runner.patient_table` can stratify by)."""
    present = {*map(str, columns), *INDEX_COLUMNS}
    missing = [str(col) for col in named if str(col) not in present]
    if missing:
        raise ProtocolError(
            f"{field} names column(s) absent from the manifest: {missing}.",
            file=protocol.source,
            field=field,
            hint=f"manifest columns: {', '.join(map(str, columns))}.",
        )


def _reader_checks(protocol: StudyProtocol, cohort: Cohort) -> list[Check]:
    reads = merge.build_reads(protocol, cohort)
    if reads is None:
        return [Check("readers", "no reader arms")]
    n = reads[reads["kind"] == "reader"]["reader_id"].nunique()
    return [
        Check(
            "readers",
            f"{n} readers in groups {', '.join(protocol.reader_groups)}; reads valid, "
            f"majority votes formed (tie rule: {protocol.readers.tie})",
        )
    ]


def check_inputs(protocol: StudyProtocol, cohort: Cohort) -> list[Check]:
    """Every check of the inputs that ``run`` would otherwise meet later: the cohort tables
    (manifest, annotations, covariate and stratification columns), the reads against the
    cohort (validated, majority votes formed) and the analysis options.

    Writes nothing. Returns the passed checks; the first problem raises its
    :class:`~studykit.errors.StudyError`.
    """
    checks = _cohort_checks(protocol, cohort) + _reader_checks(protocol, cohort)
    analysis_options(protocol)
    checks.append(Check("analyses", ", ".join(protocol.analyses.enabled)))
    return checks


def validate(protocol: StudyProtocol | str | Path, *, results: str | Path = "results",
             progress: Progress | None = None) -> list[Check]:
    """Check the protocol, its files, the cohort tables, the reads and the analysis options:
    everything :func:`~studykit.study.run` checks before it trains (:func:`check_inputs`).

    Trains and ingests nothing. A synthetic cohort is generated first when it is not cached
    yet (into ``results/<name>/cohort/raw``, exactly as the run would, which then reuses
    it), so its reads are checked too. Returns the passed checks; the first problem raises
    its :class:`~studykit.errors.StudyError`.
    """
    protocol = protocol if isinstance(protocol, StudyProtocol) else load_protocol(protocol)
    checks = [
        Check(
            "protocol",
            f"{protocol.name}: {len(protocol.arm_specs)} model arms × "
            f"{protocol.design.folds} folds = {len(protocol.arm_specs) * protocol.design.folds} "
            f"units; reader groups: {', '.join(protocol.reader_groups) or 'none'}",
        )
    ]
    layout = Layout.of(results, protocol.name)
    if protocol.cohort.dir is None:
        with results_lock(layout.root, wait=True):  # the run's cache: one writer
            cohort_dir = merge.prepare_cohort(protocol, layout, progress)
        checks.append(Check("cohort", f"synthetic, cached in {cohort_dir}"))
    else:
        cohort_dir = Path(protocol.cohort.dir)
    return checks + check_inputs(protocol, merge.study_cohort(protocol, cohort_dir))
