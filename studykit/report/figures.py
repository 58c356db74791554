"""Figures: ROC curves with CI bands and reader points, calibration, and the Grad-CAM panel.

Every function returns a matplotlib :class:`~matplotlib.figure.Figure`; save it with
:func:`studykit.report.style.save_figure` (PNG + PDF, deterministic bytes). The flow
diagram lives in :mod:`studykit.report.flow`.

ROC confidence band
-------------------
Pointwise percentile band of sensitivity at fixed specificities (a grid of 101 values),
from ``n_boot`` bootstrap replicates stratified by class (positives and negatives
resampled separately, as pROC's ``ci.se(boot.stratified = TRUE)``), seeded and vectorised.
At specificity sp the replicate's sensitivity is that of the lowest threshold keeping at
least ⌈sp·n⌉ negatives below it, i.e. the fraction of positives scoring above the
⌈sp·n⌉-th smallest negative score. The band is pointwise, not simultaneous, and resamples
patients: pass one score per patient.

References
----------
Robin X et al. (2011). pROC. BMC Bioinformatics 12:77. doi:10.1186/1471-2105-12-77
Okabe M, Ito K (2008). Color universal design. https://jfly.uni-koeln.de/color/
Selvaraju RR et al. (2017). Grad-CAM. ICCV, 618–626. doi:10.1109/ICCV.2017.74
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from studykit import stats
from studykit.errors import InputError
from studykit.report._format import require_columns
from studykit.report.style import DOUBLE_COLUMN, OKABE_ITO, SINGLE_COLUMN, figure_style
from studykit.vocab import ci_label

__all__ = [
    "GRADCAM_KEYS",
    "calibration_figure",
    "gradcam_figure",
    "load_gradcam",
    "reader_points",
    "roc_band",
    "roc_figure",
]

#: Keys of the Grad-CAM ``.npz`` written by the train layer.
GRADCAM_KEYS = ("bmode", "ceus", "cam_bmode", "cam_ceus", "image_ids", "labels")
_READER_COLORS = ("#CC79A7", "#000000", "#E69F00", "#56B4E9")
_READER_MARKERS = ("D", "s", "^", "v")


def roc_band(
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    specificity: np.ndarray | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Pointwise bootstrap CI of sensitivity at fixed specificities (stratified, seeded).

    Returns ``specificity, sensitivity, ci_low, ci_high`` (one row per grid value);
    ``sensitivity`` is the empirical curve's at that specificity.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    grid = np.linspace(0, 1, 101) if specificity is None else np.asarray(specificity, float)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        raise InputError("the ROC band needs positives and negatives; y_true holds one class", field="y_true")
    rng = np.random.default_rng(seed)
    boot_pos = np.sort(pos[rng.integers(0, pos.size, (n_boot, pos.size))], axis=1)
    boot_neg = np.sort(neg[rng.integers(0, neg.size, (n_boot, neg.size))], axis=1)
    sens = _sens_at(boot_pos, boot_neg, grid)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(sens, [alpha, 1 - alpha], axis=0)
    point = _sens_at(np.sort(pos)[None], np.sort(neg)[None], grid)[0]
    return pd.DataFrame({"specificity": grid, "sensitivity": point, "ci_low": low, "ci_high": high})


def _sens_at(pos: np.ndarray, neg: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(B, G) sensitivity at each specificity of ``grid`` for sorted (B, m) and (B, n) scores."""
    b, m = pos.shape
    k = np.ceil(grid * neg.shape[1] - 1e-9).astype(int)
    cut = np.where(k > 0, neg[:, np.maximum(k - 1, 0)], -np.inf)  # (B, G)
    values = np.unique(np.concatenate([pos.ravel(), cut.ravel()]))
    width = values.size + 1
    offset = np.arange(b)[:, None] * width
    keys_pos = (np.searchsorted(values, pos) + offset).ravel()
    keys_cut = np.searchsorted(values, cut) + offset
    at_or_below = np.searchsorted(keys_pos, keys_cut, side="right") - np.arange(b)[:, None] * m
    return (m - at_or_below) / m


def reader_points(
    reads: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    confidence: float = 0.95,
    majority_id: str = "majority",
    tie: str = "positive",
) -> pd.DataFrame:
    """Each reader's and each group's majority-vote operating point with Wilson CIs.

    Parameters
    ----------
    reads : DataFrame
        ``reader_id, group, patient_id, call`` (call 0/1). Rows whose ``reader_id`` is
        ``majority_id`` are taken as the group's vote; without them the vote is computed
        with :func:`studykit.stats.majority_vote` (``tie`` rule).
    truth : DataFrame
        ``patient_id, label`` (label 0/1).

    Returns
    -------
    ``group, reader_id, majority`` (bool), ``sensitivity, sens_ci_low, sens_ci_high,
    specificity, spec_ci_low, spec_ci_high, n``.
    """
    require_columns(reads, "reads", ["reader_id", "group", "patient_id", "call"])
    require_columns(truth, "truth", ["patient_id", "label"])
    label = truth.set_index("patient_id")["label"]
    rows = []
    for group, part in reads.groupby("group", sort=False):
        votes = part[part["reader_id"] == majority_id]
        if votes.empty:
            votes = stats.majority_vote(part, "patient_id", "reader_id", "call", tie=tie).assign(
                reader_id=majority_id
            )
        for reader, calls in pd.concat([part[part["reader_id"] != majority_id], votes]).groupby(
            "reader_id", sort=False
        ):
            y = label.loc[calls["patient_id"]].to_numpy()
            dm = stats.diagnostic_metrics(y, calls["call"].to_numpy(), confidence=confidence).set_index(
                "metric"
            )
            rows.append(
                {
                    "group": group,
                    "reader_id": reader,
                    "majority": reader == majority_id,
                    **_point(dm, "sensitivity", "sens"),
                    **_point(dm, "specificity", "spec"),
                    "n": len(y),
                }
            )
    return pd.DataFrame(rows)


def _point(dm: pd.DataFrame, metric: str, short: str) -> dict:
    r = dm.loc[metric]
    return {metric: r["estimate"], f"{short}_ci_low": r["ci_low"], f"{short}_ci_high": r["ci_high"]}


def roc_figure(
    scores: pd.DataFrame,
    *,
    points: pd.DataFrame | None = None,
    aucs: pd.DataFrame | None = None,
    score: str = "prob_malignant",
    label: str = "label",
    arm: str = "arm",
    arm_labels: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    decimals: int = 3,
) -> Figure:
    """ROC curves of all model arms with pointwise CI bands, and reader operating points.

    Parameters
    ----------
    scores : DataFrame
        One row per patient and arm: ``arm``, ``label`` (0/1) and ``score`` columns.
    points : DataFrame, optional
        :func:`reader_points` output: individual readers as small hollow markers, each
        group's majority vote as a large filled marker with sensitivity/specificity CI crosses.
    aucs : DataFrame, optional
        Rows with ``arm, estimate, ci_low, ci_high`` (Table 3; filtered to ``metric ==
        "auc"`` and ``unit == "patient"`` when those columns exist) for the legend;
        computed with :func:`studykit.stats.roc_auc` (DeLong) when not given.
    """
    require_columns(scores, "scores", [arm, label, score])
    names = dict(arm_labels or {})
    legend_auc = _legend_aucs(scores, aucs, arm, label, score, confidence)
    with figure_style():
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, SINGLE_COLUMN))
        ax.plot([0, 1], [0, 1], color="0.75", lw=0.7, ls=(0, (4, 3)), zorder=0)
        for i, (name, part) in enumerate(scores.groupby(arm, sort=False)):
            color = OKABE_ITO[i % 3] if i < 3 else OKABE_ITO[i % len(OKABE_ITO)]
            _draw_arm(
                ax,
                part[label].to_numpy(),
                part[score].to_numpy(),
                color,
                _auc_text(names.get(str(name), str(name)), legend_auc.get(name), decimals),
                n_boot=n_boot,
                confidence=confidence,
                seed=seed + i,
            )
        if points is not None:
            _draw_readers(ax, points, names)
        _roc_axes(ax, confidence)
    return fig


def _legend_aucs(scores, aucs, arm, label, score, confidence) -> dict:
    if aucs is None:
        return {
            name: stats.roc_auc(p[label], p[score], confidence=confidence).iloc[0]
            for name, p in scores.groupby(arm, sort=False)
        }
    sel = aucs
    for column, value in (("metric", "auc"), ("unit", "patient")):
        if column in sel.columns:
            sel = sel[sel[column] == value]
    return {r["arm"]: r for _, r in sel.iterrows()}


def _auc_text(name: str, row, decimals: int) -> str:
    if row is None:
        return name
    return f"{name}  {row['estimate']:.{decimals}f} ({row['ci_low']:.2f}\u2013{row['ci_high']:.2f})"


def _draw_arm(ax, y, s, color, text, *, n_boot, confidence, seed) -> None:
    band = roc_band(y, s, n_boot=n_boot, confidence=confidence, seed=seed)
    curve = stats.roc_curve(y, s)
    band = band.iloc[::-1]
    ax.fill_between(1 - band["specificity"], band["ci_low"], band["ci_high"], color=color, alpha=0.14, lw=0)
    ax.step(curve["fpr"], curve["tpr"], where="post", color=color, lw=1.3, label=text)


def _draw_readers(ax, points: pd.DataFrame, names: Mapping[str, str]) -> None:
    for i, (group, part) in enumerate(points.groupby("group", sort=False)):
        color, marker = _READER_COLORS[i % 4], _READER_MARKERS[i % 4]
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


def calibration_figure(
    scores: pd.DataFrame,
    *,
    score: str = "prob_malignant",
    label: str = "label",
    arm: str = "arm",
    arm_labels: Mapping[str, str] | None = None,
    n_bins: int = 10,
) -> Figure:
    """Reliability curves per arm (equal-width bins, Wilson 95% CIs) over a histogram of counts.

    A point is (mean predicted probability, observed fraction malignant) of one bin; bins
    with no cases are skipped. The lower panel shows how many cases fall in each bin.
    """
    require_columns(scores, "scores", [arm, label, score])
    names = dict(arm_labels or {})
    edges = np.linspace(0, 1, n_bins + 1)
    with figure_style():
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(SINGLE_COLUMN, SINGLE_COLUMN * 1.25),
            sharex=True,
            gridspec_kw={"height_ratios": (3, 1), "hspace": 0.08},
        )
        top.plot([0, 1], [0, 1], color="0.6", lw=0.7, ls=(0, (4, 3)), label="Perfect calibration")
        groups = list(scores.groupby(arm, sort=False))
        width = 1 / n_bins / (len(groups) + 1)
        for i, (name, part) in enumerate(groups):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            table = _reliability(part[label].to_numpy(), part[score].to_numpy(), edges)
            shown = table.dropna()
            top.errorbar(
                shown["predicted"],
                shown["observed"],
                yerr=shown[["err_low", "err_high"]].T.to_numpy().clip(0),
                color=color,
                marker="o",
                ms=3,
                lw=1,
                elinewidth=0.6,
                capsize=1.2,
                label=names.get(str(name), str(name)),
            )
            bottom.bar(edges[:-1] + width * (i + 0.5), table["all"], width=width, color=color, align="edge")
        top.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="Observed fraction malignant")
        top.legend(loc="upper left")
        top.grid(color="0.92", lw=0.5)
        bottom.set(xlabel="Predicted probability of malignancy", ylabel="Cases")
    return fig


def _reliability(y: np.ndarray, p: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1
    n = np.bincount(idx, minlength=nb)
    k = np.bincount(idx, weights=y.astype(float), minlength=nb)
    mean_p = np.bincount(idx, weights=p, minlength=nb)
    z = 1.959963984540054
    with np.errstate(invalid="ignore", divide="ignore"):
        obs, pred = k / n, mean_p / n
        centre = (k + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(k * (n - k) / n + z * z / 4)
    return _full_bins(pred, obs, centre, half, n)


def _full_bins(pred, obs, centre, half, n) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "predicted": pred,
            "observed": obs,
            "err_low": obs - (centre - half),
            "err_high": centre + half - obs,
            "all": n,
        }
    )
    frame.loc[n == 0, ["predicted", "observed", "err_low", "err_high"]] = np.nan
    return frame


def load_gradcam(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check a Grad-CAM ``.npz`` (keys :data:`GRADCAM_KEYS`; see :func:`gradcam_figure`)."""
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
