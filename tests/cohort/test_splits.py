"""Patient-grouped stratified folds: partition properties, balance, determinism, freezing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studykit.cohort.splits import Splits, check_splits, load_or_make_splits, make_splits
from studykit.errors import DataError, InputError


def reference_cohort() -> pd.DataFrame:
    """The reference study's histology: 100 malignant (62/25/13), 81 benign (45/36)."""
    subtypes = ["ccrcc"] * 62 + ["prcc"] * 25 + ["chrcc"] * 13 + ["typical_aml"] * 45 + ["atypical_aml"] * 36
    return pd.DataFrame({"patient_id": [f"RC{i:04d}" for i in range(181)],
                         "label": ["malignant"] * 100 + ["benign"] * 81, "subtype": subtypes,
                         "center": ["a", "b"] * 90 + ["a"]})


@st.composite
def cohorts(draw):
    n_folds = draw(st.integers(2, 6))
    sizes = [draw(st.integers(n_folds, 40)) for _ in range(2)]
    labels = ["benign"] * sizes[0] + ["malignant"] * sizes[1]
    ids = [f"P{i}" for i in draw(st.permutations(range(len(labels))))]
    extra = draw(st.lists(st.sampled_from("xyz"), min_size=len(labels), max_size=len(labels)))
    return pd.DataFrame({"patient_id": ids, "label": labels, "site": extra}), n_folds


@given(cohorts(), st.floats(0, 0.5), st.integers(0, 3), st.booleans())
def test_every_fold_partitions_the_patients_and_classes_are_balanced(data, frac, seed, by_site):
    table, k = data
    splits = make_splits(table, n_folds=k, val_fraction=frac, seed=seed,
                         stratify_by=["site"] if by_site else ())
    label = table.set_index("patient_id")["label"]
    tests = [set(f.test) for f in splits.folds]
    assert set().union(*tests) == set(table["patient_id"]) and sum(map(len, tests)) == len(table)
    for fold in splits.folds:
        assert not (set(fold.train) & set(fold.val)) and not (set(fold.val) & set(fold.test))
        assert len(fold.val) == round(frac * (len(table) - len(fold.test)))
    for cls in ("benign", "malignant"):
        per_fold = [sum(label[p] == cls for p in t) for t in tests]
        assert max(per_fold) - min(per_fold) <= 1
    assert max(map(len, tests)) - min(map(len, tests)) <= 1


def test_reference_cohort_folds_are_stratified_by_subtype():
    cohort = reference_cohort()
    splits = make_splits(cohort, n_folds=5, stratify_by=["subtype"], seed=0)
    subtype = cohort.set_index("patient_id")["subtype"]
    for name, total in subtype.value_counts().items():
        counts = [sum(subtype[p] == name for p in f.test) for f in splits.folds]
        assert sum(counts) == total and max(counts) - min(counts) <= 1
    assert [len(f.test) for f in splits.folds] == [37, 36, 36, 36, 36]


def test_same_seed_same_splits_other_seed_differs():
    cohort = reference_cohort()
    assert make_splits(cohort, seed=3) == make_splits(cohort, seed=3)
    assert make_splits(cohort, seed=3).folds != make_splits(cohort, seed=4).folds


def test_image_level_rows_collapse_to_patients():
    cohort = reference_cohort()
    images = cohort.loc[cohort.index.repeat(3)].reset_index(drop=True)
    assert make_splits(images, seed=1) == make_splits(cohort, seed=1)


def test_frozen_file_is_reused_and_a_changed_cohort_is_an_error(tmp_path):
    path = tmp_path / "cohort" / "splits.json"
    cohort = reference_cohort()
    first = load_or_make_splits(path, cohort, seed=2)
    text = path.read_text()
    assert json.loads(text)["settings"]["seed"] == 2
    assert load_or_make_splits(path, cohort, seed=2) == first and path.read_text() == text
    message = r"(?s)splits.json: was made with other settings.*seed: file 2 vs now 5"
    with pytest.raises(DataError, match=message):
        load_or_make_splits(path, cohort, seed=5)
    changed = cohort.assign(label=lambda d: np.where(d.index == 0, "benign", d["label"]))
    with pytest.raises(DataError, match=r"the cohort's patients or labels"):
        load_or_make_splits(path, changed, seed=2)
    assert path.read_text() == text  # never silently replaced


def test_check_splits_catches_leaks():
    splits = make_splits(reference_cohort(), seed=0)
    f0 = splits.folds[0]
    leaked = Splits(folds=(type(f0)(0, (*f0.train, f0.test[0]), f0.val, f0.test), *splits.folds[1:]),
                    settings=splits.settings)
    with pytest.raises(DataError, match=rf"fold 0: patient '{f0.test[0]}' is in both train and test"):
        check_splits(leaked)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"n_folds": 1}, InputError, r"'n_folds': must be an integer ≥ 2"),
    ({"val_fraction": 1.0}, InputError, r"'val_fraction': must be in \[0, 1\)"),
    ({"label_column": "diagnosis"}, InputError, r"column 'diagnosis' is not in the patient table"),
    ({"n_folds": 90}, DataError, r"(?s)at least 90 patients.*'benign' has 81.*use at most 81 folds"),
])
def test_bad_settings_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_splits(reference_cohort(), **kwargs)


def test_patient_with_conflicting_labels_is_an_error():
    rows = pd.DataFrame({"patient_id": ["A", "A", "B"], "label": ["benign", "malignant", "benign"]})
    with pytest.raises(DataError, match=r"patient 'A' has conflicting values of label"):
        make_splits(rows, n_folds=2)


def test_malformed_file_names_itself(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"splits.json: is not a valid splits file"):
        load_or_make_splits(path, reference_cohort())
