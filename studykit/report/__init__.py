"""Layer ``report``: tables (CSV/LaTeX), figures, report.md and provenance. Built by the
study-runner issue; may import stats (result types only) and errors."""
