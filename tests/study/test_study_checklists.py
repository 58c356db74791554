"""The run's STARD and CLAIM checklists: each item once, and every answer the run gives equals what
its own files say (flow counts from the manifest, 2 × 2 tables from Table 3, partitions from
splits.json, versions from provenance.json, readers from reads.csv)."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

from studykit.cohort import Fold, Splits
from studykit.report import CLAIM_2024, STARD_2015
from studykit.report.checklists import AUTHORS
from studykit.study import Layout
from studykit.study._run_files import read_run
from studykit.study.checklists import answers


def _rows(path) -> dict[str, list[str]]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 5 and cells[0] not in ("No.", "---"):
            assert cells[0] not in rows, f"item {cells[0]} twice"
            rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def root(finished):
    return finished[1] / "tiny_study"


@pytest.fixture(scope="module")
def stard(root):
    return _rows(root / "stard_checklist.md")


@pytest.fixture(scope="module")
def claim(root):
    return _rows(root / "claim_checklist.md")


@pytest.fixture(scope="module")
def run_files(root):
    provenance = json.loads((root / "provenance.json").read_text())
    return read_run(Layout(root), cohort=None, provenance=provenance)


def test_both_checklists_sit_beside_report_md_with_every_item_once(root, stard, claim):
    assert (root / "report.md").is_file()
    assert list(stard) == list(STARD_2015.ids) and list(claim) == list(CLAIM_2024.ids)
    for item in ("1", "2", "3", "18", "22", "25", "28", "30"):
        assert stard[item][2:] == [AUTHORS, "", ""], item
    for item in ("2", "16", "21", "34", "39", "40", "44"):
        assert claim[item][2:] == [AUTHORS, "", ""], item


def test_flow_counts_are_the_manifests(root, stard, claim):
    manifest = pd.read_csv(root / "cohort" / "raw" / "manifest.csv")
    reason = manifest["excluded_reason"].fillna("").str.strip()
    kept = manifest[reason == ""]
    excluded = reason[reason != ""].value_counts()
    (why, n_why), = excluded.items()  # the tiny cohort excludes one patient, for one reason
    n_analysed = int(pd.read_csv(root / "tables" / "table3_performance.csv")["n_patients"].iloc[0])
    benign, malignant = (kept["label"] == "benign").sum(), (kept["label"] == "malignant").sum()
    expected = (f"{len(manifest)} records; {excluded.sum()} excluded ({why}, n = {n_why}); {len(kept)} "
                f"included ({benign} benign, {malignant} malignant); {n_analysed} analysed by every arm.")
    assert stard["19"][2:4] == ["from the run", expected] and claim["35"][3] == expected
    assert "figures/flow.png" in stard["19"][4] and "report.md, Cohort" in stard["19"][4]
    assert stard["6"][2] == "partly from the run" and f"{why} (n = {n_why}); {len(kept)} of {len(manifest)}" \
        in stard["6"][3]


def test_cross_tabulation_is_table3s(root, stard):
    table3 = pd.read_csv(root / "tables" / "table3_performance.csv")
    rows = table3[(table3["unit"] == "patient") & (table3["metric"] == "sensitivity")]
    for r in rows.itertuples():
        assert f"{r.arm}: TP {int(r.tp)}, FP {int(r.fp)}, FN {int(r.fn)}, TN {int(r.tn)}" in stard["23"][3]
    assert stard["23"][4] == "tables/table3_performance.csv (tp, fp, fn, tn)"


def test_partitions_are_splits_json(root, claim):
    folds = json.loads((root / "cohort" / "splits.json").read_text())["folds"]
    for f in folds:
        assert (f"fold {f['index']}: train {len(f['train'])}, inner validation {len(f['val'])}, test "
                f"{len(f['test'])}") in claim["19"][3]
    assert claim["19"][3].startswith(f"{len(folds)}-fold cross-validation")
    assert "no patient is in two partitions of any fold" in claim["20"][3]


def test_software_versions_are_provenance_jsons(root, claim):
    provenance = json.loads((root / "provenance.json").read_text())
    listed, commit = claim["23"][3].rstrip(".").split("; git commit ")
    assert dict(pair.split(" ", 1) for pair in listed.split(", ")) == provenance["versions"]
    assert commit == provenance["git_commit"] and "torch" in provenance["versions"]


def test_reader_groups_are_counted_from_reads_csv_and_lack_experience(root, stard):
    reads = pd.read_csv(root / "reads.csv")
    readers = reads[reads["kind"] == "reader"].groupby("group")["reader_id"].nunique()
    for group, n in readers.items():
        assert f"reader group {group}: {n} readers, each calling" in stard["10a"][3]
    assert stard["10a"][2] == "partly from the run" and "`experience:` of the reader arm" in stard["10a"][3]
    assert stard["13a"][2] == "partly from the run" and "`blinded_to:`" in stard["13a"][3]
    assert "probability ≥ 0.5, fixed by the protocol" in stard["12a"][3]


def test_a_protocol_stating_experience_and_blinding_completes_10a_and_13a(run_files):
    arms = [arm.model_copy(update={"experience": {"junior": "5–6 years of CEUS", "senior": "10–15 years"},
                                   "blinded_to": ["clinical data", "pathology"]})
            if hasattr(arm, "groups") else arm for arm in run_files.protocol.arms]
    run = dataclasses.replace(run_files, protocol=run_files.protocol.model_copy(update={"arms": arms}))
    found = answers(STARD_2015, run)
    assert found["10a"].status == "from the run" and "junior: 3 readers, experience: 5–6 years of CEUS" \
        in found["10a"].reported
    assert found["13a"].status == "from the run"
    assert "Reader groups junior, senior were blinded to: clinical data, pathology." in found["13a"].reported


def test_a_patient_in_two_partitions_is_reported_not_hidden(run_files):
    fold = run_files.splits.folds[0]
    leaky = Fold(index=0, train=fold.train + fold.test[:1], val=fold.val, test=fold.test)
    splits = Splits(folds=(leaky, *run_files.splits.folds[1:]), settings=run_files.splits.settings)
    found = answers(CLAIM_2024, dataclasses.replace(run_files, splits=splits))
    assert "A PATIENT APPEARS IN TWO PARTITIONS OR IS TESTED TWICE" in found["20"].reported


def test_missing_results_are_named(run_files):
    table3 = run_files.tables["table3_performance"].copy()
    table3.loc[table3["arm"] == "junior", "n_patients_arm"] = 10
    found = answers(STARD_2015, dataclasses.replace(run_files, tables={**run_files.tables,
                                                                        "table3_performance": table3}))
    assert "junior 10" in found["16"].reported and "left out, not imputed" in found["16"].reported
    assert "No index-test result is missing" not in found["16"].reported
