"""The decision-curve figure: net benefit against threshold probability (Vickers & Elkin 2006).

:func:`decision_curve_figure` draws the ``decision_curve`` table that
:func:`studykit.analysis.decision_curve_table` computes; nothing here computes a statistic.

- **Model arms**: a line per arm with its pointwise bootstrap band (shaded).
- **Reader groups**: markers with their bootstrap band as error bars. A reader group's
  majority-vote call is one binary test, the same at every threshold; its net benefit still
  depends on p_t (NB = TP/n − FP/n · p_t / (1 − p_t)), so the markers trace that function at
  about ``reader_markers`` thresholds, each group at its own, interleaved, so the error bars
  of two groups never overlap.
- **Treat all** (grey) and **treat none** (black, at 0): the reference strategies.

The y-axis runs from just below 0 to just above the highest net benefit drawn (the
prevalence is the most any strategy can reach); treat all falls below the axis at high p_t.

References
----------
Vickers AJ, Elkin EB (2006). Decision curve analysis: a novel method for evaluating prediction
models. Med Decis Making 26:565–574. doi:10.1177/0272989X06295361
Vickers AJ, van Calster B, Steyerberg EW (2019). A simple, step-by-step guide to interpreting
decision curve analysis. Diagn Progn Res 3:18. doi:10.1186/s41512-019-0064-7
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from studykit.report.style import READER_COLORS, READER_MARKERS, SINGLE_COLUMN, arm_colors, figure_style
from studykit.stats import _columns as C  # result column names: the part of stats report may use
from studykit.vocab import ci_label, require_table_columns

__all__ = ["decision_curve_figure"]

_NEEDED = (C.ARM, C.ARM_KIND, C.THRESHOLD, C.ESTIMATE, C.CI_LOW, C.CI_HIGH)


def decision_curve_figure(
    table: pd.DataFrame,
    *,
    arm_labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    reader_markers: int = 10,
) -> Figure:
    """Net benefit of every arm against the threshold probability, with treat all and treat none.

    Parameters
    ----------
    table : DataFrame
        The ``decision_curve`` table: ``arm, arm_kind`` (model | readers | reference),
        ``threshold`` (p_t), ``estimate`` (net benefit, true positives per patient) and its
        bootstrap band ``ci_low, ci_high``; arms in order of appearance.
    arm_labels : mapping, optional
        Display names of the arms.
    confidence : float
        The bands' level, for the legend's title.
    reader_markers : int
        About how many thresholds each reader group is marked at.
    """
    require_table_columns(table, "decision_curve", _NEEDED,
                          hint="build it with studykit.analysis.decision_curve_table")
    names = dict(arm_labels or {})
    kinds = table.drop_duplicates(C.ARM).set_index(C.ARM)[C.ARM_KIND]
    readers = [arm for arm, kind in kinds.items() if kind == C.KIND_READERS]
    with figure_style():
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN * 1.25, SINGLE_COLUMN * 1.1))
        models = [a for a, kind in kinds.items() if kind == C.KIND_MODEL]
        for color, arm in zip(arm_colors(len(models), len(readers)), models, strict=True):
            _draw_model(ax, table[table[C.ARM] == arm], color, names.get(arm, arm))
        for i, arm in enumerate(readers):
            rows = _every_kth(table[table[C.ARM] == arm], reader_markers, i, len(readers))
            _draw_reader(ax, rows, i, names.get(arm, arm))
        _draw_references(ax, table)
        _axes(ax, table, confidence)
    return fig


def _draw_model(ax, rows: pd.DataFrame, color: str, label: str) -> None:
    x = rows[C.THRESHOLD].to_numpy(float)
    ax.fill_between(x, rows[C.CI_LOW].to_numpy(float), rows[C.CI_HIGH].to_numpy(float), color=color,
                    alpha=0.14, lw=0)
    ax.plot(x, rows[C.ESTIMATE].to_numpy(float), color=color, lw=1.3, label=label)


def _every_kth(rows: pd.DataFrame, about: int, group: int, groups: int) -> pd.DataFrame:
    """About ``about`` of ``rows`` at evenly spaced positions, group ``group`` of ``groups``
    starting at its own offset so that groups interleave."""
    k = max(1, round(len(rows) / max(about, 1)))
    start = (group * k) // max(groups, 1)
    return rows.iloc[start::k]


def _draw_reader(ax, rows: pd.DataFrame, i: int, label: str) -> None:
    est = rows[C.ESTIMATE].to_numpy(float)
    low, high = rows[C.CI_LOW].to_numpy(float), rows[C.CI_HIGH].to_numpy(float)
    ax.errorbar(rows[C.THRESHOLD].to_numpy(float), est, yerr=np.stack([est - low, high - est]).clip(0),
                fmt=READER_MARKERS[i % 4], ms=3.5, color=READER_COLORS[i % 4], mec="white", mew=0.5,
                elinewidth=0.7, capsize=1.2, lw=0, zorder=5, label=f"{label} (majority vote)")


def _draw_references(ax, table: pd.DataFrame) -> None:
    for arm, style in ((C.TREAT_ALL, {"color": "0.55", "lw": 1.0, "label": "Treat all"}),
                       (C.TREAT_NONE, {"color": "0.1", "lw": 0.8, "ls": (0, (4, 2)), "label": "Treat none"})):
        rows = table[table[C.ARM] == arm]
        if len(rows):
            ax.plot(rows[C.THRESHOLD].to_numpy(float), rows[C.ESTIMATE].to_numpy(float), zorder=1, **style)


def _axes(ax, table: pd.DataFrame, confidence: float) -> None:
    shown = table[table[C.ARM] != C.TREAT_ALL]
    top = float(np.nanmax(np.r_[shown[C.ESTIMATE].to_numpy(float), shown[C.CI_HIGH].to_numpy(float),
                                table[table[C.ARM] == C.TREAT_ALL][C.ESTIMATE].to_numpy(float)]))
    top = max(top, 0.01)
    x = table[C.THRESHOLD].to_numpy(float)
    ax.set(xlim=(x.min(), x.max()), ylim=(-0.12 * top, 1.08 * top), xlabel="Threshold probability",
           ylabel="Net benefit")
    ax.grid(color="0.92", lw=0.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, title=f"{ci_label(confidence)} bands",
              title_fontsize=6.5, handlelength=1.6, borderaxespad=0.0, labelspacing=0.35, columnspacing=1.2,
              frameon=False)
