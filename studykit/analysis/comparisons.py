"""Paired comparisons of arms on the same patients: DeLong for AUCs, McNemar for sens and spec.

Methods
-------
AUC: the paired DeLong z-test (DeLong et al. 1988, fast algorithm of Sun & Xu 2014) of
AUC_a − AUC_b on the common patients (``stats.delong_test``). A reader group enters with its
majority-vote call as the score (the AUC of a binary call, as the reference study compared
them) or, with ``reader_rating="score"``, its panel mean score. At image level, model-vs-model
pairs are compared on their common images with Obuchowski's (1997) patient-clustered covariance.

Sensitivity and specificity: McNemar's test on the malignant (sensitivity) and the benign
(specificity) patients, exact binomial when fewer than 25 discordant pairs, with Newcombe's
(1998) CI of the paired difference (``stats.mcnemar``). Model arms are dichotomised at their
threshold (patient aggregate ≥ threshold), reader groups by majority vote.

Multiplicity: Holm's (1979) step-down adjustment within each family, a family being one
(unit, metric): e.g. all patient-level AUC comparisons (``stats.holm_adjust``).

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845. doi:10.2307/2531595
Sun X, Xu W (2014). IEEE Signal Process Lett 21:1389–1393. doi:10.1109/LSP.2014.2337313
Obuchowski NA (1997). Biometrics 53:567–578. doi:10.2307/2533958
McNemar Q (1947). Psychometrika 12:153–157. doi:10.1007/BF02295996
Newcombe RG (1998). Stat Med 17:2635–2650.
doi:10.1002/(SICI)1097-0258(19981130)17:22<2635::AID-SIM954>3.0.CO;2-C
Holm S (1979). Scand J Stat 6:65–70.
"""

from __future__ import annotations

import pandas as pd

from studykit import stats
from studykit.analysis._common import ARM_A, ARM_B, Arm, check_option, concat, order_columns, restrict
from studykit.analysis._study import AnalysisOptions, Study, prepare
from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.vocab import ARM, CALL, IMAGE, IMAGE_UNIT, LABEL, PATIENT, PATIENT_UNIT, PROB, SCORE

__all__ = ["compare_arms", "comparison_pairs"]

ESTIMATE_A, ESTIMATE_B = "estimate_a", "estimate_b"
_SUBSETS = (("sensitivity", "positives"), ("specificity", "negatives"))


def comparison_pairs(study: Study, options: AnalysisOptions) -> list[tuple[str, str]]:
    """The (arm_a, arm_b) pairs to compare.

    ``options.comparisons`` when given; else ``options.reference`` against every other arm;
    else every model arm against every other arm (model–model pairs once, in input order).
    """
    names = [a.name for a in study.arms]
    if options.comparisons is not None:
        pairs = [(check_option("comparisons", a, names), check_option("comparisons", b, names))
                 for a, b in options.comparisons]
        if any(a == b for a, b in pairs):
            raise InputError("compares an arm with itself.", field="comparisons")
        return pairs
    if options.reference is not None:
        ref = check_option("reference", options.reference, names)
        return [(ref, other) for other in names if other != ref]
    models = [a.name for a in study.models]
    return [(m, other) for i, m in enumerate(models) for other in names[i + 1:] if other != m]


def compare_arms(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
                 manifest: pd.DataFrame | None = None, *,
                 options: AnalysisOptions | None = None) -> pd.DataFrame:
    """DeLong and McNemar comparisons of arm pairs, with raw and Holm-adjusted p.

    Parameters
    ----------
    predictions, reads, manifest : DataFrame
        As :func:`studykit.analysis.performance_table`.
    options : AnalysisOptions
        ``reference``, ``comparisons``, ``reader_rating``, ``units``, ``confidence`` and the
        arm-building options.

    Returns
    -------
    DataFrame, one row per (unit, metric, pair): ``estimate`` (a − b: AUC, sensitivity or
    specificity), ``ci_low, ci_high, p, p_adjusted`` (Holm within the (unit, metric) family),
    ``statistic`` (z, or McNemar's chi-square / min(b, c) when exact), ``df, se, method, n``
    (patients or images compared; McNemar: the malignant or benign ones), ``ci_level, metric``
    (auc | sensitivity | specificity), ``arm_a, arm_b, unit, estimate_a, estimate_b``, ``b, c``
    (McNemar's discordant counts: a right & b wrong, a wrong & b right), ``n_pos, n_neg,
    n_clusters`` (image level), ``adjust`` ("holm").
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    pairs = comparison_pairs(study, options)
    frames = []
    if PATIENT_UNIT in options.units:
        frames += [_patient_pair(study.arm(a), study.arm(b), study, options) for a, b in pairs]
    if IMAGE_UNIT in options.units:
        frames += [_image_pair(a, b, study, options) for a, b in pairs
                   if study.arm(a).kind == study.arm(b).kind == "model"
                   and study.per_image(a) and study.per_image(b)]
    table = concat(frames)
    if table.empty:
        return table
    table.insert(4, C.P_ADJUSTED, float("nan"))
    for _, rows in table.groupby([C.UNIT, C.METRIC], sort=False):
        table.loc[rows.index, C.P_ADJUSTED] = stats.holm_adjust(rows[C.P].to_numpy())
    table["adjust"] = "holm"
    return order_columns(table, [ARM_A, ARM_B, C.UNIT, C.METRIC])


def _rating(arm: Arm, data: pd.DataFrame, options: AnalysisOptions) -> pd.Series:
    if arm.kind == "readers" and (options.reader_rating == "call" or not arm.has_score):
        return data[CALL].astype(float)
    return data[SCORE]


def _patient_pair(a: Arm, b: Arm, study: Study, options: AnalysisOptions) -> pd.DataFrame:
    da, db = restrict(a, study.patients), restrict(b, study.patients)
    y = da[LABEL].to_numpy()
    auc = stats.delong_test(y, _rating(a, da, options).to_numpy(), _rating(b, db, options).to_numpy(),
                            confidence=options.confidence)
    auc = auc.rename(columns={"auc_a": ESTIMATE_A, "auc_b": ESTIMATE_B}).assign(metric="auc")
    tests = [stats.mcnemar(y, da[CALL].to_numpy(), db[CALL].to_numpy(), subset=subset,
                           confidence=options.confidence).assign(metric=metric)
             for metric, subset in _SUBSETS]
    return concat([auc, *tests]).assign(**{ARM_A: a.name, ARM_B: b.name, C.UNIT: PATIENT_UNIT})


def _image_pair(a: str, b: str, study: Study, options: AnalysisOptions) -> pd.DataFrame:
    preds = study.predictions[study.predictions[PATIENT].isin(study.patients)]
    keys = [PATIENT, IMAGE, LABEL]
    merged = preds[preds[ARM] == a][[*keys, PROB]].merge(preds[preds[ARM] == b][[*keys, PROB]],
                                                          on=keys, suffixes=("_a", "_b"))
    if merged.empty:
        raise InputError(f"arms '{a}' and '{b}' share no image_id.", field="predictions.image_id",
                         hint="image-level comparisons need the same images in both arms.")
    res = stats.delong_test(merged[LABEL].to_numpy(), merged[f"{PROB}_a"].to_numpy(),
                            merged[f"{PROB}_b"].to_numpy(), cluster=merged[PATIENT].to_numpy(),
                            confidence=options.confidence)
    res = res.rename(columns={"auc_a": ESTIMATE_A, "auc_b": ESTIMATE_B})
    return res.assign(metric="auc", **{ARM_A: a, ARM_B: b, C.UNIT: IMAGE_UNIT})
