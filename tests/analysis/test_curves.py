"""The figures' data (studykit.analysis.curves): ROC band kernel against brute force, per-arm ROC
curves, bands and AUCs against studykit.stats, reader operating points, reliability bins."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pandas as pd
import pytest

from studykit import stats
from studykit.analysis import (
    reader_points,
    reliability_bins,
    roc_aucs,
    roc_band,
    roc_bands,
    roc_curves,
)
from studykit.errors import InputError


@pytest.fixture(scope="module")
def scores():
    return fake.patient_scores()


def _brute_sens_at(y, s, sp):
    """Highest sensitivity among empirical ROC points with specificity >= sp."""
    curve = stats.roc_curve(y, s)
    return curve.loc[curve["specificity"] >= sp - 1e-12, "sensitivity"].max()


def test_roc_band_matches_brute_force_and_is_seeded():
    rng = np.random.default_rng(5)
    y, s = stats.simulate.binormal_sample(30, 25, 0.8, rng)
    s = np.round(s, 1)  # ties
    band = roc_band(y, s, n_boot=300, seed=3)
    brute = [_brute_sens_at(y, s, sp) for sp in band["specificity"]]
    np.testing.assert_allclose(band["sensitivity"], brute)
    assert (band["ci_low"] <= band["sensitivity"] + 1e-12).all()
    assert (band["ci_high"] >= band["sensitivity"] - 1e-12).all()
    pd.testing.assert_frame_equal(band, roc_band(y, s, n_boot=300, seed=3))
    assert not band.equals(roc_band(y, s, n_boot=300, seed=4))


def test_reader_points_majority_and_individuals():
    pts = reader_points(fake.reads(), fake.truth())
    assert len(pts) == 8 and pts["majority"].sum() == 2
    junior = pts[(pts["group"] == "junior") & pts["majority"]].iloc[0]
    votes = fake.majority(fake.reads())
    calls = votes[votes["group"] == "junior"].set_index("patient_id")["call"]
    truth = fake.truth().set_index("patient_id")["label"]
    assert junior["sensitivity"] == pytest.approx(calls[truth == 1].mean())
    assert junior["sens_ci_low"] < junior["sensitivity"] < junior["sens_ci_high"]


def test_missing_score_column_is_named(scores):
    with pytest.raises(InputError, match="scores lacks required column\\(s\\) 'prob_malignant'"):
        roc_curves(scores.drop(columns="prob_malignant"))


def _arms(scores):
    return [(name, part["label"].to_numpy(), part["prob_malignant"].to_numpy())
            for name, part in scores.groupby("arm", sort=False)]


def test_curves_bands_and_aucs_are_each_arms_in_order(scores):
    curves, bands = roc_curves(scores), roc_bands(scores, n_boot=150, confidence=0.9, seed=7)
    aucs = roc_aucs(scores, confidence=0.9)
    assert list(pd.unique(curves["arm"])) == list(fake.ARMS) == list(bands["arm"].unique())
    assert curves.columns[0] == "arm" and list(aucs["arm"]) == list(fake.ARMS)
    for i, (name, y, s) in enumerate(_arms(scores)):
        mine = curves[curves["arm"] == name].drop(columns="arm").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, stats.roc_curve(y, s))
        band = bands[bands["arm"] == name].drop(columns="arm").reset_index(drop=True)
        pd.testing.assert_frame_equal(band, roc_band(y, s, n_boot=150, confidence=0.9, seed=7 + i))
        auc = aucs[aucs["arm"] == name].drop(columns="arm").reset_index(drop=True)
        pd.testing.assert_frame_equal(auc, stats.roc_auc(y, s, confidence=0.9))


def test_reliability_bins_by_hand(scores):
    bins = reliability_bins(scores, n_bins=4)
    assert list(bins.columns[:2]) == ["arm", "bin"] and len(bins) == 4 * len(fake.ARMS)
    for name, y, p in _arms(scores):
        mine = bins[bins["arm"] == name]
        assert mine["n"].sum() == len(p)
        np.testing.assert_allclose(mine["bin_low"], [0, 0.25, 0.5, 0.75])
        for _, row in mine.iterrows():
            inside = (p >= row["bin_low"]) & ((p < row["bin_high"]) | (row["bin_high"] == 1))
            assert row["n"] == inside.sum()
            if not inside.any():
                assert np.isnan(row[["predicted", "observed", "ci_low", "ci_high"]].astype(float)).all()
                continue
            assert row["predicted"] == pytest.approx(p[inside].mean())
            assert row["observed"] == pytest.approx(y[inside].mean())
            low, high = stats.wilson_interval(np.array([y[inside].sum()]), np.array([inside.sum()]), 0.95)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((low[0], high[0]))
