"""``studykit validate``: check a protocol and its inputs without training anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studykit.cohort import Cohort
from studykit.cohort import tables as cohort_tables
from studykit.protocol.study import StudyProtocol, load_protocol
from studykit.study import merge
from studykit.study.layout import Layout
from studykit.study.options import analysis_options

__all__ = ["Check", "validate"]


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
    missing = [col for col in c.covariates if col not in manifest.table.columns]
    if missing:
        from studykit.errors import ProtocolError

        raise ProtocolError(
            f"columns.covariates names column(s) absent from the manifest: {missing}.",
            file=protocol.source,
            field="columns.covariates",
            hint=f"manifest columns: {', '.join(map(str, manifest.table.columns))}.",
        )
    return checks


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


def validate(protocol: StudyProtocol | str | Path, *, results: str | Path = "results") -> list[Check]:
    """Check the protocol, its files, the cohort tables, the reads and the analysis options.

    Trains, ingests and writes nothing. A synthetic cohort not generated yet is reported as
    such (its settings are checked when generated). Returns the passed checks; the first
    problem raises its :class:`~studykit.errors.StudyError`.
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
    cohort_dir = Path(protocol.cohort.dir) if protocol.cohort.dir else layout.raw_cohort
    if (cohort_dir / "manifest.csv").is_file():
        cohort = merge.study_cohort(protocol, cohort_dir)
        checks += _cohort_checks(protocol, cohort)
        checks += _reader_checks(protocol, cohort)
    else:
        checks.append(Check("cohort", f"synthetic; generated into {cohort_dir} on the first run"))
    analysis_options(protocol)
    checks.append(Check("analyses", ", ".join(protocol.analyses.enabled)))
    return checks
