"""``studykit.stats``: pure statistics for diagnostic-accuracy studies.

Arrays or tidy DataFrames in, tidy DataFrames out (one row per estimate, leading columns
``estimate, ci_low, ci_high, p``). No torch, no files: usable on its own from a notebook::

    from studykit import stats
    stats.roc_auc(y, p)                      # AUC with DeLong CI
    stats.delong_test(y, p_a, p_b)           # paired comparison, as pROC's roc.test
"""

from studykit.errors import UndefinedStatisticWarning
from studykit.stats.delong import compare_aucs, delong_test, delong_test_unpaired, holm_adjust
from studykit.stats import simulate
from studykit.stats.roc import roc_auc, roc_curve, youden_threshold

__all__ = [
    "UndefinedStatisticWarning",
    "compare_aucs",
    "delong_test",
    "delong_test_unpaired",
    "holm_adjust",
    "roc_auc",
    "simulate",
    "roc_curve",
    "youden_threshold",
]
