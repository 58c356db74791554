"""A sequence arm (temporal MUF-Net) in a study: runner dispatch, resume, patient-level tables,
the attention weights as its explanation (issue 13 item 3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import study_support as support

from studykit.study import run

ARM = "sequence_net"


def _protocol(folder: Path, **design) -> Path:
    overrides = {"device": "cpu", "input_size": 32, "batch_size": 4, "epochs": 2, "sequence": {"frames": 3}}
    arm = {"model": str(support.MODELS / "tiny" / "sequence_net.yaml"), "name": ARM, "overrides": overrides}
    return support.protocol_with_arm(folder, arm, position=2, **design)


@pytest.fixture(scope="module")
def with_sequence(finished, tmp_path_factory) -> tuple[Path, Path, object]:
    """The finished tiny run copied, a sequence arm added and run (only its units train)."""
    folder = tmp_path_factory.mktemp("sequence-arm")
    protocol = _protocol(folder)
    return (protocol, *support.run_added_arm(finished, folder, protocol))


def test_only_the_sequence_units_train_and_predict_one_row_per_patient(with_sequence):
    _, root, summary = with_sequence
    mine = support.assert_only_arm_trained(summary, root, ARM)
    assert mine["prob_malignant"].between(0, 1).all()


def test_each_unit_explains_its_calls_by_attention_over_the_test_patients_frames(with_sequence):
    _, root, _ = with_sequence
    preds = pd.read_csv(root / "predictions.csv", dtype={"patient_id": str, "image_id": str})
    for fold in (0, 1):
        attention = pd.read_csv(root / "arms" / ARM / f"fold-{fold}" / "attention.csv",
                                dtype={"patient_id": str, "image_id": str})
        muf = preds[(preds["arm"] == "muf_net") & (preds["fold"] == fold)]
        assert sorted(attention["image_id"]) == sorted(muf["image_id"])  # all frames at prediction
        sums = attention.groupby("patient_id")["frame_weight"].sum()
        np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-5)


def test_tables_hold_the_arm_at_patient_level_against_the_video_ceiling(with_sequence):
    _, root, _ = with_sequence
    table3 = pd.read_csv(root / "tables" / "table3_performance.csv")
    assert set(table3.loc[table3["arm"] == ARM, "unit"]) == {"patient"}
    ceiling = pd.read_csv(root / "tables" / "ceiling.csv")
    assert set(ceiling.loc[ceiling["arm"] == ARM, "ceiling"]) == {"posterior_video_both"}
    comparisons = pd.read_csv(root / "tables" / "comparisons.csv")
    pairs = comparisons[(comparisons["arm_a"] == ARM) | (comparisons["arm_b"] == ARM)]
    assert len(pairs) and set(pairs["unit"]) == {"patient"}
    claim = (root / "claim_checklist.md").read_text()
    assert "sequence network (temporal MUF-Net)" in claim and "attention pooling" in claim
    # the attention over time, drawn from the units' attention.csv, is the arm's explanation
    assert (root / "figures" / "attention.png").stat().st_size > 10_000
    assert "per-frame attention weights against time since injection" in claim
    assert "figures/attention.png" in (root / "report.md").read_text()


def test_rerun_skips_and_a_lost_attention_file_is_predicted_again_without_training(with_sequence, tmp_path):
    protocol, root, _ = with_sequence
    shutil.copytree(root.parent, tmp_path / "results")
    copy = tmp_path / "results" / "tiny_study"
    tables = support.snapshot(copy / "tables")
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    assert support.snapshot(copy / "tables") == tables
    attention = copy / "arms" / ARM / "fold-1" / "attention.csv"
    before = attention.read_bytes()
    attention.unlink()
    weights = (copy / "arms" / ARM / "fold-1" / "done.json").read_bytes()
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    assert {u.status for u in summary.units if u.arm == ARM} == {"skipped"}
    assert attention.read_bytes() == before  # predicted again, the same weights
    assert (copy / "arms" / ARM / "fold-1" / "done.json").read_bytes() == weights
    assert support.snapshot(copy / "tables") == tables


def test_youden_thresholds_are_chosen_on_the_inner_validation_patients(with_sequence, tmp_path):
    _, root, _ = with_sequence
    support.assert_youden_thresholds(root, tmp_path, _protocol(tmp_path, threshold="youden_inner_val"), ARM)
