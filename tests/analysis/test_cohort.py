"""Table 1 against stats.compare_groups; Table 2 counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from studykit import stats
from studykit.analysis import AnalysisOptions, histology_table, table1_cohort
from studykit.errors import InputError


def test_table1_included_patients_only(manifest):
    t = table1_cohort(manifest, options=AnalysisOptions(continuous=["age"], categorical=["sex"]))
    included = manifest.iloc[:10].copy()
    direct = stats.compare_groups(included, "label", continuous=["age"], categorical=["sex"])
    assert t.estimate.to_numpy() == pytest.approx(direct.estimate.to_numpy())
    assert t.p.to_numpy() == pytest.approx(direct.p.to_numpy(), nan_ok=True)
    assert t[(t.variable == "age") & (t.group == "overall")].n.item() == 10
    assert set(t.unit) == {"patient"}


def test_table1_unknown_covariate(manifest):
    with pytest.raises(InputError, match="no column 'bmi'"):
        table1_cohort(manifest, options=AnalysisOptions(continuous=["bmi"]))


def _count(t, label, subtype, metric):
    return t[(t.label == label) & (t.subtype == subtype) & (t.metric == metric)].estimate.item()


def test_table2_counts_from_predictions(manifest, predictions):
    t = histology_table(manifest, predictions)
    assert _count(t, "malignant", "ccRCC", "patients") == 3
    assert _count(t, "malignant", "ccRCC", "images") == 6
    assert _count(t, "benign", "typical", "patients") == 3  # p10 (excluded) not counted
    assert _count(t, "benign", "all", "images") == 10
    assert _count(t, "all", "all", "patients") == 10
    assert set(t.image_source) == {"predictions"}
    row = t[(t.label == "benign") & (t.subtype == "all") & (t.metric == "patients")]
    assert row.percent.item() == pytest.approx(50.0)


def test_table2_counts_from_index(manifest):
    index = pd.DataFrame({"image_id": range(7), "patient_id": ["p0"] * 5 + ["p5"] * 2})
    t = histology_table(manifest, index=index)
    assert _count(t, "malignant", "ccRCC", "images") == 5
    assert _count(t, "benign", "typical", "images") == 2
    assert set(t.image_source) == {"index"}
