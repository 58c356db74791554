"""``report.md``: the study on one page, every number formatted from a table file.

Each helper returns one markdown section (a string); :func:`render_report` joins them.
Numbers are taken from the same DataFrames that were written as ``tables/*.csv`` (read
them back from the files) and formatted by the same code as the LaTeX tables; each
section names its source file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studykit.report._format import fmt_ci, fmt_p
from studykit.report.flow import FlowCounts
from studykit.report.tables import PERCENT_METRICS, TableStyle, format_table
from studykit.stats import _columns as C  # result column names: the part of stats report may use
from studykit.vocab import ci_label

__all__ = [
    "cohort_section",
    "comparisons_section",
    "decision_curve_section",
    "design_section",
    "figures_section",
    "mrmc_section",
    "performance_section",
    "provenance_section",
    "render_report",
]


def render_report(title: str, *sections: str) -> str:
    """Join a ``# title`` and the non-empty ``sections`` into one markdown document."""
    parts = [f"# {title}\n"] + [s.rstrip() + "\n" for s in sections if s and s.strip()]
    return "\n".join(parts)


def _source(path: str) -> str:
    return f"\n<sub>Source: `{path}`.</sub>\n"


def cohort_section(
    counts: FlowCounts, *, n_images: int | None = None, source: str = "tables/table2_histology.csv"
) -> str:
    """Cohort paragraph: records, exclusions with reasons, included patients by class."""
    reasons = "; ".join(f"{r}, n = {n}" for r, n in counts.excluded.items())
    classes = " and ".join(f"{n} {name}" for name, n in counts.reference.items())
    text = (
        f"Of {counts.records} records, {counts.n_excluded} were excluded"
        + (f" ({reasons})" if reasons else "")
        + f"; {counts.included} patients were included: {classes}"
    )
    text += f", with {n_images} images." if n_images is not None else "."
    return "## Cohort\n\n" + text + "\n" + _source(source)


def design_section(design: Mapping[str, Any]) -> str:
    """Design as a bullet list (folds, validation, unit, aggregation, seeds …), in the given order."""
    lines = [f"- **{k.replace('_', ' ')}**: {v}" for k, v in design.items()]
    return "## Design\n\n" + "\n".join(lines) + "\n"


def performance_section(
    table3: pd.DataFrame,
    *,
    decimals: int = 3,
    arm_labels: Mapping[str, str] | None = None,
    percent_metrics: Sequence[str] = PERCENT_METRICS,
    source: str = "tables/table3_performance.csv",
) -> str:
    """Table 3 as a markdown table, formatted exactly as ``tables/table3_performance.tex``."""
    style = TableStyle(decimals, tuple(percent_metrics), arm_labels)
    display = format_table(table3, "table3_performance", style)
    notes = " ".join(display.notes)
    return (
        "## Diagnostic performance (Table 3)\n\n" + display.to_markdown() + f"\n{notes}\n" + _source(source)
    )


def comparisons_section(
    comparisons: pd.DataFrame,
    *,
    decimals: int = 3,
    arm_labels: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    source: str = "tables/comparisons.csv",
) -> str:
    """Key comparisons as sentences: difference (CI), p and Holm p, significant ones first."""
    style = TableStyle(decimals, PERCENT_METRICS, arm_labels)
    p_col = "p_adjusted" if "p_adjusted" in comparisons.columns else "p"
    order = comparisons.sort_values(p_col, kind="stable")
    lines = []
    for _, r in order.iterrows():
        metric = style.metric(r.get("metric", "auc"))
        scale, dec = (
            (100.0, max(decimals - 2, 0)) if str(r.get("metric")) in PERCENT_METRICS else (1.0, decimals)
        )
        p_text = f"p = {fmt_p(r['p'], decimals)}".replace("= <", "<")
        if p_col == "p_adjusted":
            p_text += f", Holm p = {fmt_p(r['p_adjusted'], decimals)}".replace("= <", "<")
        flag = " **(significant)**" if r[p_col] < alpha else ""
        lines.append(
            f"- {style.arm(r['arm_a'])} vs {style.arm(r['arm_b'])}, {metric} difference "
            f"{fmt_ci(r['estimate'], r['ci_low'], r['ci_high'], dec, scale=scale)}; {p_text}{flag}"
        )
    return "## Key comparisons\n\n" + "\n".join(lines) + "\n" + _source(source)


def mrmc_section(
    mrmc: pd.DataFrame,
    *,
    decimals: int = 3,
    arm_labels: Mapping[str, str] | None = None,
    analysis: str = "RRRC",
    source: str = "tables/mrmc.csv",
) -> str:
    """The MRMC paragraph: each model arm against each reader panel, readers and cases random.

    One sentence per (reader group, model arm) from the ``analysis`` rows (random-reader
    random-case by default): the panel's mean reader AUC, the model's AUC, the mean
    reader-minus-model difference (CI), the test statistic with its Hillis df and p.
    """
    rows = mrmc[mrmc["analysis"] == analysis] if "analysis" in mrmc.columns else mrmc
    if rows.empty:
        return ""
    style = TableStyle(decimals, PERCENT_METRICS, arm_labels)
    first = rows.iloc[0]
    rating = "confidence scores" if str(first.get("rating", "score")) == "score" else "binary calls"
    lines = []
    for _, r in rows.iterrows():
        p_text = f"p = {fmt_p(r['p'], decimals)}".replace("= <", "<")
        lines.append(
            f"- {style.arm(r['arm_a'])} ({int(r['n_readers'])} readers, mean AUC "
            f"{r['auc_readers']:.{decimals}f}) vs "
            f"{style.arm(r['arm_b'])} (AUC {r['auc_model']:.{decimals}f}): readers − model "
            f"{fmt_ci(r['estimate'], r['ci_low'], r['ci_high'], decimals)}, "
            f"t = {r['statistic']:.2f}, df = {r['df']:.1f}, {p_text}"
        )
    intro = (
        f"Multi-reader multi-case analysis of each model arm against each reader panel "
        f"({analysis}: readers and patients treated as random samples; Obuchowski–Rockette with "
        f"Hillis (2007) degrees of freedom; the readers' individual {rating}, patient level; the "
        f"model enters as a standalone reader). A positive difference favours the readers."
    )
    return "## Reader study (MRMC)\n\n" + intro + "\n\n" + "\n".join(lines) + "\n" + _source(source)


def decision_curve_section(
    table: pd.DataFrame,
    *,
    figure: str | None = None,
    source: str = "tables/decision_curve.csv",
) -> str:
    """The decision-curve paragraph: what was compared, over which threshold probabilities, the figure.

    ``table`` is the ``decision_curve`` table (``threshold``, ``arm_kind``, ``ci_level``);
    ``figure`` the figure's path relative to report.md (PNG shown inline).
    """
    grid = np.sort(pd.unique(table[C.THRESHOLD].astype(float)))
    readers = C.KIND_READERS in set(table[C.ARM_KIND])
    level = ci_label(float(table[C.CI_LEVEL].iloc[0])) if C.CI_LEVEL in table.columns else ci_label(0.95)
    what = "each model arm's patient-level probability of malignancy (treat when it reaches p_t)"
    if readers:
        what += " and of each reader panel's majority-vote call (treat when called malignant)"
    text = (
        f"Net benefit (true positives per patient; Vickers & Elkin 2006) of {what}, against treating "
        f"all and treating no patient, at {_threshold_range(grid)}. A strategy is worth using at p_t "
        f"when its net benefit exceeds both treat all and treat none. Shaded bands"
        + (" and error bars" if readers else "")
        + f": pointwise percentile bootstrap ({level})."
    )
    if readers:
        text += (" A reader panel's call is one binary test, the same at every p_t; its markers show its "
                 "net benefit TP/n − FP/n · p_t/(1 − p_t) at a subset of the thresholds (all in the table).")
    shown = f"\n![Decision curve]({figure})\n" if figure else ""
    return "## Decision curve analysis\n\n" + text + "\n" + shown + _source(source)


def _threshold_range(grid: np.ndarray) -> str:
    """``"99 threshold probabilities p_t from 0.01 to 0.99 in steps of 0.01"`` (settings: not rounded)."""
    text = f"{grid.size} threshold probabilit{'y' if grid.size == 1 else 'ies'} p_t"
    if grid.size == 1:
        return f"{text} = {_setting(grid[0])}"
    steps = np.diff(grid)
    regular = bool(np.allclose(steps, steps[0], rtol=0, atol=1e-9))
    text += f" from {_setting(grid[0])} to {_setting(grid[-1])}"
    return text + (f" in steps of {_setting(steps[0])}" if regular else "")


def _setting(value: float) -> str:
    return f"{round(float(value), 10):g}"


def figures_section(figures: Mapping[str, str]) -> str:
    """Figure links: caption → relative path (PNG shown inline)."""
    lines = [f"![{caption}]({path})\n\n*{caption}*\n" for caption, path in figures.items()]
    return "## Figures\n\n" + "\n".join(lines)


def provenance_section(provenance: Mapping[str, Any]) -> str:
    """Provenance block: versions, seeds, git commit, input hashes, device, wall time.

    ``provenance`` is a (possibly nested) mapping, e.g. ``{"versions": {"python": "3.11.7",
    "torch": …}, "seeds": {…}, "git_commit": "…", "inputs": {path: sha256}, "device": "cpu",
    "wall_time_s": 312.4}``; nested mappings become indented lists, in the given order.
    """
    return "## Provenance\n\n" + "\n".join(_bullets(provenance, 0)) + "\n"


def _bullets(mapping: Mapping[str, Any], depth: int) -> list[str]:
    lines = []
    pad = "  " * depth
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}- **{key}**:")
            lines.extend(_bullets(value, depth + 1))
        else:
            lines.append(f"{pad}- **{key}**: `{value}`")
    return lines
