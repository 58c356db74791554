"""Figures: produced as PNG + PDF, non-trivial, byte-identical on re-render; their input checks.

The figures draw tables of studykit.analysis.curves (tested in tests/analysis/test_curves.py)."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection

from studykit.analysis import reader_points, reliability_bins, roc_aucs, roc_bands, roc_curves
from studykit.errors import InputError
from studykit.report import (
    attention_figure,
    calibration_figure,
    decision_curve_figure,
    gradcam_figure,
    load_gradcam,
    roc_figure,
    save_figure,
    tic_figure,
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


def _tic_summary() -> pd.DataFrame:
    """Two groups × two regions on a 3-point grid; benign's first lesion point has n = 1 (no band)."""
    rows = []
    for group, scale in (("benign", 1.0), ("malignant", 2.0)):
        for region, shape in (("lesion", [0.0, 1.0, 0.5]), ("cortex", [0.0, 0.8, 0.4])):
            for t, m in zip((0.0, 2.0, 4.0), shape):
                n = 1 if (group, region, t) == ("benign", "lesion", 0.0) else 3
                low, high = (np.nan, np.nan) if n == 1 else (scale * m - 0.1, scale * m + 0.1)
                rows.append({"group": group, "region": region, "time_s": t, "n": n, "mean": scale * m,
                             "sd": 0.1, "ci_low": low, "ci_high": high, "ci_level": 0.95})
    return pd.DataFrame(rows)


def _tic_examples() -> pd.DataFrame:
    """Two patients' observed points; only RC0001 has fitted curves."""
    rows = []
    for pid, group, fitted in (("RC0001", "benign", True), ("RC0002", "malignant", False)):
        for region in ("lesion", "cortex"):
            for t, v in ((0.0, 0.1), (2.0, 1.0), (4.0, 0.6)):
                rows.append({"patient_id": pid, "group": group, "time_s": t, "region": region, "intensity": v,
                             "fitted": v * 0.9 if fitted else np.nan})
    return pd.DataFrame(rows)


def test_tic_figure_draws_a_line_and_band_per_group_and_region(tmp_path):
    summary = _tic_summary()
    fig = tic_figure(summary, group_labels={"malignant": "Malignant"})
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["benign (n = 3)", "_benign, cortex", "Malignant (n = 3)", "_Malignant, cortex"]
    assert lines["benign (n = 3)"].get_linestyle() == "-" and lines["_benign, cortex"].get_linestyle() == "--"
    assert lines["benign (n = 3)"].get_color() != lines["Malignant (n = 3)"].get_color()
    assert lines["_Malignant, cortex"].get_color() == lines["Malignant (n = 3)"].get_color()
    np.testing.assert_array_equal(lines["Malignant (n = 3)"].get_ydata(), [0.0, 2.0, 1.0])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["benign (n = 3)", "Malignant (n = 3)", "lesion", "cortex"]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 4
    assert ax.get_ylabel() == "Intensity relative to the cortex peak"
    assert ax.get_title(loc="right") == "mean, 95% CI bands"
    first = save_figure(fig, tmp_path / "a" / "tic")
    second = save_figure(tic_figure(summary), tmp_path / "b" / "tic")
    assert [p.suffix for p in first] == [".png", ".pdf"] and first[0].stat().st_size > 10_000
    again = save_figure(tic_figure(summary, group_labels={"malignant": "Malignant"}), tmp_path / "c" / "tic")
    assert first[0].read_bytes() == again[0].read_bytes() != second[0].read_bytes()


def test_attention_figure_draws_each_class_with_its_band_and_the_uniform_line(tmp_path):
    summary = pd.DataFrame({"group": [0, 0, 1, 1], "time_s": [5.0, 15.0, 5.0, 15.0], "n": [3, 2, 4, 1],
                            "mean": [0.8, 1.3, 1.1, 0.7], "ci_low": [0.5, 1.0, 0.9, np.nan],
                            "ci_high": [1.1, 1.6, 1.3, np.nan], "ci_level": 0.95})
    fig = attention_figure(summary, group_labels={"0": "benign", "1": "malignant"}, title="Sequence")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["benign (n ≤ 3)", "malignant (n ≤ 4)", "uniform"]
    np.testing.assert_array_equal(lines["malignant (n ≤ 4)"].get_ydata(), [1.1, 0.7])
    assert list(lines["uniform"].get_ydata()) == [1.0, 1.0] and lines["uniform"].get_linestyle() == "--"
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    assert ax.get_title(loc="left") == "Sequence" and ax.get_title(loc="right") == "mean, 95% CI bands"
    first = save_figure(fig, tmp_path / "a" / "attention")
    again = save_figure(attention_figure(summary, group_labels={"0": "benign", "1": "malignant"},
                                         title="Sequence"), tmp_path / "b" / "attention")
    assert first[0].read_bytes() == again[0].read_bytes()
    with pytest.raises(InputError, match="no rows"):
        attention_figure(summary.iloc[:0])


def test_tic_figure_panel_b_shows_observed_points_and_fitted_curves():
    fig = tic_figure(_tic_summary(), examples=_tic_examples())
    a, b = fig.axes
    assert a.get_title(loc="left") == "A" and b.get_title(loc="left") == "B"
    points = [c for c in b.collections if isinstance(c, PathCollection)]
    assert len(points) == 4  # 2 patients × 2 regions
    assert len(b.get_lines()) == 2  # RC0002 has no fit: its points only
    legend = [t.get_text() for t in b.get_legend().get_texts()]
    assert legend == ["RC0001 (benign)", "RC0002 (malignant)", "lesion", "cortex"]
    np.testing.assert_allclose(b.get_lines()[0].get_ydata(), [0.09, 0.9, 0.54])
    assert b.get_lines()[0].get_color() == a.get_lines()[0].get_color()  # its group's colour


def test_tic_figure_names_a_missing_column_and_refuses_an_empty_summary():
    with pytest.raises(InputError, match="summary lacks required column\\(s\\) 'ci_low'"):
        tic_figure(_tic_summary().drop(columns="ci_low"))
    with pytest.raises(InputError, match="examples lacks required column\\(s\\) 'fitted'"):
        tic_figure(_tic_summary(), examples=_tic_examples().drop(columns="fitted"))
    with pytest.raises(InputError, match="no patient has a time–intensity curve"):
        tic_figure(_tic_summary().iloc[:0])


def test_four_model_arms_never_share_a_colour_with_the_reader_markers(scores):
    """The demo draws four model arms beside two reader panels: before arm_colors the fourth
    arm took the junior panel's pink (Okabe–Ito's fourth colour)."""
    from matplotlib.colors import to_hex

    extra = scores[scores["arm"] == "muf_net"].assign(arm="perfusion")
    four = pd.concat([scores, extra], ignore_index=True)
    fig = roc_figure(roc_curves(four), points=reader_points(fake.reads(), fake.truth()))
    ax = fig.axes[0]
    curves = [to_hex(line.get_color()) for line in ax.get_lines() if line.get_label() in set(four["arm"])]
    markers = {to_hex(c) for col in ax.collections if isinstance(col, PathCollection)
               for c in list(col.get_edgecolor()) + list(col.get_facecolor()) if c[3] > 0}
    markers.discard("#ffffff")
    assert len(curves) == 4 and len(set(curves)) == 4
    assert markers and not set(curves) & markers
