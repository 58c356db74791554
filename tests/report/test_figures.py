"""Figures: produced as PNG + PDF, non-trivial, byte-identical on re-render; ROC band kernel."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pandas as pd
import pytest

from studykit import stats
from studykit.errors import InputError
from studykit.report import (
    calibration_figure,
    gradcam_figure,
    load_gradcam,
    reader_points,
    roc_band,
    roc_figure,
    save_figure,
)


@pytest.fixture(scope="module")
def scores():
    return fake.patient_scores()


def _render(kind, scores, path):
    if kind == "roc":
        fig = roc_figure(
            scores, points=reader_points(fake.reads(), fake.truth()), arm_labels=fake.ARM_LABELS, n_boot=200
        )
    elif kind == "calibration":
        fig = calibration_figure(scores, arm_labels=fake.ARM_LABELS)
    else:
        fig = gradcam_figure(fake.gradcam(n=4, size=48), per_class=1)
    return save_figure(fig, path)


@pytest.mark.parametrize("kind", ["roc", "calibration", "gradcam"])
def test_figures_png_pdf_deterministic(tmp_path, scores, kind):
    first = _render(kind, scores, tmp_path / "a" / kind)
    second = _render(kind, scores, tmp_path / "b" / kind)
    assert [p.suffix for p in first] == [".png", ".pdf"]
    for a, b in zip(first, second, strict=True):
        assert a.stat().st_size > 10_000
        assert a.read_bytes() == b.read_bytes(), a.name
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"CreationDate" not in first[1].read_bytes()


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


def test_gradcam_npz_round_trip_and_bad_file(tmp_path):
    data = fake.gradcam(n=2, size=32)
    np.savez(tmp_path / "cam.npz", **data)
    loaded = load_gradcam(tmp_path / "cam.npz")
    assert loaded["bmode"].shape == (2, 32, 32)
    del data["cam_ceus"]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match=r"bad\.npz: Grad-CAM file lacks key\(s\) \['cam_ceus'\]"):
        load_gradcam(tmp_path / "bad.npz")


def test_missing_score_column_is_named(scores):
    with pytest.raises(InputError, match="scores lacks required column\\(s\\) 'prob_malignant'"):
        roc_figure(scores.drop(columns="prob_malignant"))
