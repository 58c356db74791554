"""Calibration (Brier by hand, reliability bins) and per-fold AUCs by hand."""

from __future__ import annotations

import numpy as np
import pytest

from studykit.analysis import AnalysisOptions, calibration_table, fold_table

P_A = np.array([.8, .7, .4, .5, .9, .2, .6, .3, .4, .1])
Y = np.r_[np.ones(5), np.zeros(5)]


def test_brier_by_hand(predictions, reads):
    t = calibration_table(predictions, reads, options=AnalysisOptions(n_bins=5, n_boot=400))
    brier = t[(t.arm == "A") & (t.metric == "brier")].iloc[0]
    assert brier.estimate == pytest.approx(1.41 / 10)
    assert brier.ci_low <= brier.estimate <= brier.ci_high
    z = np.sum((Y - P_A) * (1 - 2 * P_A)) / np.sqrt(np.sum((1 - 2 * P_A) ** 2 * P_A * (1 - P_A)))
    assert brier.statistic == pytest.approx(z)
    assert set(t.arm) == {"A", "B"}  # readers have no probability


def test_reliability_equal_count_bins(predictions):
    t = calibration_table(predictions, options=AnalysisOptions(n_bins=5, n_boot=100))
    curve = t[(t.arm == "A") & (t.metric == "reliability")]
    assert curve.n.tolist() == [2] * 5
    # sorted by probability (ties by id): (.1 p9, .2 p5) (.3 p7, .4 p2) (.4 p8, .5 p3) (.6 p6, .7 p1) (.8, .9)
    assert curve.expected.to_numpy() == pytest.approx([.15, .35, .45, .65, .85])
    assert curve.estimate.to_numpy() == pytest.approx([0, .5, .5, .5, 1])
    assert (curve.ci_low <= curve.estimate).all() and (curve.estimate <= curve.ci_high).all()


def test_per_fold_aucs_by_hand(predictions, reads):
    t = fold_table(predictions, reads)
    a = t[(t.arm == "A") & (t.metric == "auc")].set_index("fold").estimate
    b = t[(t.arm == "B") & (t.metric == "auc")].set_index("fold").estimate
    assert a.to_dict() == pytest.approx({"0": 8.5 / 9, "1": 3 / 4})
    assert b.to_dict() == pytest.approx({"0": 7 / 9, "1": 3 / 4})
    summary = t[(t.arm == "A") & (t.fold == "all")].set_index("metric").estimate
    assert summary["auc_fold_mean"] == pytest.approx((8.5 / 9 + 0.75) / 2)
    assert summary["auc_fold_sd"] == pytest.approx(np.std([8.5 / 9, 0.75], ddof=1))
    assert (summary["auc_fold_min"], summary["auc_fold_max"]) == pytest.approx((0.75, 8.5 / 9))
