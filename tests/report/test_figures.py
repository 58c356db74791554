"""Figures: produced as PNG + PDF, non-trivial, byte-identical on re-render; their input checks.

The figures draw tables of studykit.analysis.curves (tested in tests/analysis/test_curves.py)."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pytest

from studykit.analysis import reader_points, reliability_bins, roc_aucs, roc_bands, roc_curves
from studykit.errors import InputError
from studykit.report import (
    calibration_figure,
    gradcam_figure,
    load_gradcam,
    roc_figure,
    save_figure,
)


@pytest.fixture(scope="module")
def scores():
    return fake.patient_scores()


def _render(kind, scores, path):
    if kind == "roc":
        fig = roc_figure(
            roc_curves(scores),
            bands=roc_bands(scores, n_boot=200),
            points=reader_points(fake.reads(), fake.truth()),
            aucs=roc_aucs(scores),
            arm_labels=fake.ARM_LABELS,
        )
    elif kind == "calibration":
        fig = calibration_figure(reliability_bins(scores), arm_labels=fake.ARM_LABELS)
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


def test_gradcam_npz_round_trip_and_bad_file(tmp_path):
    data = fake.gradcam(n=2, size=32)
    np.savez(tmp_path / "cam.npz", **data)
    loaded = load_gradcam(tmp_path / "cam.npz")
    assert loaded["bmode"].shape == (2, 32, 32)
    del data["cam_ceus"]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match=r"bad\.npz: Grad-CAM file lacks key\(s\) \['cam_ceus'\]"):
        load_gradcam(tmp_path / "bad.npz")


def test_missing_curve_column_is_named(scores):
    with pytest.raises(InputError, match="curves lacks required column\\(s\\) 'tpr'"):
        roc_figure(roc_curves(scores).drop(columns="tpr"))
    with pytest.raises(InputError, match="bins lacks required column\\(s\\) 'observed'"):
        calibration_figure(reliability_bins(scores).drop(columns="observed"))
