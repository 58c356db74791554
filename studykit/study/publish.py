"""Publish a study: from finished units to tables, figures and report.md.

:func:`build` runs the arrows of DESIGN.md's data flow after training: merge the inputs
(:mod:`studykit.study.merge`: ``predictions.csv``, ``reads.csv``, the validated cohort),
run the analyses (:func:`studykit.analysis.run_analyses` with the protocol's
:mod:`~studykit.study.options`), then hand their tables to the report layer, which writes
``tables/*.csv|tex``, draws the figures and renders ``report.md``; last, the STARD and CLAIM
checklists are answered from the files just written (:mod:`~studykit.study.checklists`).
Everything is a function of the files, so ``studykit report`` can run it again at any time and
gets the same tables.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit import readers, report, train
from studykit.analysis import aggregate_patients, attention_over_time, curves, run_analyses
from studykit.cohort import Cohort, PairStore
from studykit.errors import UndefinedStatisticWarning
from studykit.protocol.study import StudyProtocol
from studykit.study import checklists, merge
from studykit.study.layout import Layout, staged_outputs
from studykit.study.options import analysis_options, threshold_origin
from studykit.study.provenance import provenance_block
from studykit.study.summary import RunSummary
from studykit.train.sequence import ATTENTION
from studykit.vocab import Progress, atomic_write, ci_label

__all__ = ["build", "headline"]

HEADLINE_METRICS = ("auc", "sensitivity", "specificity")


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

    Every input is read and checked (each unit's predictions, the reads) and every analysis
    run before anything is written; the outputs are written aside and replace the published
    ones only when all of them are complete (:func:`~studykit.study.layout.staged_outputs`),
    so a failing build leaves the results folder as it was.

    ``cohort``: the validated cohort (None when its manifest is gone: the reads are then the
    previous ``reads.csv``, and the cohort's tables and figure are left out). ``runtime``
    (torch threads and determinism in force) goes into report.md's provenance.
    """
    t0 = time.perf_counter()
    predictions, missing = merge.merge_predictions(protocol, layout, store)
    reads_csv = merge.build_reads(protocol, cohort) if cohort is not None else merge.previous_reads(layout)
    progress(0, 3, "analyses")
    tables = _analyse(protocol, predictions, reads_csv, cohort, store, missing) if len(predictions) else {}
    progress(1, 3, "analyses")
    with staged_outputs(layout) as out:  # published only when every output is written
        if len(predictions):
            merge.write_csv(predictions, out.predictions)
        if reads_csv is not None:
            merge.write_csv(reads_csv, out.reads)
        written = _write_tables(protocol, out, tables)
        with _quiet():
            figures = (
                _figures(protocol, out, predictions, reads_csv, cohort, tables, units=layout)
                if protocol.outputs.figures
                else {}
            )
        progress(2, 3, "analyses")
        stages["analyses and outputs"] = time.perf_counter() - t0
        wall = sum(stages.values()) if stages else None
        block = provenance_block(
            protocol, hashes=hashes, device=device, stages=stages, wall_s=wall, runtime=runtime
        )
        _report(protocol, out, tables, figures, cohort, None if store is None else len(store), missing, block)
        checklists.write_checklists(protocol, layout, outputs=out, cohort=cohort, provenance=block,
                                    missing=missing)
    progress(3, 3, "analyses")
    return RunSummary(
        results=layout.root,
        missing=missing,
        tables={name: layout.root / out.relative(path) for name, path in written.items()},
        figures={name: layout.root / out.relative(path) for name, path in figures.items()},
        headline=headline(tables.get("table3_performance")),
        report=layout.report,
        stages=stages,
    )


def _analyse(
    protocol: StudyProtocol,
    predictions: pd.DataFrame,
    reads_csv: pd.DataFrame | None,
    cohort: Cohort | None,
    store: PairStore | None,
    missing: list[tuple[str, int]],
) -> dict[str, pd.DataFrame]:
    """Every enabled analysis table, from the merged predictions, the readers' rows and the cohort."""
    available = merge.arms_with_results(predictions, reads_csv)
    with _quiet():
        return run_analyses(
            predictions,
            merge.reader_rows(reads_csv),
            None if cohort is None else cohort.manifest,
            options=analysis_options(protocol, allow_missing=bool(missing), available=available),
            index=None if store is None else store.index,
            truth=None if cohort is None else cohort.truth,
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings about legal but undefined statistics (they are NaN in the tables)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedStatisticWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


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


def _reader_calls(reads_csv: pd.DataFrame | None, truth: pd.DataFrame) -> pd.DataFrame | None:
    """``reads.csv``'s calls of the scored patients, each group's majority vote as reader ``majority``."""
    if reads_csv is None:
        return None
    frame = reads_csv[["reader_id", "group", "patient_id", "call", readers.KIND]].copy()
    frame.loc[frame[readers.KIND] == readers.KIND_MAJORITY, "reader_id"] = "majority"
    frame = frame[frame["patient_id"].isin(truth["patient_id"])]
    return frame.drop(columns=readers.KIND)


def _gradcam_data(protocol: StudyProtocol, layout: Layout) -> dict[str, np.ndarray] | None:
    """Grad-CAM maps of the first MUF-Net arm, pooled over its folds, in the report's key names."""
    fused = [a for a in protocol.arm_specs
             if a.trains_network and not a.predicts_patients and len(train.arm_modalities(a)) > 1]
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


def _attention_summary(protocol: StudyProtocol, predictions: pd.DataFrame, units: Layout
                       ) -> tuple[str, pd.DataFrame] | None:
    """(arm, :func:`~studykit.analysis.attention_over_time` of its test patients) for the first
    sequence arm, from its units' ``attention.csv``; None without such an arm or any timed weight."""
    arms = [a for a in protocol.arm_specs if a.kind == "sequence"]
    if not arms:
        return None
    name = arms[0].name
    paths = [units.unit(name, k) / ATTENTION for k in range(protocol.design.folds)]
    parts = [pd.read_csv(p, dtype={"patient_id": str}) for p in paths if p.is_file()]
    labels = predictions.loc[predictions["arm"] == name, ["patient_id", "label"]]
    if not parts or labels.empty:
        return None
    summary = attention_over_time(pd.concat(parts, ignore_index=True), labels)
    return (name, summary) if len(summary) else None


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
    *,
    units: Layout,
) -> dict[str, Path]:
    """ROC with reader points, calibration, decision curve, STARD flow, the Grad-CAM panel and a
    sequence arm's attention over time, saved under ``layout``; the Grad-CAM maps and attention
    weights are read from the unit folders of ``units``."""
    out, formats = {}, list(protocol.outputs.figure_formats)
    if len(predictions):
        scores = aggregate_patients(predictions, rule=protocol.design.aggregation)
        out["roc"] = _save(_roc(protocol, scores, reads_csv, tables), layout, "roc", formats)
        bins = curves.reliability_bins(scores, n_bins=protocol.analyses.calibration_bins)
        fig = report.calibration_figure(bins, arm_labels=protocol.arm_labels())
        out["calibration"] = _save(fig, layout, "calibration", formats)
    if "decision_curve" in tables:
        fig = report.decision_curve_figure(tables["decision_curve"], arm_labels=protocol.arm_labels(),
                                           confidence=protocol.analyses.confidence)
        out["decision_curve"] = _save(fig, layout, "decision_curve", formats)
    if cohort is not None:
        out["flow"] = _save(report.flow_figure(cohort.flow_counts()), layout, "flow", formats)
    data = _gradcam_data(protocol, units) if protocol.outputs.gradcam else None
    if data is not None:
        out["gradcam"] = _save(report.gradcam_figure(data), layout, "gradcam", formats)
    attention = _attention_summary(protocol, predictions, units)
    if attention is not None:
        arm, summary = attention
        fig = report.attention_figure(summary, group_labels={"0": "benign", "1": "malignant"},
                                      title=protocol.arm_labels().get(arm, arm))
        out["attention"] = _save(fig, layout, "attention", formats)
    return out


def _roc(
    protocol: StudyProtocol,
    scores: pd.DataFrame,
    reads_csv: pd.DataFrame | None,
    tables: dict[str, pd.DataFrame],
) -> Any:
    """The ROC figure: the analysis layer's curves, bands (at most 1000 replicates), legend AUCs
    (Table 3's, else computed) and reader points, drawn by the report layer."""
    a = protocol.analyses
    truth = scores.drop_duplicates("patient_id")[["patient_id", "label"]]
    calls = _reader_calls(reads_csv, truth)
    aucs = tables.get("table3_performance")
    return report.roc_figure(
        curves.roc_curves(scores),
        bands=curves.roc_bands(scores, n_boot=min(a.n_boot, 1000), confidence=a.confidence, seed=a.seed),
        points=None if calls is None else curves.reader_points(calls, truth),
        aucs=curves.roc_aucs(scores, confidence=a.confidence) if aucs is None else aucs,
        arm_labels=protocol.arm_labels(),
        confidence=a.confidence,
        decimals=protocol.outputs.decimals,
    )


#: Figure captions; ``{ci}`` is the CI of the protocol's confidence level ("95% CI").
_CAPTIONS = {
    "roc": "ROC curves of the model arms (patient level, {ci} bands) with the readers' operating points",
    "calibration": "Calibration (reliability) of the model arms",
    "decision_curve": "Decision curve: net benefit of the arms ({ci} bands), treat all and treat none",
    "flow": "Patient flow (STARD)",
    "gradcam": "Grad-CAM of the MUF-Net arm: B-mode and CEUS",
    "attention": "Attention of the sequence arm over time since injection, per class (1 = uniform; "
                 "{ci} bands)",
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
        f"{s.name} ({s.backbone}, {s.input_size} px, {s.epochs} epochs)" if s.trains_network
        else f"{s.name} (perfusion: {', '.join(s.perfusion.features)} → logistic regression)"
        for s in protocol.arm_specs
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
    if "decision_curve" in tables:
        shown = figures.get("decision_curve")
        sections.append(report.decision_curve_section(
            tables["decision_curve"], figure=None if shown is None else layout.relative(shown)))
    ci = ci_label(protocol.analyses.confidence)
    sections.append(report.figures_section({_CAPTIONS[k].format(ci=ci): layout.relative(v)
                                            for k, v in figures.items() if k != "decision_curve"}))
    sections.append(report.provenance_section(provenance))
    text = report.render_report(protocol.title or protocol.name, *sections)
    return atomic_write(layout.report, text)
