"""Every generated .tex compiles in a minimal document (when a LaTeX engine is installed)."""

from __future__ import annotations

import shutil
import subprocess

import fake_study as fake
import pytest

from studykit.report import write_table

ENGINES = (["pdflatex", "-interaction=nonstopmode", "-halt-on-error"], ["tectonic", "--chatter", "minimal"])


def _engine():
    for cmd in ENGINES:
        if shutil.which(cmd[0]):
            return cmd
    return None


@pytest.mark.skipif(
    _engine() is None,
    reason="no LaTeX engine (pdflatex or tectonic) on PATH; "
    "install: apt-get install --no-install-recommends texlive-latex-base texlive-latex-recommended",
)
def test_all_tables_compile(tmp_path):
    scores, reads = fake.patient_scores(), fake.reads()
    t3 = fake.table3(scores, reads)
    tables = {
        "table1_cohort": fake.table1(),
        "table2_histology": fake.table2(),
        "table3_performance": t3,
        "comparisons": fake.comparisons(scores),
        "icc": fake.icc_table(reads),
        "decision_curve": fake.decision_curve(scores, reads),
        "folds": t3.query("metric == 'auc'").assign(fold=0, arm="50% & rising_{x} C++ #1 ccRCC \u2265 T2b"),
    }
    for name, frame in tables.items():
        write_table(frame, name, tmp_path, arm_labels=fake.ARM_LABELS, caption=f"{name}: 50% & ~^ \u2265")
    inputs = "\n".join(f"\\input{{tables/{name}.tex}}" for name in tables)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"{inputs}\n\\end{{document}}\n"
    )
    run = subprocess.run([*_engine(), "doc.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
