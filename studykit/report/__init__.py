"""Layer ``report``: draws only — tables (CSV/LaTeX), figures, report.md.

Computes no statistic: the figures draw tables that :mod:`studykit.analysis` computes (ROC
curves, bands, reader points, reliability bins, flow counts) and the study layer passes on.
May import only :mod:`studykit.errors`, :mod:`studykit.vocab` and the result column names
of :mod:`studykit.stats` (plus pandas, numpy, matplotlib). Numbers are rounded here and
nowhere else.

- :func:`write_table` — ``tables/<name>.csv`` (unrounded) and ``.tex`` (booktabs).
- :func:`roc_figure`, :func:`calibration_figure`, :func:`decision_curve_figure`,
  :func:`gradcam_figure` / :func:`load_gradcam`, :func:`flow_figure`, :func:`tic_figure`,
  :func:`attention_figure`, saved with
  :func:`save_figure` (PNG + PDF, deterministic bytes).
- :mod:`studykit.report.markdown` — the sections of ``report.md``.
- :mod:`studykit.report.checklists` — the STARD 2015 and CLAIM 2024 items and their markdown
  page (the study layer answers them from the run's files).
"""

from studykit.report.checklists import CHECKLISTS, CLAIM_2024, STARD_2015, Checklist, Entry, render_checklist
from studykit.report.decision import decision_curve_figure
from studykit.report.figures import (
    GRADCAM_KEYS,
    attention_figure,
    calibration_figure,
    gradcam_figure,
    load_gradcam,
    roc_figure,
    tic_figure,
)
from studykit.report.flow import FlowCounts, flow_figure
from studykit.report.markdown import (
    cohort_section,
    comparisons_section,
    decision_curve_section,
    design_section,
    figures_section,
    mrmc_section,
    performance_section,
    provenance_section,
    render_report,
)
from studykit.report.style import save_figure
from studykit.report.tables import FORMATTERS, TableStyle, format_table, list_formatters, write_table

__all__ = [
    "CHECKLISTS",
    "CLAIM_2024",
    "FORMATTERS",
    "GRADCAM_KEYS",
    "STARD_2015",
    "Checklist",
    "Entry",
    "FlowCounts",
    "TableStyle",
    "attention_figure",
    "calibration_figure",
    "cohort_section",
    "comparisons_section",
    "decision_curve_figure",
    "decision_curve_section",
    "design_section",
    "figures_section",
    "flow_figure",
    "format_table",
    "gradcam_figure",
    "list_formatters",
    "load_gradcam",
    "mrmc_section",
    "performance_section",
    "provenance_section",
    "render_checklist",
    "render_report",
    "roc_figure",
    "save_figure",
    "tic_figure",
    "write_table",
]
