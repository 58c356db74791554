"""The decision curve: net benefit of acting on each arm's result, patient level.

Methods
-------
Net benefit at threshold probability p_t: NB(p_t) = TP/n − FP/n · p_t / (1 − p_t), the true
positives per patient less the false positives weighed by the odds p_t / (1 − p_t) at which a
clinician is indifferent between treating and not (Vickers & Elkin 2006), next to treat all
(π − (1 − π) p_t / (1 − p_t), π the prevalence) and treat none (0). Computed by
:func:`studykit.stats.decision_curve` on the patients every arm has.

- **Model arms**: the patient's probability of malignancy — the image probabilities aggregated
  per patient by the protocol's rule (``aggregation``, mean by default), the probability that
  Table 3's AUC and the calibration table use — and the rule "treat when probability ≥ p_t".
- **Reader groups**: the group's majority-vote call. A binary call has no threshold of its own:
  the patients called malignant are treated whatever p_t, so TP and FP are fixed, but its net
  benefit still changes with p_t, which sets the price of a false positive (Vickers et al.
  2008 evaluate binary tests this way; so does ``dcurves`` for a 0/1 variable). The call enters
  ``stats.decision_curve`` as a 0/1 "probability", which is exactly that rule at every p_t in
  (0, 1). The figure draws it as markers rather than a curve.

Every arm is evaluated on the same stratified-bootstrap replicates (positives and negatives
resampled separately, the prevalence held fixed; percentile bands at the protocol's
confidence, ``n_boot`` replicates, ``seed``), so the bands of different arms come from the
same resampled cohorts. Same inputs and seed → identical table.

References
----------
Vickers AJ, Elkin EB (2006). Decision curve analysis: a novel method for evaluating prediction
models. Med Decis Making 26:565–574. doi:10.1177/0272989X06295361
Vickers AJ, Cronin AM, Elkin EB, Gonen M (2008). Extensions to decision curve analysis. BMC Med
Inform Decis Mak 8:53. doi:10.1186/1472-6947-8-53
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import ARM_KIND, MODEL, READERS, Arm, order_columns, restrict
from studykit.analysis._study import AnalysisOptions, prepare
from studykit.stats import columns as C
from studykit.vocab import ARM, CALL, LABEL, PATIENT_UNIT, SCORE

__all__ = ["REFERENCE", "decision_curve_table"]

#: ``arm_kind`` of the treat-all and treat-none rows.
REFERENCE = C.KIND_REFERENCE


def decision_curve_table(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
                         manifest: pd.DataFrame | None = None, *,
                         options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Net benefit of every arm, treat all and treat none at each threshold probability.

    Parameters
    ----------
    predictions, reads, manifest : DataFrame
        As :func:`studykit.analysis.performance_table`.
    options : AnalysisOptions
        ``decision_thresholds`` (threshold probabilities in (0, 1); ``None``: 0.01, 0.02, …,
        0.99), ``aggregation``, ``confidence``, ``n_boot``, ``seed``, ``allow_missing``, ``tie``.

    Returns
    -------
    DataFrame, one row per (arm, threshold): the model arms, then the reader groups, then
    ``treat_all`` and ``treat_none`` (``arm_kind`` model | readers | reference). Columns
    ``estimate`` (net benefit, true positives per patient), ``ci_low, ci_high`` (bootstrap
    band; NaN for the reference strategies), ``p`` (NaN), ``se``, ``method, n, ci_level``,
    ``arm, arm_kind, unit`` ("patient"), ``metric`` ("net_benefit"), ``threshold`` (p_t),
    ``tp_rate, fp_rate`` (TP/n, FP/n), ``net_benefit_minus_all`` with its band,
    ``net_interventions_avoided_per_100``, ``n_pos, n_neg``.

    Examples
    --------
    >>> from studykit.analysis import AnalysisOptions
    >>> preds = pd.DataFrame({"arm": "A", "fold": 0, "patient_id": ["p1", "p2", "p3", "p4"],
    ...                       "image_id": ["i1", "i2", "i3", "i4"], "label": [1, 1, 0, 0],
    ...                       "prob_malignant": [0.8, 0.4, 0.6, 0.1], "threshold": 0.5})
    >>> table = decision_curve_table(preds, options=AnalysisOptions(decision_thresholds=[0.25], n_boot=100))
    >>> print(table[["arm", "arm_kind", "threshold", "estimate"]].to_string(index=False))
           arm  arm_kind  threshold  estimate
             A     model       0.25  0.416667
     treat_all reference       0.25  0.333333
    treat_none reference       0.25  0.000000
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    arms = study.models + study.readers
    data = {arm.name: restrict(arm, study.patients) for arm in arms}
    labels = data[arms[0].name][LABEL].to_numpy()
    curves = stats.decision_curve(labels, {arm.name: _treat_rule(arm, data[arm.name]) for arm in arms},
                                  thresholds=options.decision_thresholds, confidence=options.confidence,
                                  n_boot=options.n_boot, seed=options.seed)
    table = curves.rename(columns={C.MODEL: ARM})
    kinds = {arm.name: arm.kind for arm in arms}
    table[ARM_KIND] = table[ARM].map(kinds).fillna(REFERENCE)
    table[C.METHOD] = table[ARM].map(_rules(arms, options)).fillna("") + table[C.METHOD]
    table[C.UNIT] = PATIENT_UNIT
    return order_columns(table, [ARM, ARM_KIND, C.UNIT, C.METRIC, C.THRESHOLD])


def _treat_rule(arm: Arm, data: pd.DataFrame) -> np.ndarray:
    """What is compared with p_t: a model's patient probability, a reader group's 0/1 call."""
    column = SCORE if arm.kind == MODEL else CALL
    return data[column].to_numpy(dtype=np.float64)


def _rules(arms: list[Arm], options: AnalysisOptions) -> dict[str, str]:
    """Each arm's treatment rule in words, the start of its ``method``."""
    words = {MODEL: f"treated when the patient probability ({options.aggregation} of its images) >= p_t; ",
             READERS: f"treated when the majority vote calls malignant (tie: {options.tie}), any p_t; "}
    return {arm.name: words[arm.kind] for arm in arms}
