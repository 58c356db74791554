"""Figures: ROC curves with CI bands and reader points, calibration, the Grad-CAM panel, the
mean time–intensity curves and a sequence arm's attention over time.

Every function draws tables computed elsewhere (:mod:`studykit.analysis.curves`: ROC curves,
bootstrap bands, legend AUCs, reader operating points, reliability bins;
:func:`studykit.analysis.tic_summary` and :func:`studykit.analysis.relative_tic`;
:func:`studykit.analysis.attention_over_time`) and returns a
matplotlib :class:`~matplotlib.figure.Figure`; save it with
:func:`studykit.report.style.save_figure` (PNG + PDF, deterministic bytes). Nothing here
computes a statistic. The flow diagram lives in :mod:`studykit.report.flow`.

References
----------
Okabe M, Ito K (2008). Color universal design. https://jfly.uni-koeln.de/color/
Selvaraju RR et al. (2017). Grad-CAM. ICCV, 618–626. doi:10.1109/ICCV.2017.74
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from studykit.errors import DataError, InputError, StudyError
from studykit.report.style import (
    DOUBLE_COLUMN,
    OKABE_ITO,
    READER_COLORS,
    READER_MARKERS,
    SINGLE_COLUMN,
    arm_colors,
    figure_style,
)
from studykit.vocab import ARM, GROUP, PATIENT, ci_label, require_table_columns

__all__ = ["GRADCAM_KEYS", "attention_figure", "calibration_figure", "gradcam_figure", "load_gradcam",
           "roc_figure", "tic_figure"]

#: Keys of the Grad-CAM ``.npz`` written by the train layer.
GRADCAM_KEYS = ("bmode", "ceus", "cam_bmode", "cam_ceus", "image_ids", "labels")


def roc_figure(
    curves: pd.DataFrame,
    *,
    bands: pd.DataFrame | None = None,
    points: pd.DataFrame | None = None,
    aucs: pd.DataFrame | None = None,
    arm_labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    decimals: int = 3,
) -> Figure:
    """ROC curves of all model arms with pointwise CI bands, and reader operating points.

    Parameters
    ----------
    curves : DataFrame
        ``arm, fpr, tpr`` (:func:`studykit.analysis.roc_curves`), drawn as steps, arms in order
        of appearance.
    bands : DataFrame, optional
        ``arm, specificity, ci_low, ci_high`` (:func:`studykit.analysis.roc_bands`), shaded.
    points : DataFrame, optional
        :func:`studykit.analysis.reader_points`: individual readers as small hollow markers,
        each group's majority vote as a large filled marker with sensitivity/specificity CI crosses.
    aucs : DataFrame, optional
        Rows with ``arm, estimate, ci_low, ci_high`` for the legend: Table 3 (filtered to
        ``metric == "auc"`` and ``unit == "patient"`` when those columns exist) or
        :func:`studykit.analysis.roc_aucs`; without it the legend names the arms only.
    confidence : float
        The bands' level, for the legend's title.
    """
    require_table_columns(curves, "curves", [ARM, "fpr", "tpr"])
    if bands is not None:
        require_table_columns(bands, "bands", [ARM, "specificity", "ci_low", "ci_high"])
    names = dict(arm_labels or {})
    legend_auc = _legend_aucs(aucs)
    with figure_style():
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, SINGLE_COLUMN))
        ax.plot([0, 1], [0, 1], color="0.75", lw=0.7, ls=(0, (4, 3)), zorder=0)
        groups = 0 if points is None else points[GROUP].nunique()
        colors = arm_colors(curves[ARM].nunique(), groups)
        for color, (name, curve) in zip(colors, curves.groupby(ARM, sort=False), strict=True):
            text = _auc_text(names.get(str(name), str(name)), legend_auc.get(name), decimals)
            band = None if bands is None else bands[bands[ARM] == name]
            _draw_arm(ax, curve, band, color, text)
        if points is not None:
            _draw_readers(ax, points, names)
        _roc_axes(ax, confidence)
    return fig


def _legend_aucs(aucs: pd.DataFrame | None) -> dict:
    if aucs is None:
        return {}
    sel = aucs
    for column, value in (("metric", "auc"), ("unit", "patient")):
        if column in sel.columns:
            sel = sel[sel[column] == value]
    return {r[ARM]: r for _, r in sel.iterrows()}


def _auc_text(name: str, row, decimals: int) -> str:
    if row is None:
        return name
    return f"{name}  {row['estimate']:.{decimals}f} ({row['ci_low']:.2f}\u2013{row['ci_high']:.2f})"


def _draw_arm(ax, curve: pd.DataFrame, band: pd.DataFrame | None, color, text) -> None:
    if band is not None and len(band):
        band = band.iloc[::-1]
        ax.fill_between(1 - band["specificity"], band["ci_low"], band["ci_high"], color=color, alpha=0.14,
                        lw=0)
    ax.step(curve["fpr"], curve["tpr"], where="post", color=color, lw=1.3, label=text)


def _draw_readers(ax, points: pd.DataFrame, names: Mapping[str, str]) -> None:
    require_table_columns(points, "points", [GROUP, "majority", "sensitivity", "specificity"])
    for i, (group, part) in enumerate(points.groupby(GROUP, sort=False)):
        color, marker = READER_COLORS[i % 4], READER_MARKERS[i % 4]
        label = names.get(str(group), str(group))
        singles, vote = part[~part["majority"]], part[part["majority"]]
        ax.scatter(
            1 - singles["specificity"],
            singles["sensitivity"],
            s=14,
            marker=marker,
            facecolor="white",
            edgecolor=color,
            lw=0.8,
            zorder=4,
            label=f"{label}: individual readers",
        )
        for _, r in vote.iterrows():
            ax.errorbar(
                1 - r["specificity"],
                r["sensitivity"],
                xerr=[[r["spec_ci_high"] - r["specificity"]], [r["specificity"] - r["spec_ci_low"]]],
                yerr=[[r["sensitivity"] - r["sens_ci_low"]], [r["sens_ci_high"] - r["sensitivity"]]],
                fmt=marker,
                ms=5,
                color=color,
                mec="white",
                mew=0.6,
                elinewidth=0.8,
                capsize=1.5,
                zorder=5,
                label=f"{label}: majority vote",
            )


def _roc_axes(ax, confidence: float) -> None:
    ax.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        aspect="equal",
        xlabel="1 \u2212 specificity (false-positive rate)",
        ylabel="Sensitivity (true-positive rate)",
    )
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(color="0.92", lw=0.5)
    leg = ax.legend(
        loc="lower right",
        title=f"AUC ({ci_label(confidence)})",
        title_fontsize=6.5,
        handlelength=1.6,
        borderaxespad=0.3,
        labelspacing=0.35,
        frameon=True,
        framealpha=0.92,
        edgecolor="0.85",
        facecolor="white",
    )
    leg._legend_box.align = "left"


def calibration_figure(bins: pd.DataFrame, *, arm_labels: Mapping[str, str] | None = None) -> Figure:
    """Reliability curves per arm (with their CIs) over a histogram of counts.

    ``bins``: :func:`studykit.analysis.reliability_bins` — per arm and bin ``bin_low``, ``n``,
    ``predicted``, ``observed``, ``ci_low``, ``ci_high``. A point is (mean predicted
    probability, observed fraction malignant) of one bin; empty bins are skipped. The lower
    panel shows how many cases fall in each bin.
    """
    require_table_columns(bins, "bins", [ARM, "bin_low", "n", "predicted", "observed", "ci_low", "ci_high"])
    names = dict(arm_labels or {})
    with figure_style():
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(SINGLE_COLUMN, SINGLE_COLUMN * 1.25),
            sharex=True,
            gridspec_kw={"height_ratios": (3, 1), "hspace": 0.08},
        )
        top.plot([0, 1], [0, 1], color="0.6", lw=0.7, ls=(0, (4, 3)), label="Perfect calibration")
        groups = list(bins.groupby(ARM, sort=False))
        for i, (name, table) in enumerate(groups):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            width = 1 / len(table) / (len(groups) + 1)
            shown = table.dropna(subset=["predicted", "observed", "ci_low", "ci_high"])
            errors = np.stack([shown["observed"] - shown["ci_low"], shown["ci_high"] - shown["observed"]])
            top.errorbar(
                shown["predicted"],
                shown["observed"],
                yerr=errors.clip(0),
                color=color,
                marker="o",
                ms=3,
                lw=1,
                elinewidth=0.6,
                capsize=1.2,
                label=names.get(str(name), str(name)),
            )
            edges = table["bin_low"].to_numpy()
            bottom.bar(edges + width * (i + 0.5), table["n"], width=width, color=color, align="edge")
        top.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="Observed fraction malignant")
        top.legend(loc="upper left")
        top.grid(color="0.92", lw=0.5)
        bottom.set(xlabel="Predicted probability of malignancy", ylabel="Cases")
    return fig


def load_gradcam(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check a Grad-CAM ``.npz`` (keys :data:`GRADCAM_KEYS`; see :func:`gradcam_figure`).

    A file that is not a whole ``.npz`` (truncated, edited) is a :class:`DataError` naming it."""
    try:
        return _read_gradcam(path)
    except StudyError:
        raise
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        hint = ("delete it: the next `studykit run PROTOCOL` writes it again from the unit's saved "
                "checkpoint (nothing is retrained).")
        raise DataError(f"is not a whole Grad-CAM .npz archive ({type(exc).__name__}): truncated or edited.",
                        file=str(path), hint=hint) from None


def _read_gradcam(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in GRADCAM_KEYS if k not in npz.files]
        if missing:
            raise InputError(
                f"Grad-CAM file lacks key(s) {missing}; it has {sorted(npz.files)}",
                file=str(path),
                hint="write it with the train layer's Grad-CAM export",
            )
        data = {k: npz[k] for k in npz.files}
    _check_gradcam(data, str(path))
    return data


def _check_gradcam(data: Mapping[str, np.ndarray], where: str | None = None) -> None:
    n = len(data["labels"])
    for key in GRADCAM_KEYS:
        arr = np.asarray(data[key])
        if len(arr) != n:
            raise InputError(
                f"Grad-CAM key '{key}' has {len(arr)} items, labels has {n}", file=where, field=key
            )
        if key in ("bmode", "ceus", "cam_bmode", "cam_ceus") and arr.ndim not in (3, 4):
            raise InputError(
                f"Grad-CAM key '{key}' must be N×H×W (or N×H×W×3), got shape {arr.shape}",
                file=where,
                field=key,
            )


def gradcam_figure(
    data: Mapping[str, np.ndarray],
    *,
    per_class: int = 2,
    class_names=("Benign", "Malignant"),
    alpha: float = 0.5,
    cmap: str = "inferno",
) -> Figure:
    """Grad-CAM panel: B-mode and CEUS crops, each with its heat overlay, benign then malignant rows.

    Parameters
    ----------
    data : mapping (e.g. :func:`load_gradcam`)
        ``bmode, ceus`` : N×H×W (uint8 0–255 or float 0–1; N×H×W×3 RGB also accepted);
        ``cam_bmode, cam_ceus`` : N×h×w float, any resolution (stretched over the crop
        with bilinear interpolation), normalised per map to [0, 1] for display;
        ``image_ids`` : N str; ``labels`` : N int (0 benign, 1 malignant).
        Optional ``probs`` : N float, the model's probability of malignancy, shown per row.
    per_class : int
        Rows per class (the first ``per_class`` examples of each label, in file order).
    """
    _check_gradcam(data)
    labels = np.asarray(data["labels"]).astype(int)
    rows = [i for c in (0, 1) for i in np.flatnonzero(labels == c)[:per_class]]
    if not rows:
        raise InputError("Grad-CAM data holds no examples", field="labels")
    with figure_style():
        fig, axes = plt.subplots(
            len(rows),
            4,
            figsize=(DOUBLE_COLUMN * 0.72, 1.3 * len(rows) + 0.5),
            squeeze=False,
            gridspec_kw={"wspace": 0.04, "hspace": 0.12},
        )
        for r, i in enumerate(rows):
            for c, (img, cam) in enumerate(
                (("bmode", None), ("bmode", "cam_bmode"), ("ceus", None), ("ceus", "cam_ceus"))
            ):
                image = _show(
                    axes[r, c], np.asarray(data[img][i]), None if cam is None else data[cam][i], alpha, cmap
                )
            axes[r, 0].set_ylabel(_row_title(data, i, class_names), fontsize=6.5, rotation=90, labelpad=3)
        for c, title in enumerate(("B-mode", "B-mode Grad-CAM", "CEUS", "CEUS Grad-CAM")):
            axes[0, c].set_title(title, fontsize=7.5, pad=3)
        cbar = fig.colorbar(image, ax=axes, orientation="horizontal", fraction=0.03, pad=0.02, aspect=40)
        cbar.set_label("Grad-CAM activation (normalised)", fontsize=6.5)
        cbar.ax.tick_params(labelsize=6)
    return fig


def _show(ax, img: np.ndarray, cam, alpha: float, cmap: str):
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    h, w = img.shape[:2]
    vmax = 255 if img.dtype == np.uint8 else 1.0
    ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, extent=(0, w, h, 0), interpolation="antialiased")
    if cam is None:
        return None
    cam = np.asarray(cam, dtype=float)
    span = np.ptp(cam)
    cam = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    return ax.imshow(
        cam, cmap=cmap, alpha=alpha, vmin=0, vmax=1, extent=(0, w, h, 0), interpolation="bilinear"
    )


def _row_title(data, i: int, class_names) -> str:
    title = f"{class_names[int(data['labels'][i])]}\n{data['image_ids'][i]}"
    if "probs" in data:
        title += f"\np = {float(data['probs'][i]):.2f}"
    return title


#: Line style of each region of a TIC (the lesion solid, the reference cortex dashed).
_REGION_STYLE = {"lesion": "-", "cortex": (0, (4, 2))}
_TIC_MARKERS = ("o", "s", "^", "D", "v", "P")
_TIC_YLABEL = "Intensity relative to the cortex peak"


def tic_figure(summary: pd.DataFrame, *, examples: pd.DataFrame | None = None,
               group_labels: Mapping[str, str] | None = None) -> Figure:
    """Mean time–intensity curve of each group with its band (A) and selected patients' fits (B).

    Parameters
    ----------
    summary : DataFrame
        :func:`studykit.analysis.tic_summary`: ``group, region, time_s, mean, ci_low, ci_high``
        (``n`` and ``ci_level`` used for the legend when present). One colour per group in
        order of appearance; the lesion solid, the cortex dashed, each mean with its band
        shaded where the limits are defined. The legend names each group once (with the
        lesion's largest ``n``) and the two line styles.
    examples : DataFrame, optional
        Observed and fitted curves of a few patients on the same scale, i.e. passed through
        :func:`studykit.analysis.relative_tic` (this function scales nothing): ``patient_id,
        time_s, region, intensity, fitted`` and optionally ``group`` (then the patient takes
        its group's colour of panel A and is named with it). Drawn in panel B: observed points
        (one marker per patient; lesion filled, cortex hollow) and the fitted curves where
        defined. Without it the figure has panel A only.
    group_labels : mapping, optional
        Group value → name shown in the legend.
    """
    require_table_columns(summary, "summary", [GROUP, "region", "time_s", "mean", "ci_low", "ci_high"])
    if summary.empty:
        raise InputError("summary has no rows: no patient has a time–intensity curve.", field="summary",
                         hint="check the perfusion table's status and reason columns.")
    if examples is not None:
        require_table_columns(examples, "examples", [PATIENT, "time_s", "region", "intensity", "fitted"])
    names = dict(group_labels or {})
    colors = {g: OKABE_ITO[i % len(OKABE_ITO)] for i, g in enumerate(pd.unique(summary[GROUP]))}
    with figure_style():
        if examples is None:
            fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, SINGLE_COLUMN * 0.8))
            axes = [ax]
        else:
            fig, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN, DOUBLE_COLUMN * 0.4))
        _draw_tic_means(axes[0], summary, names, colors)
        if examples is not None:
            _draw_tic_examples(axes[1], examples, names, colors)
            for ax, letter in zip(axes, "AB"):
                ax.set_title(letter, loc="left", fontweight="bold")
        for ax in axes:
            ax.set(xlabel="Time since injection (s)", ylabel=_TIC_YLABEL)
            ax.grid(color="0.92", lw=0.5)
            handles, labels = ax.get_legend_handles_labels()
            styles = [Line2D([], [], color="0.3", ls=ls) for ls in _REGION_STYLE.values()]
            ax.legend([*handles, *styles], [*labels, *_REGION_STYLE], loc="upper right", handlelength=2.2)
    return fig


def _draw_tic_means(ax, summary: pd.DataFrame, names: Mapping[str, str], colors: Mapping) -> None:
    level = summary["ci_level"].iloc[0] if "ci_level" in summary.columns else None
    for group, part in summary.groupby(GROUP, sort=False):
        color, name = colors[group], names.get(str(group), str(group))
        for region, rows in part.groupby("region", sort=False):
            rows = rows.sort_values("time_s")
            n = f" (n = {int(rows['n'].max())})" if "n" in rows.columns else ""
            label = f"{name}{n}" if region == "lesion" else f"_{name}, {region}"
            ax.plot(rows["time_s"], rows["mean"], color=color, ls=_REGION_STYLE.get(region, ":"), label=label)
            band = rows["ci_low"].notna() & rows["ci_high"].notna()
            ax.fill_between(rows["time_s"], rows["ci_low"], rows["ci_high"], where=band.to_numpy(),
                            color=color, alpha=0.16 if region == "lesion" else 0.08, lw=0)
    if level is not None:
        ax.set_title(f"mean, {ci_label(level)} bands", loc="right", fontsize=6.5)


def _draw_tic_examples(ax, examples: pd.DataFrame, names: Mapping[str, str], colors: Mapping) -> None:
    ax.set_title("points observed (cortex hollow), lines fitted", loc="right", fontsize=6.5)
    for i, (pid, part) in enumerate(examples.groupby(PATIENT, sort=False)):
        group = part[GROUP].iloc[0] if GROUP in part.columns else None
        color = colors.get(group, OKABE_ITO[i % len(OKABE_ITO)])
        marker = _TIC_MARKERS[i % len(_TIC_MARKERS)]
        label = f"{pid} ({names.get(str(group), str(group))})" if group is not None else str(pid)
        for region, rows in part.groupby("region", sort=False):
            rows = rows.sort_values("time_s")
            ax.scatter(rows["time_s"], rows["intensity"], s=10, marker=marker, lw=0.8, edgecolor=color,
                       facecolor=color if region == "lesion" else "white", zorder=3,
                       label=label if region == "lesion" else None)
            fitted = rows[rows["fitted"].notna()]
            if len(fitted):
                ax.plot(fitted["time_s"], fitted["fitted"], color=color, lw=1,
                        ls=_REGION_STYLE.get(region, ":"))


def attention_figure(summary: pd.DataFrame, *, group_labels: Mapping[str, str] | None = None,
                     title: str | None = None) -> Figure:
    """A sequence arm's mean relative attention per class against time since injection.

    ``summary``: :func:`studykit.analysis.attention_over_time` (``group, time_s, mean, ci_low,
    ci_high``; ``n`` and ``ci_level`` for the legend and the title when present). One line per
    group (Okabe–Ito colours in order of appearance) with its band where the limits are
    defined, and a dashed line at 1, uniform attention. ``group_labels``: group value → legend
    name (e.g. ``{"0": "benign", "1": "malignant"}``); ``title``: drawn at the top left.
    """
    require_table_columns(summary, "summary", [GROUP, "time_s", "mean", "ci_low", "ci_high"])
    if summary.empty:
        raise InputError("summary has no rows: no attention weight has a time since injection.",
                         field="summary", hint="the store's time_s needs the manifest's injection_s and "
                                               "the videos' frame timing.")
    names = {str(k): v for k, v in (group_labels or {}).items()}
    level = summary["ci_level"].iloc[0] if "ci_level" in summary.columns else None
    with figure_style():
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, SINGLE_COLUMN * 0.8))
        for i, (group, rows) in enumerate(summary.groupby(GROUP, sort=False)):
            rows = rows.sort_values("time_s")
            color = OKABE_ITO[i % len(OKABE_ITO)]
            n = f" (n ≤ {int(rows['n'].max())})" if "n" in rows.columns else ""
            ax.plot(rows["time_s"], rows["mean"], color=color, marker="o", ms=2.5,
                    label=f"{names.get(str(group), str(group))}{n}")
            band = rows["ci_low"].notna() & rows["ci_high"].notna()
            ax.fill_between(rows["time_s"], rows["ci_low"], rows["ci_high"], where=band.to_numpy(),
                            color=color, alpha=0.16, lw=0)
        ax.axhline(1.0, color="0.5", ls="--", lw=0.8, label="uniform")
        ax.set(xlabel="Time since injection (s)", ylabel="Relative attention (1 = uniform)")
        ax.grid(color="0.92", lw=0.5)
        ax.legend(loc="upper right")
        if title:
            ax.set_title(title, loc="left", fontweight="bold")
        if level is not None:
            ax.set_title(f"mean, {ci_label(level)} bands", loc="right", fontsize=6.5)
    return fig
