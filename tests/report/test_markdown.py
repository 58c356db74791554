"""report.md: Table 3 numbers formatted from the table, sources named, provenance block."""

from __future__ import annotations

import fake_study as fake
import pandas as pd

from studykit.analysis import flow_counts
from studykit.report import (
    cohort_section,
    comparisons_section,
    decision_curve_section,
    design_section,
    figures_section,
    mrmc_section,
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


def test_mrmc_section_states_each_rrrc_comparison():
    mrmc = pd.DataFrame({
        "estimate": [0.08, 0.08], "ci_low": [-0.012, 0.06], "ci_high": [0.171, 0.10], "p": [0.087, 0.004],
        "statistic": [1.71, 16.7], "df": [18151.8, 2.0], "arm_a": ["junior", "junior"],
        "arm_b": ["muf_net", "muf_net"], "analysis": ["RRRC", "RRFC"], "rating": ["score", "score"],
        "n_readers": [3, 3], "auc_readers": [0.817, 0.817], "auc_model": [0.737, 0.737]})
    text = mrmc_section(mrmc, arm_labels={"junior": "Junior radiologists", "muf_net": "MUF-Net"})
    assert text.startswith("## Reader study (MRMC)") and "Hillis (2007)" in text
    assert ("- Junior radiologists (3 readers, mean AUC 0.817) vs MUF-Net (AUC 0.737): readers − model "
            "0.080 (−0.012 to 0.171), t = 1.71, df = 18151.8, p = 0.087") in text
    assert text.count("\n- ") == 1 and "tables/mrmc.csv" in text  # RRRC rows only
    assert mrmc_section(mrmc[mrmc["analysis"] == "RRFC"]) == ""


def test_decision_curve_section_states_the_threshold_range_and_shows_the_figure():
    table = fake.decision_curve(fake.patient_scores(), fake.reads(), n_boot=100)
    text = decision_curve_section(table, figure="figures/decision_curve.png")
    assert text.startswith("## Decision curve analysis")
    assert "at 99 threshold probabilities p_t from 0.01 to 0.99 in steps of 0.01." in text
    assert "majority-vote call" in text and "error bars" in text and "(95% CI)" in text
    assert "![Decision curve](figures/decision_curve.png)" in text and "`tables/decision_curve.csv`" in text
    models = table[table["arm_kind"] != "readers"]
    uneven = decision_curve_section(models[models["threshold"].isin([0.1, 0.2, 0.4])])
    assert "at 3 threshold probabilities p_t from 0.1 to 0.4." in uneven
    assert "majority-vote" not in uneven and "error bars" not in uneven and "![" not in uneven
