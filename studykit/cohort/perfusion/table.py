"""One row of perfusion parameters per included patient (the input of a ``perfusion`` arm)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from studykit.cohort.perfusion.models import R2_FLOOR, BolusFit, fit_bolus
from studykit.cohort.perfusion.tic import DEFAULT_DYNAMIC_RANGE_DB, DEFAULT_REFERENCE, extract_tic
from studykit.cohort.tables import cohort_folder, read_manifest
from studykit.errors import DataError, InputError

__all__ = ["RATIOS", "perfusion_table"]

#: Derived parameters reported lesion / cortex.
RATIOS = ("pe", "wiauc", "wir", "auc", "mtt_s", "time_to_peak_s")
_PARAMETERS = ("pe", "peak_time_s", "time_to_peak_s", "rise_time_s", "mtt_s", "wir", "wiauc", "wor", "auc",
               "washout_30s", "arrival_s")


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
    """
    cohort = cohort_folder(cohort_dir)
    manifest = read_manifest(cohort / "manifest.csv", id_column=id_column, label_column=label_column)
    rows = []
    for pid in manifest.included:
        scanner = manifest.passthrough(pid)["scanner"]
        settings = {"dynamic_range_db": _setting(dynamic_range_db, scanner, "dynamic_range_db"),
                    "gamma": _setting(gamma, scanner, "gamma"), "reference": reference}
        base = {id_column: pid, label_column: manifest.table[label_column].iat[manifest.rows[pid] - 1]}
        try:
            curve = extract_tic(cohort, pid, motion=motion, manifest=manifest, **settings)
        except DataError as error:
            rows.append({**base, "status": "failed", "reason": f"no TIC: {error.message}"})
            continue
        fits = {name: fit_bolus(curve["time_s"], curve[name], model, min_r2=min_r2, first_pass_s=first_pass_s)
                for name in ("lesion", "cortex")}
        rows.append({**base, **_row(fits)})
    return pd.DataFrame(rows)


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
