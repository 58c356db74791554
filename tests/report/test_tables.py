"""Tables: unrounded CSV, escaped booktabs LaTeX, number and p formatting, bad input."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pandas as pd
import pytest

from studykit.errors import InputError
from studykit.report import format_table, list_formatters, write_table
from studykit.report._format import fmt_ci, fmt_number, fmt_p, latex_escape


@pytest.fixture(scope="module")
def study():
    scores, reads = fake.patient_scores(), fake.reads()
    return {
        "table3_performance": fake.table3(scores, reads),
        "comparisons": fake.comparisons(scores),
        "icc": fake.icc_table(reads),
        "table1_cohort": fake.table1(),
        "table2_histology": fake.table2(),
    }


def test_csv_round_trip_keeps_full_precision(tmp_path, study):
    frame = study["table3_performance"].assign(estimate=lambda d: d["estimate"] + 1e-13 / 3)
    csv, _ = write_table(frame, "table3_performance", tmp_path)
    back = pd.read_csv(csv)
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_array_equal(back["estimate"].to_numpy(), frame["estimate"].to_numpy())
    assert back["ci_high"].tolist() == frame["ci_high"].tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50% & rising_{x}", r"50\% \& rising\_\{x\}"),
        ("C++ #1", r"C++ \#1"),
        ("ccRCC \u2265 T2b", r"ccRCC $\geq$ T2b"),
        ("a~b^c\\d $5", r"a\textasciitilde{}b\textasciicircum{}c\textbackslash{}d \$5"),
        ("0.83\u20130.93 \u00b1 \u2212 p < 0.001", r"0.83--0.93 $\pm$ $-$ p \textless{} 0.001"),
        ("Mann\u2013Whitney \u2192 Se\u00f1or caf\u00e9", r"Mann--Whitney $\rightarrow$ Se\~{n}or caf\'{e}"),
        ("\u4e2d", "?"),
    ],
)
def test_latex_escape(text, expected):
    assert latex_escape(text) == expected
    assert latex_escape(text).isascii()


def test_number_and_p_formatting():
    assert fmt_number(0.87654, 3) == "0.877"
    assert fmt_number(-0.0001, 3) == "0.000"
    assert fmt_number(-0.25, 2) == "\u22120.25"
    assert fmt_number(np.nan, 3) == ""
    assert fmt_ci(0.877, 0.83, 0.93, 3) == "0.877 (0.830\u20130.930)"
    assert fmt_ci(0.804, 0.721, 0.867, 1, scale=100) == "80.4 (72.1\u201386.7)"
    assert fmt_ci(-0.05, -0.1, 0.01, 2) == "\u22120.05 (\u22120.10 to 0.01)"
    assert fmt_p(0.0004) == "< 0.001"
    assert fmt_p(0.017) == "0.017"
    assert fmt_p(0.0004, 4) == "0.0004"
    assert fmt_p(0.00001, 2) == "< 0.01"
    assert fmt_p(np.nan) == ""


def test_decimals_apply_to_estimates_and_percentages(study):
    t3 = study["table3_performance"]
    for decimals, auc, sens in (
        (3, "0.884 (0.836\u20130.932)", "85.0 (76.7\u201390.7)"),
        (2, "0.88 (0.84\u20130.93)", "85 (77\u201391)"),
    ):
        display = format_table(t3, "table3_performance", fake_style(decimals))
        row = next(r for r in display.rows if r[0] == "MUF-Net")
        assert row[1] == auc
        assert row[3] == sens


def fake_style(decimals):
    from studykit.report import TableStyle

    return TableStyle(decimals=decimals, arm_labels=fake.ARM_LABELS)


def test_booktabs_structure_caption_label(tmp_path, study):
    for name, frame in study.items():
        _, tex = write_table(frame, name, tmp_path, caption="A caption: 50% & more", label="tab:x_1")
        text = tex.read_text()
        assert text.isascii()
        assert text.startswith("\\begin{table}") and text.rstrip().endswith("\\end{table}")
        order = [
            text.index(k)
            for k in (
                "\\caption{A caption: 50\\% \\& more}",
                "\\label{tab:x_1}",
                "\\toprule",
                "\\midrule",
                "\\bottomrule",
            )
        ]
        assert order == sorted(order)
        assert text.count("\\toprule") == text.count("\\bottomrule") == 1
        body = text[text.index("\\midrule") : text.index("\\bottomrule")]
        ncol = text.split("\\begin{tabular}{@{}")[1].split("@{}}")[0]
        for line in body.splitlines()[1:]:
            if line.endswith("\\\\") and "\\multicolumn" not in line:
                assert line.count(" & ") == len(ncol) - 1, line


def test_table3_layout_and_p_in_comparisons(tmp_path, study):
    _, tex = write_table(
        study["table3_performance"], "table3_performance", tmp_path, arm_labels=fake.ARM_LABELS
    )
    text = tex.read_text()
    assert "MUF-Net & 0.884 (0.836--0.932) & 81.2 (74.9--86.2) & 85.0 (76.7--90.7)" in text
    assert "Arm & AUC & Accuracy, \\% & Sensitivity, \\%" in text
    frame = study["comparisons"].assign(p=[0.0004, 0.2, 0.04])
    _, tex = write_table(frame, "comparisons", tmp_path)
    assert "\\textless{} 0.001" in tex.read_text()
    assert "p (Holm)" in tex.read_text()


@pytest.mark.parametrize(("level", "ci"), [(0.95, "95% CI"), (0.9, "90% CI"), (0.975, "97.5% CI")])
def test_ci_labels_follow_the_confidence_level(study, level, ci):
    def shown(name, frame=None):
        display = format_table((study[name] if frame is None else frame).assign(ci_level=level), name)
        return " ".join([*display.header, *display.notes])

    assert f"Estimate ({ci})" in shown("table3_performance")
    assert f"Difference ({ci})" in shown("comparisons")
    assert f"ICC ({ci})" in shown("icc") and f"F-test {ci}s" in shown("icc")
    folds = study["table3_performance"].query("metric == 'auc'")
    assert f"Estimate ({ci})" in shown("folds", folds)
    assert level == 0.95 or "95%" not in shown("comparisons") + shown("icc") + shown("folds", folds)


def test_table1_kinds_and_tests(study):
    display = format_table(study["table1_cohort"], "table1_cohort")
    cells = {r[0]: r for r in display.rows}
    assert cells["Age (years), mean \u00b1 SD"][-1].startswith("Student t")
    assert "\u00b1" in cells["Age (years), mean \u00b1 SD"][1]
    assert cells["Surgery, n (%)"][-2] == "< 0.001"
    assert cells["partial"][1] == "69 (85.2)"
    assert display.header[1] == "Benign (n = 81)"
    median = study["table1_cohort"].assign(kind=lambda d: d["kind"].replace("mean_sd", "median_iqr"))
    row = format_table(median, "table1_cohort").rows[0]
    assert row[0].endswith("median [IQR]") and "[" in row[1] and "\u2013" in row[1]


def test_table2_histology_groups(study):
    display = format_table(study["table2_histology"], "table2_histology")
    assert display.header == ["Histology", "Patients", "Images"]
    assert display.rows[0] == ["Benign", "81", "3659"]
    assert ["ccRCC", "62", "2964"] in display.rows
    assert len(display.rows) == 7


def test_generic_fallback_for_other_tables(tmp_path, study):
    folds = study["table3_performance"].query("metric == 'auc'").assign(fold=2)
    assert "folds" not in list_formatters()
    _, tex = write_table(folds, "folds", tmp_path, arm_labels=fake.ARM_LABELS, columns=["arm", "fold"])
    assert "MUF-Net & 2 & 0.884 (0.836--0.932)" in tex.read_text()


def test_missing_required_column_names_it(tmp_path, study):
    frame = study["table3_performance"].drop(columns="ci_low")
    with pytest.raises(InputError, match="table 'table3_performance' lacks required column\\(s\\) 'ci_low'"):
        write_table(frame, "table3_performance", tmp_path)
    assert not (tmp_path / "tables" / "table3_performance.csv").exists()
    with pytest.raises(InputError, match="'comparisons' lacks required column\\(s\\) 'arm_a', 'arm_b'"):
        format_table(study["table3_performance"], "comparisons")


def test_bad_arguments(tmp_path, study):
    with pytest.raises(InputError, match=r"decimals must be an integer from 0 to 10, got 2\.5"):
        write_table(study["icc"], "icc", tmp_path, decimals=2.5)
    with pytest.raises(InputError, match="table 'icc' has no rows"):
        write_table(study["icc"].iloc[:0], "icc", tmp_path)
    with pytest.raises(InputError, match="unknown kind\\(s\\) \\['mean'\\]"):
        format_table(study["table1_cohort"].assign(kind="mean"), "table1_cohort")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, study):
    write_table(study["icc"], "icc", tmp_path)
    write_table(study["icc"], "icc", tmp_path)
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["icc.csv", "icc.tex"]


def _tex_rows(path) -> list[str]:
    text = path.read_text()
    body = text[text.index("\\midrule") + len("\\midrule"):text.index("\\bottomrule")]
    return [line.strip() for line in body.strip().splitlines()]


def test_decision_curve_latex_shows_multiples_of_005_and_every_arm(tmp_path):
    table = fake.decision_curve(fake.patient_scores(), fake.reads())  # 0.01 … 0.99
    csv, tex = write_table(table, "decision_curve", tmp_path, arm_labels=fake.ARM_LABELS)
    assert len(pd.read_csv(csv)) == 7 * 99  # the CSV keeps every threshold of every strategy
    rows = _tex_rows(tex)
    assert [r.split(" & ")[0] for r in rows] == [f"{k / 20:.2f}" for k in range(1, 20)]
    header = tex.read_text().split("\\toprule")[1].split("\\midrule")[0]
    names = ("B-mode-Net", "CEUS-Net", "MUF-Net", "Junior radiologists", "Senior radiologists", "Treat all")
    assert header.strip().removesuffix("\\\\").strip().split(" & ") == ["Threshold probability", *names]
    assert "Treat none" not in header and "19 of 99 threshold probabilities" in tex.read_text()
    muf = table[(table["arm"] == "muf_net") & np.isclose(table["threshold"], 0.3)].iloc[0]
    cell = latex_escape(fmt_ci(muf["estimate"], muf["ci_low"], muf["ci_high"], 3))
    row = next(r for r in rows if r.startswith("0.30 & "))
    assert row.split(" & ")[3] == cell  # the MUF-Net column
    everyone = table[(table["arm"] == "treat_all") & np.isclose(table["threshold"], 0.3)].iloc[0]
    last = row.removesuffix("\\\\").strip().split(" & ")[-1]
    assert last == latex_escape(fmt_number(everyone["estimate"], 3))


@pytest.mark.parametrize(("grid", "shown"), [
    (np.round(np.arange(0.1, 0.41, 0.02), 10), None),  # 16 thresholds: all shown
    (np.round(np.arange(0.011, 0.8, 0.013), 10), "every k-th"),  # 61, no multiple of 0.05 enough
])
def test_decision_curve_latex_row_choice(tmp_path, grid, shown):
    table = fake.decision_curve(fake.patient_scores(), fake.reads(), thresholds=grid, n_boot=100)
    _, tex = write_table(table, "decision_curve", tmp_path)
    firsts = [r.split(" & ")[0] for r in _tex_rows(tex)]
    if shown is None:
        assert firsts == [fmt_number(t, 2) for t in grid]
    else:
        k = -(-len(grid) // 20)
        assert firsts == [fmt_number(t, 3) for t in grid[::k]] and len(firsts) <= 20
