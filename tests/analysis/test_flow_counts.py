"""STARD flow counts of a manifest (studykit.analysis.flow_counts; drawn by report.flow_figure)."""

from __future__ import annotations

import fake_study as fake
import numpy as np
import pandas as pd
import pytest

from studykit.analysis import flow_counts
from studykit.errors import InputError


def test_counts_match_manifest():
    manifest = fake.manifest()
    counts = flow_counts(manifest)
    assert counts.records == len(manifest) == 230
    assert counts.excluded == {
        "renal pelvis cancer or rare malignancy": 17,
        "no US/CEUS": 14,
        "poor image quality": 11,
        "pathologic stage \u2265 T2b": 7,
    }
    assert counts.n_excluded == manifest["excluded_reason"].notna().sum() == 49
    assert counts.included == 181
    assert counts.reference == {"benign": 81, "malignant": 100}
    assert counts.index_test == {}


def test_index_test_and_blank_reasons():
    manifest = pd.DataFrame(
        {
            "patient_id": list("abcdef"),
            "label": [1, 1, 0, 0, 0, 1],
            "excluded_reason": [None, " ", np.nan, "poor image", "", "poor image"],
        }
    )
    counts = flow_counts(manifest, pos_label=1, index_test={"a": 1, "b": 0, "c": 1})
    assert counts.excluded == {"poor image": 2}
    assert counts.reference == {"benign": 2, "malignant": 2}
    assert counts.index_test == {
        "benign": {"positive": 1, "negative": 0, "missing": 1},
        "malignant": {"positive": 1, "negative": 1},
    }


def test_no_exclusion_column_and_missing_label():
    counts = flow_counts(pd.DataFrame({"label": ["benign", "malignant", "malignant"]}))
    assert (counts.records, counts.included, counts.excluded) == (3, 3, {})
    with pytest.raises(InputError, match="manifest lacks column\\(s\\) \\['label'\\]"):
        flow_counts(pd.DataFrame({"diagnosis": [1]}))
