"""``studykit.stats``: pure statistics for diagnostic-accuracy studies.

Arrays or tidy DataFrames in, tidy DataFrames out (one row per estimate, leading columns
``estimate, ci_low, ci_high, p``). No torch, no files: usable on its own from a notebook::

    from studykit import stats
    stats.roc_auc(y, p)                      # AUC with DeLong CI
    stats.delong_test(y, p_a, p_b)           # paired comparison, as pROC's roc.test
    stats.partial_auc(y, p, specificity=(0.8, 1))  # as pROC's auc(partial.auc = …)
    stats.auc_sample_size(0.8, 0.9)          # planning, as pROC's power.roc.test
    stats.decision_curve(y, {"A": p_a})       # net benefit, as dcurves' dca
    stats.mrmc_sample_size(reads, effect=0.05, readers=[5, 10])  # MRMC cases, as RJafroc
"""

from studykit.errors import UndefinedStatisticWarning
from studykit.stats import _columns as columns
from studykit.stats import simulate
from studykit.stats.agreement import fleiss_kappa, icc, majority_vote
from studykit.stats.cohort_table import compare_groups
from studykit.stats.decision import decision_curve
from studykit.stats.delong import compare_aucs, delong_test, delong_test_unpaired, holm_adjust
from studykit.stats.diagnostic import (
    binary_call_auc,
    clopper_pearson_interval,
    diagnostic_metrics,
    mcnemar,
    wilson_interval,
)
from studykit.stats.means import mean_interval
from studykit.stats.mrmc import MRMCResult, dbm_analysis, model_vs_readers, or_analysis
from studykit.stats.mrmc_power import mrmc_power, mrmc_sample_size
from studykit.stats.partial import (
    bootstrap_test,
    partial_auc,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from studykit.stats.planning import auc_power, auc_power_paired, auc_sample_size
from studykit.stats.roc import roc_auc, roc_curve, youden_threshold

__all__ = [
    "MRMCResult",
    "UndefinedStatisticWarning",
    "auc_power",
    "auc_power_paired",
    "auc_sample_size",
    "binary_call_auc",
    "bootstrap_test",
    "clopper_pearson_interval",
    "columns",
    "compare_aucs",
    "compare_groups",
    "dbm_analysis",
    "decision_curve",
    "delong_test",
    "delong_test_unpaired",
    "diagnostic_metrics",
    "fleiss_kappa",
    "holm_adjust",
    "icc",
    "majority_vote",
    "mcnemar",
    "mean_interval",
    "model_vs_readers",
    "mrmc_power",
    "mrmc_sample_size",
    "or_analysis",
    "partial_auc",
    "roc_auc",
    "roc_curve",
    "sensitivity_at_specificity",
    "simulate",
    "specificity_at_sensitivity",
    "wilson_interval",
    "youden_threshold",
]
