"""The shared vocabulary: one aggregation registry, atomic writes, near-miss hints, labels."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from studykit import stats, vocab
from studykit.errors import InputError
from studykit.vocab import (
    AGGREGATION_EPS,
    AGGREGATIONS,
    atomic_write,
    ci_label,
    did_you_mean,
    require_columns,
)


@pytest.mark.parametrize("module", ["studykit.vocab", "studykit.study.layout"])
def test_imports_no_torch(module):
    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------- one aggregation registry
def test_train_and_analysis_aggregate_with_the_same_registry():
    from studykit import analysis, train

    assert train.AGGREGATIONS is AGGREGATIONS and analysis.AGGREGATIONS is AGGREGATIONS
    # saturated probabilities, where the clipping eps decides the logit mean
    images = pd.DataFrame({"arm": "a", "fold": 0, "patient_id": ["p1", "p1", "p2", "p2"],
                           "image_id": [1, 2, 3, 4], "label": [1, 1, 0, 0],
                           "prob_malignant": [1.0, 1 - 1e-9, 1e-12, 0.3], "threshold": 0.5})
    for rule in AGGREGATIONS:
        selected = train.aggregate_patients(images, rule)["prob_malignant"].to_numpy()
        reported = analysis.aggregate_patients(images, rule=rule)["prob_malignant"].to_numpy()
        np.testing.assert_array_equal(selected, reported)


def test_logit_mean_clips_at_the_one_eps():
    assert AGGREGATIONS["logit_mean"]([1.0]) == pytest.approx(1 - AGGREGATION_EPS, rel=1e-12)
    assert AGGREGATIONS["logit_mean"]([0.0]) == pytest.approx(AGGREGATION_EPS, rel=1e-9)
    p = np.array([0.2, 0.7, 0.9])
    odds = np.prod(p / (1 - p)) ** (1 / 3)
    assert AGGREGATIONS["logit_mean"](p) == pytest.approx(odds / (1 + odds), rel=1e-12)


# ---------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("content", ["ünïcode\nline two\n", b"\x00\x01bytes"])
def test_atomic_write_text_and_bytes(tmp_path, content):
    target = tmp_path / "new" / "sub" / "file.txt"
    assert atomic_write(target, content) == target
    data = target.read_bytes()
    assert data == (content.encode("utf-8") if isinstance(content, str) else content)
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a.json", "{}\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_hands_the_writer_a_sibling_with_the_suffix(tmp_path):
    seen = []
    atomic_write(tmp_path / "fig.pdf", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"%PDF")))
    assert seen[0].parent == tmp_path and seen[0].suffix == ".pdf" and seen[0].name.startswith(".fig.")
    assert (tmp_path / "fig.pdf").read_bytes() == b"%PDF"


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")

    def broken(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, broken)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


# ---------------------------------------------------------------- hints, columns, labels
def test_did_you_mean():
    assert did_you_mean("maen", AGGREGATIONS) == "did you mean 'mean'?"
    assert did_you_mean("zzz", AGGREGATIONS) is None
    assert did_you_mean("zzz", AGGREGATIONS, "use one of …") == "use one of …"
    assert did_you_mean(11, [1, 2]) == "did you mean '1'?"


def test_require_columns_names_the_missing_one():
    frame = pd.DataFrame(columns=["arm", "patient_id", "prob_malignat"])
    with pytest.raises(InputError, match=r"'predictions': has no column 'prob_malignant' .*\n"
                                         r"  hint: did you mean 'prob_malignat'\?"):
        require_columns(frame, ("arm", "prob_malignant"), table="predictions")
    with pytest.raises(InputError, match=r"must be a pandas DataFrame; got dict"):
        require_columns({}, ("arm",), table="predictions")


@pytest.mark.parametrize(("level", "label"), [(0.95, "95% CI"), (0.9, "90% CI"), (0.975, "97.5% CI"),
                                              (0.99, "99% CI")])
def test_ci_label(level, label):
    assert ci_label(level) == label


# ---------------------------------------------------------------- the code knows every name
def test_every_vocab_name_runs_where_it_is_used():
    from studykit.analysis import AnalysisOptions
    from studykit.stats import _mrmc_kernels

    for rule in vocab.AGGREGATIONS:
        AnalysisOptions(aggregation=rule)
    for form in vocab.ICC_FORMS:
        AnalysisOptions(icc_form=form)
    for rating in vocab.READER_RATINGS:
        AnalysisOptions(reader_rating=rating)
    AnalysisOptions(units=vocab.UNITS, analyses=vocab.TABLES)
    ratings = pd.DataFrame({"t": np.repeat(np.arange(6), 3), "r": np.tile([0, 1, 2], 6),
                            "x": [1, 2, 2, 3, 3, 4, 2, 2, 3, 5, 4, 5, 1, 1, 2, 4, 5, 5]})
    assert stats.icc(ratings, "t", "r", "x")["form"].tolist() == list(vocab.ICC_FORMS)
    for method in vocab.PROPORTION_METHODS:
        stats.diagnostic_metrics([0, 1, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0], method=method)
    for tie in vocab.TIE_RULES[1:]:
        stats.majority_vote(pd.DataFrame({"t": [1, 1], "r": [1, 2], "c": [0, 1]}), "t", "r", "c", tie=tie)
    assert tuple(_mrmc_kernels.COVARIANCES) == vocab.MRMC_COVARIANCES


def test_exclusion_reasons_is_the_one_rule():
    reasons = [None, " ", np.nan, " poor image ", "", "NA"]
    frame = pd.DataFrame({"excluded_reason": reasons, "why": list("abcdef")})
    assert vocab.exclusion_reasons(frame).tolist() == ["", "", "", "poor image", "", "NA"]
    assert vocab.exclusion_reasons(frame, "why").tolist() == list("abcdef")
    assert vocab.exclusion_reasons(frame.drop(columns="excluded_reason")).tolist() == [""] * 6


def test_require_table_columns_names_every_missing_one():
    frame = pd.DataFrame({"arm": [1], "fpr": [0.0]})
    vocab.require_table_columns(frame, "curves", ["arm", "fpr"])
    message = r"curves lacks required column\(s\) 'tpr', 'x'; it has arm, fpr"
    with pytest.raises(InputError, match=message) as info:
        vocab.require_table_columns(frame, "curves", ["arm", "tpr", "x"], hint="build it with analysis")
    assert (info.value.field, info.value.hint) == ("tpr", "build it with analysis")
