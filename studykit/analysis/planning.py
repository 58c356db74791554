"""Planning the next study from a finished (pilot) one: readers × cases for its comparisons.

Methods
-------
**Model arm against a reader panel** (the comparison of the ``mrmc`` table). Each reader group's
individual ratings and the model's patient-level probability, as :func:`~studykit.analysis.
mrmc.mrmc_data` builds them, are the pilot of ``stats.mrmc_sample_size(model_reader=…)``: the
single-modality Obuchowski–Rockette components of ψ_j = AUC_reader j − AUC_model (Hillis 2007
§5.3) with the model treated as a second modality whose AUC does not vary over readers (its
reader variance is zero), extrapolated to J readers and K patients as Hillis, Obuchowski &
Berbaum (2011) do (error variance and covariances scaled by pilot patients / planned patients;
reader variance unchanged). For each J: the smallest K whose power reaches the target, or NaN
when it cannot be reached with J readers (``power_max`` is the power as K → ∞). At the pilot's
own size and difference the non-centrality equals the t² of the ``mrmc`` table's test.

**Model arm against model arm** (the model pairs of the ``comparisons`` table): the paired
DeLong comparison's sample size by ``stats.auc_power_paired(effect=…)``: Obuchowski & McClish
(1997) binormal variances of the pilot's two curves and their correlations (``method``), the
planned difference replacing the pilot's; no readers. The patients keep the pilot's ratio of
benign to malignant; ``power`` is the power at the sizes rounded up (a size whose power cannot
be computed, e.g. from a binormal fit that fails on a tiny pilot, is left NaN).

Every row plans for the same AUC difference ``effect`` at two-sided level ``alpha``.

References
----------
Hillis SL, Obuchowski NA, Berbaum KS (2011). Acad Radiol 18:129–142. doi:10.1016/j.acra.2010.09.007
Hillis SL (2007). Stat Med 26:596–619. doi:10.1002/sim.2532
Obuchowski NA, McClish DK (1997). Stat Med 16:1529–1542.
doi:10.1002/(SICI)1097-0258(19970715)16:13<1529::AID-SIM565>3.0.CO;2-H
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import ARM_A, ARM_B, concat, restrict
from studykit.analysis._study import AnalysisOptions, Study, prepare
from studykit.analysis.comparisons import comparison_pairs
from studykit.analysis.mrmc import RATING, TRUTH, mrmc_data
from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.vocab import LABEL, PATIENT_UNIT, SCORE

__all__ = ["COMPARISON", "MODEL_VS_MODEL", "MODEL_VS_READERS", "planning_table"]

COMPARISON, MODEL_VS_READERS, MODEL_VS_MODEL = "comparison", "model_vs_readers", "model_vs_model"
#: Leading columns of the planning table, in order.
COLUMNS = (COMPARISON, ARM_A, ARM_B, "analysis", "readers", "cases", "n_pos", "n_neg", "power",
           "target_power", "power_max", "effect", "alpha")


def planning_table(predictions: pd.DataFrame, reads: pd.DataFrame, manifest: pd.DataFrame | None = None, *,
                   effect: float, power: float = 0.8, alpha: float = 0.05,
                   readers: Sequence[int] = (3, 5, 10), analysis: str | Sequence[str] = "RRRC",
                   method: str = "obuchowski", options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Readers × cases needed for each model-vs-readers and model-vs-model comparison.

    Parameters
    ----------
    predictions, reads, manifest : DataFrame
        The pilot study, as :func:`studykit.analysis.run_analyses` takes them; ``reads`` are the
        individual readers' rows (no majority votes).
    effect : float in (0, 1)
        The AUC difference to detect in every comparison.
    power, alpha : float
        Target power and two-sided level.
    readers : sequence of int ≥ 2
        Reader-panel sizes to plan for.
    analysis : {"RRRC", "FRRC", "RRFC", "all"} or a list
        The MRMC analyses planned (RRRC: generalise to readers and patients).
    method : {"obuchowski", "delong"}
        Variances of the model-vs-model plans (``stats.auc_power_paired``).
    options : AnalysisOptions
        The study's analysis options (aggregation, comparisons, ``mrmc_cov``, seed …).

    Returns
    -------
    DataFrame, one row per (reader group, model arm, analysis, readers) and per model pair:
    ``comparison`` (model_vs_readers | model_vs_model), ``arm_a`` (the reader group, or the
    first model), ``arm_b`` (the model arm), ``analysis`` (RRRC | FRRC | RRFC, or ``paired``),
    ``readers`` (NaN for model pairs), ``cases`` (patients needed; NaN where unreachable),
    ``n_pos, n_neg`` (malignant and benign patients at the pilot's prevalence; rounded up for
    model pairs), ``power`` (reached), ``target_power, power_max, effect, alpha``, then the
    statistics' own columns (``ncp, ddf``, variance components, ``pilot_*``), ``unit``,
    ``rating`` (score | call), ``method``.
    """
    options = options or AnalysisOptions()
    if reads is None or len(reads) == 0:
        raise InputError("are needed to plan the model-vs-readers comparison; the pilot has none.",
                         field="reads", hint="plan from a study whose protocol has reader arms.")
    study = prepare(predictions, reads, manifest, options)
    frames = [_versus_readers(study, model.name, group.name, effect, power, alpha, readers, analysis,
                              options)
              for model in study.models for group in study.readers]
    frames += [_versus_model(study, a, b, effect, power, alpha, method)
               for a, b in comparison_pairs(study, options)
               if study.arm(a).kind == study.arm(b).kind == "model"]
    table = concat(frames)
    table[C.UNIT] = PATIENT_UNIT
    first = [c for c in COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)


def _versus_readers(study: Study, model: str, group: str, effect: float, power: float, alpha: float,
                    readers: Sequence[int], analysis, options: AnalysisOptions) -> pd.DataFrame:
    data, name, kind = mrmc_data(study, model, group)
    res = stats.mrmc_sample_size(data, reader="reader", case="case", truth=TRUTH, rating=RATING,
                                 model_reader=name, effect=effect, readers=list(readers), power=power,
                                 alpha=alpha, cov=options.mrmc_cov,
                                 analysis=analysis, seed=options.seed, n_boot=options.n_boot,
                                 unreachable="nan")
    prevalence = res["pilot_n_pos"] / res["pilot_cases"]
    return res.assign(**{COMPARISON: MODEL_VS_READERS, ARM_A: group, ARM_B: model,
                         "n_pos": res["cases"] * prevalence, "n_neg": res["cases"] * (1 - prevalence),
                         "rating": kind})


def _versus_model(study: Study, a: str, b: str, effect: float, power: float, alpha: float,
                  method: str) -> pd.DataFrame:
    da, db = restrict(study.arm(a), study.patients), restrict(study.arm(b), study.patients)
    y, pa, pb = da[LABEL].to_numpy(), da[SCORE].to_numpy(), db[SCORE].to_numpy()
    res = stats.auc_power_paired(y, pa, pb, power=power, alpha=alpha, effect=effect, method=method)
    n_pos, n_neg = float(res["n_pos_ceil"].item()), float(res["n_neg_ceil"].item())
    reached = np.nan
    if np.isfinite(n_pos + n_neg):
        reached = stats.auc_power_paired(y, pa, pb, n_pos=n_pos, n_neg=n_neg, alpha=alpha, effect=effect,
                                         method=method)["power"].item()
    if not np.isfinite(reached):  # a size whose power cannot be computed is not reported
        n_pos = n_neg = np.nan
    return res.rename(columns={"n_pos": "n_pos_exact", "n_neg": "n_neg_exact"}).assign(
        **{COMPARISON: MODEL_VS_MODEL, ARM_A: a, ARM_B: b, "analysis": "paired", "readers": np.nan,
           "cases": n_pos + n_neg, "n_pos": n_pos, "n_neg": n_neg, "power": reached,
           "target_power": power, "power_max": 1.0, "rating": SCORE})
