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
    decision_curve_figure,
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
    elif kind == "decision_curve":
        fig = decision_curve_figure(fake.decision_curve(scores, fake.reads()), arm_labels=fake.ARM_LABELS)
    else:
        fig = gradcam_figure(fake.gradcam(n=4, size=48), per_class=1)
    return save_figure(fig, path)


@pytest.mark.parametrize("kind", ["roc", "calibration", "decision_curve", "gradcam"])
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


def test_decision_curve_draws_models_as_lines_readers_as_markers(scores):
    table = fake.decision_curve(scores, fake.reads())
    fig = decision_curve_figure(table, arm_labels=fake.ARM_LABELS, reader_markers=10)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"B-mode-Net", "CEUS-Net", "MUF-Net", "Treat all", "Treat none"} <= set(lines)
    muf = table[table["arm"] == "muf_net"]
    np.testing.assert_array_equal(lines["MUF-Net"].get_ydata(), muf["estimate"].to_numpy())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Junior radiologists (majority vote)" in legend and "Senior radiologists (majority vote)" in legend
    junior, senior = (c for c in ax.containers if c.get_label().endswith("(majority vote)"))
    jx, sx = junior.lines[0].get_xdata(), senior.lines[0].get_xdata()
    assert len(jx) == len(sx) == 10 and not set(jx) & set(sx)  # 99 thresholds, every 10th, interleaved
    rows = table[table["arm"] == "junior"].set_index("threshold")
    np.testing.assert_array_equal(junior.lines[0].get_ydata(), rows.loc[jx, "estimate"].to_numpy())


def test_decision_curve_missing_column_is_named(scores):
    table = fake.decision_curve(scores, fake.reads()).drop(columns="arm_kind")
    with pytest.raises(InputError, match="decision_curve lacks required column\\(s\\) 'arm_kind'"):
        decision_curve_figure(table)
