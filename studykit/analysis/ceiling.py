"""Each arm's patient-level AUC next to the Bayes ceiling of the synthetic cohort.

The synthetic cohort's generator writes each patient's posterior probability of malignancy
given the latent B-mode evidence, the latent CEUS evidence and both (``truth.csv``). No
classifier that sees only that evidence can beat the AUC of the matching posterior on average,
so the gap arm − ceiling measures what the arm leaves on the table.

Methods
-------
AUCs of the three posteriors and of each arm on the same (common) patients, DeLong CIs
(``stats.roc_auc``; a reader group's AUC is that of its majority-vote call, or of its panel
score with ``reader_rating="score"``); the gap by the paired DeLong test of the arm against its
matching posterior (``stats.delong_test``). Matching: ``options.ceiling_match``, else by name —
an arm named like B-mode (and not CEUS) gets ``posterior_bmode``, like CEUS (and not B-mode)
``posterior_ceus``, every other arm (fusion, readers) ``posterior_both``.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845. doi:10.2307/2531595
"""

from __future__ import annotations

import re

import pandas as pd

from studykit import stats
from studykit.analysis._common import (
    ARM,
    ARM_KIND,
    CALL,
    LABEL,
    PATIENT,
    PATIENT_UNIT,
    SCORE,
    Arm,
    check_option,
    concat,
    listed,
    order_columns,
    require_columns,
    restrict,
)
from studykit.analysis._study import AnalysisOptions, prepare
from studykit.errors import InputError
from studykit.stats import columns as C

__all__ = ["POSTERIORS", "ceiling_table", "matching_posterior"]

POSTERIORS = ("posterior_bmode", "posterior_ceus", "posterior_both")
CEILING = "ceiling"


def matching_posterior(arm: str, match: dict | None = None) -> str:
    """The posterior an arm is measured against (explicit match, else guessed from the name)."""
    if match and arm in match:
        return check_option(f"ceiling_match[{arm!r}]", match[arm], POSTERIORS)
    key = re.sub(r"[^a-z]", "", arm.lower())
    bmode, ceus = "bmode" in key, "ceus" in key
    if bmode != ceus:
        return "posterior_bmode" if bmode else "posterior_ceus"
    return "posterior_both"


def ceiling_table(predictions: pd.DataFrame, reads: pd.DataFrame | None, truth: pd.DataFrame,
                  manifest: pd.DataFrame | None = None, *,
                  options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Arms' AUCs, the Bayes-ceiling AUCs and each arm's paired gap to its matching ceiling.

    Returns
    -------
    DataFrame: ``metric = "auc_ceiling"`` rows (``arm`` = the posterior's name), ``metric =
    "auc"`` rows per arm, and ``metric = "auc_minus_ceiling"`` rows per arm (``estimate`` =
    AUC_arm − AUC_ceiling with the DeLong CI, ``p``, ``statistic`` z, ``se``); ``method, n,
    ci_level, arm, arm_kind, unit`` ("patient"), ``ceiling`` (the matching posterior).
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    require_columns(truth, (PATIENT, *POSTERIORS), table="truth")
    post = truth.drop_duplicates(PATIENT).set_index(PATIENT)
    missing = [p for p in study.patients if p not in post.index]
    if missing:
        raise InputError(f"lacks {len(missing)} analysed patient(s): {listed(missing)}.", field="truth",
                         hint="truth.csv must come from the same synthetic cohort.")
    post = post.loc[study.patients]
    y = study.labels.loc[study.patients].to_numpy()
    frames = [stats.roc_auc(y, post[name].to_numpy(float), confidence=options.confidence)
              .assign(**{ARM: name, ARM_KIND: "ceiling", CEILING: name, C.METRIC: "auc_ceiling"})
              for name in POSTERIORS]
    for arm in study.arms:
        frames += _arm_rows(arm, post, study.patients, options)
    table = concat(frames)
    table[C.UNIT] = PATIENT_UNIT
    return order_columns(table, [ARM, ARM_KIND, C.UNIT, C.METRIC, CEILING])


def _arm_rows(arm: Arm, post: pd.DataFrame, patients: list, options: AnalysisOptions) -> list[pd.DataFrame]:
    data = restrict(arm, patients)
    y = data[LABEL].to_numpy()
    use_call = arm.kind == "readers" and (options.reader_rating == "call" or not arm.has_score)
    score = data[CALL if use_call else SCORE].to_numpy(float)
    ceiling = matching_posterior(arm.name, dict(options.ceiling_match))
    ids = {ARM: arm.name, ARM_KIND: arm.kind, CEILING: ceiling}
    auc = stats.roc_auc(y, score, confidence=options.confidence).assign(**ids, metric="auc")
    gap = stats.delong_test(y, score, post[ceiling].to_numpy(float), confidence=options.confidence)
    gap = gap.rename(columns={"auc_a": "auc_arm", "auc_b": "auc_ceiling"})
    return [auc, gap.assign(**ids, metric="auc_minus_ceiling")]
