"""Agreement within each reader group: intraclass correlations and Fleiss' kappa.

Methods
-------
ICC: all six Shrout & Fleiss (1979) forms from the two-way ANOVA, F-test CIs (McGraw & Wong
1996 approximate df for ICC2/ICC2k), as ``psych::ICC`` (``stats.icc``), on the readers'
confidence scores, or on their 0/1 calls when the group has no scores. The protocol chooses
one form to report (``icc_form``, default ICC2: two-way random effects, absolute agreement,
single rater — the readers stand for radiologists in general and every reader reads every
patient; Koo & Li 2016); the table keeps all six and flags the chosen one. The reference study
reported an ICC on calls without naming its form.

Kappa: Fleiss' (1971) kappa on the binary calls, jackknife CI, z-test of kappa = 0 with the
Fleiss–Nee–Landis (1979) null SE (``stats.fleiss_kappa``).

References
----------
Shrout PE, Fleiss JL (1979). Psychol Bull 86:420–428. doi:10.1037/0033-2909.86.2.420
McGraw KO, Wong SP (1996). Psychol Methods 1:30–46. doi:10.1037/1082-989X.1.1.30
Koo TK, Li MY (2016). A guideline of selecting and reporting intraclass correlation
coefficients for reliability research. J Chiropr Med 15:155–163. doi:10.1016/j.jcm.2016.02.012
Fleiss JL (1971). Psychol Bull 76:378–382. doi:10.1037/h0031619
"""

from __future__ import annotations

import pandas as pd

from studykit import stats
from studykit.analysis._arms import check_reads
from studykit.analysis._common import concat, order_columns
from studykit.analysis._study import AnalysisOptions
from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.vocab import ARM, CALL, GROUP, PATIENT, PATIENT_UNIT, READER, SCORE

__all__ = ["icc_table", "kappa_table"]

CHOSEN, RATING = "chosen", "rating"


def _groups(reads: pd.DataFrame | None):
    checked = check_reads(reads)
    if checked is None:
        raise InputError("has no rows; agreement needs reader reads.", field="reads",
                         hint="disable the icc and agreement_kappa analyses when there are no readers.")
    return checked.groupby(GROUP, sort=True)


def icc_table(reads: pd.DataFrame, *, options: AnalysisOptions | None = None) -> pd.DataFrame:
    """ICC (six forms) within each reader group, the protocol's form flagged.

    Parameters
    ----------
    reads : DataFrame
        Validated reads: ``reader_id, group, patient_id, call, score``; every reader of a
        group reads every patient of that group.
    options : AnalysisOptions
        ``icc_form`` and ``confidence``.

    Returns
    -------
    DataFrame, six rows per group: ``estimate, ci_low, ci_high, p`` (F-test of ICC = 0),
    ``statistic`` (F), ``method, n`` (patients), ``ci_level, arm`` (the group), ``unit``
    ("patient"), ``metric`` ("icc"), ``form, chosen`` (bool), ``rating`` (score | call),
    ``df1, df2, description, n_raters``.
    """
    options = options or AnalysisOptions()
    frames = []
    for group, rows in _groups(reads):
        rating = SCORE if rows[SCORE].notna().all() else CALL
        table = stats.icc(rows, PATIENT, READER, rating, confidence=options.confidence)
        frames.append(table.assign(**{ARM: group, C.UNIT: PATIENT_UNIT, C.METRIC: "icc",
                                      CHOSEN: table[C.FORM] == options.icc_form, RATING: rating}))
    return order_columns(concat(frames), [ARM, C.UNIT, C.METRIC, C.FORM, CHOSEN, RATING])


def kappa_table(reads: pd.DataFrame, *, options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Fleiss' kappa of the binary calls within each reader group.

    Returns
    -------
    DataFrame, one row per group: ``estimate, ci_low, ci_high, p, statistic`` (z), ``se``
    (jackknife), ``method, n`` (patients), ``ci_level, arm, unit, metric`` ("fleiss_kappa"),
    ``n_raters, n_categories, se_null, agreement_observed, agreement_chance``.
    """
    options = options or AnalysisOptions()
    frames = [stats.fleiss_kappa(rows, PATIENT, READER, CALL, confidence=options.confidence)
              .assign(**{ARM: group, C.UNIT: PATIENT_UNIT, C.METRIC: "fleiss_kappa"})
              for group, rows in _groups(reads)]
    return order_columns(concat(frames), [ARM, C.UNIT, C.METRIC])
