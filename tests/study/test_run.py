"""End to end: a tiny study run, its outputs, re-runs, reproducibility, SIGKILL resume, cluster subsets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from study_support import copy_cohort, invoke, tiny_protocol, write_protocol

from studykit.study import report, run, validate
from studykit.study.lock import LOCK_NAME
from studykit.vocab import TABLES

FIGURES = ("roc", "calibration", "decision_curve", "flow", "gradcam")


def _tables(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "tiny_study" / "tables").glob("*.csv"))}


def _checkpoints(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted((root / "tiny_study" / "arms").rglob("*.pt"))}


_cli = invoke


def test_run_writes_every_output(finished):
    _, results = finished
    root = results / "tiny_study"
    for name in (
        "protocol.lock.yaml",
        "provenance.json",
        "predictions.csv",
        "reads.csv",
        "report.md",
        "cohort/splits.json",
    ):
        assert (root / name).is_file(), name
    for table in TABLES:
        assert (root / "tables" / f"{table}.csv").is_file() and (root / "tables" / f"{table}.tex").is_file()
    for figure in FIGURES:
        assert (root / "figures" / f"{figure}.png").is_file() and (
            root / "figures" / f"{figure}.pdf"
        ).is_file()
    predictions = pd.read_csv(root / "predictions.csv")
    assert set(predictions["arm"]) == {"bmode_net", "muf_net"} and set(predictions["fold"]) == {0, 1}
    assert predictions.groupby("arm")["patient_id"].nunique().eq(12).all()
    reads = pd.read_csv(root / "reads.csv")
    assert set(reads["kind"]) == {"reader", "majority"}
    lock = yaml.safe_load((root / "protocol.lock.yaml").read_text())
    assert lock["protocol"]["name"] == "tiny_study" and "pair_store_key" in lock["inputs_sha256"]
    assert any(k.endswith("manifest.csv") for k in lock["inputs_sha256"])
    provenance = json.loads((root / "provenance.json").read_text())
    assert {"versions", "git_commit", "seeds", "device", "wall_time_s"} <= set(provenance)
    text = (root / "report.md").read_text()
    for part in (
        "## Cohort",
        "## Design",
        "Table 3",
        "## Key comparisons",
        "## Reader study (MRMC)",
        "## Decision curve analysis",
        "at 99 threshold probabilities p_t from 0.01 to 0.99 in steps of 0.01",
        "![Decision curve](figures/decision_curve.png)",
        "figures/roc.png",
        "## Provenance",
    ):
        assert part in text
    mrmc = pd.read_csv(root / "tables" / "mrmc.csv")
    rrrc = mrmc[mrmc["analysis"] == "RRRC"].iloc[0]
    assert f"readers − model {rrrc['estimate']:.3f}" in text  # the paragraph quotes the table


def test_provenance_and_done_json_record_the_runtime_in_force(finished):
    """The tiny protocol gives no runtime section: the defaults (2 threads, deterministic) are
    set before training and recorded in provenance.json, report.md and every done.json."""
    _, results = finished
    root = results / "tiny_study"
    runtime = json.loads((root / "provenance.json").read_text())["runtime"]
    assert runtime["threads"] == 2 and runtime["deterministic"] is True
    assert runtime["cublas_workspace_config"] == ":4096:8" and runtime["interop_threads"] >= 1
    for done in sorted((root / "arms").glob("*/fold-*/done.json")):
        assert json.loads(done.read_text())["threads"] == 2, done
    assert "- **runtime**:\n  - **threads**: `2`" in (root / "report.md").read_text()


def test_threads_option_overrides_the_protocol_runtime(finished, tmp_path):
    """runtime.threads of the protocol is used, `--threads` overrides it; neither is a unit
    input, so a finished study trains nothing again."""
    _, results = finished
    shutil.copytree(results, tmp_path / "results")
    protocol = write_protocol(tmp_path, tiny_protocol(runtime={"threads": 3, "deterministic": True}))
    provenance = tmp_path / "results" / "tiny_study" / "provenance.json"
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    assert json.loads(provenance.read_text())["runtime"]["threads"] == 3
    out = _cli("run", protocol, "--results", tmp_path / "results", "--device", "cpu", "--threads", "1")
    assert out.exit_code == 0, out.output
    assert json.loads(provenance.read_text())["runtime"]["threads"] == 1
    out = _cli("run", protocol, "--results", tmp_path / "results", "--threads", "0")
    assert out.exit_code == 2 and "'--threads': 0 is not in the range x>=1" in out.output


def test_rerun_trains_nothing(finished):
    protocol, results = finished
    before = _checkpoints(results)
    tables = _tables(results)
    summary = run(protocol, results=results, device="cpu")
    assert {u.status for u in summary.units} == {"skipped"} and not summary.missing
    assert _checkpoints(results) == before
    assert _tables(results) == tables


def test_changing_an_analysis_option_recomputes_only_analyses(finished, tmp_path):
    _, results = finished
    shutil.copytree(results, tmp_path / "results")
    data = tiny_protocol(analyses={"reference": "muf_net", "n_boot": 200, "seed": 0, "calibration_bins": 4})
    protocol = write_protocol(tmp_path, data)
    before = _checkpoints(tmp_path / "results")
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    assert _checkpoints(tmp_path / "results") == before
    changed = _tables(tmp_path / "results")
    assert changed["calibration.csv"] != _tables(results)["calibration.csv"]  # reliability bins
    assert changed["table3_performance.csv"] == _tables(results)["table3_performance.csv"]


def test_same_protocol_and_seed_give_identical_tables(finished, tmp_path):
    protocol, results = finished
    run(protocol, results=tmp_path / "again", device="cpu")
    first, second = _tables(results), _tables(tmp_path / "again")
    assert sorted(first) == sorted(f"{t}.csv" for t in TABLES)
    assert first == second


def _wait_for(path_glob: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(path_glob.parent.glob(path_glob.name)) if path_glob.parent.is_dir() else []
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(f"studykit run ended (status {process.returncode}) before {path_glob} appeared")
        time.sleep(0.05)
    pytest.fail(f"{path_glob} did not appear within {timeout} s")


def test_sigkill_then_rerun_gives_the_uninterrupted_tables(finished, tmp_path):
    protocol, results = finished
    target = tmp_path / "killed"
    command = [
        sys.executable,
        "-c",
        "from studykit.cli import main; main()",
        "run",
        str(protocol),
        "--results",
        str(target),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_for(target / "tiny_study" / "arms" / "bmode_net" / "fold-0" / "checkpoint-last.pt", process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (target / "tiny_study" / "tables").exists()
    summary = run(protocol, results=target, device="cpu")
    assert not summary.missing
    assert _tables(target) == _tables(results)


def test_subset_of_units_then_report_lists_the_missing(finished, tmp_path):
    protocol, results = finished
    copy_cohort(results, tmp_path)
    out = _cli(
        "run", protocol, "--results", tmp_path, "--arms", "bmode_net", "--folds", "0", "--device", "cpu"
    )
    assert out.exit_code == 0, out.output
    assert "missing units (3)" in out.output and "muf_net fold 1" in out.output
    assert (tmp_path / "tiny_study" / "tables" / "table3_performance.csv").is_file()
    summary = report(tmp_path / "tiny_study")
    assert summary.missing == [("bmode_net", 1), ("muf_net", 0), ("muf_net", 1)]
    shutil.copytree(results / "tiny_study" / "arms" / "muf_net", tmp_path / "tiny_study" / "arms" / "muf_net")
    shutil.copytree(
        results / "tiny_study" / "arms" / "bmode_net" / "fold-1",
        tmp_path / "tiny_study" / "arms" / "bmode_net" / "fold-1",
    )
    out = _cli("report", tmp_path / "tiny_study")
    assert out.exit_code == 0, out.output
    assert "missing" not in out.output and "Table 3" in out.output
    assert _tables(tmp_path) == _tables(results)


def test_validate_checks_inputs_without_training(finished, tmp_path):
    protocol, results = finished
    checks = {c.what: c.detail for c in validate(protocol, results=results)}
    assert "12 included patients" in checks["manifest"] and "junior, senior" in checks["readers"]
    out = _cli("validate", protocol, "--results", tmp_path)
    assert out.exit_code == 0, out.output
    assert "synthetic, cached in" in out.output and "junior, senior" in out.output
    assert "is valid" in out.output
    made = tmp_path / "tiny_study"
    written = {p.relative_to(made).parts[:2] for p in made.rglob("*") if p.is_file() and p.name != LOCK_NAME}
    assert written == {("cohort", "raw")}  # only the synthetic cohort, the one the run then reuses
    raw, ours = results / "tiny_study" / "cohort" / "raw", made / "cohort" / "raw"
    assert {p.relative_to(ours): p.read_bytes() for p in ours.rglob("*") if p.is_file()} == \
        {p.relative_to(raw): p.read_bytes() for p in raw.rglob("*") if p.is_file()}


def test_cli_errors_exit_2(finished, tmp_path):
    protocol, results = finished
    out = _cli("run", protocol, "--results", results, "--arms", "muf_nett")
    assert out.exit_code == 2 and "did you mean 'muf_net'" in out.output
    out = _cli("run", protocol, "--results", results, "--folds", "7")
    assert out.exit_code == 2 and "fold 7 does not exist" in out.output
    out = _cli("report", tmp_path)
    assert out.exit_code == 2 and "no protocol.lock.yaml" in out.output


def test_changed_arm_recipe_retrains_only_that_arm(finished, tmp_path):
    _, results = finished
    shutil.copytree(results, tmp_path / "results")
    data = tiny_protocol()
    data["arms"][0]["overrides"]["epochs"] = 1
    protocol = write_protocol(tmp_path, data)
    summary = run(protocol, results=tmp_path / "results", device="cpu")
    status = {(u.arm, u.fold): u.status for u in summary.units}
    assert status == {
        ("bmode_net", 0): "retrained",
        ("bmode_net", 1): "retrained",
        ("muf_net", 0): "skipped",
        ("muf_net", 1): "skipped",
    }
    history = pd.read_csv(
        tmp_path / "results" / "tiny_study" / "arms" / "bmode_net" / "fold-0" / "history.csv"
    )
    assert len(history) == 1


def test_fresh_forgets_trained_units(finished, tmp_path):
    protocol, results = finished
    shutil.copytree(results, tmp_path / "results")
    out = _cli(
        "run",
        protocol,
        "--results",
        tmp_path / "results",
        "--arms",
        "bmode_net",
        "--folds",
        "0",
        "--fresh",
        "--device",
        "cpu",
    )
    assert out.exit_code == 0, out.output
    assert "units: 1 trained" in out.output and "missing units (3)" in out.output
    assert not (tmp_path / "results" / "tiny_study" / "arms" / "muf_net").exists()


def test_youden_threshold_is_chosen_on_inner_validation_patients(youden_finished):
    """threshold: youden_inner_val freezes, per unit, the Youden threshold of the fold's
    inner-validation patients (recomputed here independently) and applies it to the test fold;
    switching the rule on a finished study trains nothing."""
    from studykit import stats
    from studykit.cohort import PairStore, Splits
    from studykit.protocol import load_protocol
    from studykit.train import aggregate_patients, predict

    path, results = youden_finished
    root = results / "tiny_study"
    protocol = load_protocol(path)
    splits = Splits.from_json((root / "cohort" / "splits.json").read_text())
    store = PairStore(next(p for p in (root / "cohort" / "store").iterdir() if p.is_dir()))
    predictions = pd.read_csv(root / "predictions.csv", dtype={"patient_id": str, "image_id": str})
    for arm in protocol.arm_specs:
        for fold in splits.folds:
            unit = root / "arms" / arm.name / f"fold-{fold.index}"
            frozen = json.loads((unit / "threshold.json").read_text())
            val = predict(arm, store, replace(fold, test=fold.val), unit / "checkpoint-best.pt", device="cpu")
            patients = aggregate_patients(val, arm.aggregation)
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                expected = stats.youden_threshold(patients["label"], patients["prob_malignant"])
            if np.isfinite(expected):
                assert frozen["value"] == pytest.approx(expected, rel=1e-12)
                assert frozen["origin"].startswith("Youden on")
            else:  # no threshold beats calling everyone alike on these few patients: the fallback
                assert frozen["value"] == 0.5 and "Youden undefined" in frozen["origin"]
            assert frozen["n_val_patients"] == len(fold.val) and not set(fold.val) & set(fold.test)
            used = predictions[(predictions["arm"] == arm.name) & (predictions["fold"] == fold.index)]
            assert (used["threshold"] == frozen["value"]).all()
    table3 = pd.read_csv(root / "tables" / "table3_performance.csv")
    model_rows = table3[table3["arm"].isin([a.name for a in protocol.arm_specs])]
    assert (model_rows["threshold_origin"] == "Youden on each fold's inner-validation patients").all()


def test_decision_curve_is_recomputed_from_predictions_and_reads(finished):
    """tables/decision_curve.csv: each model arm's patient mean of prob_malignant and each group's
    majority vote from reads.csv, through stats.decision_curve with the protocol's seed and n_boot."""
    from studykit import stats

    _, results = finished
    root = results / "tiny_study"
    table = pd.read_csv(root / "tables" / "decision_curve.csv")
    predictions = pd.read_csv(root / "predictions.csv", dtype={"patient_id": str})
    reads = pd.read_csv(root / "reads.csv", dtype={"patient_id": str})
    means = predictions.groupby(["arm", "patient_id"])["prob_malignant"].mean().unstack(0).sort_index()
    votes = reads[reads["kind"] == "majority"].pivot(index="patient_id", columns="group", values="call")
    y = predictions.drop_duplicates("patient_id").set_index("patient_id")["label"].loc[means.index]
    probs = {arm: means[arm].to_numpy() for arm in ("bmode_net", "muf_net")}
    probs |= {g: votes.loc[means.index, g].to_numpy(float) for g in ("junior", "senior")}
    expected = stats.decision_curve(y.to_numpy(), probs, n_boot=200, seed=0)
    assert list(table["arm"]) == list(expected["model"])
    for column in ("estimate", "ci_low", "ci_high", "tp_rate", "fp_rate", "threshold"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-15, atol=0, err_msg=column)
    assert set(table.loc[table["arm"].isin(["junior", "senior"]), "arm_kind"]) == {"readers"}
