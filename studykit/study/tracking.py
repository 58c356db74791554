"""Experiment tracking through MLflow: one parent run per study, one nested run per (arm, fold) unit.

Switched on by the protocol's ``outputs.tracking: {kind: mlflow, uri: …, experiment: …}``
(:class:`~studykit.protocol.study.TrackingSpec`) with the optional extra
``pip install "studykit[tracking]"``. After a run (or ``studykit report``) has published its
outputs, :func:`track_study` logs through :class:`mlflow.MlflowClient` (never the global
"active run", so a notebook's own runs are left alone):

- the **parent run** of the study (run name: the protocol's name): the resolved protocol as
  params (flattened YAML paths: ``design.folds``, ``arms.0.model``, ``analyses.n_boot`` …), the
  headline patient-level estimates of Table 3 as metrics (``<arm>.<metric>``, with
  ``.ci_low``/``.ci_high``), and ``tables/*``, ``report.md`` and ``protocol.lock.yaml`` as
  artifacts (replaced when logged again);
- one **nested run per finished unit** (tag ``mlflow.parentRunId``, run name
  ``<arm>/fold-<k>``): the arm spec as params, every numeric column of ``history.csv`` as a
  metric with ``step=epoch`` (non-finite values are left out), the selection metric
  (``selection.<metric>`` at ``step=best_epoch``, and ``best_epoch``), the unit's decision
  ``threshold``, and ``history.csv``, ``predictions.csv``, ``threshold.json`` (when the rule
  chose one) and ``done.json`` as artifacts.

A unit is logged once, from its files after it finished, so a resumed unit logs its whole
history then. ``arms/<arm>/fold-<k>/tracking.json`` (the nested run's id, its parent's and the
sha256 of ``done.json``) keeps it from being logged twice; a retrained unit (a new
``done.json``) gets a new nested run, and its earlier one the tag ``studykit.superseded_by``.
``tracking.json`` in the results folder records the parent run: a resumed run, another
cluster job's run or a later ``studykit report`` attaches to it, and logs the units finished
since. A changed tracking URI, experiment or resolved protocol
starts a new parent run, under which every finished unit is logged again.

The default store deviates from a plain ``results/<name>/mlruns`` file store on purpose: MLflow
3 refuses the file store ("maintenance mode") unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set, so
the default is a SQLite database inside the results folder,
``sqlite:///<results>/<name>/mlruns/mlflow.db``, with the artifacts in
``<results>/<name>/mlruns/artifacts`` (``mlflow ui --backend-store-uri sqlite:///…`` shows it).

Tracking never breaks a study: every failure (``mlflow`` not installed, an unreachable URI, a
deleted experiment, a failed upload) is a :class:`~studykit.errors.TrackingWarning` naming what
was not logged and the fix. The study's files are complete before tracking starts and are never
changed by it; only the ``tracking.json`` records are added.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from studykit.errors import TrackingWarning
from studykit.protocol.arms import ArmSpec
from studykit.protocol.study import StudyProtocol
from studykit.study.layout import Layout, atomic_write_json
from studykit.study.summary import RunSummary

__all__ = ["TrackingTarget", "TrackingWarning", "flat_params", "track_study", "tracking_target"]

#: How to install what tracking needs.
INSTALL_HINT = 'pip install "studykit[tracking]"'
#: MLflow's limit on a param value (characters); longer values are cut (the full protocol is
#: the parent run's ``protocol.lock.yaml`` artifact).
MAX_PARAM_LENGTH = 6000
#: MLflow's limit on params (and on metrics) per ``log_batch`` call.
BATCH = 100
#: The tag MLflow uses to nest a run under its parent.
PARENT_TAG = "mlflow.parentRunId"
#: ``history.csv`` columns that are numbers but not per-epoch metrics (the step itself).
NOT_METRICS = ("epoch",)


@dataclass(frozen=True)
class TrackingTarget:
    """Where a study is logged: the MLflow tracking ``uri``, the ``experiment`` name and, for the
    default store, the experiment's ``artifacts`` location (a ``file://`` URI; None: the server's)."""

    uri: str
    experiment: str
    artifacts: str | None


class _NotLogged(Exception):
    """A tracking step that cannot be done, with the fix (becomes a :class:`TrackingWarning`)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def tracking_target(protocol: StudyProtocol, layout: Layout) -> TrackingTarget | None:
    """The protocol's tracking target, or None when ``outputs.tracking`` is not set.

    Without ``uri`` the study's own SQLite store ``<results>/<name>/mlruns/mlflow.db`` (absolute
    path) with its artifacts in ``mlruns/artifacts``; without ``experiment`` the protocol's name.
    """
    spec = protocol.outputs.tracking
    if spec is None:
        return None
    experiment = spec.experiment or protocol.name
    if spec.uri is not None:
        return TrackingTarget(spec.uri, experiment, None)
    store = layout.mlruns.resolve()
    return TrackingTarget(f"sqlite:///{(store / 'mlflow.db').as_posix()}", experiment,
                          (store / "artifacts").as_uri())


def track_study(protocol: StudyProtocol, layout: Layout, summary: RunSummary) -> str | None:
    """Log the study in ``layout`` to MLflow when the protocol asks for it (module docstring).

    Call it after the outputs are published (``summary`` is what :func:`studykit.study.run` or
    :func:`studykit.study.report` built: its ``missing`` units are not logged, its
    ``headline`` goes on the parent run). Nothing is raised: a failure warns
    (:class:`~studykit.errors.TrackingWarning`) and leaves the rest logged.

    Returns
    -------
    str or None
        The parent run's id, or None when tracking is off or the parent run could not be opened.
    """
    target = tracking_target(protocol, layout)
    if target is None:
        return None
    where = f"MLflow ({target.uri}, experiment {target.experiment!r})"
    opened = _attempt(f"the study was not logged to {where}", _open, target, protocol, layout)
    if opened is None:
        return None
    client, parent, experiment_id = opened
    missing = {(arm, int(fold)) for arm, fold in summary.missing}
    for arm in protocol.arm_specs:
        for fold in range(protocol.design.folds):
            if (arm.name, fold) not in missing:
                _attempt(f"unit {arm.name} fold {fold} was not logged to {where}", _track_unit,
                         client, parent, experiment_id, arm, fold, layout)
    _attempt(f"the tables and report.md were not logged to {where}", _log_outputs,
             client, parent, layout, summary.headline)
    return parent


def _attempt(what: str, work, *args):
    """``work(*args)``; any exception becomes a :class:`TrackingWarning` ``what: <error>`` with
    the fix, and None is returned."""
    try:
        return work(*args)
    except Exception as exc:
        hint = exc.hint if isinstance(exc, _NotLogged) else (
            "check outputs.tracking (uri, experiment) and that the tracking server is reachable; the "
            "study's files are complete, and the next run or `studykit report` logs what is missing.")
        lines = str(exc).strip().splitlines()
        warnings.warn(f"{what}: {lines[0] if lines else type(exc).__name__}\n  hint: {hint}",
                      TrackingWarning, stacklevel=3)
        return None


def _open(target: TrackingTarget, protocol: StudyProtocol, layout: Layout) -> tuple[Any, str, str]:
    """(client, parent run id, experiment id) of the study."""
    client = _client(target)
    return (client, *_parent_run(client, target, protocol, layout))


def _client(target: TrackingTarget):
    """An :class:`mlflow.MlflowClient` of ``target.uri`` (mlflow imported here, on first use)."""
    try:
        import mlflow
    except ImportError as exc:
        raise _NotLogged(f"the mlflow package is not installed ({exc})",
                         f"{INSTALL_HINT}, or remove outputs.tracking from the protocol.") from exc
    return mlflow.MlflowClient(tracking_uri=target.uri)


def _parent_run(client, target: TrackingTarget, protocol: StudyProtocol, layout: Layout) -> tuple[str, str]:
    """(run id, experiment id) of the study's parent run: the recorded one when it still matches
    the target and the resolved protocol, else a new one (its params logged, recorded in
    ``tracking.json``)."""
    params = flat_params(protocol.model_dump(mode="json"))
    key = {"uri": target.uri, "experiment": target.experiment, "params_sha256": _digest(params)}
    record = _read_json(layout.tracking)
    if record is not None and all(record.get(k) == v for k, v in key.items()) and _active(
            client, record.get("run_id")):
        return record["run_id"], record["experiment_id"]
    experiment_id = _experiment(client, target)
    from studykit import __version__

    run = client.create_run(experiment_id, run_name=protocol.name,
                            tags={"studykit.study": protocol.name, "studykit.version": __version__,
                                  "studykit.results": str(layout.root.resolve())})
    run_id = run.info.run_id
    _log_batch(client, run_id, params=params)
    atomic_write_json(layout.tracking, {**key, "run_id": run_id, "experiment_id": experiment_id})
    return run_id, experiment_id


def _experiment(client, target: TrackingTarget) -> str:
    """The id of ``target.experiment``, created when missing; a deleted one is refused."""
    found = client.get_experiment_by_name(target.experiment)
    if found is None:
        return client.create_experiment(target.experiment, artifact_location=target.artifacts)
    if found.lifecycle_stage != "active":
        raise _NotLogged(
            f"the MLflow experiment {target.experiment!r} is deleted",
            f"restore it (`mlflow experiments restore --experiment-id {found.experiment_id}`) or name "
            "another in outputs.tracking.experiment.")
    return found.experiment_id


def _active(client, run_id: str | None) -> bool:
    """True when ``run_id`` is a run of the store that is not deleted."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return False
    try:
        return client.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise


def _track_unit(client, parent: str, experiment_id: str, arm: ArmSpec, fold: int,
                layout: Layout) -> str | None:
    """Log one finished unit as a nested run of ``parent`` unless its ``tracking.json`` says it
    is logged there already (same parent, same ``done.json``); the new run's id, or None.

    A run left half-logged by a failure is marked ``FAILED``; the run of an earlier ``done.json``
    under the same parent (a retrained unit) gets the tag ``studykit.superseded_by``.
    """
    marker_path = layout.unit_file(arm.name, fold, "tracking")
    done_sha256 = hashlib.sha256(layout.unit_file(arm.name, fold, "done").read_bytes()).hexdigest()
    marker = _read_json(marker_path) or {}
    if (marker.get("parent_run_id"), marker.get("done_sha256")) == (parent, done_sha256):
        return None
    run = client.create_run(experiment_id, run_name=f"{arm.name}/fold-{fold}",
                            tags={PARENT_TAG: parent, "studykit.arm": arm.name, "studykit.fold": str(fold)})
    run_id = run.info.run_id
    try:
        _log_unit(client, run_id, arm, fold, layout)
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    if marker.get("parent_run_id") == parent and marker.get("run_id"):
        client.set_tag(marker["run_id"], "studykit.superseded_by", run_id)
    atomic_write_json(marker_path, {"run_id": run_id, "parent_run_id": parent, "done_sha256": done_sha256})
    return run_id


def _log_unit(client, run_id: str, arm: ArmSpec, fold: int, layout: Layout) -> None:
    """The unit's params, metrics and files on its run ``run_id``, which ends ``FINISHED``."""
    params = {**flat_params(arm.model_dump(mode="json")), "fold": str(fold)}
    _log_batch(client, run_id, params=params, metrics=list(_unit_metrics(layout, arm.name, fold)))
    for what in ("history", "predictions", "threshold", "done"):
        path = layout.unit_file(arm.name, fold, what)
        if path.is_file():
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")


def _unit_metrics(layout: Layout, arm: str, fold: int) -> Iterator[tuple[str, float, int]]:
    """(key, value, step) of a unit: each finite numeric ``history.csv`` value at ``step=epoch``,
    the selection metric at its epoch, ``best_epoch`` and the decision ``threshold``."""
    history = pd.read_csv(layout.unit_file(arm, fold, "history"))
    numeric = pd.api.types.is_numeric_dtype
    columns = [c for c in history.columns if c not in NOT_METRICS and numeric(history[c])
               and not pd.api.types.is_bool_dtype(history[c])]
    for _, row in history.iterrows():
        for column in columns:
            if math.isfinite(float(row[column])):
                yield column, float(row[column]), int(row["epoch"])
    done = _read_json(layout.unit_file(arm, fold, "done")) or {}
    best_epoch, best = done.get("best_epoch"), done.get("best_metric")
    if best_epoch is not None and best is not None and math.isfinite(float(best)):
        yield f"selection.{done.get('metric', 'metric')}", float(best), int(best_epoch)
    if best_epoch is not None:
        yield "best_epoch", float(best_epoch), 0
    threshold = _read_json(layout.unit_file(arm, fold, "threshold"))
    if threshold is not None and threshold.get("value") is not None:
        yield "threshold", float(threshold["value"]), 0


def _log_outputs(client, parent: str, layout: Layout, headline: pd.DataFrame | None) -> None:
    """Tables, report.md and protocol.lock.yaml, and the headline estimates that changed, on the parent."""
    if layout.tables.is_dir():
        client.log_artifacts(parent, str(layout.tables), "tables")
    for path in (layout.report, layout.lock):
        if path.is_file():
            client.log_artifact(parent, str(path))
    latest = client.get_run(parent).data.metrics
    metrics = [(k, v, 0) for k, v in _headline_metrics(headline).items() if latest.get(k) != v]
    _log_batch(client, parent, metrics=metrics)
    client.set_terminated(parent, "FINISHED")


def _headline_metrics(headline: pd.DataFrame | None) -> dict[str, float]:
    """``<arm>.<metric>`` (estimate), ``.ci_low`` and ``.ci_high`` of every finite headline value."""
    out: dict[str, float] = {}
    if headline is None:
        return out
    for row in headline.itertuples(index=False):
        for suffix, value in (("", row.estimate), (".ci_low", row.ci_low), (".ci_high", row.ci_high)):
            if value is not None and math.isfinite(float(value)):
                out[f"{row.arm}.{row.metric}{suffix}"] = float(value)
    return out


def _log_batch(client, run_id: str, *, params: dict[str, str] | None = None,
               metrics: list[tuple[str, float, int]] | None = None) -> None:
    """``params`` and ``metrics`` (key, value, step) in batches of :data:`BATCH`."""
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    items = [Param(k, v) for k, v in (params or {}).items()]
    for start in range(0, len(items), BATCH):
        client.log_batch(run_id, params=items[start:start + BATCH])
    points = [Metric(k, v, now, step) for k, v, step in metrics or []]
    for start in range(0, len(points), BATCH):
        client.log_batch(run_id, metrics=points[start:start + BATCH])


def flat_params(data: Any, prefix: str = "") -> dict[str, str]:
    """A nested mapping as MLflow params: ``{"design": {"folds": 2}}`` → ``{"design.folds": "2"}``.

    Lists holding mappings are indexed (``arms.0.model``); other lists, numbers, booleans and
    None are JSON (``["subtype"]``, ``true``, ``null``); strings stay as they are. Values longer
    than :data:`MAX_PARAM_LENGTH` characters are cut to it (ending in ``…``).
    """
    if isinstance(data, dict) and data:
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(flat_params(value, f"{prefix}{key}."))
        return out
    if isinstance(data, (list, tuple)) and any(isinstance(v, dict) for v in data):
        out = {}
        for i, value in enumerate(data):
            out.update(flat_params(value, f"{prefix}{i}."))
        return out
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True)
    if len(text) > MAX_PARAM_LENGTH:
        text = text[: MAX_PARAM_LENGTH - 1] + "…"
    return {prefix.rstrip("."): text}


def _digest(params: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when it is missing or not a JSON object (then rewritten)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
