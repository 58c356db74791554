"""From finished units to outputs: merged predictions, reads.csv, analyses, tables, figures, report.md.

Everything here is a function of the files: ``predictions.csv`` is merged from the units'
folders, ``reads.csv`` from the reader CSVs, and the tables from those two (plus the
validated :class:`~studykit.cohort.Cohort` — manifest, included patients, ``truth.csv`` —
and the store index), so :func:`build` can run again at any time (``studykit report``) and
gives the same tables.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit import readers, report, train
from studykit.analysis import AnalysisOptions, aggregate_patients, posterior_column, run_analyses
from studykit.cohort import Cohort, PairStore, load_cohort
from studykit.errors import StudyError, UndefinedStatisticWarning
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout, atomic_write_json
from studykit.study.provenance import git_commit, versions
from studykit.study.summary import RunSummary
from studykit.vocab import PREDICTION_COLUMNS, THRESHOLD_FIXED, Progress, atomic_write, ci_label

__all__ = [
    "analysis_options",
    "build",
    "build_reads",
    "merge_predictions",
    "study_cohort",
    "write_provenance",
]

HEADLINE_METRICS = ("auc", "sensitivity", "specificity")
#: Model arm's modality → its ceiling: the per-frame posterior (model arms classify single frames).
_POSTERIOR = {modality: posterior_column("frame", modality or "both") for modality in ("bmode", "ceus", None)}


def study_cohort(protocol: StudyProtocol, cohort_dir: Path, store: PairStore | None = None) -> Cohort:
    """The validated :class:`~studykit.cohort.Cohort` of ``cohort_dir`` with the protocol's column roles."""
    c = protocol.columns
    return load_cohort(cohort_dir, id_column=c.id, label_column=c.label, positive=c.positive,
                       negative=c.negative, store=store)


def merge_predictions(protocol: StudyProtocol, layout: Layout) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """Every finished unit's predictions (arm order, then fold) and the units still missing."""
    frames, missing = [], []
    for arm in protocol.arm_specs:
        for k in range(protocol.design.folds):
            done = layout.unit_file(arm.name, k, "done")
            preds = layout.unit_file(arm.name, k, "predictions")
            threshold = _unit_threshold(protocol, layout, arm.name, k)
            if done.is_file() and preds.is_file() and threshold is not None:
                frame = pd.read_csv(preds, dtype={"patient_id": str, "image_id": str})
                frames.append(frame.assign(threshold=threshold))
            else:
                missing.append((arm.name, k))
    if not frames:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS)), missing
    merged = pd.concat(frames, ignore_index=True)
    return merged.loc[:, list(PREDICTION_COLUMNS)], missing


def _unit_threshold(protocol: StudyProtocol, layout: Layout, arm: str, fold: int) -> float | None:
    """The unit's decision threshold: the protocol's fixed value, or the Youden threshold
    frozen from its inner-validation patients (None while that file is missing)."""
    if protocol.design.threshold == THRESHOLD_FIXED:
        return protocol.design.threshold_value
    path = layout.unit_file(arm, fold, "threshold")
    return float(json.loads(path.read_text())["value"]) if path.is_file() else None


def threshold_origin(protocol: StudyProtocol) -> str:
    """Where the thresholds come from, in words (Table 3's ``threshold_origin``)."""
    d = protocol.design
    if d.threshold == THRESHOLD_FIXED:
        return f"{d.threshold_value:g} (fixed by the protocol)"
    return "Youden on each fold's inner-validation patients"


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))


def build_reads(protocol: StudyProtocol, cohort: Cohort) -> pd.DataFrame | None:
    """``reads.csv``: validated reads of the reader arms (of the cohort's included patients)
    plus each group's majority vote."""
    files = protocol.reader_paths(cohort.dir)
    if not files:
        return None
    r = protocol.readers
    reads = readers.read_reads(
        files,
        patients=cohort.included,
        positive=cohort.positive,
        negative=cohort.negative,
        groups=protocol.reader_groups,
        excluded=list(cohort.excluded),
        allow_missing=r.allow_missing,
        score_required=r.score_required,
    )
    return readers.reads_csv_frame(reads, readers.majority_votes(reads, tie=r.tie))


def analysis_options(
    protocol: StudyProtocol, *, allow_missing: bool = False, available: set[str] | None = None
) -> AnalysisOptions:
    """The protocol's ``analyses`` (and design, columns, readers) as :class:`AnalysisOptions`.

    ``available``: the arms that have results; a reference arm or compared pair without
    them is dropped (a partial run compares what it has).
    """
    a, c = protocol.analyses, protocol.columns
    kinds = c.covariates
    have = set(protocol.arm_names) if available is None else available
    pairs = None if a.comparisons is None else [tuple(p) for p in a.comparisons if set(p) <= have]
    return AnalysisOptions(
        analyses=a.enabled,
        reference=a.reference if a.reference in have else None,
        comparisons=pairs or None,
        aggregation=protocol.design.aggregation,
        icc_form=a.icc_form,
        continuous=[k for k, v in kinds.items() if v == "continuous"],
        categorical=[k for k, v in kinds.items() if v == "categorical"],
        pos_label=c.positive,
        units=list(a.units),
        seed=a.seed,
        confidence=a.confidence,
        n_boot=a.n_boot,
        proportion_method=a.proportion_method,
        allow_missing=allow_missing or protocol.readers.allow_missing,
        tie=protocol.readers.tie,
        threshold_origin=threshold_origin(protocol),
        reader_rating=a.reader_rating,
        n_bins=a.calibration_bins,
        ceiling_match={s.name: _POSTERIOR[s.modality] for s in protocol.arm_specs},
        mrmc_cov=a.mrmc_cov,
    )


def _available(predictions: pd.DataFrame, reads_csv: pd.DataFrame | None) -> set[str]:
    """Arms with results: model arms in the predictions and reader groups in the reads."""
    groups = set() if reads_csv is None else set(reads_csv["group"].astype(str))
    return set(predictions["arm"].astype(str)) | groups


def _reader_rows(reads_csv: pd.DataFrame | None) -> pd.DataFrame | None:
    if reads_csv is None:
        return None
    return reads_csv[reads_csv[readers.KIND] == readers.KIND_READER].reset_index(drop=True)


def _write_tables(
    protocol: StudyProtocol, layout: Layout, tables: dict[str, pd.DataFrame]
) -> dict[str, Path]:
    formats, labels = protocol.outputs.formats, protocol.arm_labels()
    written = {}
    for name, frame in tables.items():
        if frame.empty:
            continue
        csv, tex = report.write_table(
            frame, name, layout.root, decimals=protocol.outputs.decimals, arm_labels=labels
        )
        for fmt, path in (("csv", csv), ("tex", tex)):
            if fmt not in formats:
                path.unlink(missing_ok=True)
        written[name] = csv
    return written


def _patient_scores(predictions: pd.DataFrame, protocol: StudyProtocol) -> pd.DataFrame:
    return aggregate_patients(predictions, rule=protocol.design.aggregation)


def _reader_points(reads_csv: pd.DataFrame | None, labels: pd.DataFrame) -> pd.DataFrame | None:
    if reads_csv is None:
        return None
    frame = reads_csv[["reader_id", "group", "patient_id", "call", readers.KIND]].copy()
    frame.loc[frame[readers.KIND] == readers.KIND_MAJORITY, "reader_id"] = "majority"
    frame = frame[frame["patient_id"].isin(labels["patient_id"])]
    return report.reader_points(frame.drop(columns=readers.KIND), labels)


def _gradcam_data(protocol: StudyProtocol, layout: Layout) -> dict[str, np.ndarray] | None:
    """Grad-CAM maps of the first MUF-Net arm, pooled over its folds, in the report's key names."""
    fused = [a for a in protocol.arm_specs if len(train.arm_modalities(a)) > 1]
    if not fused:
        return None
    parts = []
    for k in range(protocol.design.folds):
        path = layout.unit_file(fused[0].name, k, "gradcam")
        if path.is_file():
            parts.append(report.load_gradcam(path))
    if not parts:
        return None
    keys = [k for k in parts[0] if all(k in p for p in parts)]
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _save(fig: Any, layout: Layout, name: str, formats: list[str]) -> Path:
    import matplotlib.pyplot as plt

    try:
        paths = report.save_figure(fig, layout.figure(name), formats=formats)
    finally:
        plt.close(fig)
    return paths[0]


def _figures(
    protocol: StudyProtocol,
    layout: Layout,
    predictions: pd.DataFrame,
    reads_csv: pd.DataFrame | None,
    cohort: Cohort | None,
    tables: dict[str, pd.DataFrame],
) -> dict[str, Path]:
    """ROC with reader points, calibration, STARD flow and the Grad-CAM panel."""
    out, labels, formats = {}, protocol.arm_labels(), list(protocol.outputs.figure_formats)
    a = protocol.analyses
    if len(predictions):
        scores = _patient_scores(predictions, protocol)
        truth = scores.drop_duplicates("patient_id")[["patient_id", "label"]]
        fig = report.roc_figure(
            scores,
            points=_reader_points(reads_csv, truth),
            aucs=tables.get("table3_performance"),
            arm_labels=labels,
            n_boot=min(a.n_boot, 1000),
            confidence=a.confidence,
            seed=a.seed,
            decimals=protocol.outputs.decimals,
        )
        out["roc"] = _save(fig, layout, "roc", formats)
        fig = report.calibration_figure(scores, arm_labels=labels, n_bins=a.calibration_bins)
        out["calibration"] = _save(fig, layout, "calibration", formats)
    if cohort is not None:
        out["flow"] = _save(report.flow_figure(cohort.flow_counts()), layout, "flow", formats)
    data = _gradcam_data(protocol, layout) if protocol.outputs.gradcam else None
    if data is not None:
        out["gradcam"] = _save(report.gradcam_figure(data), layout, "gradcam", formats)
    return out


#: Figure captions; ``{ci}`` is the CI of the protocol's confidence level ("95% CI").
_CAPTIONS = {
    "roc": "ROC curves of the model arms (patient level, {ci} bands) with the readers' operating points",
    "calibration": "Calibration (reliability) of the model arms",
    "flow": "Patient flow (STARD)",
    "gradcam": "Grad-CAM of the MUF-Net arm: B-mode and CEUS",
}


def headline(table3: pd.DataFrame | None) -> pd.DataFrame | None:
    """Table 3's patient-level AUC, sensitivity and specificity per arm (long)."""
    if table3 is None or table3.empty:
        return None
    rows = table3[(table3["unit"] == "patient") & table3["metric"].isin(HEADLINE_METRICS)]
    return rows[["arm", "metric", "estimate", "ci_low", "ci_high"]].reset_index(drop=True)


def _design(protocol: StudyProtocol, missing: list[tuple[str, int]]) -> dict[str, Any]:
    d = protocol.design
    arms = ", ".join(
        f"{s.name} ({s.backbone}, {s.input_size} px, {s.epochs} epochs)" for s in protocol.arm_specs
    )
    design = {
        "folds": f"{d.folds}-fold patient-grouped CV, stratified by label"
        + (f" and {', '.join(d.stratify_by)}" if d.stratify_by else ""),
        "inner validation": f"{d.val_fraction:.0%} of each fold's training patients (checkpoint selection)",
        "unit of analysis": f"{d.unit} (image probabilities aggregated by {d.aggregation})",
        "threshold": threshold_origin(protocol),
        "model arms": arms,
        "reader groups": ", ".join(protocol.reader_groups) or "none",
        "reference arm": protocol.analyses.reference or "none (every model arm vs every other arm)",
        "seed": d.seed,
    }
    if missing:
        design["missing units"] = (
            ", ".join(f"{a} fold {k}" for a, k in missing) + " (tables use finished units)"
        )
    return design


def _primary(comparisons: pd.DataFrame | None) -> pd.DataFrame | None:
    """The comparisons at the primary unit (patient), for the report's key comparisons."""
    if comparisons is None or comparisons.empty:
        return None
    if "unit" in comparisons.columns:
        comparisons = comparisons[comparisons["unit"] == "patient"]
    return None if comparisons.empty else comparisons


def _report(
    protocol: StudyProtocol,
    layout: Layout,
    tables: dict[str, pd.DataFrame],
    figures: dict[str, Path],
    cohort: Cohort | None,
    n_images: int | None,
    missing: list[tuple[str, int]],
    provenance: dict[str, Any],
) -> Path:
    labels, dec = protocol.arm_labels(), protocol.outputs.decimals
    sections = []
    if cohort is not None:
        sections.append(report.cohort_section(cohort.flow_counts(), n_images=n_images))
    sections.append(report.design_section(_design(protocol, missing)))
    if "table3_performance" in tables:
        sections.append(
            report.performance_section(tables["table3_performance"], decimals=dec, arm_labels=labels)
        )
    key = _primary(tables.get("comparisons"))
    if key is not None:
        sections.append(report.comparisons_section(key, decimals=dec, arm_labels=labels))
    if tables.get("mrmc") is not None and not tables["mrmc"].empty:
        sections.append(report.mrmc_section(tables["mrmc"], decimals=dec, arm_labels=labels))
    ci = ci_label(protocol.analyses.confidence)
    sections.append(report.figures_section({_CAPTIONS[k].format(ci=ci): layout.relative(v)
                                            for k, v in figures.items()}))
    sections.append(report.provenance_section(provenance))
    text = report.render_report(protocol.title or protocol.name, *sections)
    return atomic_write(layout.report, text)


def provenance_block(
    protocol: StudyProtocol,
    *,
    hashes: dict[str, str] | None,
    device: str | None,
    stages: dict[str, float] | None,
    wall_s: float | None,
    runtime: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Versions, git commit, seeds, input hashes, device, runtime and timings (JSON-ready).

    ``runtime``: torch's settings in force (:func:`studykit.train.configure_runtime`:
    ``threads``, ``interop_threads``, ``deterministic``, ``cublas_workspace_config``).
    """
    seeds = {
        "splits": protocol.design.seed,
        "analyses": protocol.analyses.seed,
        **{f"arm {s.name}": s.seed for s in protocol.arm_specs},
    }
    source = Path(protocol.source).parent if protocol.source else Path.cwd()
    block: dict[str, Any] = {
        "versions": versions(),
        "git_commit": git_commit(source),
        "seeds": seeds,
        "device": device or "unknown",
    }
    if runtime:
        block["runtime"] = dict(runtime)
    if hashes:
        block["inputs_sha256"] = hashes
    if stages:
        block["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    if wall_s is not None:
        block["wall_time_s"] = round(wall_s, 1)
    return block


def write_provenance(
    protocol: StudyProtocol,
    layout: Layout,
    *,
    hashes: dict[str, str],
    device: str,
    stages: dict[str, float],
    units: list[Any],
    wall_s: float,
    runtime: dict[str, Any] | None = None,
) -> Path:
    """``provenance.json``: :func:`provenance_block` plus what each unit did."""
    block = provenance_block(
        protocol, hashes=hashes, device=_device_name(device), stages=stages, wall_s=wall_s, runtime=runtime
    )
    block["units"] = [
        {"arm": u.arm, "fold": u.fold, "status": u.status, "seconds": round(u.seconds, 1)} for u in units
    ]
    return atomic_write_json(layout.provenance, block)


def _device_name(device: str) -> str:
    from studykit.train import resolve_device

    try:
        return str(resolve_device(device))
    except StudyError:
        return device


def build(
    protocol: StudyProtocol,
    layout: Layout,
    *,
    cohort: Cohort | None,
    store: PairStore | None,
    progress: Progress,
    stages: dict[str, float],
    hashes: dict[str, str] | None = None,
    device: str | None = None,
    runtime: dict[str, Any] | None = None,
) -> RunSummary:
    """Merge predictions, write reads.csv, run the analyses, write tables, figures and report.md.

    ``cohort``: the validated cohort (None when its manifest is gone: the reads are then the
    previous ``reads.csv``, and the cohort's tables and figure are left out). ``runtime``
    (torch threads and determinism in force) goes into report.md's provenance.
    """
    t0 = time.perf_counter()
    predictions, missing = merge_predictions(protocol, layout)
    if len(predictions):
        _write_csv(predictions, layout.predictions)
    reads_csv = build_reads(protocol, cohort) if cohort is not None else _old_reads(layout)
    if reads_csv is not None:
        _write_csv(reads_csv, layout.reads)
    progress(0, 3, "analyses")
    tables = {}
    if len(predictions):
        with _quiet():
            tables = run_analyses(
                predictions,
                _reader_rows(reads_csv),
                None if cohort is None else cohort.manifest,
                options=analysis_options(
                    protocol, allow_missing=bool(missing), available=_available(predictions, reads_csv)
                ),
                index=None if store is None else store.index,
                truth=None if cohort is None else cohort.truth,
            )
    progress(1, 3, "analyses")
    written = _write_tables(protocol, layout, tables)
    with _quiet():
        figures = (
            _figures(protocol, layout, predictions, reads_csv, cohort, tables)
            if protocol.outputs.figures
            else {}
        )
    progress(2, 3, "analyses")
    stages["analyses and outputs"] = time.perf_counter() - t0
    wall = sum(stages.values()) if stages else None
    block = provenance_block(
        protocol, hashes=hashes, device=device, stages=stages, wall_s=wall, runtime=runtime
    )
    path = _report(
        protocol, layout, tables, figures, cohort, None if store is None else len(store), missing, block
    )
    progress(3, 3, "analyses")
    return RunSummary(
        results=layout.root,
        missing=missing,
        tables=written,
        figures=figures,
        headline=headline(tables.get("table3_performance")),
        report=path,
        stages=stages,
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings about legal but undefined statistics (they are NaN in the tables)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedStatisticWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _old_reads(layout: Layout) -> pd.DataFrame | None:
    if not layout.reads.is_file():
        return None
    return pd.read_csv(layout.reads, dtype={"patient_id": str, "reader_id": str, "group": str})

