"""Standalone model arm against each reader panel: multi-reader multi-case (MRMC) analysis.

Methods
-------
For every (model arm, reader group) pair, the individual readers' ratings — their confidence
scores, or their 0/1 calls when the group has no scores (AUC = (sens + spec)/2) — and the model's
patient-level probability, entered as one more "reader", go to ``stats.model_vs_readers``:
a single-modality Obuchowski–Rockette analysis of ψ_j = AUC_reader j − AUC_model with Hillis
(2007) df (Chakraborty's 1T-RRRC "CAD vs RAD"), RRRC, FRRC and RRFC. Patients are those every
arm has; readers must have read all of them (fully crossed).

References
----------
Obuchowski NA, Rockette HE (1995). Commun Stat Simul Comput 24:285–308.
doi:10.1080/03610919508813243
Hillis SL (2007). Stat Med 26:596–619. doi:10.1002/sim.2532
Chakraborty DP (2017). Observer Performance Methods for Diagnostic Imaging. CRC Press,
ISBN 9781482214840.
"""

from __future__ import annotations

import pandas as pd

from studykit import stats
from studykit.analysis._common import ARM_A, ARM_B, concat, order_columns, restrict
from studykit.analysis._study import AnalysisOptions, Study, prepare
from studykit.stats import columns as C
from studykit.vocab import CALL, GROUP, PATIENT, PATIENT_UNIT, READER, SCORE

__all__ = ["mrmc_data", "mrmc_table"]

RATING, TRUTH = "rating", "truth"


def mrmc_data(study: Study, model: str, group: str) -> tuple[pd.DataFrame, str, str]:
    """Long table ``reader, case, truth, rating`` of one group's readers plus the model arm.

    Returns the table, the model's reader name (``model:<arm>``) and the rating kind.
    """
    reads = study.reads[(study.reads[GROUP] == group) & study.reads[PATIENT].isin(study.patients)]
    kind = SCORE if reads[SCORE].notna().all() else CALL
    humans = pd.DataFrame({"reader": reads[READER].astype(str), "case": reads[PATIENT],
                           RATING: reads[kind].astype(float)})
    arm = restrict(study.arm(model), study.patients)
    name = f"model:{model}"
    machine = pd.DataFrame({"reader": name, "case": arm[PATIENT], RATING: arm[SCORE].astype(float)})
    data = pd.concat([machine, humans], ignore_index=True)
    data[TRUTH] = study.labels.reindex(data["case"]).to_numpy()
    return data, name, kind


def mrmc_table(predictions: pd.DataFrame, reads: pd.DataFrame, manifest: pd.DataFrame | None = None, *,
               options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Every model arm against every reader group by ``stats.model_vs_readers``.

    Returns
    -------
    DataFrame, one row per (group, model arm, analysis): ``estimate`` (mean reader AUC −
    model AUC), ``ci_low, ci_high, p, statistic`` (t or z), ``df, se, method, n`` (patients),
    ``ci_level, arm_a`` (the reader group), ``arm_b`` (the model arm), ``unit`` ("patient"),
    ``metric`` ("auc_readers_minus_model"), ``analysis`` (RRRC | FRRC | RRFC), ``rating``
    (score | call), ``auc_model, auc_readers`` (and its CI), ``n_readers``, ``ms_r, var, cov2``.
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    frames = []
    for model in study.models:
        for group in study.readers:
            data, name, kind = mrmc_data(study, model.name, group.name)
            res = stats.model_vs_readers(data, "reader", "case", TRUTH, RATING, model_reader=name,
                                         cov=options.mrmc_cov, analysis=options.mrmc_analysis,
                                         confidence=options.confidence, seed=options.seed)
            frames.append(res.assign(**{ARM_A: group.name, ARM_B: model.name, C.UNIT: PATIENT_UNIT,
                                        C.METRIC: "auc_readers_minus_model", RATING: kind}))
    return order_columns(concat(frames), [ARM_A, ARM_B, C.UNIT, C.METRIC, "analysis", RATING])


