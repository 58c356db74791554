"""report.md: Table 3 numbers formatted from the table, sources named, provenance block."""

from __future__ import annotations

import fake_study as fake
import pandas as pd

from studykit.report import (
    cohort_section,
    comparisons_section,
    design_section,
    figures_section,
    flow_counts,
    performance_section,
    provenance_section,
    render_report,
    write_table,
)


def test_report_numbers_come_from_the_table_files(tmp_path):
    scores, reads = fake.patient_scores(), fake.reads()
    csv, _ = write_table(fake.table3(scores, reads), "table3_performance", tmp_path)
    comp, _ = write_table(fake.comparisons(scores), "comparisons", tmp_path)
    t3 = pd.read_csv(csv)
    provenance = {
        "versions": {"python": "3.11.7", "studykit": "0.1.0", "pandas": pd.__version__},
        "seeds": {"global": 0},
        "git_commit": "e4c96d6",
        "inputs": {"manifest.csv": "sha256:ab12"},
        "device": "cpu",
        "wall_time_s": 301.5,
    }
    text = render_report(
        "Renal CEUS study",
        cohort_section(flow_counts(fake.manifest()), n_images=9794),
        design_section({"folds": 5, "unit": "patient"}),
        performance_section(t3, arm_labels=fake.ARM_LABELS),
        comparisons_section(pd.read_csv(comp), arm_labels=fake.ARM_LABELS),
        figures_section({"ROC curves": "figures/roc.png"}),
        provenance_section(provenance),
    )
    muf = t3[(t3["arm"] == "muf_net")].set_index("metric")
    est, low, high = muf.loc["auc", ["estimate", "ci_low", "ci_high"]]
    auc = f"{est:.3f} ({low:.3f}\u2013{high:.3f})"
    assert f"| MUF-Net | {auc} | 81.2 (74.9\u201386.2) |" in text
    assert "`tables/table3_performance.csv`" in text and "`tables/comparisons.csv`" in text
    assert "Of 230 records, 49 were excluded" in text and "81 benign and 100 malignant" in text
    assert (
        "CEUS-Net vs MUF-Net, AUC difference \u22120.071 (\u22120.150 to 0.008); p = 0.077, Holm p = 0.230"
        in text
    )
    assert "## Provenance" in text and "**git_commit**: `e4c96d6`" in text
    assert "  - **python**: `3.11.7`" in text and "**wall_time_s**: `301.5`" in text
    assert "![ROC curves](figures/roc.png)" in text
