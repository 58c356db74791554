"""studykit.readers: import and validation of reader CSVs, majority votes, panel scores.

The hand-built fixtures (``data/``): six patients RC0001–RC0006, the first three malignant.

``junior.csv`` — three readers with 1–5 scores (calls written as words in any case or 0/1)::

    patient   RC0001 RC0002 RC0003 RC0004 RC0005 RC0006
    r1 call      1      1      1      0      1      0      score 5 4 3 2 4 1
    r2 call      1      1      0      0      0      1      score 4 5 2 1 2 4
    r3 call      1      0      0      1      1      0      score 5 2 1 4 3 2
    majority     1      1      0      0      1      0      (votes 3 2 1 1 2 1)

``senior.csv`` — two readers, no score column (an extra ``comment`` column is ignored)::

    s1 call      1      1      1      0      0      0
    s2 call      1      0      1      0      1      0
    majority     1    tie      1      0    tie      0

Rows in messages are 1-based data rows (header not counted), as in studykit.cohort.tables.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from studykit import readers, stats
from studykit.errors import DataError, InputError

DATA = Path(__file__).parent / "data"
PATIENTS = tuple(f"RC000{i}" for i in range(1, 7))
TRUTH = {p: int(i < 3) for i, p in enumerate(PATIENTS)}


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Copies of the two fixture files, free to be edited by a test."""
    out = {}
    for name in ("junior", "senior"):
        out[name] = tmp_path / f"{name}.csv"
        shutil.copy(DATA / f"{name}.csv", out[name])
    return out


@pytest.fixture
def reads(files) -> readers.Reads:
    return readers.read_reads([files["junior"], files["senior"]], patients=PATIENTS)


def _edit(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (1-based data row) of a fixture CSV, keeping everything else as text."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[row - 1, column] = value
    table.to_csv(path, index=False)


def _error(*args, **kwargs) -> DataError:
    kwargs.setdefault("patients", PATIENTS)
    with pytest.raises(DataError) as info:
        readers.read_reads(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------- the validated table


def test_reads_table_from_two_files(reads, files):
    table = reads.table
    assert list(table.columns) == list(readers.READS_COLUMNS)
    assert len(table) == 18 + 12 and table["call"].dtype == np.int64 and table["score"].dtype == np.float64
    junior = table[table["group"] == "junior"].pivot(index="patient_id", columns="reader_id", values="call")
    assert junior.to_numpy().T.tolist() == [[1, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 1], [1, 0, 0, 1, 1, 0]]
    assert table.loc[table["reader_id"] == "r3", "score"].tolist() == [5, 2, 1, 4, 3, 2]
    assert table.loc[table["group"] == "senior", "score"].isna().all()  # no score column
    assert reads.groups == ("junior", "senior") and reads.readers == ("r1", "r2", "r3", "s1", "s2")
    assert reads.readers_of("senior") == ("s1", "s2") and reads.has_scores
    assert reads.missing.empty and list(reads.missing.columns) == ["reader_id", "group", "patient_id"]
    assert reads.files == (files["junior"], files["senior"]) and reads.patients == PATIENTS


def test_reads_table_is_what_icc_and_kappa_need(reads):
    junior = reads.group_table("junior")
    icc = stats.icc(junior, "patient_id", "reader_id", "score")
    assert icc["form"].tolist()[:3] == ["ICC1", "ICC2", "ICC3"] and icc["n"].eq(6).all()
    kappa = stats.fleiss_kappa(junior, "patient_id", "reader_id", "call")
    # by hand: agreement per patient (3,2,1,1,2,1 positive of 3) → P_i = 1, ⅓, ⅓, ⅓, ⅓, ⅓; p₁ = 10/18
    observed, chance = (1 + 5 / 3) / 6, (10 / 18) ** 2 + (8 / 18) ** 2
    assert kappa["estimate"].item() == pytest.approx((observed - chance) / (1 - chance), abs=1e-12)


def test_group_order_follows_declaration_and_ids_stay_text(files, tmp_path):
    reads = readers.read_reads([files["junior"], files["senior"]], patients=PATIENTS,
                               groups=["senior", "junior"])
    assert reads.groups == ("senior", "junior")
    padded = tmp_path / "padded.csv"
    padded.write_text("reader_id,group,patient_id,call\n007,g, 0001 ,1\n\n007,g,0002,0\n")
    table = readers.read_reads(padded, patients=["0001", "0002"]).table
    assert table["reader_id"].tolist() == ["007", "007"] and table["patient_id"].tolist() == ["0001", "0002"]
    padded.write_text("reader_id,group,patient_id,call\n007,g,0001,1\n\n007,g,0002,x\n")
    assert _error(padded, patients=["0001", "0002"]).row == 3  # the blank line counts as a row


def test_custom_vocabulary_and_missing_score_words(tmp_path):
    path = tmp_path / "reads.csv"
    path.write_text("reader_id,group,patient_id,call,score\na,g,p1,Yes,0.9\na,g,p2,no,NA\n"
                    "b,g,p1,1,N/A\nb,g,p2,0,\n")
    reads = readers.read_reads(path, patients=["p1", "p2"], positive="yes", negative="no")
    assert reads.table["call"].tolist() == [1, 0, 1, 0]
    assert reads.table["score"].iloc[0] == 0.9 and reads.table["score"].iloc[1:].isna().all()


def test_reads_of_excluded_patients_are_dropped(files):
    with open(files["senior"], "a") as handle:
        handle.write("s1,senior,RC0099,1,\n")
    reads = readers.read_reads([files["junior"], files["senior"]], patients=PATIENTS, excluded=["RC0099"])
    assert "RC0099" not in set(reads.table["patient_id"]) and len(reads.table) == 30


# ---------------------------------------------------------------- majority votes, panel scores, readers


def test_majority_votes_by_hand(reads):
    votes = readers.majority_votes(reads, tie="positive")
    assert list(votes.columns) == list(readers.panel.VOTES_COLUMNS)
    junior = votes[votes["group"] == "junior"]
    assert junior["patient_id"].tolist() == list(PATIENTS)
    assert junior["call"].tolist() == [1, 1, 0, 0, 1, 0]
    assert junior["votes_positive"].tolist() == [3, 2, 1, 1, 2, 1] and junior["n_readers"].eq(3).all()
    assert junior["fraction_positive"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3, 2 / 3, 1 / 3])
    assert not junior["tie"].any()
    y = np.array([TRUTH[p] for p in junior["patient_id"]])
    metrics = stats.diagnostic_metrics(y, junior["call"].to_numpy()).set_index("metric")["estimate"]
    assert metrics["sensitivity"] == pytest.approx(2 / 3) and metrics["specificity"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(("tie", "expected"), [("positive", [1, 1, 1, 0, 1, 0]),
                                               ("negative", [1, 0, 1, 0, 0, 0])])
def test_tie_rules(reads, tie, expected):
    senior = readers.majority_votes(reads, tie=tie).query("group == 'senior'")
    assert senior["call"].tolist() == expected
    assert senior["tie"].tolist() == [False, True, False, False, True, False]
    assert senior["votes_positive"].tolist() == [2, 1, 2, 0, 1, 0] and senior["n_readers"].eq(2).all()


def test_tie_error_names_group_and_patients(reads):
    with pytest.raises(InputError, match=r"reader group 'senior': 2 target\(s\) have as many positive as "
                                         r"negative calls: 'RC0002', 'RC0005'") as info:
        readers.majority_votes(reads)
    assert info.value.field == "tie" and "tie='positive'" in info.value.hint
    with pytest.raises(InputError, match=r"must be one of 'error', 'positive', 'negative'; got 'postive'"):
        readers.majority_votes(reads, tie="postive")


def test_panel_scores_by_hand(reads):
    scores = readers.panel_scores(reads)
    assert list(scores.columns) == ["group", "patient_id", "score", "n_readers"]
    junior = scores[scores["group"] == "junior"]
    assert junior["patient_id"].tolist() == list(PATIENTS)
    assert junior["score"].tolist() == pytest.approx([14 / 3, 11 / 3, 2, 7 / 3, 3, 7 / 3], abs=1e-15)
    assert junior["n_readers"].eq(3).all()
    senior = scores[scores["group"] == "senior"]  # no scores: NaN from no reader
    assert senior["score"].isna().all() and senior["n_readers"].eq(0).all() and len(senior) == 6


def _wilson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    z = norm.ppf(0.5 + confidence / 2)
    centre, half = (x + z * z / 2) / (n + z * z), z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4)
    return centre - half, centre + half


def test_reader_operating_points_by_hand(reads):
    points = readers.reader_operating_points(reads, TRUTH)
    assert points[["reader_id", "metric"]].values.tolist() == [
        [r, m] for r in reads.readers for m in ("sensitivity", "specificity")]
    by_hand = {"r1": (3, 2), "r2": (2, 2), "r3": (1, 1), "s1": (3, 3), "s2": (2, 2)}  # (TP, TN) of 3 + 3
    for (reader, metric), row in points.set_index(["reader_id", "metric"]).iterrows():
        x = by_hand[reader][metric == "specificity"]
        assert (row["numerator"], row["denominator"], row["n"]) == (x, 3, 6)
        assert row["estimate"] == pytest.approx(x / 3, abs=1e-15)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(_wilson(x, 3), abs=1e-12)
        assert row["group"] == ("junior" if reader.startswith("r") else "senior")
    assert points["method"].str.contains("Wilson", case=False).all()


def test_operating_points_accept_label_words_and_warn_only_for_their_metrics(reads):
    words = pd.Series({p: "malignant" if y else "benign" for p, y in TRUTH.items()})
    points = readers.reader_operating_points(reads, words, method="exact")
    assert points["estimate"].tolist() == readers.reader_operating_points(reads, TRUTH)["estimate"].tolist()
    as_floats = pd.Series(TRUTH, dtype=float)  # a label column that pandas read as float
    from_floats = readers.reader_operating_points(reads, as_floats)
    assert from_floats["estimate"].tolist() == points["estimate"].tolist()
    with pytest.warns(stats.UndefinedStatisticWarning, match="the sensitivity is undefined"):
        readers.reader_operating_points(reads, dict.fromkeys(PATIENTS, 0))


def test_operating_points_need_truth_of_every_patient(reads):
    with pytest.raises(InputError, match=r"has no label for 1 patient\(s\) that were read: 'RC0006'") as info:
        readers.reader_operating_points(reads, {p: TRUTH[p] for p in PATIENTS[:5]})
    assert info.value.field == "truth"
    with pytest.raises(InputError, match=r"label 'maybe' of patient 'RC0001' is not 1/0 or 'malignant'"):
        readers.reader_operating_points(reads, {**TRUTH, "RC0001": "maybe"})


def test_reads_csv_frame(reads, tmp_path):
    votes = readers.majority_votes(reads, tie="negative")
    frame = readers.reads_csv_frame(reads, votes)
    assert list(frame.columns) == list(readers.READS_CSV_COLUMNS)
    assert frame["kind"].tolist() == ["reader"] * 18 + ["majority"] * 6 + ["reader"] * 12 + ["majority"] * 6
    own = frame[frame["kind"] == "reader"]
    pd.testing.assert_frame_equal(own[list(readers.READS_COLUMNS)].reset_index(drop=True),
                                  reads.table.reset_index(drop=True))
    majority = frame[frame["kind"] == "majority"].set_index("reader_id")
    assert majority.loc["majority:junior", "call"].tolist() == [1, 1, 0, 0, 1, 0]
    assert majority.loc["majority:junior", "score"].tolist() == pytest.approx(
        [14 / 3, 11 / 3, 2, 7 / 3, 3, 7 / 3])
    assert majority.loc["majority:senior", "call"].tolist() == [1, 0, 1, 0, 0, 0]
    assert majority.loc["majority:senior", "score"].isna().all()
    assert majority.loc["majority:senior", "votes_positive"].tolist() == [2, 1, 2, 0, 1, 0]
    path = tmp_path / "reads.csv"  # what the analysis layer reads back
    frame.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    assert lines[0] == "reader_id,group,patient_id,call,score,kind,votes_positive,n_readers"
    assert lines[1] == "r1,junior,RC0001,1,5.0,reader,,"
    assert lines[19] == "majority:junior,junior,RC0001,1,4.666666666666667,majority,3,3"
    back = pd.read_csv(path, dtype={"patient_id": str})
    assert back.query("kind == 'reader'")["call"].tolist() == reads.table["call"].tolist()


def test_reads_csv_frame_checks_votes(reads):
    votes = readers.majority_votes(reads, tie="positive")
    with pytest.raises(InputError, match=r"does not hold one vote per \(group, patient\)"):
        readers.reads_csv_frame(reads, votes.iloc[1:])
    with pytest.raises(InputError, match=r"lacks column\(s\) 'n_readers'"):
        readers.reads_csv_frame(reads, votes.drop(columns="n_readers"))


# ---------------------------------------------------------------- missing reads


def test_a_reader_missing_patients_is_an_error(files):
    table = pd.read_csv(files["senior"], dtype=str, keep_default_na=False)
    table.drop(index=[7, 10]).to_csv(files["senior"], index=False)  # s2 skips RC0002 and RC0005
    error = _error([files["junior"], files["senior"]])
    assert error.message == "reader 's2' has no read for 2 of the 6 included patients: 'RC0002', 'RC0005'."
    assert (error.file, error.row, error.field) == (str(files["senior"]), None, "patient_id")
    assert "allow_missing=True" in error.hint


def test_missing_reads_allowed_are_reported(files, caplog):
    table = pd.read_csv(files["junior"], dtype=str, keep_default_na=False)
    table.drop(index=[17]).to_csv(files["junior"], index=False)  # r3 skips RC0006
    with caplog.at_level(logging.WARNING, logger="studykit.readers.reads"):
        reads = readers.read_reads(files["junior"], patients=PATIENTS, allow_missing=True)
    assert reads.missing.values.tolist() == [["r3", "junior", "RC0006"]]
    assert "1 read(s) missing: 1 reader(s) skipped patients." in caplog.text
    votes = readers.majority_votes(reads, tie="negative")  # RC0006: r1 0, r2 1 → a tie
    tied = votes.set_index("patient_id").loc["RC0006"]
    assert tied[["call", "votes_positive", "n_readers", "tie"]].tolist() == [0, 1, 2, True]
    assert readers.panel_scores(reads).set_index("patient_id").loc["RC0006", "score"] == 2.5


# ---------------------------------------------------------------- bad files: message, file, row, column, fix


def test_missing_file_and_column(files, tmp_path):
    error = _error(tmp_path / "nowhere.csv")
    assert error.message == "file not found." and error.file == str(tmp_path / "nowhere.csv")
    table = pd.read_csv(files["junior"], dtype=str).rename(columns={"reader_id": "reader"})
    table.to_csv(files["junior"], index=False)
    error = _error(files["junior"])
    assert error.message.startswith("has no column 'reader_id' (columns: 'reader', 'group'")
    assert (error.file, error.row, error.field) == (str(files["junior"]), None, "reader_id")
    assert error.hint == "did you mean 'reader'? Rename that column to 'reader_id'."


def test_semicolon_file_and_header_only_file(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("reader_id;group;patient_id;call\na;g;RC0001;1\n")
    assert _error(path).hint == "the file looks semicolon-separated: save it as comma-separated CSV."
    path.write_text("reader_id,group,patient_id,call\n")
    error = _error(path)
    assert error.message == "has no reads (only a header)." and error.file == str(path)


def test_score_column_required(files):
    error = _error([files["junior"], files["senior"]], score_required=True)
    assert error.message.startswith("has no column 'score'") and error.file == str(files["senior"])
    assert "the protocol requires scores" in error.hint


def test_unknown_patient_suggests_close_match(files):
    _edit(files["junior"], 4, "patient_id", "RC004")
    error = _error(files["junior"])
    assert error.message == "patient 'RC004' is not among the manifest's included patients."
    assert (error.file, error.row, error.field) == (str(files["junior"]), 4, "patient_id")
    assert error.hint == "did you mean 'RC0004'?"


def test_duplicate_read_names_both_rows(files):
    _edit(files["senior"], 9, "patient_id", "RC0002")  # s2's RC0004 row becomes a second RC0002
    error = _error([files["junior"], files["senior"]])
    assert error.message == "reader 's2' reads patient 'RC0002' a second time (first read: senior.csv row 8)."
    assert (error.file, error.row, error.field) == (str(files["senior"]), 9, "patient_id")
    assert error.hint.startswith("keep one read per reader and patient")


def test_call_outside_vocabulary(files):
    _edit(files["junior"], 3, "call", "malign")
    _edit(files["junior"], 5, "call", "maybe")
    error = _error(files["junior"])
    assert error.message == ("call 'malign' is not 'malignant', 'benign', 1 or 0 "
                             "(2 rows in all; this is the first).")
    assert (error.row, error.field, error.hint) == (3, "call", "did you mean 'malignant'?")
    error = _error(files["junior"], positive="yes", negative="no")  # 0/1 pass, words do not
    assert error.message == "call 'malignant' is not 'yes', 'no', 1 or 0 (17 rows in all; this is the first)."
    assert error.row == 1 and "set the call vocabulary (positive=, negative=)" in error.hint


def test_score_not_numeric_or_missing(files):
    _edit(files["junior"], 2, "score", "high")
    error = _error(files["junior"])
    assert error.message == "score 'high' is not a finite number."
    assert (error.file, error.row, error.field) == (str(files["junior"]), 2, "score")
    assert "leave the cell empty" in error.hint
    _edit(files["junior"], 2, "score", "inf")
    assert _error(files["junior"]).message == "score 'inf' is not a finite number."
    _edit(files["junior"], 2, "score", "")
    assert readers.read_reads(files["junior"], patients=PATIENTS).table["score"].isna().sum() == 1
    error = _error(files["junior"], score_required=True)
    assert (error.message, error.row, error.field) == ("score is missing.", 2, "score")
    assert "the protocol analyses the readers' scores" in error.hint


def test_reader_in_two_groups(files):
    _edit(files["senior"], 2, "reader_id", "r1")  # r1 (junior) also reads RC0002 as a senior
    _edit(files["junior"], 2, "reader_id", "r9")  # … after r1's own RC0002 read moves away
    error = _error([files["junior"], files["senior"]], allow_missing=True)
    assert error.message == "reader 'r1' is in group 'senior' here but in 'junior' at junior.csv row 1."
    assert (error.file, error.row, error.field) == (str(files["senior"]), 2, "group")
    assert error.hint.startswith("a reader belongs to one group")


def test_unknown_and_empty_declared_groups(files):
    error = _error([files["junior"], files["senior"]], groups=["junior", "Senior"])
    assert error.message == ("group 'senior' is not a declared reader group ('junior', 'Senior') "
                             "(12 rows in all; this is the first).")
    assert (error.file, error.row, error.field, error.hint) == (str(files["senior"]), 1, "group",
                                                                "did you mean 'Senior'?")
    error = _error(files["junior"], groups=["junior", "senior"])
    assert error.message == "declared reader group(s) 'senior' have no reads."
    assert (error.file, error.field) == (str(files["junior"]), "group")


def test_empty_ids_and_reserved_reader_ids(files):
    _edit(files["junior"], 6, "group", "")
    error = _error(files["junior"])
    assert (error.message, error.row, error.field) == ("group is empty.", 6, "group")
    _edit(files["junior"], 6, "group", "junior")
    _edit(files["junior"], 7, "reader_id", "majority:junior")
    error = _error(files["junior"])
    assert error.message == "reader id 'majority:junior' starts with 'majority:', which marks majority votes."
    assert (error.row, error.field) == (7, "reader_id")


def test_bad_arguments(files):
    for kwargs, field in [({"patients": []}, "patients"), ({"patients": "RC0001"}, "patients"),
                          ({"patients": PATIENTS, "positive": "benign"}, "positive"),
                          ({"patients": PATIENTS, "groups": []}, "groups")]:
        with pytest.raises(InputError) as info:
            readers.read_reads(files["junior"], **kwargs)
        assert info.value.field == field
    with pytest.raises(InputError, match="is not a reader group"):
        readers.read_reads(files["junior"], patients=PATIENTS).group_table("senior")


# ---------------------------------------------------------------- the synthetic cohort


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from studykit.cohort.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth"), tiny=True)


def test_synthetic_cohort_reads_give_the_summary_figures(synthetic):
    manifest = pd.read_csv(synthetic.manifest, dtype=str, keep_default_na=False)
    included = manifest.loc[manifest["excluded_reason"] == "", "patient_id"].tolist()
    excluded = manifest.loc[manifest["excluded_reason"] != "", "patient_id"].tolist()
    reads = readers.read_reads(synthetic.reads, patients=included, excluded=excluded,
                               groups=["junior", "senior"], score_required=True)
    assert len(reads.table) == 6 * len(included) and reads.missing.empty
    truth = manifest.set_index("patient_id")["label"]
    votes = readers.majority_votes(reads)  # three readers per group: no ties
    for summary in synthetic.readers:
        group = votes[votes["group"] == summary.group]
        y = truth.loc[group["patient_id"]].eq("malignant").to_numpy()
        call = group["call"].to_numpy() == 1
        assert (call[y].mean(), (~call[~y]).mean()) == (summary.sensitivity, summary.specificity)
        icc = stats.icc(reads.group_table(summary.group), "patient_id", "reader_id", "score")
        assert icc.set_index("form").loc["ICC2", "estimate"] == pytest.approx(summary.icc, abs=1e-12)
    points = readers.reader_operating_points(reads, truth)
    assert len(points) == 12 and points["n"].eq(len(included)).all()
