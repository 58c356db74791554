"""Publication tables: every result table as an unrounded CSV and a booktabs LaTeX float.

``write_table(frame, name, out_dir)`` writes ``tables/<name>.csv`` (all columns, full
precision) and ``tables/<name>.tex``. The LaTeX layout comes from a registry keyed by the
table name (:data:`FORMATTERS`); names without a formatter (``folds``, ``calibration``,
``ceiling``, ``mrmc`` …) get the generic layout. The decision curve's LaTeX shows at most
:data:`DECISION_ROWS` threshold rows; its CSV holds them all. The ``.tex`` files are pure ASCII and
need only ``\\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from studykit.errors import InputError
from studykit.report._display import DisplayTable
from studykit.report._format import fmt_ci, fmt_count, fmt_number, fmt_p, percent_decimals
from studykit.stats import _columns as C  # the result column names: stats' only part report may use
from studykit.vocab import atomic_write, ci_label, require_table_columns

__all__ = ["FORMATTERS", "PERCENT_METRICS", "TableStyle", "format_table", "list_formatters", "write_table"]

#: Metrics shown as percentages by default (proportions in the CSV).
PERCENT_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv", "prevalence")
#: Column order and headings of Table 3 (metric → heading).
PERFORMANCE_COLUMNS = {
    "auc": "AUC",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
}
_METRIC_NAMES = {"auc": "AUC", "ppv": "PPV", "npv": "NPV", "icc": "ICC", "brier": "Brier score"}
_UNIT_NAMES = {"patient": "Patient level", "image": "Image level"}
_SUMMARY_KINDS = ("mean_sd", "median_iqr", "count_percent")


@dataclass(frozen=True)
class TableStyle:
    """How numbers are shown: ``decimals`` of estimates and p-values, percentage metrics,
    display names of arms (``{"muf_net": "MUF-Net"}``) and the columns of a generic table."""

    decimals: int = 3
    percent_metrics: tuple[str, ...] = PERCENT_METRICS
    arm_labels: Mapping[str, str] | None = None
    columns: tuple[str, ...] | None = None

    def arm(self, name: object) -> str:
        """Display name of an arm."""
        labels = self.arm_labels or {}
        return str(labels.get(str(name), name))

    def metric(self, name: object) -> str:
        """Display name of a metric (``ppv`` → ``PPV``, ``sensitivity`` → ``Sensitivity``)."""
        return _METRIC_NAMES.get(str(name), str(name).replace("_", " ").capitalize())


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    require_table_columns(frame, f"table '{name}'", columns,
                          hint=f"build '{name}' with studykit.analysis, which adds them")


def _sections(frame: pd.DataFrame, column: str = C.UNIT) -> list[tuple[str | None, pd.DataFrame]]:
    """Split ``frame`` by ``unit`` (in order of appearance) when it holds more than one."""
    if column not in frame.columns or frame[column].nunique(dropna=False) < 2:
        return [(None, frame)]
    return [(_UNIT_NAMES.get(str(u), str(u)), frame[frame[column] == u]) for u in pd.unique(frame[column])]


def _assemble(header: list[str], blocks: list[tuple[str | None, list[list[str]]]], **kw) -> DisplayTable:
    rows: list[list[str]] = []
    sections: dict[int, str] = {}
    for title, block in blocks:
        if title is not None:
            sections[len(rows)] = title
        rows.extend(block)
    return DisplayTable(header, rows, sections=sections, **kw)


def format_performance(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Table 3: one row per arm, AUC (CI) then the percentages with their CIs."""
    _require(frame, "table3_performance", [C.ARM, C.METRIC, C.ESTIMATE, C.CI_LOW, C.CI_HIGH])
    metrics = [m for m in PERFORMANCE_COLUMNS if m in set(frame[C.METRIC])]
    header = ["Arm"] + [
        PERFORMANCE_COLUMNS[m] + (", %" if m in style.percent_metrics else "") for m in metrics
    ]
    blocks = []
    for title, part in _sections(frame):
        body = []
        for arm in pd.unique(part[C.ARM]):
            rows = part[part[C.ARM] == arm].drop_duplicates(C.METRIC).set_index(C.METRIC)
            body.append([style.arm(arm)] + [_metric_cell(rows, m, style) for m in metrics])
        blocks.append((title, body))
    notes = [
        f"Estimate ({_ci(frame)}). Proportions in percent with Wilson CIs; AUC with DeLong CI; counts in the "
        "CSV."
    ]
    return _assemble(header, blocks, notes=notes)


def _metric_cell(rows: pd.DataFrame, metric: str, style: TableStyle) -> str:
    if metric not in rows.index:
        return ""
    r = rows.loc[metric]
    if metric in style.percent_metrics:
        return fmt_ci(r[C.ESTIMATE], r[C.CI_LOW], r[C.CI_HIGH], percent_decimals(style.decimals), scale=100)
    return fmt_ci(r[C.ESTIMATE], r[C.CI_LOW], r[C.CI_HIGH], style.decimals)


def _ci(frame: pd.DataFrame) -> str:
    """``"95% CI"`` at the frame's ``ci_level`` (when it holds one level; else 95%)."""
    if C.CI_LEVEL in frame.columns and frame[C.CI_LEVEL].nunique() == 1:
        return ci_label(float(frame[C.CI_LEVEL].iloc[0]))
    return ci_label(0.95)


def format_comparisons(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Paired comparisons: difference with CI, raw and Holm-adjusted p, the test's name."""
    _require(frame, "comparisons", ["arm_a", "arm_b", C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.P])
    adjusted = C.P_ADJUSTED in frame.columns
    header = ["Comparison", "Metric", f"Difference ({_ci(frame)})", "p"] + (["p (Holm)"] if adjusted else [])
    header.append("Method")
    blocks = []
    for title, part in _sections(frame):
        body = []
        for _, r in part.iterrows():
            scale, dec = _scale(r.get(C.METRIC, ""), style)
            cells = [
                f"{style.arm(r['arm_a'])} vs {style.arm(r['arm_b'])}",
                style.metric(r.get(C.METRIC, "")),
                fmt_ci(r[C.ESTIMATE], r[C.CI_LOW], r[C.CI_HIGH], dec, scale=scale),
                fmt_p(r[C.P], style.decimals),
            ]
            if adjusted:
                cells.append(fmt_p(r[C.P_ADJUSTED], style.decimals))
            body.append([*cells, str(r.get(C.METHOD, ""))])
        blocks.append((title, body))
    notes = ["Differences are arm A minus arm B; proportions in percentage points."]
    if adjusted:
        notes.append("p (Holm): adjusted for multiple comparisons by Holm's step-down method.")
    return _assemble(header, blocks, align="llrr" + "r" * adjusted + "l", notes=notes)


def _scale(metric: object, style: TableStyle) -> tuple[float, int]:
    if str(metric) in style.percent_metrics:
        return 100.0, percent_decimals(style.decimals)
    return 1.0, style.decimals


def format_icc(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """ICC: one row per reader group and Shrout–Fleiss form, with CI, F and p."""
    _require(frame, "icc", ["form", C.ESTIMATE, C.CI_LOW, C.CI_HIGH])
    group = next((c for c in (C.GROUP, C.ARM) if c in frame.columns), None)
    header = (["Group"] if group else []) + ["Form", f"ICC ({_ci(frame)})", "F", "p", "Raters", "n"]
    body, previous = [], None
    for _, r in frame.iterrows():
        cells = [style.arm(r[group]) if r[group] != previous else ""] if group else []
        previous = r[group] if group else None
        cells += [
            str(r["form"]),
            fmt_ci(r[C.ESTIMATE], r[C.CI_LOW], r[C.CI_HIGH], style.decimals),
            fmt_number(r.get(C.STATISTIC), 2),
            fmt_p(r.get(C.P), style.decimals),
            fmt_count(r.get(C.N_RATERS)),
            fmt_count(r.get(C.N)),
        ]
        body.append(cells)
    return DisplayTable(
        header,
        body,
        align=("l" if group else "") + "lrrrrr",
        notes=[f"ICC forms of Shrout & Fleiss (1979); F-test {_ci(frame)}s."],
    )


def format_cohort(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Table 1: per group mean ± SD, median [IQR] or n (%) by ``kind``; p and test per variable."""
    _require(frame, "table1_cohort", ["variable", C.GROUP, "kind", C.ESTIMATE, C.P, C.METHOD, C.N])
    unknown = sorted(set(frame["kind"].dropna()) - set(_SUMMARY_KINDS))
    if unknown:
        raise InputError(
            f"table 'table1_cohort' has unknown kind(s) {unknown}; known: {list(_SUMMARY_KINDS)}",
            field="kind",
        )
    groups = list(pd.unique(frame[C.GROUP]))
    sizes = _group_sizes(frame, groups)
    header = ["Characteristic"] + [f"{style.arm(g).capitalize()} (n = {sizes[g]})" for g in groups]
    header += ["p", "Test"]
    rows: list[list[str]] = []
    indent: set[int] = set()
    dec = max(percent_decimals(style.decimals), 1)
    for variable in pd.unique(frame["variable"]):
        part = frame[frame["variable"] == variable]
        head = part.iloc[0]
        tail = [fmt_p(head[C.P], style.decimals), str(head[C.METHOD])]
        if head["kind"] == "count_percent":
            rows.append([f"{variable}, n (%)"] + [""] * len(groups) + tail)
            for level in pd.unique(part["level"]):
                indent.add(len(rows))
                cells = part[part["level"] == level].set_index(C.GROUP)
                rows.append([str(level)] + [_summary(cells, g, dec) for g in groups] + ["", ""])
        else:
            cells = part.set_index(C.GROUP)
            what = "mean \u00b1 SD" if head["kind"] == "mean_sd" else "median [IQR]"
            rows.append([f"{variable}, {what}"] + [_summary(cells, g, dec) for g in groups] + tail)
    return DisplayTable(header, rows, align="l" + "r" * len(groups) + "rl", indent=indent)


def _group_sizes(frame: pd.DataFrame, groups: list) -> dict:
    """Patients per group: non-missing plus missing of the first variable."""
    first = frame[frame["variable"] == frame["variable"].iloc[0]]
    total = first[C.N] + (first["missing"] if "missing" in first else 0)
    return {g: int(total[first[C.GROUP] == g].max()) for g in groups}


def _summary(cells: pd.DataFrame, group: object, dec: int) -> str:
    if group not in cells.index:
        return ""
    r = cells.loc[[group]].iloc[0]
    if r["kind"] == "mean_sd":
        return f"{fmt_number(r[C.ESTIMATE], dec)} \u00b1 {fmt_number(r.get('sd'), dec)}"
    if r["kind"] == "median_iqr":
        q1, q3 = fmt_number(r.get("q1"), dec), fmt_number(r.get("q3"), dec)
        return f"{fmt_number(r[C.ESTIMATE], dec)} [{q1}\u2013{q3}]"
    count = r["count"] if "count" in r else r[C.ESTIMATE] * r[C.N]
    return f"{fmt_count(count)} ({fmt_number(r[C.ESTIMATE] * 100, dec)})"


def format_histology(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Table 2: patients and images per subtype, grouped by label.

    Rows are identified by ``label`` (optional) and ``subtype``; columns come from the
    distinct values of ``unit`` (patient/image) or else ``metric``; cells are ``estimate``
    counts. A row whose subtype is missing or ``"all"`` is the label's total.
    """
    _require(frame, "table2_histology", ["subtype", C.ESTIMATE])
    across = next((c for c in (C.UNIT, C.METRIC) if c in frame.columns and frame[c].nunique() > 1), None)
    keys = [c for c in ("label", "subtype") if c in frame.columns]
    cols = list(pd.unique(frame[across])) if across else ["count"]
    names = {"patient": "Patients", "image": "Images"}
    header = ["Histology"] + [names.get(str(c), str(c).capitalize()) for c in cols]
    rows, indent = [], set()
    for key, part in frame.groupby(keys, sort=False, dropna=False):
        label, subtype = key if len(keys) == 2 else (None, key[0])
        total = pd.isna(subtype) or str(subtype).lower() in ("all", "total", "")
        if not total and label is not None:
            indent.add(len(rows))
        values = part.set_index(across)[C.ESTIMATE] if across else part[C.ESTIMATE].iloc[:1].set_axis(cols)
        rows.append(
            [str(label).capitalize() if total else str(subtype)] + [fmt_count(values.get(c)) for c in cols]
        )
    return DisplayTable(header, rows, indent=indent)


#: The most threshold rows of the decision curve's LaTeX table (the CSV has them all).
DECISION_ROWS = 20


def format_decision_curve(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Decision curve: one row per shown threshold probability, net benefit (band) per arm and treat all.

    Every threshold is shown when there are at most :data:`DECISION_ROWS`; otherwise the
    multiples of 0.05 (when they are at least five and at most that many), else every k-th.
    """
    _require(frame, "decision_curve", [C.ARM, C.THRESHOLD, C.ESTIMATE, C.CI_LOW, C.CI_HIGH])
    arms = [a for a in pd.unique(frame[C.ARM]) if a not in (C.TREAT_ALL, C.TREAT_NONE)]
    columns = arms + [a for a in (C.TREAT_ALL,) if a in set(frame[C.ARM])]
    grid = pd.unique(frame[C.THRESHOLD])
    shown = _shown_thresholds(grid)
    cells = frame.set_index([C.ARM, C.THRESHOLD])
    rows = [[fmt_number(t, 2 if _is_round(t, 100) else style.decimals)]
            + [_band(cells, arm, t, style) for arm in columns] for t in shown]
    header = ["Threshold probability"] + ["Treat all" if a == C.TREAT_ALL else style.arm(a) for a in columns]
    notes = [f"Net benefit (true positives per patient) with percentile bootstrap bands ({_ci(frame)}) at "
             f"{len(shown)} of {len(grid)} threshold probabilities (all in the CSV). Reader groups: their "
             "majority-vote call. Treat none has net benefit 0 at every threshold."]
    return DisplayTable(header, rows, notes=notes)


def _shown_thresholds(grid) -> list[float]:
    if len(grid) <= DECISION_ROWS:
        return list(grid)
    round_ones = [t for t in grid if _is_round(t, 20)]
    if 5 <= len(round_ones) <= DECISION_ROWS:
        return round_ones
    k = -(-len(grid) // DECISION_ROWS)
    return list(grid[::k])


def _is_round(value: float, per_unit: int) -> bool:
    """True when ``value`` is a multiple of 1 / ``per_unit`` (0.05 for 20), to 1e-9."""
    return abs(value * per_unit - round(value * per_unit)) < 1e-9


def _band(cells: pd.DataFrame, arm: object, threshold: float, style: TableStyle) -> str:
    if (arm, threshold) not in cells.index:
        return ""
    r = cells.loc[(arm, threshold)]
    return fmt_ci(r[C.ESTIMATE], r[C.CI_LOW], r[C.CI_HIGH], style.decimals)


def format_generic(frame: pd.DataFrame, style: TableStyle) -> DisplayTable:
    """Any result table: identifying columns, estimate (CI at the table's level), p, method and n."""
    _require(frame, "table", [C.ESTIMATE])
    stats_cols = {C.ESTIMATE, C.CI_LOW, C.CI_HIGH, C.P, C.STATISTIC, C.DF, C.SE, C.METHOD, C.N, C.CI_LEVEL}
    ids = (
        list(style.columns)
        if style.columns is not None
        else [c for c in frame.columns if c not in stats_cols and not pd.api.types.is_float_dtype(frame[c])]
    )
    has_ci = C.CI_LOW in frame.columns and C.CI_HIGH in frame.columns
    has_p = C.P in frame.columns and frame[C.P].notna().any()
    header = [c.replace("_", " ").capitalize() for c in ids]
    header.append(f"Estimate ({_ci(frame)})" if has_ci else "Estimate")
    header += (["p"] if has_p else []) + [
        h for h, c in (("Method", C.METHOD), ("n", C.N)) if c in frame.columns
    ]
    body = []
    for _, r in frame.iterrows():
        scale, dec = _scale(r.get(C.METRIC, ""), style)
        cells = [_cell(r[c], c, style) for c in ids]
        cells.append(fmt_ci(r[C.ESTIMATE], r.get(C.CI_LOW), r.get(C.CI_HIGH), dec, scale=scale))
        cells += [fmt_p(r[C.P], style.decimals)] if has_p else []
        cells += [str(r[C.METHOD])] if C.METHOD in frame.columns else []
        cells += [fmt_count(r[C.N])] if C.N in frame.columns else []
        body.append(cells)
    align = (
        "l" * len(ids)
        + "r" * (1 + has_p)
        + ("l" if C.METHOD in frame.columns else "")
        + ("r" if C.N in frame.columns else "")
    )
    return DisplayTable(header, body, align=align)


def _cell(value: object, column: str, style: TableStyle) -> str:
    if column in (C.ARM, "arm_a", "arm_b", C.GROUP):
        return style.arm(value)
    if column == C.METRIC:
        return style.metric(value)
    if isinstance(value, float):
        return fmt_number(value, style.decimals)
    return "" if pd.isna(value) else str(value)


Formatter = Callable[[pd.DataFrame, TableStyle], DisplayTable]
#: Table name → (formatter, default caption). Unknown names use :func:`format_generic`.
FORMATTERS: dict[str, tuple[Formatter, str]] = {
    "table1_cohort": (format_cohort, "Clinical characteristics of the patients by reference standard."),
    "table2_histology": (format_histology, "Histology of the tumours: patients and images per subtype."),
    "table3_performance": (format_performance, "Diagnostic performance of the model arms and radiologists."),
    "comparisons": (format_comparisons, "Paired comparisons between arms."),
    "icc": (format_icc, "Agreement within reader groups (intraclass correlation)."),
    "decision_curve": (format_decision_curve, "Decision curve: net benefit by threshold probability."),
}


def list_formatters() -> list[str]:
    """Names of the tables with a dedicated layout."""
    return sorted(FORMATTERS)


def format_table(frame: pd.DataFrame, name: str, style: TableStyle | None = None) -> DisplayTable:
    """Format ``frame`` with the layout registered for ``name`` (generic when none)."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"table '{name}' must be a pandas DataFrame, got {type(frame).__name__}", field="frame"
        )
    if frame.empty:
        raise InputError(
            f"table '{name}' has no rows",
            field="frame",
            hint="check that the analysis produced results before writing the table",
        )
    formatter = FORMATTERS.get(name, (format_generic, ""))[0]
    return formatter(frame, style or TableStyle())


def write_table(
    frame: pd.DataFrame,
    name: str,
    out_dir: str | os.PathLike,
    *,
    decimals: int = 3,
    caption: str | None = None,
    label: str | None = None,
    columns: Sequence[str] | None = None,
    percent_metrics: Sequence[str] = PERCENT_METRICS,
    arm_labels: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/tables/<name>.csv`` (unrounded) and ``<name>.tex`` (booktabs).

    Parameters
    ----------
    frame : DataFrame
        A tidy result table (leading columns ``estimate, ci_low, ci_high, p``).
    name : str
        Table name; picks the layout (:data:`FORMATTERS`) and the file names.
    out_dir : path
        The run's results folder; files go to its ``tables/`` sub-folder.
    decimals : int
        Decimals of estimates and p-values (percentages get ``decimals − 2``).
    caption, label : str, optional
        LaTeX caption (default: the registry's) and label (default ``tab:<name>``).
    columns : sequence of str, optional
        Identifying columns shown by the generic layout (default: all non-float ones).
    percent_metrics : sequence of str
        Metrics shown as percentages.
    arm_labels : mapping, optional
        Display names of arms.

    Returns
    -------
    (csv_path, tex_path). Both files are written atomically (temp file, then rename).
    The CSV keeps every column at full precision (shortest round-trip repr of each
    float; ``pd.read_csv`` reads back the identical values).
    """
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 10:
        raise InputError(f"decimals must be an integer from 0 to 10, got {decimals!r}", field="decimals")
    shown = None if columns is None else tuple(columns)
    display = format_table(frame, name, TableStyle(decimals, tuple(percent_metrics), arm_labels, shown))
    if caption is None:
        caption = FORMATTERS.get(name, (None, ""))[1] or name.replace("_", " ")
    out = Path(out_dir) / "tables"
    latex = display.to_latex(caption=caption, label=label or f"tab:{name}")
    csv = atomic_write(out / f"{name}.csv", lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
    return csv, atomic_write(out / f"{name}.tex", latex)
