"""STARD-style patient flow diagram.

:func:`flow_figure` draws the boxes and arrows of :class:`~studykit.vocab.FlowCounts` (counted
by the study's :meth:`~studykit.cohort.Cohort.flow_counts`, or from a manifest DataFrame by
:func:`studykit.analysis.flow_counts`): records → excluded (reasons, counts) → included →
reference standard (benign / malignant) → index test result within each, when given.

Reference: Cohen JF et al. (2016). STARD 2015 guidelines for reporting diagnostic
accuracy studies. BMJ Open 6:e012799. doi:10.1136/bmjopen-2016-012799
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from studykit.report.style import SINGLE_COLUMN, figure_style
from studykit.vocab import FlowCounts

__all__ = ["FlowCounts", "flow_figure"]


def flow_figure(
    counts: FlowCounts,
    *,
    records_text: str = "Records assessed for eligibility",
    index_test_name: str = "Index test",
) -> Figure:
    """Draw the STARD flow diagram of ``counts`` (matplotlib boxes and arrows)."""
    excl = "\n".join(f"\u2022 {r} (n = {n})" for r, n in counts.excluded.items()) or "\u2022 none"
    lines_excl = 1 + max(len(counts.excluded), 1)
    has_index = bool(counts.index_test)
    height = 3.0 + 0.13 * lines_excl + (0.75 if has_index else 0)
    with figure_style():
        width = SINGLE_COLUMN * 1.55
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        top = 20.0
        y_rec = _box(ax, 3.0, top, f"{records_text}\n(n = {counts.records})")
        y_exc = y_rec - 0.55
        y_exc_bottom = _box(
            ax, 7.45, y_exc, f"Excluded (n = {counts.n_excluded})\n{excl}", width=4.9, align="left"
        )
        y_inc = min(y_exc_bottom - 0.35, y_rec - 1.1)
        _arrow(ax, (3.0, y_rec), (3.0, y_inc))
        _arrow(ax, (3.0, (y_exc + y_exc_bottom) / 2), (4.98, (y_exc + y_exc_bottom) / 2))
        y_inc_bottom = _box(ax, 3.0, y_inc, f"Included (n = {counts.included})")
        lowest = _classes(ax, counts, y_inc_bottom, index_test_name)
        ax.set(xlim=(0, 10), ylim=(lowest - 0.1, top + 0.1))
        ax.axis("off")
        fig.set_size_inches(width, width * (top + 0.2 - lowest) / 10)
    return fig


def _classes(ax, counts: FlowCounts, y_from: float, index_test_name: str) -> float:
    """Draw the reference-standard and index-test boxes; return the lowest y drawn."""
    xs = (1.75, 5.25)
    lowest = y_from
    y_ref = y_from - 0.7
    for x, (name, n) in zip(xs, counts.reference.items(), strict=True):
        _elbow(ax, (3.0, y_from), (x, y_ref))
        bottom = _box(ax, x, y_ref, f"Reference standard:\n{name} (n = {n})", width=3.3)
        if name in counts.index_test:
            calls = counts.index_test[name]
            text = "\n".join(f"{index_test_name} {k} (n = {v})" for k, v in calls.items())
            _arrow(ax, (x, bottom), (x, bottom - 0.45))
            bottom = _box(ax, x, bottom - 0.45, text, width=3.3)
        lowest = min(lowest, bottom)
    return lowest


def _box(ax, x: float, y_top: float, text: str, *, width: float = 3.6, align: str = "center") -> float:
    """A rounded box centred at ``x`` hanging from ``y_top``; returns its bottom y."""
    n_lines = text.count("\n") + 1
    h = 0.22 + 0.2 * n_lines
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y_top - h),
            width,
            h,
            boxstyle="round,pad=0,rounding_size=0.08",
            fc="white",
            ec="0.2",
            lw=0.7,
        )
    )
    tx = x if align == "center" else x - width / 2 + 0.12
    ax.text(tx, y_top - h / 2, text, ha=align, va="center", fontsize=6.5, linespacing=1.35)
    return y_top - h


def _arrow(ax, start, end) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "lw": 0.7,
            "color": "0.2",
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 7,
        },
    )


def _elbow(ax, start, end) -> None:
    mid = (start[1] + end[1]) / 2
    ax.plot([start[0], start[0], end[0]], [start[1], mid, mid], color="0.2", lw=0.7)
    _arrow(ax, (end[0], mid), end)
