"""analysis.perfusion_by_class: Table 1 of perfusion parameters, checked against SciPy's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from studykit.analysis.cohort import perfusion_by_class
from studykit.errors import StudyError, UndefinedStatisticWarning


def _perfusion() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 30
    label = np.array(["benign"] * 14 + ["malignant"] * 16)
    status = np.array(["ok"] * 24 + ["poor fit"] * 4 + ["failed"] * 2)
    rng.shuffle(status)
    normal = np.where(label == "malignant", 2.0, 0.0) + rng.normal(0.0, 1.0, n)  # t test
    skewed = np.exp(rng.normal(np.where(label == "malignant", 1.0, 0.0), 1.2, n))  # Mann–Whitney
    return pd.DataFrame({"patient_id": [f"RC{i:04d}" for i in range(n)], "label": label, "status": status,
                         "rel_pe_db": normal, "lesion_time_to_peak_s": skewed})


def test_parameters_of_ok_fits_match_scipy_and_statuses_count_everyone() -> None:
    data = _perfusion()
    table = perfusion_by_class(data, parameters=("rel_pe_db", "lesion_time_to_peak_s"))
    ok = data[data["status"] == "ok"]
    benign, malignant = (ok[ok["label"] == c] for c in ("benign", "malignant"))
    for column in ("rel_pe_db", "lesion_time_to_peak_s"):
        rows = table[table["variable"] == column]
        assert rows.loc[rows["group"] == "benign", "n"].item() == len(benign)
        method = rows["method"].iat[0]
        if method.startswith("Student t"):
            expected = sps.ttest_ind(benign[column], malignant[column]).pvalue
        else:
            assert method == "Mann–Whitney U (exact)"
            expected = sps.mannwhitneyu(benign[column], malignant[column], alternative="two-sided",
                                        method="exact").pvalue
        assert rows["p"].iat[0] == pytest.approx(expected, rel=1e-6)
    methods = set(table.loc[table["variable"].isin(["rel_pe_db", "lesion_time_to_peak_s"]), "method"])
    assert len(methods) == 2  # one of each test on these data
    status = table[(table["variable"] == "status") & (table["group"] != "overall")]
    counts = status.groupby("group", observed=True)["count"].sum()
    assert counts.to_dict() == data.groupby("label")["status"].size().to_dict()  # nobody dropped
    assert set(status["level"]) == {"ok", "poor fit", "failed"}


def test_missing_column_is_an_error() -> None:
    with pytest.raises(StudyError):
        perfusion_by_class(_perfusion().drop(columns="status"))


def test_a_class_without_an_ok_fit_keeps_the_status_rows_and_warns() -> None:
    """Every benign fit poor: the statuses are still counted (the same rows as with the parameters),
    the parameters are not compared, and the warning names the class."""
    data = _perfusion()
    data.loc[(data["label"] == "benign") & (data["status"] == "ok"), "status"] = "poor fit"
    with pytest.warns(UndefinedStatisticWarning, match="no patient of class benign has an ok fit"):
        table = perfusion_by_class(data, parameters=("rel_pe_db",))
    assert set(table["variable"]) == {"status"}
    benign = table[(table["group"] == "benign") & (table["variable"] == "status")].set_index("level")["count"]
    assert benign["ok"] == 0 and benign["poor fit"] == (data["label"] == "benign").sum() - benign["failed"]
