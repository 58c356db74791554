"""Run a study protocol: cohort → store → splits → (arm, fold) units → predictions → analyses → outputs.

:func:`run` is resumable and idempotent. The synthetic cohort, the pair store and the splits
are cached (content-addressed or frozen); a unit whose ``done.json`` matches its inputs is
skipped; an interrupted unit resumes from ``checkpoint-last.pt``; a unit whose inputs
changed is trained again. ``predictions.csv`` is merged from every finished unit (not only
the selected ones), so cluster jobs that run one unit each (``arms``, ``folds``) and a final
:func:`studykit.study.report` give the whole study. Tables are always recomputed from
``predictions.csv`` and ``reads.csv``. Every file is written atomically. Before anything is
trained, torch's thread count and deterministic mode are set from the protocol's ``runtime``
(:func:`studykit.train.configure_runtime`, process-wide) and recorded in ``provenance.json``.
The results folder is locked while the shared inputs are prepared and the outputs written,
each unit's folder while it trains (:mod:`studykit.study.lock`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from studykit.analysis import youden_on_validation
from studykit.cohort import Cohort, PairStore, Splits, ingest, load_or_make_splits
from studykit.cohort.cohort import MANIFEST_FILE
from studykit.errors import InputError, StudyError
from studykit.protocol.arms import ArmSpec
from studykit.protocol.study import DesignSpec, StudyProtocol, load_protocol
from studykit.study import merge, tracking
from studykit.study.checks import check_inputs
from studykit.study.layout import Layout, atomic_write_json
from studykit.study.lock import results_lock
from studykit.study.merge import prepare_cohort
from studykit.study.perfusion_inputs import perfusion_inputs, prepare_perfusion
from studykit.study.provenance import (
    input_hashes,
    protocol_from_lock,
    read_lock_document,
    write_lock_document,
    write_provenance,
)
from studykit.study.summary import RunSummary, UnitExecutor, UnitResult
from studykit.train import UnitConflictError, configure_runtime, dist_context, fit, predict, read_done
from studykit.train.checkpoint import fingerprint
from studykit.train.perfusion import features_key, fit_perfusion, predict_perfusion
from studykit.train.sequence import ATTENTION, fit_sequence, predict_sequence
from studykit.vocab import THRESHOLD_YOUDEN, Progress, did_you_mean

__all__ = [
    "RunSummary",
    "Unit",
    "UnitResult",
    "apply_runtime",
    "plan_units",
    "prepare_cohort",
    "report",
    "run",
    "run_unit",
    "unit_is_current",
]



@dataclass(frozen=True)
class Unit:
    """One (arm, fold) training job."""

    arm: ArmSpec
    fold: int


def _noop(done: int, total: int, description: str) -> None:
    return None


def plan_units(
    protocol: StudyProtocol, *, arms: Sequence[str] | None = None, folds: Sequence[int] | None = None
) -> list[Unit]:
    """The selected (arm, fold) units, arms in protocol order then folds.

    Unknown arm names (did-you-mean) and out-of-range folds are :class:`InputError`.
    """
    names = [a.name for a in protocol.arm_specs]
    for name in arms or ():
        if name not in names:
            raise InputError(
                f"no model arm named {name!r}; model arms: {', '.join(names)}.",
                field="--arms",
                hint=did_you_mean(name, names, "use the names listed."),
            )
    n = protocol.design.folds
    for k in folds or ():
        if not 0 <= k < n:
            raise InputError(f"fold {k} does not exist; folds are 0..{n - 1}.", field="--folds")
    chosen = [a for a in protocol.arm_specs if arms is None or a.name in arms]
    return [Unit(a, k) for a in chosen for k in range(n) if folds is None or k in folds]


def _ingest(protocol: StudyProtocol, cohort: Cohort, layout: Layout, progress: Progress) -> PairStore:
    c, d = protocol.columns, protocol.design
    return ingest(
        cohort.dir,
        layout.store_root,
        size=d.crop_size,
        margin=d.margin,
        workers=d.ingest_workers,
        id_column=c.id,
        label_column=c.label,
        positive=c.positive,
        negative=c.negative,
        panels=protocol.cohort.panels,
        progress=lambda done, total, what: progress(done, total, f"ingest: {what}"),
        manifest=cohort.validated,
    )


def patient_table(
    store: PairStore, manifest: pd.DataFrame | None, stratify_by: Sequence[str]
) -> pd.DataFrame:
    """One row per stored patient: ``patient_id, label`` and the stratification columns."""
    index = store.index
    keep = ["label", *[c for c in stratify_by if c in index.columns]]
    table = index.groupby("patient_id", as_index=False, sort=True)[keep].first()
    extra = [c for c in stratify_by if c not in table.columns]
    if extra:
        if manifest is None or any(c not in manifest.columns for c in extra):
            raise InputError(
                f"cannot stratify by {extra}: no such manifest column.",
                field="design.stratify_by",
                hint="name columns of the manifest (subtype, center, …).",
            )
        table = table.merge(manifest[["patient_id", *extra]], on="patient_id", how="left")
    return table


def _splits(protocol: StudyProtocol, store: PairStore, manifest: pd.DataFrame, layout: Layout) -> Splits:
    d = protocol.design
    table = patient_table(store, manifest, d.stratify_by)
    return load_or_make_splits(
        layout.splits,
        table,
        n_folds=d.folds,
        val_fraction=d.val_fraction,
        seed=d.seed,
        stratify_by=list(d.stratify_by),
    )


def _train_unit(
    unit: Unit, store: PairStore, splits: Splits, layout: Layout, device: str, progress: Progress,
    threshold_rule: str = "fixed", fallback: float = 0.5,
) -> UnitResult:
    """Fit (or skip, or resume) one unit, then predict its test fold when not done yet."""
    if not unit.arm.trains_network:
        return _fit_perfusion_unit(unit, store, splits, layout, progress, threshold_rule, fallback)
    start = time.perf_counter()
    fold = splits.fold(unit.fold)
    out = layout.unit(unit.arm.name, unit.fold)
    label = f"{unit.arm.name} fold {unit.fold}"
    hook = lambda done, total, _text: progress(done, total, label)  # noqa: E731
    fit_fn, predict_fn = _network_steps(unit.arm)
    status = "trained"
    try:
        result = fit_fn(unit.arm, store, fold, out, device=device, progress=hook)
    except UnitConflictError:
        status = "retrained"
        result = fit_fn(unit.arm, store, fold, out, device=device, progress=hook, resume=False)
    if result.skipped:
        status = "skipped"
        progress(unit.arm.epochs, unit.arm.epochs, label)
    if not dist_context().main:  # a torchrun rank but the first: rank 0 predicts and writes
        return UnitResult(unit.arm.name, unit.fold, status, time.perf_counter() - start)
    if _needs_prediction(unit, layout):
        predict_fn(unit.arm, store, fold, result.best_checkpoint, device=device, out_dir=out)
    if threshold_rule == THRESHOLD_YOUDEN and _needs_threshold(unit, layout):
        _choose_threshold(unit, store, fold, result.best_checkpoint, layout, device, fallback)
    return UnitResult(unit.arm.name, unit.fold, status, time.perf_counter() - start)


def _network_steps(arm: ArmSpec):
    """The fit and predict functions of a network arm: the sequence arm's train and predict
    patients (:mod:`studykit.train.sequence`), the frame arms' images (:func:`fit`, :func:`predict`)."""
    return (fit_sequence, predict_sequence) if arm.kind == "sequence" else (fit, predict)


def _fit_perfusion_unit(unit: Unit, store: PairStore, splits: Splits, layout: Layout, progress: Progress,
                        threshold_rule: str, fallback: float) -> UnitResult:
    """:func:`_train_unit` for a perfusion arm: fit (or skip) its logistic regression on the
    study's cached TIC features, predict the test patients, choose the threshold."""
    start = time.perf_counter()
    fold, out = splits.fold(unit.fold), layout.unit(unit.arm.name, unit.fold)
    features, labels = perfusion_inputs(unit.arm, layout, store)
    try:
        result, status = fit_perfusion(unit.arm, features, labels, fold, out), "trained"
    except UnitConflictError:
        result, status = fit_perfusion(unit.arm, features, labels, fold, out, resume=False), "retrained"
    status = "skipped" if result.skipped else status
    progress(1, 1, f"{unit.arm.name} fold {unit.fold}")
    if _needs_prediction(unit, layout):
        predict_perfusion(unit.arm, features, labels, fold, out)
    if threshold_rule == THRESHOLD_YOUDEN and _needs_threshold(unit, layout):
        val = predict_perfusion(unit.arm, features, labels, fold, out, write=False, patients=fold.val)
        _freeze_threshold(unit, val, fold, layout, fallback)
    return UnitResult(unit.arm.name, unit.fold, status, time.perf_counter() - start)


def _needs_threshold(unit: Unit, layout: Layout) -> bool:
    """True when the unit's ``threshold.json`` is absent or older than its ``done.json``."""
    done = layout.unit_file(unit.arm.name, unit.fold, "done")
    path = layout.unit_file(unit.arm.name, unit.fold, "threshold")
    return not path.is_file() or path.stat().st_mtime_ns < done.stat().st_mtime_ns


def _choose_threshold(unit: Unit, store: PairStore, fold, checkpoint: Path, layout: Layout, device: str,
                      fallback: float) -> None:
    """Predict the fold's inner-validation patients and freeze the Youden threshold of their
    patient-level probabilities to ``threshold.json`` (the test fold is not looked at)."""
    val = _network_steps(unit.arm)[1](unit.arm, store, fold, checkpoint, device=device, patients=fold.val)
    _freeze_threshold(unit, val, fold, layout, fallback)


def _freeze_threshold(unit: Unit, val: pd.DataFrame, fold, layout: Layout, fallback: float) -> None:
    """Youden's threshold of the inner-validation predictions ``val`` to ``threshold.json``."""
    value, origin = youden_on_validation(val, rule=unit.arm.aggregation, fallback=fallback)
    record = {"rule": THRESHOLD_YOUDEN, "value": value, "origin": origin,
              "n_val_patients": len(fold.val), "aggregation": unit.arm.aggregation}
    atomic_write_json(layout.unit_file(unit.arm.name, unit.fold, "threshold"), record)


def _needs_prediction(unit: Unit, layout: Layout) -> bool:
    """True when the unit's predictions (or its explanation: the Grad-CAM maps of a frame arm,
    the attention weights of a sequence arm) are absent or older than its ``done.json``."""
    done = layout.unit_file(unit.arm.name, unit.fold, "done")
    preds = layout.unit_file(unit.arm.name, unit.fold, "predictions")
    if not preds.is_file() or preds.stat().st_mtime_ns < done.stat().st_mtime_ns:
        return True
    if unit.arm.kind == "sequence":
        return not (layout.unit(unit.arm.name, unit.fold) / ATTENTION).is_file()
    wants_gradcam = unit.arm.trains_network and unit.arm.gradcam_images > 0
    return wants_gradcam and not layout.unit_file(unit.arm.name, unit.fold, "gradcam").is_file()


def unit_is_current(unit: Unit, store: PairStore, splits: Splits, layout: Layout, design: DesignSpec) -> bool:
    """True when training ``unit`` would do nothing: its ``done.json`` records these inputs (arm
    spec, store, fold) and its predictions, Grad-CAM maps and threshold are no older than it."""
    done = read_done(layout.unit_file(unit.arm.name, unit.fold, "done"))
    if done is None or done.get("fingerprint") != _unit_fingerprint(unit, store, splits, layout):
        return False
    if _needs_prediction(unit, layout):
        return False
    return not (design.threshold == THRESHOLD_YOUDEN and _needs_threshold(unit, layout))


def _unit_fingerprint(unit: Unit, store: PairStore, splits: Splits, layout: Layout) -> dict:
    """The fingerprint a finished unit's ``done.json`` must record (a perfusion arm's covers its
    feature table instead of the pair store)."""
    fold = splits.fold(unit.fold)
    if unit.arm.trains_network:
        return fingerprint(unit.arm, store, fold)
    return fingerprint(unit.arm, features_key(perfusion_inputs(unit.arm, layout, store)[0]), fold)


def _checklist_keys() -> list[str]:
    """The reporting checklists' keys (``stard``, ``claim``); the report layer is imported here,
    not at module level, so a unit's job does not load the figure libraries."""
    from studykit.report.checklists import CHECKLISTS

    return list(CHECKLISTS)


def _fresh(layout: Layout) -> None:
    """Forget trained units and outputs (keeps the cached cohort and pair store)."""
    for path in (layout.root / "arms", layout.tables, layout.figures):
        shutil.rmtree(path, ignore_errors=True)
    for path in (layout.predictions, layout.reads, layout.report, layout.splits, layout.provenance,
                 layout.planning, layout.tracking, *map(layout.checklist, _checklist_keys())):
        path.unlink(missing_ok=True)


def apply_runtime(protocol: StudyProtocol, threads: int | None = None) -> dict[str, int | bool | str | None]:
    """Set torch's intra-op threads and deterministic kernels from the protocol's ``runtime``.

    ``threads`` (a count, >= 1), when given, overrides ``runtime.threads`` (``--threads``).
    Returns what is in force (:func:`studykit.train.configure_runtime`), for ``provenance.json``.
    """
    spec = protocol.runtime
    return configure_runtime(spec.threads if threads is None else threads, spec.deterministic)


def _timed(stages: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    stages[name] = stages.get(name, 0.0) + now - start
    return now


def run(
    protocol: StudyProtocol | str | Path,
    *,
    arms: Sequence[str] | None = None,
    folds: Sequence[int] | None = None,
    device: str = "auto",
    threads: int | None = None,
    fresh: bool = False,
    results: str | Path = "results",
    progress: Progress | None = None,
    wait_lock: bool = False,
    executor: UnitExecutor | None = None,
) -> RunSummary:
    """Run (or resume) the study: train the selected units, then rebuild every output.

    Parameters
    ----------
    protocol : StudyProtocol or path
        A loaded protocol, or the path of its YAML file.
    arms, folds : optional
        Model arm names and 0-based fold indices to train (default: all). Outputs are built
        from every finished unit; the rest are listed in ``RunSummary.missing``.
    device : ``auto``, ``cpu``, ``cuda``
        Training device for every unit.
    threads : int >= 1, optional
        torch intra-op CPU threads for this run, overriding the protocol's
        ``runtime.threads`` (default 2). Set process-wide before training.
    fresh : bool
        Forget trained units, splits and outputs first (the cached cohort and store stay).
    results : path
        The results root; the run writes ``<results>/<protocol name>/``.
    progress : callable(done, total, description), optional
        Progress hook (the CLI's rich bars): ``synthesize cohort``, ``ingest: …``, ``units``,
        one per unit (epochs) and ``analyses``.
    wait_lock : bool
        When another process holds the results folder or a unit this run trains
        (:func:`~studykit.study.lock.results_lock`: the folder is locked while the shared inputs
        are prepared and while the outputs are written, each unit while it trains), wait for it
        instead of failing at once. Cluster jobs of different units pass it and train in parallel.
    executor : optional
        Who trains the units (:mod:`studykit.study.executors`): None, one after the other in
        this process; a local executor, in parallel processes (each unit as :func:`run_unit`
        trains it), then the outputs here; a SLURM executor submits them and a report job and
        returns at once (``RunSummary.jobs``; the outputs are the report job's).

    Returns
    -------
    RunSummary
    """
    protocol = protocol if isinstance(protocol, StudyProtocol) else load_protocol(protocol)
    units = plan_units(protocol, arms=arms, folds=folds)
    layout = Layout.of(results, protocol.name)
    progress = progress or _noop
    runtime = apply_runtime(protocol, threads)
    start = t0 = time.perf_counter()
    stages: dict[str, float] = {}
    with results_lock(layout.root, wait=wait_lock):  # the shared inputs: cohort, store, splits, lock file
        cohort_dir = prepare_cohort(protocol, layout, progress)  # a cache, not a result
        cohort = merge.study_cohort(protocol, cohort_dir)
        check_inputs(protocol, cohort)  # every input check, before the study's files are touched
        if fresh:
            _fresh(layout)
        frozen = merge.frozen_splits(layout)
        for unit in units:  # damaged records fail now, not after the units before them trained
            _in_unit(unit, merge.check_unit_records, protocol, layout, unit.arm.name, unit.fold, frozen)
        t0 = _timed(stages, "cohort", t0)
        store = _ingest(protocol, cohort, layout, progress)
        cohort = cohort.with_store(store)
        t0 = _timed(stages, "ingest", t0)
        splits = _splits(protocol, store, cohort.manifest, layout)
        hashes = input_hashes(protocol, cohort_dir, _reader_files(protocol, cohort_dir), store.key)
        write_lock_document(layout.lock, protocol, hashes, cohort_dir, store.path)
        prepare_perfusion(list({u.arm.name: u.arm for u in units}.values()), layout, store, cohort_dir,
                          protocol.columns.id, protocol.columns.label, progress)
        t0 = _timed(stages, "perfusion", t0)
    if executor is None:
        done_units = _train_all(units, store, splits, layout, device, progress, protocol.design, wait_lock)
    else:  # --executor local | slurm: each unit in its own process, as run_unit trains it
        todo = [u for u in units if not unit_is_current(u, store, splits, layout, protocol.design)]
        trained = executor.train(protocol, layout, todo, device=device, threads=threads, progress=progress)
        if trained is None:  # submitted: the report job builds the outputs
            return RunSummary(layout.root, missing=[(u.arm.name, u.fold) for u in todo], jobs=executor.jobs)
        current = [UnitResult(u.arm.name, u.fold, "skipped", 0.0) for u in units if u not in todo]
        done_units = current + trained
    t0 = _timed(stages, "train", t0)
    from studykit.study import publish  # tables, figures: imported here, not by a unit's job (run_unit)

    with results_lock(layout.root, wait=wait_lock):  # the shared outputs
        summary = publish.build(
            protocol,
            layout,
            cohort=cohort,
            store=store,
            progress=progress,
            stages=stages,
            hashes=hashes,
            device=device,
            runtime=runtime,
        )
        summary.units = done_units
        summary.wall_s = time.perf_counter() - start
        write_provenance(
            protocol, layout, hashes=hashes, device=device, stages=stages, units=done_units,
            wall_s=summary.wall_s, runtime=runtime,
        )
        tracking.track_study(protocol, layout, summary)  # MLflow (outputs.tracking); only ever warns
    return summary


def run_unit(results_dir: str | Path, arm: str, fold: int, *, device: str = "auto",
             threads: int | None = None, progress: Progress | None = None, lock: bool = True) -> UnitResult:
    """Train unit (``arm``, ``fold``) of a results folder :func:`run` prepared, as :func:`run` does.

    The work of an executor's job (:mod:`studykit.study.executors`): the protocol comes from
    the folder's ``protocol.lock.yaml``, the pair store and the frozen splits from its
    ``cohort/``; the runtime (threads, deterministic kernels) is set as :func:`run` sets it,
    ``threads`` overriding ``runtime.threads``. The unit's folder is locked while it trains,
    waiting for another holder; ``lock=False``: the caller holds it (a ``torchrun`` rank).
    """
    layout = Layout(Path(results_dir))
    document = read_lock_document(layout.lock)
    protocol = protocol_from_lock(document)
    apply_runtime(protocol, threads)
    unit = plan_units(protocol, arms=[arm], folds=[fold])[0]
    store, splits = PairStore(document["store"]), merge.frozen_splits(layout)
    progress, design = progress or _noop, protocol.design
    if lock:
        return _in_unit(unit, _train_locked, unit, store, splits, layout, device, progress, design, True)
    return _in_unit(unit, _train_unit, unit, store, splits, layout, device, progress, design.threshold,
                    design.threshold_value)


def _reader_files(protocol: StudyProtocol, cohort_dir: Path) -> list[Path]:
    return protocol.reader_paths(cohort_dir)


def _train_all(
    units: list[Unit], store: PairStore, splits: Splits, layout: Layout, device: str, progress: Progress,
    design: DesignSpec, wait_lock: bool = False,
) -> list[UnitResult]:
    """Train the units one after the other, each under its own lock (so that processes sharing
    a results folder — cluster jobs of other units — train in parallel, never the same unit)."""
    results = []
    progress(0, len(units), "units")
    for i, unit in enumerate(units):
        results.append(_in_unit(unit, _train_locked, unit, store, splits, layout, device, progress, design,
                                wait_lock))
        progress(i + 1, len(units), "units")
    return results


def _train_locked(unit: Unit, store: PairStore, splits: Splits, layout: Layout, device: str,
                  progress: Progress, design: DesignSpec, wait_lock: bool) -> UnitResult:
    """:func:`_train_unit` holding the unit folder's lock."""
    with results_lock(layout.unit(unit.arm.name, unit.fold), wait=wait_lock):
        return _train_unit(unit, store, splits, layout, device, progress, design.threshold,
                           design.threshold_value)


def _in_unit(unit: Unit, work, *args):
    """``work(*args)``, its :class:`StudyError` prefixed with the unit it concerns."""
    try:
        return work(*args)
    except StudyError as exc:
        exc.message = f"unit {unit.arm.name} fold {unit.fold}: {exc.message}"
        exc.args = (exc._render(),)
        raise




def report(results_dir: str | Path, *, progress: Progress | None = None,
           wait_lock: bool = False) -> RunSummary:
    """Rebuild reads.csv, predictions.csv, tables, figures and report.md of a results folder.

    Merges every finished unit (cluster jobs included) and lists the missing ones in
    ``RunSummary.missing``; trains nothing.

    Raises
    ------
    StudyError
        ``results_dir`` holds no ``protocol.lock.yaml`` (not a run's folder).
    """
    layout = Layout(Path(results_dir))
    if not layout.lock.is_file():
        raise StudyError(
            "is not a study's results folder (no protocol.lock.yaml).",
            file=str(results_dir),
            hint="pass results/<protocol name>, written by `studykit run PROTOCOL`.",
        )
    with results_lock(layout.root, wait=wait_lock):
        return _report_locked(layout, progress)


def _report_locked(layout: Layout, progress: Progress | None) -> RunSummary:
    """:func:`report`'s work, with the results folder locked."""
    from studykit.study import publish
    lock = read_lock_document(layout.lock)
    protocol = protocol_from_lock(lock)
    cohort_dir = Path(lock["cohort_dir"])
    store_path = lock.get("store")
    store = PairStore(store_path) if store_path and Path(store_path).is_dir() else None
    start = time.perf_counter()
    has_manifest = (cohort_dir / MANIFEST_FILE).is_file()
    summary = publish.build(
        protocol,
        layout,
        cohort=merge.study_cohort(protocol, cohort_dir, store) if has_manifest else None,
        store=store,
        progress=progress or _noop,
        stages={},
        hashes=lock.get("inputs_sha256"),
    )
    summary.wall_s = time.perf_counter() - start
    tracking.track_study(protocol, layout, summary)  # MLflow (outputs.tracking); only ever warns
    return summary
