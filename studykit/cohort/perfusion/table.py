"""One row of perfusion parameters per included patient (the input of a ``perfusion`` arm), and
every fitted patient's observed and fitted curves (the data of the TIC figures)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from studykit.cohort.perfusion.models import R2_FLOOR, BolusFit, fit_bolus
from studykit.cohort.perfusion.tic import (
    DEFAULT_DYNAMIC_RANGE_DB,
    DEFAULT_REFERENCE,
    extract_tic,
    read_annotation_table,
)
from studykit.cohort.tables import PASSTHROUGH, cohort_folder, read_manifest
from studykit.errors import DataError, InputError

__all__ = ["CURVE_COLUMNS", "RATIOS", "PerfusionFits", "perfusion_fits", "perfusion_table"]

#: Derived parameters reported lesion / cortex.
RATIOS = ("pe", "wiauc", "wir", "auc", "mtt_s", "time_to_peak_s")
_PARAMETERS = ("pe", "peak_time_s", "time_to_peak_s", "rise_time_s", "mtt_s", "wir", "wiauc", "wor", "auc",
               "washout_30s", "arrival_s")


#: Columns of :attr:`PerfusionFits.curves` after the id and label (and the manifest's
#: ``subtype``, ``center``, ``scanner`` where it has them).
CURVE_COLUMNS = ("frame", "time_s", "region", "intensity", "fitted", "sd_db", "dark", "rim_db")
_REGIONS = ("lesion", "cortex")


@dataclass(frozen=True)
class PerfusionFits:
    """:func:`perfusion_fits`' result: the per-patient ``table`` and the long ``curves``."""

    table: pd.DataFrame
    curves: pd.DataFrame


def perfusion_table(cohort_dir: str | Path, *, model: str = "lognormal",
                    dynamic_range_db: float | Mapping[str, float] = DEFAULT_DYNAMIC_RANGE_DB,
                    gamma: float | Mapping[str, float] = 1.0, reference: float = DEFAULT_REFERENCE,
                    motion: bool = False, min_r2: float = R2_FLOOR, first_pass_s: float | None = None,
                    id_column: str = "patient_id",
                    label_column: str = "label") -> pd.DataFrame:
    """Fit the lesion and cortex TICs of every included patient; one row each, never dropped.

    ``dynamic_range_db`` and ``gamma`` are one value or a mapping from the manifest's
    ``scanner`` value to the scanner's setting. Columns: ``patient_id``, ``label``, ``status``
    (``ok``, ``poor fit`` or ``failed``), ``reason``, ``lesion_r2``, ``cortex_r2``, the lesion's
    and the cortex's derived parameters (``lesion_pe``, ``cortex_pe``, …; see
    :mod:`studykit.cohort.perfusion.models`), the ratios lesion / cortex ``rel_<name>`` of
    :data:`RATIOS` and ``rel_pe_db`` = 10·log10(rel_pe). A patient whose TIC cannot be
    extracted (a :class:`DataError`) gets status ``failed`` and the error as the reason.
    It is :func:`perfusion_fits`' ``table``.
    """
    return perfusion_fits(cohort_dir, model=model, dynamic_range_db=dynamic_range_db, gamma=gamma,
                          reference=reference, motion=motion, min_r2=min_r2, first_pass_s=first_pass_s,
                          id_column=id_column, label_column=label_column).table


def perfusion_fits(cohort_dir: str | Path, *, model: str = "lognormal",
                   dynamic_range_db: float | Mapping[str, float] = DEFAULT_DYNAMIC_RANGE_DB,
                   gamma: float | Mapping[str, float] = 1.0, reference: float = DEFAULT_REFERENCE,
                   motion: bool = False, min_r2: float = R2_FLOOR, first_pass_s: float | None = None,
                   id_column: str = "patient_id", label_column: str = "label",
                   fit: bool = True) -> PerfusionFits:
    """:func:`perfusion_table` and the curves behind it (same arguments).

    ``fit=False`` extracts the curves only (four fifths of the time goes into the bolus fits):
    each patient with a TIC gets status ``ok`` and reason ``not fitted``, NaN parameters and a
    NaN ``fitted`` curve; ``model``, ``min_r2`` and ``first_pass_s`` are then unused.

    Returns
    -------
    PerfusionFits
        ``table``: :func:`perfusion_table`'s. ``curves``: one row per patient × frame × region
        of every patient whose TIC was extracted (a patient without one is only in ``table``,
        as ``failed``): ``patient_id``, ``label``, the manifest's ``subtype``, ``center`` and
        ``scanner`` (those it has), ``frame``, ``time_s`` (s since injection), ``region``
        (``lesion`` or ``cortex``), ``intensity`` (linear, :func:`linearize`) and ``fitted``
        (the region's fitted curve at ``time_s``, baseline included; NaN where the fit has no
        parameters), ``sd_db`` and ``dark`` (the lesion ROI's heterogeneity, :func:`extract_tic`'s
        ``lesion_sd_db`` and ``lesion_dark``) and ``rim_db`` (its periphery against its centre,
        ``lesion_rim_db``), NaN on the cortex rows. Patients in manifest order,
        lesion before cortex, frames in video order.
    """
    cohort = cohort_folder(cohort_dir)
    manifest = read_manifest(cohort / "manifest.csv", id_column=id_column, label_column=label_column)
    extra = [c for c in PASSTHROUGH if c in manifest.table.columns]
    annotations = read_annotation_table(cohort, manifest)
    rows, curves = [], []
    for pid in manifest.included:
        passthrough = manifest.passthrough(pid)
        scanner = passthrough["scanner"]
        settings = {"dynamic_range_db": _setting(dynamic_range_db, scanner, "dynamic_range_db"),
                    "gamma": _setting(gamma, scanner, "gamma"), "reference": reference}
        base = {id_column: pid, label_column: manifest.table[label_column].iat[manifest.rows[pid] - 1]}
        try:
            curve = extract_tic(cohort, pid, motion=motion, manifest=manifest, annotations=annotations,
                                **settings)
        except DataError as error:
            rows.append({**base, "status": "failed", "reason": f"no TIC: {error.message}"})
            continue
        if not fit:
            rows.append({**base, "status": "ok", "reason": "not fitted"})
            curves.append(_curves(curve, {}, {**base, **{c: passthrough[c] for c in extra}}))
            continue
        fits = {name: fit_bolus(curve["time_s"], curve[name], model, min_r2=min_r2, first_pass_s=first_pass_s)
                for name in _REGIONS}
        rows.append({**base, **_row(fits)})
        curves.append(_curves(curve, fits, {**base, **{c: passthrough[c] for c in extra}}))
    columns = [id_column, label_column, *extra, *CURVE_COLUMNS]
    long = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=columns)
    return PerfusionFits(pd.DataFrame(rows), long[columns])


def _curves(curve: pd.DataFrame, fits: dict[str, BolusFit], base: dict) -> pd.DataFrame:
    """One patient's rows of :attr:`PerfusionFits.curves`: lesion, then cortex."""
    time = curve["time_s"].to_numpy(float)
    parts = []
    for name in _REGIONS:
        fitted = (fits[name].curve(time) if name in fits and fits[name].params
                  else np.full(time.size, math.nan))
        spread = {k: curve[f"lesion_{k}"].to_numpy(float) if name == "lesion" else math.nan
                  for k in ("sd_db", "dark", "rim_db")}
        parts.append(pd.DataFrame({**base, "frame": curve["frame"].to_numpy(), "time_s": time, "region": name,
                                   "intensity": curve[name].to_numpy(float), "fitted": fitted, **spread}))
    return pd.concat(parts, ignore_index=True)


def _setting(value, scanner: str, name: str) -> float:
    if not isinstance(value, Mapping):
        return float(value)
    if scanner not in value:
        raise InputError(f"has no value for scanner {scanner!r} (it has {', '.join(map(repr, value))}).",
                         field=name, hint="give every scanner of the manifest's scanner column a value.")
    return float(value[scanner])


def _row(fits: dict[str, BolusFit]) -> dict:
    bad = {name: fit for name, fit in fits.items() if fit.status != "ok"}
    failed = any(f.status == "failed" for f in bad.values())
    status = "ok" if not bad else ("failed" if failed else "poor fit")
    row = {"status": status, "reason": "; ".join(f"{name}: {fit.reason}" for name, fit in bad.items())}
    for name, fit in fits.items():
        row[f"{name}_r2"] = fit.r2
        row.update({f"{name}_{p}": fit.derived.get(p, math.nan) for p in _PARAMETERS})
    for p in RATIOS:
        lesion, cortex = row[f"lesion_{p}"], row[f"cortex_{p}"]
        row[f"rel_{p}"] = lesion / cortex if cortex and np.isfinite(cortex) else math.nan
    rel = row["rel_pe"]
    row["rel_pe_db"] = 10.0 * math.log10(rel) if rel > 0 else math.nan
    return row
