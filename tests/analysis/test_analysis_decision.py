"""The decision-curve table: net benefit of the hand-made study's arms, computed by hand.

Patient means of arm A (analysis_support): .8 .7 .4 .5 .9 | .2 .6 .3 .4 .1; arm B: .6 .55 .7 .3 .8 |
.45 .2 .65 .1 .35; junior majority vote 1 1 1 0 1 | 0 1 0 0 0. Ten patients, prevalence 0.5.
At p_t = 0.25 (odds 1/3): A treats all 5 malignant and p6, p7, p8 → 0.5 − 0.3/3 = 0.4; B treats
all 5 and p5, p7, p9 → 0.4; the readers' 4 TP, 1 FP → 0.4 − 0.1/3; treat all 0.5 − 0.5/3.
At p_t = 0.5 (odds 1): A treats p0 p1 p3 p4 (p3's mean is exactly 0.5) and p6 → 0.4 − 0.1 = 0.3;
B p0 p1 p2 p4 and p7 → 0.3; readers 0.4 − 0.1 = 0.3; treat all 0.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from analysis_support import MAJORITY, PATIENTS

from studykit import stats
from studykit.analysis import AnalysisOptions, decision_curve_table
from studykit.analysis import decision as decision_module
from studykit.errors import InputError

GRID = [0.25, 0.5]
OPTIONS = AnalysisOptions(decision_thresholds=GRID, n_boot=300, seed=4)
HAND = {("A", 0.25): 0.4, ("A", 0.5): 0.3, ("B", 0.25): 0.4, ("B", 0.5): 0.3,
        ("junior", 0.25): 0.4 - 0.1 / 3, ("junior", 0.5): 0.3,
        ("treat_all", 0.25): 0.5 - 0.5 / 3, ("treat_all", 0.5): 0.0,
        ("treat_none", 0.25): 0.0, ("treat_none", 0.5): 0.0}


def _nb(table: pd.DataFrame) -> dict:
    return {(r.arm, r.threshold): r.estimate for r in table.itertuples()}


def test_net_benefit_of_every_arm_equals_the_hand_computation(predictions, reads, manifest):
    table = decision_curve_table(predictions, reads, manifest, options=OPTIONS)
    assert list(pd.unique(table["arm"])) == ["A", "B", "junior", "treat_all", "treat_none"]
    assert list(pd.unique(table["arm_kind"])) == ["model", "readers", "reference"]
    got = _nb(table)
    assert got.keys() == HAND.keys()
    for key, value in HAND.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    a = table[(table["arm"] == "A") & (table["threshold"] == 0.25)].iloc[0]
    assert (a["tp_rate"], a["fp_rate"], a["n"], a["n_pos"], a["n_neg"]) == (0.5, 0.3, 10, 5, 5)
    assert set(table["unit"]) == {"patient"} and set(table["metric"]) == {"net_benefit"}


def test_a_reader_groups_call_gives_tp_minus_weighted_fp_at_every_threshold(predictions, reads):
    table = decision_curve_table(predictions, reads, options=AnalysisOptions(n_boot=200))
    junior = table[table["arm"] == "junior"]
    y = np.r_[np.ones(5), np.zeros(5)].astype(bool)
    call = np.array(MAJORITY, bool)
    tp, fp = (call & y).sum() / 10, (call & ~y).sum() / 10
    pt = junior["threshold"].to_numpy()
    np.testing.assert_allclose(pt, np.arange(1, 100) / 100)  # the default grid
    np.testing.assert_allclose(junior["estimate"], tp - fp * pt / (1 - pt), rtol=0, atol=1e-12)
    assert set(junior["tp_rate"]) == {tp} and set(junior["fp_rate"]) == {fp}
    assert junior["method"].str.startswith("treated when the majority vote calls malignant").all()


def test_model_arms_use_the_aggregation_rule(predictions):
    """With ``max``, A's patient probabilities are .9 .8 .6 .55 .95 | .3 .7 .35 .4 .15: at 0.5 it
    treats every malignant patient and p6 → 0.5 − 0.1 = 0.4 (0.3 with the mean)."""
    table = decision_curve_table(predictions, options=AnalysisOptions(decision_thresholds=[0.5], n_boot=200,
                                                                      aggregation="max"))
    assert _nb(table)[("A", 0.5)] == pytest.approx(0.4, abs=1e-12)
    assert table.loc[table["arm"] == "A", "method"].iloc[0].startswith("treated when the patient probability "
                                                                        "(max of its images)")


def test_bands_are_stats_decision_curve_on_the_same_replicates(predictions, reads):
    """Every arm in one call of stats.decision_curve: the table's bands are exactly those."""
    table = decision_curve_table(predictions, reads, options=OPTIONS)
    y = np.array([1] * 5 + [0] * 5)
    means = predictions.groupby(["arm", "patient_id"], sort=False)["prob_malignant"].mean()
    probs = {arm: means[arm].reindex(PATIENTS).to_numpy() for arm in ("A", "B")}
    probs["junior"] = np.array(MAJORITY, float)
    direct = stats.decision_curve(y, probs, thresholds=GRID, n_boot=300, seed=4)
    for column in ("estimate", "ci_low", "ci_high", "se", "net_benefit_minus_all_ci_low"):
        np.testing.assert_array_equal(table[column].to_numpy(), direct[column].to_numpy(), err_msg=column)
    assert table.loc[table["arm_kind"] == "reference", "ci_low"].isna().all()


def test_same_seed_same_table_other_seed_other_bands(predictions, reads):
    first = decision_curve_table(predictions, reads, options=OPTIONS)
    again = decision_curve_table(predictions.copy(), reads.copy(), options=OPTIONS)
    pd.testing.assert_frame_equal(first, again)
    reseeded = AnalysisOptions(decision_thresholds=GRID, n_boot=300, seed=5)
    other = decision_curve_table(predictions, reads, options=reseeded)
    np.testing.assert_array_equal(first["estimate"], other["estimate"])
    assert not np.array_equal(first["ci_low"].fillna(-1), other["ci_low"].fillna(-1))


def test_thresholds_outside_the_open_unit_interval_are_refused(predictions):
    with pytest.raises(InputError, match=r"thresholds.*strictly between 0 and 1"):
        decision_curve_table(predictions, options=AnalysisOptions(decision_thresholds=[0.0, 0.5]))


def test_docstring_example_runs():
    assert doctest.testmod(decision_module).failed == 0
