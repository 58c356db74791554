"""``studykit.study.plan``: planning the next study from the finished tiny run (session fixture).

The run's own files are copied (lock, predictions, reads), so the fixture stays untouched.
Known answers: the plan's pilot is the run's published MRMC analysis (at the run's size and
observed difference the FRRC non-centrality is the square of ``tables/mrmc.csv``'s z);
``planning.csv`` is the returned table; ``run --fresh`` forgets it.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from study_support import held_lock

from studykit import stats
from studykit.analysis import AnalysisOptions
from studykit.analysis._study import prepare
from studykit.analysis.mrmc import RATING, TRUTH, mrmc_data
from studykit.errors import StudyError
from studykit.study import Layout, plan
from studykit.study.runner import _fresh

FILES = ("protocol.lock.yaml", "predictions.csv", "reads.csv")


@pytest.fixture
def pilot(finished, tmp_path):
    _, results = finished
    folder = tmp_path / "tiny_study"
    folder.mkdir()
    for name in FILES:
        shutil.copy(results / "tiny_study" / name, folder / name)
    return folder


def test_plan_writes_the_table_it_returns(pilot):
    planned = plan(pilot, effect=0.1, readers=(3, 6))
    table = planned.table
    # 2 model arms × 2 reader groups × 2 panel sizes, and the reference muf_net against bmode_net
    assert len(table) == 2 * 2 * 2 + 1
    assert planned.path == Layout(pilot).planning == pilot / "planning.csv"
    pd.testing.assert_frame_equal(pd.read_csv(planned.path), table, check_dtype=False)
    mrmc = table[table["comparison"] == "model_vs_readers"]
    assert set(mrmc["rating"]) == {"score"} and (mrmc["pilot_cases"] == 12).all()
    assert (mrmc["pilot_readers"] == 3).all() and (mrmc["effect"] == 0.1).all()
    sized = mrmc.dropna(subset=["cases"])
    assert len(sized) and (sized["power"] >= 0.8).all()
    assert any("12 patients" in line for line in planned.assumptions)
    assert any(line.startswith("Caution: a pilot of 12 patients") for line in planned.assumptions)


def test_the_plans_pilot_is_the_runs_mrmc_analysis(finished, pilot):
    _, results = finished
    published = pd.read_csv(results / "tiny_study" / "tables" / "mrmc.csv")
    predictions = pd.read_csv(pilot / "predictions.csv", dtype={"patient_id": str})
    reads = pd.read_csv(pilot / "reads.csv", dtype={"patient_id": str, "reader_id": str})
    study = prepare(predictions, reads[reads["kind"] == "reader"], None, AnalysisOptions())
    for row in published[published["analysis"] == "FRRC"].itertuples():
        data, name, _ = mrmc_data(study, row.arm_b, row.arm_a)
        res = stats.mrmc_power(data, reader="reader", case="case", truth=TRUTH, rating=RATING,
                               model_reader=name, effect="observed", readers=3, cases=12, analysis="FRRC")
        assert res["ncp"].item() == pytest.approx(row.statistic**2, rel=1e-9)
        assert res["pilot_effect"].item() == pytest.approx(row.estimate, rel=1e-12)


def test_plan_errors_name_the_fix(pilot, tmp_path):
    with pytest.raises(StudyError, match=r"is not a study's results folder \(no protocol.lock.yaml\)"):
        plan(tmp_path, effect=0.05)
    bad_effect = "'effect': must be an AUC difference strictly between 0 and 1"
    with pytest.raises(StudyError, match=bad_effect) as err:
        plan(pilot, effect=-0.05)
    assert "--effect 0.05" in str(err.value)
    (pilot / "reads.csv").unlink()
    with pytest.raises(StudyError, match=r"has no reads\.csv") as err:
        plan(pilot, effect=0.05)
    assert "add reader arms to the protocol" in str(err.value)
    (pilot / "predictions.csv").unlink()
    with pytest.raises(StudyError, match=r"is not a finished study: it has no predictions\.csv"):
        plan(pilot, effect=0.05)
    assert not (pilot / "planning.csv").exists()


def test_plan_respects_the_results_lock(pilot, tmp_path):
    with held_lock(pilot, 30, tmp_path), \
            pytest.raises(StudyError, match="is in use by another studykit process"):
        plan(pilot, effect=0.05)
    assert not (pilot / "planning.csv").exists()


def test_fresh_forgets_the_plan(pilot):
    layout = Layout(pilot)
    plan(pilot, effect=0.1, readers=(3,))
    assert layout.planning.is_file()
    _fresh(layout)
    assert not layout.planning.exists() and not layout.predictions.exists()
