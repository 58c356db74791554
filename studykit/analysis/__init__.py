"""Layer ``analysis``: the study's analyses as pure functions of tidy prediction and read tables.

Every table is recomputed from ``predictions.csv`` and ``reads.csv`` (plus the manifest and,
where used, the pair-store index and ``truth.csv``): no hidden state, and the same inputs and
seed give identical tables. Statistics come only from :mod:`studykit.stats`.

    from studykit.analysis import AnalysisOptions, run_analyses
    tables = run_analyses(predictions, reads, manifest, options=AnalysisOptions(seed=0))
    tables["table3_performance"]

Primary unit: the patient (image probabilities aggregated, mean by default), all arms on the
same patients. Secondary: the image, with patient-clustered variance (model arms only).

The figures' data come from here too, as tidy tables the report layer only draws
(:mod:`studykit.analysis.curves`: ROC curves and bootstrap bands, legend AUCs, reader
operating points, reliability bins; :func:`flow_counts` for the STARD diagram); the decision
curve figure draws the ``decision_curve`` table itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from studykit.analysis._study import AnalysisOptions
from studykit.analysis.aggregate import aggregate_patients, check_predictions, list_aggregations
from studykit.analysis.agreement import icc_table, kappa_table
from studykit.analysis.attention import ATTENTION_SUMMARY, attention_over_time
from studykit.analysis.calibration import brier_score, calibration_table
from studykit.analysis.ceiling import ceiling_table, matching_posterior, posterior_column
from studykit.analysis.cohort import (
    flow_counts,
    histology_table,
    included_patients,
    perfusion_by_class,
    relative_tic,
    table1_cohort,
    tic_summary,
)
from studykit.analysis.comparisons import compare_arms
from studykit.analysis.curves import (
    reader_points,
    reliability_bins,
    roc_aucs,
    roc_band,
    roc_bands,
    roc_curves,
)
from studykit.analysis.decision import decision_curve_table
from studykit.analysis.folds import fold_table
from studykit.analysis.mrmc import mrmc_table
from studykit.analysis.performance import performance_table
from studykit.analysis.planning import planning_table
from studykit.analysis.threshold import youden_on_validation
from studykit.vocab import AGGREGATIONS, TABLES

__all__ = [
    "AGGREGATIONS",
    "ATTENTION_SUMMARY",
    "TABLES",
    "AnalysisOptions",
    "aggregate_patients",
    "attention_over_time",
    "brier_score",
    "calibration_table",
    "ceiling_table",
    "check_predictions",
    "compare_arms",
    "decision_curve_table",
    "flow_counts",
    "fold_table",
    "histology_table",
    "icc_table",
    "included_patients",
    "kappa_table",
    "list_aggregations",
    "matching_posterior",
    "mrmc_table",
    "performance_table",
    "perfusion_by_class",
    "planning_table",
    "posterior_column",
    "reader_points",
    "relative_tic",
    "reliability_bins",
    "roc_aucs",
    "roc_band",
    "roc_bands",
    "roc_curves",
    "run_analyses",
    "table1_cohort",
    "tic_summary",
    "youden_on_validation",
]

_Inputs = dict[str, "pd.DataFrame | None"]

def _standard(fn: Callable[..., pd.DataFrame]) -> Callable[[_Inputs, AnalysisOptions], pd.DataFrame]:
    """A table of (predictions, reads, manifest) as a function of the inputs."""
    return lambda d, o: fn(d["predictions"], d["reads"], d["manifest"], options=o)


#: Table name → (function of the inputs and options, the inputs it needs to run).
_REGISTRY: dict[str, tuple[Callable[[_Inputs, AnalysisOptions], pd.DataFrame], tuple[str, ...]]] = {
    "table1_cohort": (lambda d, o: table1_cohort(d["manifest"], options=o), ("manifest", "covariates")),
    "table2_histology": (lambda d, o: histology_table(d["manifest"], d["predictions"], d["index"], options=o),
                         ("manifest",)),
    "table3_performance": (_standard(performance_table), ()),
    "comparisons": (_standard(compare_arms), ()),
    "icc": (lambda d, o: icc_table(d["reads"], options=o), ("reads",)),
    "agreement_kappa": (lambda d, o: kappa_table(d["reads"], options=o), ("reads",)),
    "calibration": (_standard(calibration_table), ()),
    "decision_curve": (_standard(decision_curve_table), ()),
    "folds": (_standard(fold_table), ()),
    "ceiling": (lambda d, o: ceiling_table(d["predictions"], d["reads"], d["truth"], d["manifest"],
                                           options=o), ("truth",)),
    "mrmc": (_standard(mrmc_table), ("reads",)),
}


def run_analyses(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
                 manifest: pd.DataFrame | None = None, *, options: AnalysisOptions | None = None,
                 index: pd.DataFrame | None = None,
                 truth: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Compute every enabled analysis table from the inputs alone.

    Parameters
    ----------
    predictions : DataFrame
        ``predictions.csv``: ``arm, fold, patient_id, image_id, label, prob_malignant, w_bmode,
        w_ceus, threshold``.
    reads : DataFrame, optional
        Validated reads ``reader_id, group, patient_id, call, score`` (None: no reader arms).
    manifest : DataFrame, optional
        The cohort manifest (Table 1, Table 2, label check).
    options : AnalysisOptions
        Which tables (``options.analyses``) and every setting.
    index : DataFrame, optional
        Pair-store index (``image_id, patient_id``) for Table 2's image counts.
    truth : DataFrame, optional
        ``truth.csv`` of a synthetic cohort: ``patient_id`` and the nine exact posteriors
        ``posterior_{level}_{modality}``, level ``frame|video|all`` (evidence of one frame, of
        the whole video, every latent), modality ``bmode|ceus|both``
        (:data:`studykit.analysis.ceiling.POSTERIORS`).

    Returns
    -------
    dict table name → DataFrame, in the order of :data:`TABLES`. A table whose inputs are
    absent (no manifest, no reads, no truth, no Table 1 covariates) is left out; an error in
    the inputs raises :class:`~studykit.errors.InputError`.
    """
    options = options or AnalysisOptions()
    has_reads = reads is not None and len(reads) > 0
    inputs: _Inputs = {"predictions": predictions, "reads": reads if has_reads else None,
                       "manifest": manifest, "index": index, "truth": truth,
                       "covariates": (None if not (options.continuous or options.categorical) else manifest)}
    tables = {}
    for name in TABLES:
        if name not in options.analyses:
            continue
        compute, needs = _REGISTRY[name]
        if all(inputs[need] is not None for need in needs):
            tables[name] = compute(inputs, options)
    return tables
