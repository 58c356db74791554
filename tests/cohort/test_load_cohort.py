"""The validated Cohort (studykit.cohort.load_cohort): its fields against a tiny synthetic cohort and
the fixture cohort, the store narrowing, and a bad manifest raising ingestion's own error."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from cohort_support import BOX, cell

from studykit.cohort import Cohort, ingest, load_cohort, synth
from studykit.cohort.tables import read_manifest
from studykit.errors import DataError, InputError
from studykit.vocab import FlowCounts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "cohort"
    synth.synthesize(out, tiny=True)
    return out


def test_fields_of_a_tiny_synthetic_cohort(tiny):
    raw = pd.read_csv(tiny / "manifest.csv", dtype=str, keep_default_na=False)
    kept = raw[raw["excluded_reason"] == ""]
    cohort = load_cohort(tiny)
    assert isinstance(cohort, Cohort) and cohort.dir == tiny
    assert cohort.included == tuple(kept["patient_id"]) and len(cohort.included) == 12
    gone = raw[raw["excluded_reason"] != ""]
    assert cohort.excluded == dict(zip(gone["patient_id"], gone["excluded_reason"], strict=True))
    assert cohort.excluded and not set(cohort.excluded) & set(cohort.included)
    assert (cohort.positive, cohort.negative) == ("malignant", "benign")
    assert list(cohort.labels.index) == list(cohort.included) and cohort.labels.name == "label"
    coded = {p: int(y == "malignant") for p, y in zip(kept["patient_id"], kept["label"], strict=True)}
    assert cohort.labels.to_dict() == coded
    # the manifest: every row, pandas' types, label words kept, exclusion reasons as validated
    assert list(cohort.manifest["patient_id"]) == list(raw["patient_id"])
    assert list(cohort.manifest["label"]) == list(raw["label"])
    assert cohort.manifest["age"].dtype.kind == "i" and cohort.manifest["bmi"].dtype.kind == "f"
    assert list(cohort.manifest["excluded_reason"]) == list(raw["excluded_reason"])
    truth = pd.read_csv(tiny / "truth.csv", dtype={"patient_id": str})
    pd.testing.assert_frame_equal(cohort.truth, truth)
    assert set(cohort.truth["patient_id"]) == set(cohort.included)
    assert cohort.validated.included == cohort.included


def test_flow_counts(tiny):
    cohort = load_cohort(tiny)
    positives = int(cohort.labels.sum())
    reasons = pd.Series(list(cohort.excluded.values())).value_counts().to_dict()
    assert cohort.flow_counts() == FlowCounts(
        records=len(cohort.manifest), excluded=reasons, included=12,
        reference={"benign": 12 - positives, "malignant": positives})


def test_a_store_narrows_the_included_patients(tiny):
    cohort = load_cohort(tiny)
    held = list(cohort.included[1:])
    narrowed = cohort.with_store(SimpleNamespace(index=pd.DataFrame({"patient_id": held[::-1] * 2})))
    assert narrowed.included == tuple(held)  # manifest order, whatever the store's
    assert list(narrowed.labels.index) == held
    assert narrowed.excluded == cohort.excluded and len(narrowed.manifest) == len(cohort.manifest)
    assert cohort.with_store(None) is cohort


def test_ingest_takes_the_cohorts_manifest(base_cohort, tmp_path):
    cohort = load_cohort(base_cohort)
    pairs = ingest(base_cohort, store_root=tmp_path / "a", size=BOX, manifest=cohort.validated)
    again = ingest(base_cohort, store_root=tmp_path / "b", size=BOX)
    assert pairs.path.name == again.path.name
    assert (pairs.path / "index.csv").read_bytes() == (again.path / "index.csv").read_bytes()
    narrowed = load_cohort(base_cohort, store=pairs)
    assert narrowed.included == cohort.included == ("RC0001", "RC0002", "RC0003", "RC0004")
    with pytest.raises(InputError, match="not this cohort's manifest") as info:
        ingest(base_cohort, store_root=tmp_path / "c", size=BOX, manifest=cohort.validated, positive="rcc")
    assert info.value.field == "manifest"


def test_declared_columns_and_words(cohort, edit_csv):
    def recode(t):
        t["label"] = t["label"].map({"malignant": "rcc", "benign": "aml"})
        return t.rename(columns={"patient_id": "case", "label": "histology"})

    edit_csv(cohort / "manifest.csv", recode)
    loaded = load_cohort(cohort, id_column="case", label_column="histology", positive="rcc", negative="aml")
    assert {"patient_id", "label"} <= set(loaded.manifest.columns)
    assert not {"case", "histology"} & set(loaded.manifest.columns)
    assert loaded.labels.to_dict() == {"RC0001": 1, "RC0002": 0, "RC0003": 1, "RC0004": 0}
    assert loaded.flow_counts().reference == {"aml": 2, "rcc": 2}


@pytest.mark.parametrize("change, message", [
    (lambda t: t.rename(columns={"label": "diagnosis"}), "has no column 'label'"),
    (cell("patient_id", 2, "RC0001"), "patient id 'RC0001' appears twice (rows 1 and 3)"),
    (cell("label", 1, "malign"), "label 'malign' is not 'benign' or 'malignant'"),
    (lambda t: t.assign(excluded_reason="gone"), "has no included patient"),
])
def test_a_bad_manifest_raises_ingestions_error(cohort, edit_csv, tmp_path, change, message):
    edit_csv(cohort / "manifest.csv", change)
    with pytest.raises(DataError) as loading:
        load_cohort(cohort)
    with pytest.raises(DataError) as ingesting:
        ingest(cohort, store_root=tmp_path / "store", size=BOX)
    with pytest.raises(DataError) as reading:
        read_manifest(cohort / "manifest.csv")
    assert message in loading.value.message
    assert str(loading.value) == str(ingesting.value) == str(reading.value)
    assert (loading.value.file, loading.value.row, loading.value.field, loading.value.hint) == (
        ingesting.value.file, ingesting.value.row, ingesting.value.field, ingesting.value.hint)


def test_missing_folder_or_manifest(tmp_path):
    with pytest.raises(DataError, match="cohort folder not found"):
        load_cohort(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"manifest\.csv: file not found"):
        load_cohort(tmp_path)
