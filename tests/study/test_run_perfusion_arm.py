"""A perfusion arm through the runner: cached TIC fits, one prediction per patient, the
video-level ceiling, patient-level tables only, resume, and a damaged predictions file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from study_support import (
    MODELS,
    assert_only_arm_trained,
    assert_youden_thresholds,
    protocol_with_arm,
    run_added_arm,
    snapshot,
)

from studykit.errors import StudyError
from studykit.study import run

ARM = "perfusion"


def _protocol(folder: Path, **threshold) -> Path:
    return protocol_with_arm(folder, {"model": str(MODELS / "perfusion.yaml"), "name": ARM}, position=1,
                             **threshold)


@pytest.fixture(scope="module")
def with_perfusion(finished, tmp_path_factory) -> tuple[Path, Path, object]:
    """The finished tiny run copied, a perfusion arm added and run (only its units fit)."""
    folder = tmp_path_factory.mktemp("perfusion-arm")
    protocol = _protocol(folder)
    return (protocol, *run_added_arm(finished, folder, protocol))


def test_only_the_perfusion_units_fit_and_predict_one_row_per_patient(with_perfusion):
    _, root, summary = with_perfusion
    mine = assert_only_arm_trained(summary, root, ARM)
    fits = list((root / "cohort" / "perfusion").glob("*/perfusion.csv"))
    assert len(fits) == 1 and len(pd.read_csv(fits[0])) == len(mine)


def test_tables_hold_the_arm_at_patient_level_against_the_video_ceiling(with_perfusion):
    _, root, _ = with_perfusion
    table3 = pd.read_csv(root / "tables" / "table3_performance.csv")
    assert set(table3.loc[table3["arm"] == ARM, "unit"]) == {"patient"}
    assert "image" in set(table3.loc[table3["arm"] == "muf_net", "unit"])
    comparisons = pd.read_csv(root / "tables" / "comparisons.csv")
    pairs = comparisons[(comparisons["arm_a"] == ARM) | (comparisons["arm_b"] == ARM)]
    assert len(pairs) and set(pairs["unit"]) == {"patient"}
    ceiling = pd.read_csv(root / "tables" / "ceiling.csv")
    assert set(ceiling.loc[ceiling["arm"] == ARM, "ceiling"]) == {"posterior_video_ceus"}
    assert set(ceiling.loc[ceiling["arm"] == "muf_net", "ceiling"]) == {"posterior_frame_both"}
    claim = (root / "claim_checklist.md").read_text()
    assert "perfusion arm, no network" in claim and "the C with the best auc" in claim
    # every default feature group in words (models/perfusion.yaml reads all four)
    assert "lesion − cortex in dB" in claim and "share of dark (non-enhancing) pixels" in claim
    assert "periphery against its centre in dB" in claim


def test_rerun_skips_the_arm_and_refitted_curves_give_the_same_fingerprint(with_perfusion, tmp_path):
    protocol, root, _ = with_perfusion
    shutil.copytree(root.parent, tmp_path / "results")
    copy = tmp_path / "results" / "tiny_study"
    shutil.rmtree(copy / "cohort" / "perfusion")  # the fits are made again, read back the same
    tables = snapshot(copy / "tables")
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    assert snapshot(copy / "tables") == tables


def test_youden_thresholds_are_chosen_for_the_perfusion_arm(with_perfusion, tmp_path):
    _, root, _ = with_perfusion
    assert_youden_thresholds(root, tmp_path, _protocol(tmp_path, threshold="youden_inner_val"), ARM)



def test_a_patient_predicted_twice_is_a_named_error_and_nothing_changes(with_perfusion, tmp_path):
    protocol, root, _ = with_perfusion
    shutil.copytree(root.parent, tmp_path / "results")
    copy = tmp_path / "results" / "tiny_study"
    preds = copy / "arms" / ARM / "fold-0" / "predictions.csv"
    lines = preds.read_text().splitlines(keepends=True)
    preds.write_text("".join([*lines, lines[1]]))
    before = snapshot(copy)
    with pytest.raises(StudyError, match="a patient is predicted twice") as error:
        run(protocol, results=tmp_path / "results", device="cpu")
    assert str(preds) in str(error.value)
    assert snapshot(copy) == before
