"""MLflow tracking (studykit/study/tracking.py) against a real local store, read back with
``mlflow.search_runs``: a copy of the finished tiny study run again with ``outputs.tracking``
(its units are done, so nothing trains) gives one parent run and one nested run per unit whose
params, per-epoch metrics and artifacts are the study's files; resuming and ``studykit report``
add nothing twice; a broken URI, a deleted experiment or a missing mlflow package warn and
change no table."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from study_support import invoke, tiny_protocol, write_protocol

from studykit.errors import TrackingWarning
from studykit.protocol import load_protocol
from studykit.study import Layout, report, run
from studykit.study.tracking import INSTALL_HINT, flat_params, track_study, tracking_target
from studykit.vocab import THRESHOLD_YOUDEN

STUDY = "tiny_study"
UNITS = [(arm, fold) for arm in ("bmode_net", "muf_net") for fold in (0, 1)]


def _copy(finished, folder: Path, tracking: dict, **design) -> tuple[Path, Path]:
    """(protocol, results root): the finished study copied into ``folder``, its protocol asking
    for ``tracking`` (``outputs.tracking``) with the ``design`` changes."""
    _, results = finished
    shutil.copytree(results, folder / "results")
    data = tiny_protocol(outputs={"decimals": 3, "tracking": tracking})
    data["design"] |= design
    return write_protocol(folder, data), folder / "results"


def _tables(results: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((results / STUDY / "tables").glob("*"))}


def _runs(uri: str) -> pd.DataFrame:
    """Every run of the experiment ``tiny_study`` in the store at ``uri`` (``mlflow.search_runs``)."""
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=[STUDY])
    finally:
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def tracked(finished, tmp_path_factory):
    """(protocol path, results root, store URI) of the finished study run again with the default
    tracking store and Youden thresholds (each unit's threshold.json is chosen now, nothing
    trains), no warning allowed."""
    protocol, results = _copy(finished, tmp_path_factory.mktemp("tracked"), {"kind": "mlflow"},
                              threshold=THRESHOLD_YOUDEN)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        summary = run(protocol, results=results, device="cpu")
    assert {u.status for u in summary.units} == {"skipped"}
    return protocol, results, f"sqlite:///{(results / STUDY / 'mlruns' / 'mlflow.db').resolve().as_posix()}"


def _parent(runs: pd.DataFrame) -> pd.Series:
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1, parents
    return parents.iloc[0]


def test_one_parent_run_with_the_resolved_protocol_and_a_nested_run_per_unit(tracked):
    protocol, results, uri = tracked
    runs = _runs(uri)
    parent = _parent(runs)
    nested = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(runs) == 5 and sorted(nested["tags.mlflow.runName"]) == [f"{a}/fold-{k}" for a, k in UNITS]
    assert parent["tags.mlflow.runName"] == STUDY and set(runs["status"]) == {"FINISHED"}
    assert parent["params.name"] == STUDY and parent["params.design.folds"] == "2"
    assert parent["params.analyses.n_boot"] == "200" and parent["params.design.stratify_by"] == "[]"
    assert parent["params.arms.1.model"].endswith("muf_net.yaml")
    assert parent["params.outputs.tracking.kind"] == "mlflow"
    full = flat_params(load_protocol(protocol).model_dump(mode="json"))
    assert {k: parent[f"params.{k}"] for k in full} == full
    muf = nested[nested["tags.mlflow.runName"] == "muf_net/fold-1"].iloc[0]
    assert muf["params.name"] == "muf_net" and muf["params.epochs"] == "2" and muf["params.fold"] == "1"
    assert muf["params.kind"] == "mufnet" and muf["tags.studykit.arm"] == "muf_net"
    record = json.loads((results / STUDY / "tracking.json").read_text())
    assert record["run_id"] == parent["run_id"] and record["uri"] == uri


def test_unit_metrics_per_epoch_are_history_csv_and_the_selection_metric_is_done_json(tracked):
    _, results, uri = tracked
    client, layout = MlflowClient(uri), Layout(results / STUDY)
    runs = _runs(uri).set_index("tags.mlflow.runName")
    for arm, fold in UNITS:
        run_id = runs.loc[f"{arm}/fold-{fold}", "run_id"]
        history = pd.read_csv(layout.unit_file(arm, fold, "history"))
        for column in ("loss", "loss_fused", "val_auc", "val_accuracy", "lr", "seconds"):
            logged = sorted((m.step, m.value) for m in client.get_metric_history(run_id, column))
            assert logged == list(zip(history["epoch"], history[column])), (arm, fold, column)
        done = json.loads(layout.unit_file(arm, fold, "done").read_text())
        selection = client.get_metric_history(run_id, f"selection.{done['metric']}")
        assert [(m.step, m.value) for m in selection] == [(done["best_epoch"], done["best_metric"])]
        threshold = json.loads(layout.unit_file(arm, fold, "threshold").read_text())
        assert [m.value for m in client.get_metric_history(run_id, "threshold")] == [threshold["value"]]
        bmode_losses = client.get_metric_history(run_id, "loss_bmode")  # B-mode-only arms have none
        assert [m.value for m in bmode_losses] == ([] if arm == "bmode_net" else list(history["loss_bmode"]))


def test_unit_files_are_artifacts_of_their_run_and_the_tables_and_report_of_the_parent(tracked, tmp_path):
    _, results, uri = tracked
    client, layout = MlflowClient(uri), Layout(results / STUDY)
    runs = _runs(uri)
    by_name = runs.set_index("tags.mlflow.runName")["run_id"]
    unit_run = by_name["bmode_net/fold-0"]
    assert {a.path for a in client.list_artifacts(unit_run)} == {
        "history.csv", "predictions.csv", "threshold.json", "done.json"}
    got = Path(client.download_artifacts(unit_run, "predictions.csv", str(tmp_path)))
    assert got.read_bytes() == layout.unit_file("bmode_net", 0, "predictions").read_bytes()
    parent = _parent(runs)["run_id"]
    assert {a.path for a in client.list_artifacts(parent)} >= {"tables", "report.md", "protocol.lock.yaml"}
    tables = Path(client.download_artifacts(parent, "tables", str(tmp_path / "p")))
    assert {p.name: p.read_bytes() for p in sorted(tables.glob("*"))} == _tables(results)
    report_md = Path(client.download_artifacts(parent, "report.md", str(tmp_path / "r")))
    assert report_md.read_bytes() == layout.report.read_bytes()
    table3 = pd.read_csv(layout.tables / "table3_performance.csv")
    auc = table3.set_index(["arm", "unit", "metric"]).loc[("muf_net", "patient", "auc")]
    assert _parent(runs)[["metrics.muf_net.auc", "metrics.muf_net.auc.ci_low"]].tolist() == [
        auc["estimate"], auc["ci_low"]]


def test_resuming_and_report_attach_to_the_same_parent_and_log_nothing_twice(tracked):
    protocol, results, uri = tracked
    client = MlflowClient(uri)
    before = _runs(uri)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        run(protocol, results=results, device="cpu")
        report(results / STUDY)
    after = _runs(uri)
    assert sorted(after["run_id"]) == sorted(before["run_id"])
    for run_id in after.loc[after["tags.mlflow.parentRunId"].notna(), "run_id"]:
        assert len(client.get_metric_history(run_id, "loss")) == 2
    parent = _parent(after)["run_id"]
    assert len(client.get_metric_history(parent, "muf_net.auc")) == 1
    # a unit trained again (a new done.json) gets a new nested run under the same parent
    layout = Layout(results / STUDY)
    done = layout.unit_file("muf_net", 1, "done")
    done.write_text(done.read_text() + "\n")
    assert track_study(load_protocol(protocol), layout, _summary(layout)) == parent
    again = _runs(uri)
    assert len(again) == 6 and _parent(again)["run_id"] == parent
    both = again[again["tags.mlflow.runName"] == "muf_net/fold-1"]
    newest = json.loads(layout.unit_file("muf_net", 1, "tracking").read_text())["run_id"]
    assert len(both) == 2 and newest in set(both["run_id"])
    old = both[both["run_id"] != newest].iloc[0]
    assert old["tags.studykit.superseded_by"] == newest and old["status"] == "FINISHED"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_tracking_server_warns_and_the_tables_are_those_of_an_untracked_run(
        finished, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://127.0.0.1:{_closed_port()}"
    protocol, results = _copy(finished, tmp_path, {"kind": "mlflow", "uri": uri})
    with pytest.warns(TrackingWarning, match=rf"(?s)the study was not logged to MLflow \({uri}, experiment "
                                             r"'tiny_study'\): .*Connection refused.*hint: check "
                                             r"outputs.tracking") as caught:
        run(protocol, results=results, device="cpu")
    assert len(caught) == 1
    assert _tables(results) == _tables(finished[1])
    assert not (results / STUDY / "tracking.json").exists() and not (results / STUDY / "mlruns").exists()


def test_a_deleted_experiment_warns_how_to_restore_it(tracked):
    protocol, results, uri = tracked
    client = MlflowClient(uri)
    client.delete_experiment(client.create_experiment("gone"))
    layout = Layout(results / STUDY)
    gone = load_protocol(protocol)
    gone = gone.model_copy(update={"outputs": gone.outputs.model_copy(update={
        "tracking": gone.outputs.tracking.model_copy(update={"experiment": "gone"})})})
    record = (results / STUDY / "tracking.json").read_bytes()
    with pytest.warns(TrackingWarning, match=r"(?s)experiment .gone. is deleted.*mlflow experiments restore"):
        assert track_study(gone, layout, _summary(layout)) is None
    assert (results / STUDY / "tracking.json").read_bytes() == record


def _summary(layout: Layout):
    from studykit.study import RunSummary

    return RunSummary(results=layout.root)


def test_without_mlflow_installed_the_warning_says_how_to_install_it(tracked, monkeypatch):
    protocol, results, uri = tracked
    layout, count = Layout(results / STUDY), len(_runs(uri))
    layout.unit_file("bmode_net", 0, "tracking").unlink()  # a unit that would be logged now
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
        with pytest.warns(TrackingWarning, match=r"(?s)the mlflow package is not installed.*"
                                                 + re.escape(INSTALL_HINT)):
            assert track_study(load_protocol(protocol), layout, _summary(layout)) is None
    assert len(_runs(uri)) == count


def test_the_default_store_is_sqlite_in_the_results_folder_and_the_experiment_the_protocol_name(tmp_path):
    data = tiny_protocol(outputs={"tracking": {"kind": "mlflow"}})
    protocol = load_protocol(write_protocol(tmp_path, data))
    target = tracking_target(protocol, Layout.of(tmp_path / "results", STUDY))
    mlruns = (tmp_path / "results" / STUDY / "mlruns").resolve()
    assert target.uri == f"sqlite:///{mlruns.as_posix()}/mlflow.db" and target.experiment == STUDY
    assert target.artifacts == (mlruns / "artifacts").as_uri()
    chosen = {"tracking": {"kind": "mlflow", "uri": "http://h:5000", "experiment": "e"}}
    target = tracking_target(load_protocol(write_protocol(tmp_path / "b", tiny_protocol(outputs=chosen))),
                             Layout(tmp_path))
    assert (target.uri, target.experiment, target.artifacts) == ("http://h:5000", "e", None)
    untracked = load_protocol(write_protocol(tmp_path / "c", tiny_protocol()))
    assert tracking_target(untracked, Layout(tmp_path)) is None


def test_flat_params_index_lists_of_mappings_and_write_other_values_as_json():
    data = {"a": {"b": 1, "c": [1, 2], "d": None, "e": True}, "arms": [{"m": "x.yaml"}, {"m": "y"}], "s": "t",
            "long": "x" * 7000}
    flat = flat_params(data)
    assert {k: v for k, v in flat.items() if k != "long"} == {
        "a.b": "1", "a.c": "[1, 2]", "a.d": "null", "a.e": "true", "arms.0.m": "x.yaml", "arms.1.m": "y",
        "s": "t"}
    assert len(flat["long"]) == 6000 and flat["long"].endswith("…")


def test_a_changed_protocol_starts_a_new_parent_run_with_every_finished_unit(tracked):
    protocol, results, uri = tracked
    layout, before = Layout(results / STUDY), _runs(uri)
    changed = load_protocol(protocol)
    changed = changed.model_copy(update={"analyses": changed.analyses.model_copy(update={"n_boot": 300})})
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        parent = track_study(changed, layout, _summary(layout))
    after = _runs(uri)
    assert parent not in set(before["run_id"]) and len(after) == len(before) + 5
    new = after[after["tags.mlflow.parentRunId"] == parent]
    assert sorted(new["tags.mlflow.runName"]) == [f"{a}/fold-{k}" for a, k in UNITS]
    assert after.set_index("run_id").loc[parent, "params.analyses.n_boot"] == "300"


def test_the_cli_prints_a_tracking_failure_as_one_warning_line_and_exits_0(tracked, monkeypatch):
    _, results, _ = tracked
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "mlflow", None)
        out = invoke("report", results / STUDY)
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if "mlflow package is not installed" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: the study was not logged"), out.output
    assert "TrackingWarning" not in out.output and "warnings.warn" not in out.output
