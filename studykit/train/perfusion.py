"""Fit and predict one ``perfusion`` arm on one fold: TIC features → logistic regression.

A perfusion arm (``kind: perfusion``, :class:`~studykit.protocol.arms.PerfusionSpec`) reads
each patient's CEUS video as time–intensity curves (:func:`studykit.cohort.perfusion.perfusion_fits`,
computed once per study and shared by its units) and classifies the patient from them, so it
predicts patients, not images: one row per patient in ``predictions.csv`` with an empty
``image_id`` (the image-level analyses leave such arms out).

:func:`perfusion_features` turns the fits into one feature row per patient (the spec's
``features`` groups); :func:`fit_perfusion` standardises them on the fold's training
patients, fills what a patient lacks with their medians, fits an L2-penalised logistic
regression (scikit-learn, lbfgs — deterministic) for each ``C`` of ``c_values`` on the
training patients, keeps the ``C`` whose inner-validation ``selection.metric`` is best (ties:
the smaller ``C``; ``selection.split: test_fold`` selects on the test fold instead, labelled
optimistic as for the network arms) and writes the unit folder:

- ``model.json``: feature names, medians, scaler mean and scale, coefficients, intercept, ``C``
  — everything :func:`predict_perfusion` needs, as plain numbers (no pickle);
- ``history.csv``: one row per candidate ``C`` (``epoch`` = its 1-based index, ``c``,
  ``loss`` = training log-loss, ``val_accuracy``, ``val_auc``), the analogue of a network's epochs;
- ``coefficients.csv``: each feature's standardised coefficient (the arm's explanation, in
  place of Grad-CAM) and how many training patients lacked it;
- ``done.json`` (last): the fingerprint of the inputs (arm spec, the feature table's hash, the
  fold), the chosen candidate and its metric, the patients without a TIC.

A finished unit whose fingerprint matches is skipped; one of other inputs raises
:class:`~studykit.train.UnitConflictError` (the runner then refits, as for a network).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from studykit.cohort import Fold
from studykit.cohort.perfusion import PerfusionFits, intensity_db
from studykit.cohort.perfusion.table import RATIOS
from studykit.errors import DataError
from studykit.protocol.arms import ArmSpec, PerfusionSpec
from studykit.vocab import DONE, HISTORY, PREDICTION_COLUMNS, PREDICTIONS

from .aggregate import patient_accuracy, patient_auc
from .checkpoint import fingerprint, read_done, write_csv, write_json
from .predict import DEFAULT_THRESHOLD

__all__ = ["COEFFICIENTS", "MODEL", "PerfusionResult", "cross_val_predict_perfusion", "features_key",
           "fit_options", "fit_perfusion", "perfusion_features", "predict_perfusion"]

MODEL = "model.json"
COEFFICIENTS = "coefficients.csv"
#: Fitted parameters of each region read by the ``parameters`` group (``perfusion_table``'s columns).
_REGION_PARAMETERS = ("pe", "time_to_peak_s", "rise_time_s", "mtt_s", "wir", "wiauc", "wor", "auc",
                      "washout_30s", "arrival_s")


def fit_options(spec: PerfusionSpec) -> dict[str, Any]:
    """The keyword arguments of :func:`~studykit.cohort.perfusion.perfusion_fits` the spec fixes
    (what a study's cached fits are keyed by): the bolus fits only when ``parameters`` are read."""
    options = {"dynamic_range_db": spec.dynamic_range_db, "gamma": spec.gamma, "motion": spec.motion,
               "fit": "parameters" in spec.features}
    if options["fit"]:
        options.update(model=spec.model, first_pass_s=spec.first_pass_s, min_r2=spec.min_r2)
    return options


def perfusion_features(fits: PerfusionFits, spec: PerfusionSpec, patients: Sequence[str]) -> pd.DataFrame:
    """One row per patient of ``patients`` (index ``patient_id``, in that order), the spec's groups.

    ``parameters``: ``lesion_<p>``, ``cortex_<p>`` for the fitted parameters and ``rel_<p>`` for
    the ratios (see :class:`PerfusionSpec`), NaN where a fit failed; ``curve``: ``lesion_db@<t>s``;
    ``relative_curve``: ``relative_db@<t>s`` for t = 0, grid_s, … ≤ grid_end_s;
    ``heterogeneity``: ``lesion_sd_db_mean``, ``lesion_dark_mean`` over the frames from
    ``heterogeneity_from_s``; ``rim``: ``lesion_rim_db_mean``, the lesion's periphery against its
    centre (dB) over the same frames. A patient without a TIC (``failed`` in ``fits.table``, or absent)
    has NaN everywhere.
    """
    ids = [str(p) for p in patients]
    parts = []
    table = fits.table.assign(patient_id=fits.table["patient_id"].astype(str)).set_index("patient_id")
    if "parameters" in spec.features:
        names = ([f"{region}_{p}" for region in ("lesion", "cortex") for p in _REGION_PARAMETERS]
                 + [f"rel_{p}" for p in RATIOS] + ["rel_pe_db"])
        parts.append(table.reindex(index=ids, columns=names).astype(float))
    grid = np.arange(0.0, spec.grid_end_s + 1e-9, spec.grid_s)
    curves = {"curve": ("lesion_db", _lesion_db), "relative_curve": ("relative_db", _relative_db)}
    for group, (prefix, signal) in curves.items():
        if group in spec.features:
            parts.append(_gridded(fits.curves, ids, grid, prefix, signal))
    spatial = [column for group, column in (("heterogeneity", "sd_db"), ("heterogeneity", "dark"),
                                             ("rim", "rim_db")) if group in spec.features]
    if spatial:
        parts.append(_lesion_means(fits.curves, ids, spec.heterogeneity_from_s, spatial))
    features = pd.concat(parts, axis=1)
    features.index.name = "patient_id"
    return features.replace([np.inf, -np.inf], np.nan)


def _lesion_db(lesion: np.ndarray, cortex: np.ndarray) -> np.ndarray:
    return intensity_db(lesion)


def _relative_db(lesion: np.ndarray, cortex: np.ndarray) -> np.ndarray:
    return intensity_db(lesion) - intensity_db(cortex)


def _gridded(curves: pd.DataFrame, ids: list[str], grid: np.ndarray, prefix: str, signal) -> pd.DataFrame:
    """``signal(lesion, cortex)`` of each patient's curves interpolated at ``grid`` (s since injection)."""
    columns = [f"{prefix}@{t:g}s" for t in grid]
    out = pd.DataFrame(np.nan, index=ids, columns=columns)
    wide = curves.assign(patient_id=curves["patient_id"].astype(str)).pivot_table(
        index=["patient_id", "time_s"], columns="region", values="intensity", sort=True)
    for pid, rows in wide.groupby(level="patient_id", sort=False):
        if pid not in out.index:
            continue
        time = rows.index.get_level_values("time_s").to_numpy(float)
        values = signal(rows["lesion"].to_numpy(float), rows["cortex"].to_numpy(float))
        ok = np.isfinite(values)
        if ok.sum() >= 2:
            inside = (grid >= time[ok].min()) & (grid <= time[ok].max())
            out.loc[pid, np.asarray(columns)[inside]] = np.interp(grid[inside], time[ok], values[ok])
    return out


def _lesion_means(curves: pd.DataFrame, ids: list[str], from_s: float, columns: list[str]) -> pd.DataFrame:
    """Each patient's mean of the lesion rows' ``columns`` (``sd_db``, ``dark``, ``rim_db``) over its
    frames at ``time_s >= from_s``, as ``lesion_<column>_mean``."""
    lesion = curves[(curves["region"] == "lesion") & (curves["time_s"] >= from_s)]
    lesion = lesion.assign(patient_id=lesion["patient_id"].astype(str))
    means = lesion.groupby("patient_id")[columns].mean()
    return means.rename(columns={c: f"lesion_{c}_mean" for c in columns}).reindex(ids)


def features_key(features: pd.DataFrame) -> str:
    """SHA-256 of the feature table's CSV text (what a unit's fingerprint records)."""
    text = features.to_csv(lineterminator="\n", float_format="%.17g")
    return hashlib.sha256(text.encode()).hexdigest()


class PerfusionResult:
    """What :func:`fit_perfusion` produced: the unit folder, the chosen candidate, the history."""

    def __init__(self, out_dir: Path, done: dict[str, Any], history: pd.DataFrame, skipped: bool):
        self.out_dir, self.done, self.history, self.skipped = out_dir, done, history, skipped

    @property
    def best_epoch(self) -> int:
        """1-based index of the chosen ``C`` among ``c_values``."""
        return int(self.done["best_epoch"])


def fit_perfusion(arm: ArmSpec, features: pd.DataFrame, labels: pd.Series, fold: Fold, out_dir: str | Path, *,
                  resume: bool = True) -> PerfusionResult:
    """Fit unit (``arm``, ``fold``) on ``features`` (:func:`perfusion_features`, index patient_id).

    ``labels``: patient_id → 0/1. Skipped when ``done.json`` records these inputs; raises
    :class:`~studykit.train.UnitConflictError` when it records others (``resume=False`` refits).
    """
    from .fit import UnitConflictError  # the network trainer's error, shared

    out = Path(out_dir)
    inputs = _fingerprint(arm, features, fold)
    done = read_done(out / DONE)
    if resume and done is not None:
        if done.get("fingerprint") != inputs:
            raise UnitConflictError(
                "holds a fit of other inputs (arm spec, perfusion features or fold).", file=str(out / DONE),
                hint="run with --fresh, or delete the unit folder, to refit it.")
        return PerfusionResult(out, done, pd.read_csv(out / HISTORY), skipped=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / DONE).unlink(missing_ok=True)
    train, select = _ids(fold.train), _ids(fold.test if arm.optimistic else fold.val)
    medians = features.loc[train].median()
    x_train = _design(features.loc[train], medians)
    center, scale = x_train.mean(axis=0), _scale(x_train)
    y_train = labels.loc[train].to_numpy(int)
    history, models = [], []
    for k, c in enumerate(arm.perfusion.c_values, start=1):
        model = LogisticRegression(C=c, max_iter=10000).fit((x_train - center) / scale, y_train)
        models.append(model)
        history.append(_candidate(k, c, model, x_train, center, scale, y_train, features, medians, labels,
                                  select))
    table = pd.DataFrame(history)
    metric = arm.selection.metric
    best = int(np.argmax(table[f"val_{metric}"].fillna(-np.inf).to_numpy()))  # first maximum = smaller C
    chosen = models[best]
    record = _model_record(features.columns, medians, center, scale, chosen, arm.perfusion.c_values[best])
    write_json(record, out / MODEL)
    write_csv(table, out / HISTORY)
    write_csv(_coefficients(record, features.loc[train]), out / COEFFICIENTS)
    without = sorted(p for p in features.index if features.loc[p].isna().all())
    done = {"fingerprint": inputs, "best_epoch": best + 1,
            "best_metric": float(table[f"val_{metric}"].iat[best]),
            "metric": metric, "split": arm.selection.split, "optimistic": arm.optimistic,
            "c": float(arm.perfusion.c_values[best]), "n_features": int(features.shape[1]),
            "patients_without_tic": without}
    write_json(done, out / DONE)  # last: its presence means the unit is finished
    return PerfusionResult(out, done, table, skipped=False)


def _ids(patients: Sequence) -> list[str]:
    return [str(p) for p in patients]


def _fingerprint(arm: ArmSpec, features: pd.DataFrame, fold: Fold) -> dict[str, str | int]:
    return fingerprint(arm, features_key(features), fold)


def _design(frame: pd.DataFrame, medians: pd.Series) -> np.ndarray:
    """Features as float64 ``(n, p)`` with NaN filled by ``medians`` (a feature no training patient
    has is 0 everywhere)."""
    return frame.fillna(medians).fillna(0.0).to_numpy(float)


def _scale(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return np.where(sd > 0, sd, 1.0)


def _candidate(k: int, c: float, model: LogisticRegression, x_train: np.ndarray, center, scale, y_train,
               features: pd.DataFrame, medians: pd.Series, labels: pd.Series, select: list[str]) -> dict:
    prob_train = model.predict_proba((x_train - center) / scale)[:, 1]
    prob = model.predict_proba((_design(features.loc[select], medians) - center) / scale)[:, 1]
    y = labels.loc[select].to_numpy(int)
    return {"epoch": k, "c": c, "loss": log_loss(y_train, prob_train, labels=[0, 1]),
            "val_accuracy": patient_accuracy(y, prob), "val_auc": patient_auc(y, prob)}


def _model_record(names, medians: pd.Series, center, scale, model: LogisticRegression, c: float) -> dict:
    return {"features": list(map(str, names)), "medians": [_number(v) for v in medians.to_numpy(float)],
            "center": center.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]), "c": float(c)}


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _coefficients(record: dict, train: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"feature": record["features"], "coefficient": record["coef"],
                         "n_train_missing": train.isna().sum().to_numpy(int)})


def predict_perfusion(arm: ArmSpec, features: pd.DataFrame, labels: pd.Series, fold: Fold,
                      out_dir: str | Path, *, write: bool = True,
                      patients: Sequence[str] | None = None) -> pd.DataFrame:
    """Predict the fold's test patients (or ``patients``) with the unit's ``model.json``.

    One row per patient, columns :data:`~studykit.vocab.PREDICTION_COLUMNS`, ``image_id`` and
    the fusion weights empty; written to ``predictions.csv`` when ``write``.
    """
    out = Path(out_dir)
    record = _read_model(out / MODEL, list(map(str, features.columns)))
    ids = _ids(fold.test if patients is None else patients)
    medians = pd.Series([np.nan if v is None else v for v in record["medians"]], index=features.columns)
    x = (_design(features.loc[ids], medians) - np.asarray(record["center"])) / np.asarray(record["scale"])
    logit = x @ np.asarray(record["coef"]) + record["intercept"]
    frame = pd.DataFrame({"arm": arm.name, "fold": int(fold.index), "patient_id": ids, "image_id": np.nan,
                          "label": labels.loc[ids].to_numpy(int),
                          "prob_malignant": expit(logit),
                          "w_bmode": np.nan, "w_ceus": np.nan, "threshold": DEFAULT_THRESHOLD})
    frame = frame.loc[:, list(PREDICTION_COLUMNS)]
    if write:
        write_csv(frame, out / PREDICTIONS)
    return frame


def cross_val_predict_perfusion(arm: ArmSpec, fits: PerfusionFits, manifest: pd.DataFrame,
                                work: str | Path, *, n_folds: int = 5, val_fraction: float = 0.2,
                                seed: int = 0) -> pd.DataFrame:
    """Out-of-fold predictions of a perfusion arm over a cohort, as the runner would make them.

    The patients of ``manifest`` (columns ``patient_id``, ``label``, ``subtype``) that have a
    TIC in ``fits`` are split by :func:`studykit.cohort.make_splits` (``n_folds`` folds
    stratified by subtype, ``val_fraction`` inner validation, ``seed``); each fold is fitted on
    its training patients (units under ``work/fold-<k>``, refitted) and predicts its test
    patients. Returns the pooled prediction rows (one per patient) — for choosing feature groups
    on development cohorts (scikit-learn's ``cross_val_predict``, with the study's folds).
    """
    from studykit.cohort import make_splits

    included = manifest[manifest["patient_id"].astype(str).isin(fits.table["patient_id"])]
    ids = included["patient_id"].astype(str).to_numpy()
    labels = pd.Series((included["label"] == "malignant").to_numpy(int), index=ids)
    table = pd.DataFrame({"patient_id": ids, "subtype": included["subtype"].to_numpy(),
                          "label": labels.to_numpy()})
    splits = make_splits(table, n_folds=n_folds, val_fraction=val_fraction, seed=seed,
                         stratify_by=["subtype"])
    matrix = perfusion_features(fits, arm.perfusion, list(ids))
    predictions = []
    for fold in splits.folds:
        unit = Path(work) / f"fold-{fold.index}"
        fit_perfusion(arm, matrix, labels, fold, unit, resume=False)
        predictions.append(predict_perfusion(arm, matrix, labels, fold, unit, write=False))
    return pd.concat(predictions, ignore_index=True)


def _read_model(path: Path, columns: list[str]) -> dict[str, Any]:
    import json

    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("is missing: the unit has not been fitted.", file=str(path),
                        hint="run the study again: the unit is fitted first.") from None
    except ValueError:
        record = None
    keys = ("features", "medians", "center", "scale", "coef", "intercept")
    if not isinstance(record, dict) or any(k not in record for k in keys):
        raise DataError("is not a perfusion model studykit wrote (truncated or edited).", file=str(path),
                        hint=f"delete the unit folder {path.parent} to refit the unit on the next run.")
    if record["features"] != columns:
        raise DataError("was fitted on other perfusion features than the study's.", file=str(path),
                        hint=f"delete the unit folder {path.parent} (or run with --fresh) to refit it.")
    return record
