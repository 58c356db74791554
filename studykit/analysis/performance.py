"""Table 3: diagnostic performance of every arm on the same patients.

Per arm — model arms (patient probabilities aggregated from images) and reader groups (the
majority-vote call; the panel's mean score when scores exist) — the AUC with its CI and the
accuracy, sensitivity, specificity, PPV and NPV with CIs and counts, at the patient level
(primary) and, for model arms, the image level (secondary).

Methods
-------
Patient level: empirical AUC with the fast DeLong CI (``stats.roc_auc``); a reader group's
AUC is that of its binary call, (sens + spec)/2 (``stats.binary_call_auc``), plus a separate
``auc_score`` row from the panel's mean score when there are scores. Proportions: Wilson
score (or Clopper–Pearson) CIs (``stats.diagnostic_metrics``).

Image level: the AUC uses Obuchowski's (1997) patient-clustered variance
(``stats.roc_auc(..., cluster=patient_id)``); the proportions' CIs come from a patient-cluster
bootstrap (whole patients resampled within each label, percentile interval, seeded), so that
images of one patient are never treated as independent (Field & Welsh 2007). An image's call
applies its fold's threshold to the image probability. Reader groups have no image level.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845. doi:10.2307/2531595
Obuchowski NA (1997). Biometrics 53:567–578. doi:10.2307/2533958
Wilson EB (1927). J Am Stat Assoc 22:209–212. doi:10.1080/01621459.1927.10502953
Field CA, Welsh AH (2007). Bootstrapping clustered data. J R Stat Soc B 69:369–390.
doi:10.1111/j.1467-9868.2007.00593.x
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import ARM_KIND, Arm, concat, order_columns, restrict, tag
from studykit.analysis._study import AnalysisOptions, Study, prepare
from studykit.errors import UndefinedStatisticWarning
from studykit.stats import columns as C
from studykit.vocab import ARM, CALL, IMAGE_UNIT, LABEL, PATIENT, PATIENT_UNIT, PROB, SCORE, THRESHOLD

__all__ = ["PROPORTIONS", "performance_table"]

#: The proportions of Table 3, in order.
PROPORTIONS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")
_CELLS = {"accuracy": (("tp", "tn"), ("tp", "fp", "fn", "tn")), "sensitivity": (("tp",), ("tp", "fn")),
          "specificity": (("tn",), ("tn", "fp")), "ppv": (("tp",), ("tp", "fp")),
          "npv": (("tn",), ("tn", "fn"))}

_DROPPED = ("lr_positive", "lr_negative", "Youden", "prevalence")


def performance_table(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
                      manifest: pd.DataFrame | None = None, *,
                      options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Table 3: AUC and the five proportions of every arm, per unit of analysis.

    Parameters
    ----------
    predictions : DataFrame
        ``predictions.csv`` (one row per test image per arm and fold).
    reads : DataFrame, optional
        Validated reads (``reader_id, group, patient_id, call, score``).
    manifest : DataFrame, optional
        The cohort manifest; when given, labels are checked against it.
    options : AnalysisOptions
        ``units``, ``aggregation``, ``confidence``, ``proportion_method``, ``n_boot``, ``seed``,
        ``allow_missing``, ``tie``, ``threshold_origin``.

    Returns
    -------
    DataFrame, one row per (arm, unit, metric): ``estimate, ci_low, ci_high, p`` (NaN), ``se``,
    ``method, n`` (patients, or images at image level), ``ci_level, arm, arm_kind`` (model |
    readers), ``unit, metric`` (auc, auc_score, accuracy, sensitivity, specificity, ppv, npv),
    ``numerator, denominator, tp, fp, fn, tn, n_pos, n_neg, n_clusters`` (patients at image
    level), ``threshold`` (NaN when it varies by fold or for readers), ``threshold_origin``,
    ``n_patients_arm`` (patients the arm has) and ``n_patients`` (those analysed: common to all).
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    frames = []
    for arm in study.arms:
        common = {ARM: arm.name, ARM_KIND: arm.kind, THRESHOLD: arm.threshold,
                  "threshold_origin": arm.threshold_origin, "n_patients_arm": study.n_by_arm[arm.name],
                  "n_patients": len(study.patients)}
        if PATIENT_UNIT in options.units:
            frames.append(tag(_patient_rows(arm, study, options), unit=PATIENT_UNIT, **common))
        if IMAGE_UNIT in options.units and arm.kind == "model" and study.per_image(arm.name):
            frames.append(tag(_image_rows(arm.name, study, options), unit=IMAGE_UNIT, **common))
    return order_columns(concat(frames), [ARM, ARM_KIND, C.UNIT, C.METRIC])


def _patient_rows(arm: Arm, study: Study, options: AnalysisOptions) -> pd.DataFrame:
    data = restrict(arm, study.patients)
    y = data[LABEL].to_numpy()
    if arm.kind == "model":
        aucs = [stats.roc_auc(y, data[SCORE].to_numpy(), confidence=options.confidence)]
    else:
        binary = stats.binary_call_auc(y, data[CALL].to_numpy(), confidence=options.confidence)
        binary[C.METHOD] = "AUC of the binary call, (sens + spec)/2; " + binary[C.METHOD]
        aucs = [binary.drop(columns=["sensitivity", "specificity"]).assign(metric="auc")]
        if arm.has_score:
            score = stats.roc_auc(y, data[SCORE].to_numpy(), confidence=options.confidence)
            aucs.append(score.assign(metric="auc_score", method="panel mean score; " + score[C.METHOD]))
    return concat([*aucs, _proportions(y, data[CALL].to_numpy(), options)])


def _proportions(y: np.ndarray, call: np.ndarray, options: AnalysisOptions) -> pd.DataFrame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndefinedStatisticWarning)
        table = stats.diagnostic_metrics(y, call, confidence=options.confidence,
                                         method=options.proportion_method)
    for warning in caught:  # re-emit only those about the metrics Table 3 keeps
        if not any(word in str(warning.message) for word in _DROPPED):
            warnings.warn(warning.message, UndefinedStatisticWarning, stacklevel=2)
    table = table.set_index(C.METRIC).loc[list(PROPORTIONS)].reset_index()
    return table[[c for c in table.columns if c != C.METRIC] + [C.METRIC]]


def _image_rows(name: str, study: Study, options: AnalysisOptions) -> pd.DataFrame:
    """Image-level AUC (clustered DeLong) and proportions (patient-cluster bootstrap CIs)."""
    preds = study.predictions
    images = preds[(preds[ARM] == name) & preds[PATIENT].isin(study.patients)]
    y, prob = images[LABEL].to_numpy(), images[PROB].to_numpy()
    call = (prob >= images[THRESHOLD].to_numpy()).astype(int)
    auc = stats.roc_auc(y, prob, cluster=images[PATIENT].to_numpy(), confidence=options.confidence)
    props = _proportions(y, call, options)
    low, high, method = cluster_bootstrap_proportions(y, call, images[PATIENT].to_numpy(), options)
    props[C.CI_LOW], props[C.CI_HIGH], props[C.METHOD] = low, high, method
    props[C.N_CLUSTERS] = images[PATIENT].nunique()
    return concat([auc, props])


def cluster_bootstrap_proportions(y: np.ndarray, call: np.ndarray, cluster: np.ndarray,
                                  options: AnalysisOptions) -> tuple[np.ndarray, np.ndarray, str]:
    """Percentile CIs of :data:`PROPORTIONS` by resampling whole clusters within each label.

    Each patient's 2 × 2 counts (tp, fp, fn, tn over its images) are summed with multinomial
    weights drawn per label stratum (patients have one label, so the class mix is fixed);
    replicates with an undefined proportion are dropped for that proportion.
    """
    codes, uniques = pd.factorize(cluster, sort=True)
    yb, cb = y.astype(bool), call.astype(bool)
    cells = np.stack([np.bincount(codes, weights=w, minlength=uniques.size)
                      for w in (yb & cb, ~yb & cb, yb & ~cb, ~yb & ~cb)], axis=1)
    stratum = np.bincount(codes, weights=yb, minlength=uniques.size) > 0
    rng = np.random.default_rng(options.seed)
    weights = np.zeros((options.n_boot, uniques.size))
    for s in (True, False):
        members = np.flatnonzero(stratum == s)
        if members.size:
            weights[:, members] = rng.multinomial(members.size, np.full(members.size, 1 / members.size),
                                                  size=options.n_boot)
    totals = dict(zip(("tp", "fp", "fn", "tn"), (weights @ cells).T))
    alpha = (1 - options.confidence) / 2
    low, high = [], []
    for metric in PROPORTIONS:
        top, bottom = _CELLS[metric]
        den = sum(totals[k] for k in bottom)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = sum(totals[k] for k in top) / den
        share = share[den > 0]
        low.append(float(np.quantile(share, alpha)) if share.size else np.nan)
        high.append(float(np.quantile(share, 1 - alpha)) if share.size else np.nan)
    method = (f"patient-cluster bootstrap, stratified by label, percentile ({options.n_boot} replicates, "
              f"seed {options.seed})")
    return np.array(low), np.array(high), method
