"""Out-of-fold variability: each model arm's patient-level AUC in every test fold, and its spread.

Methods
-------
Per (arm, fold): the empirical AUC of the patient-level probability on that fold's test patients
(among the patients every arm has), with its DeLong CI (``stats.roc_auc``). Across folds: the
mean, the SD (ddof = 1), the minimum and the maximum of the per-fold AUCs — descriptive: the
folds share training patients, so their SD is not a standard error of the pooled AUC
(Bengio & Grandvalet 2004).

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845. doi:10.2307/2531595
Bengio Y, Grandvalet Y (2004). No unbiased estimator of the variance of k-fold
cross-validation. J Mach Learn Res 5:1089–1105.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import concat, order_columns, restrict
from studykit.analysis._study import AnalysisOptions, prepare
from studykit.stats import columns as C
from studykit.vocab import ARM, FOLD, LABEL, PATIENT_UNIT, SCORE

__all__ = ["SUMMARIES", "fold_table"]

#: Summary rows across folds: metric → function of the per-fold AUCs.
SUMMARIES = {"auc_fold_mean": np.mean, "auc_fold_sd": lambda a: np.std(a, ddof=1) if a.size > 1 else np.nan,
             "auc_fold_min": np.min, "auc_fold_max": np.max}


def fold_table(predictions: pd.DataFrame, reads: pd.DataFrame | None = None,
               manifest: pd.DataFrame | None = None, *,
               options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Per-fold patient-level AUCs of every model arm, with mean, SD, min and max across folds.

    Returns
    -------
    DataFrame: per arm one ``metric = "auc"`` row per fold (``estimate, ci_low, ci_high`` DeLong,
    ``se, method, n, ci_level, n_pos, n_neg``, ``fold``) and four summary rows (``metric``
    auc_fold_mean | auc_fold_sd | auc_fold_min | auc_fold_max, ``fold`` = "all", ``n`` = the
    number of folds with a defined AUC); ``arm, unit`` ("patient") on every row.
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    frames = []
    for arm in study.models:
        data = restrict(arm, study.patients)
        per_fold = concat([stats.roc_auc(rows[LABEL].to_numpy(), rows[SCORE].to_numpy(),
                                         confidence=options.confidence).assign(**{FOLD: fold})
                           for fold, rows in data.groupby(FOLD, sort=True)])
        aucs = per_fold[C.ESTIMATE].dropna().to_numpy()
        summary = pd.DataFrame([{C.ESTIMATE: float(fn(aucs)) if aucs.size else np.nan, C.METRIC: metric,
                                 C.METHOD: "across folds (descriptive)", C.N: aucs.size, FOLD: "all"}
                                for metric, fn in SUMMARIES.items()])
        frames.append(concat([per_fold, summary]).assign(**{ARM: arm.name}))
    table = concat(frames)
    table[C.UNIT] = PATIENT_UNIT
    table[FOLD] = table[FOLD].astype(str)
    return order_columns(table, [ARM, C.UNIT, C.METRIC, FOLD])
