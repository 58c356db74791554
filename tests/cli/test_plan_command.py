"""``studykit plan RESULTS_DIR``: the readers × cases table of a finished (pilot) study.

The pilot is the fake study (``tests/fake_study.py``: 181 patients, three model arms, two
panels of three readers' calls) laid out as a finished run of the demo protocol; nothing is
trained. Known answers: at the pilot's own size and observed difference the plan's
non-centrality is the square of the ``mrmc`` table's test statistic (the plan extrapolates
the test the study ran); every printed size is the one written to planning.csv.
"""

from __future__ import annotations

import math
from pathlib import Path

import fake_study as fake
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from studykit import stats
from studykit.analysis import AnalysisOptions, mrmc_table
from studykit.analysis._study import prepare
from studykit.analysis.mrmc import RATING, TRUTH, mrmc_data
from studykit.cli.app import cli

DEMO = Path(__file__).resolve().parents[2] / "protocols" / "renal_ceus_demo.yaml"


def invoke(*args):
    from studykit.cli import commands  # noqa: F401  (registers the commands, as main() does)

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def pilot(tmp_path_factory) -> Path:
    return fake.write_pilot(tmp_path_factory.mktemp("pilot") / "renal_ceus_demo", DEMO)


@pytest.fixture(scope="module")
def planned(pilot):
    result = invoke("plan", pilot, "--effect", "0.05", "--readers", "3,5,10,20")
    return result, pd.read_csv(pilot / "planning.csv")


def test_plan_prints_and_writes_the_table(planned):
    result, table = planned
    assert result.exit_code == 0, result.output
    # 3 model arms × 2 panels × 4 reader counts, and muf_net (the reference) against the 2 other models
    assert len(table) == 3 * 2 * 4 + 2
    assert set(table["comparison"]) == {"model_vs_readers", "model_vs_model"}
    lines = result.output.splitlines()
    mrmc = table[table["comparison"] == "model_vs_readers"]
    for (model, group), rows in mrmc.groupby(["arm_b", "arm_a"]):
        cells = ["unreachable" if math.isnan(k) else str(int(k))
                 for k in rows.sort_values("readers")["cases"]]
        printed = [line for line in lines if f" {model} vs {group} " in line]
        assert len(printed) == 1 and [c.strip() for c in printed[0].split("│")[2:-1]] == cells
    for row in table[table["comparison"] == "model_vs_model"].itertuples():
        printed = [line for line in lines if f" {row.arm_a} vs {row.arm_b} " in line]
        assert [c.strip() for c in printed[0].split("│")[2:-1]] == [
            str(int(row.cases)), f"{row.n_pos:.0f} / {row.n_neg:.0f}", f"{row.power:.3f}"]
    for line in ("Assumptions", "181 patients (100 malignant, 81 benign)",
                 "AUC difference of 0.05 with power 0.8 at two-sided alpha 0.05",
                 "the model a modality with no reader variance", "keep the pilot's prevalence",
                 "unreachable with that many readers", "written: "):
        assert line in result.output


def test_sizes_reach_the_power_and_more_readers_need_fewer_patients(planned):
    _, table = planned
    mrmc = table[table["comparison"] == "model_vs_readers"]
    sized = mrmc.dropna(subset=["cases"])
    assert (sized["power"] >= 0.8).all() and (sized["power"] < 0.81).all()
    assert (mrmc[mrmc["cases"].isna()]["power_max"] < 0.8).all()
    for _, rows in mrmc.groupby(["arm_a", "arm_b"]):
        cases = rows.sort_values("readers")["cases"].fillna(1e18).to_numpy()  # unreachable: more than any
        assert np.all(np.diff(cases) <= 0)
    prevalence = 100 / 181
    assert np.allclose(sized["n_pos"], sized["cases"] * prevalence)
    pairs = table[table["comparison"] == "model_vs_model"]
    assert set(zip(pairs["arm_a"], pairs["arm_b"])) == {("muf_net", "bmode_net"), ("muf_net", "ceus_net")}
    assert (pairs["cases"] == pairs["n_pos"] + pairs["n_neg"]).all() and (pairs["power"] >= 0.8).all()


def test_plan_at_the_pilot_size_is_the_studys_own_test(pilot):
    """ncp at (3 readers, 181 patients, observed difference) = statistic² of the mrmc table."""
    predictions = pd.read_csv(pilot / "predictions.csv", dtype={"patient_id": str})
    reads = pd.read_csv(pilot / "reads.csv", dtype={"patient_id": str, "reader_id": str})
    reads = reads[reads["kind"] == "reader"]
    options = AnalysisOptions()
    published = mrmc_table(predictions, reads, options=options).set_index(["arm_a", "arm_b", "analysis"])
    study = prepare(predictions, reads, None, options)
    checked = 0
    for model in ("bmode_net", "muf_net"):
        for group in ("junior", "senior"):
            data, name, _ = mrmc_data(study, model, group)
            plan = stats.mrmc_power(data, reader="reader", case="case", truth=TRUTH, rating=RATING,
                                    model_reader=name, effect="observed", readers=3, cases=181,
                                    analysis="all").set_index("analysis")
            for analysis in ("RRRC", "FRRC", "RRFC"):
                if analysis != "FRRC" and plan.loc[analysis, "var_r"] < 0:
                    continue  # σ²_R clipped at 0: the plan is no longer the pilot's own test
                row = published.loc[(group, model, analysis)]
                assert plan.loc[analysis, "ncp"] == pytest.approx(row["statistic"] ** 2, rel=1e-10)
                assert plan.loc[analysis, "ddf"] == pytest.approx(row["df"], rel=1e-10)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize("args, message", [
    (["--effect", "0"], "'--effect': must be an AUC difference strictly between 0 and 1; got 0.0."),
    (["--effect", "0.05", "--readers", "1,3"], "expected reader counts of at least 2"),
    (["--effect", "0.05", "--power", "1.2"], "'--power': must be a number strictly between 0 and 1"),
])
def test_bad_options_exit_2_with_the_flag_named(pilot, args, message):
    result = invoke("plan", pilot, *args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_not_a_finished_study_exits_2_naming_the_fix(pilot, tmp_path):
    result = invoke("plan", tmp_path, "--effect", "0.05")
    assert result.exit_code == 2
    assert "is not a study's results folder (no protocol.lock.yaml)" in result.output
    for name, message in (("predictions.csv", "is not a finished study: it has no predictions.csv"),
                          ("reads.csv", "has no reads.csv")):
        folder = tmp_path / name
        folder.mkdir()
        for other in ("protocol.lock.yaml", "predictions.csv", "reads.csv"):
            if other != name:
                (folder / other).write_bytes((pilot / other).read_bytes())
        result = invoke("plan", folder, "--effect", "0.05")
        assert result.exit_code == 2 and message in result.output and "hint:" in result.output
        assert not (folder / "planning.csv").exists()
