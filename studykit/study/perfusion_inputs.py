"""The inputs of a study's ``perfusion`` arms: TIC fits cached once per study, features per arm.

The lesion and cortex time–intensity curves of every patient are fitted once for each set of
fit options the protocol's perfusion arms use (:func:`studykit.train.perfusion.fit_options`)
and kept in ``cohort/perfusion/<key>/`` (``perfusion.csv``: one row per patient with its
status; ``tic_curves.csv``: the curves), the key a hash of the pair store's key (which covers
the manifest, the annotations and every video byte) and those options. Units (in this
process, a local worker or a SLURM job) read the cached files, so every unit of every arm
sees byte-identical inputs; features are always built from the files as read back, so a
fresh fit and a cached one give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from studykit.cohort import PairStore
from studykit.cohort.perfusion import PerfusionFits, perfusion_fits
from studykit.protocol.arms import ArmSpec
from studykit.study.layout import Layout
from studykit.study.provenance import protocol_from_lock, read_lock_document
from studykit.train.perfusion import fit_options, perfusion_features
from studykit.vocab import LABEL, PATIENT, Progress, atomic_write

__all__ = ["CURVES_FILE", "TABLE_FILE", "fits_key", "perfusion_inputs", "prepare_perfusion", "study_fits"]

TABLE_FILE, CURVES_FILE = "perfusion.csv", "tic_curves.csv"


def fits_key(arm: ArmSpec, store: PairStore) -> str:
    """The cache key of ``arm``'s fits: 16 hex digits of SHA-256 over the store key and fit options."""
    text = json.dumps({"store": store.key, "fit": fit_options(arm.perfusion)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def study_fits(arm: ArmSpec, layout: Layout, store: PairStore, cohort_dir: Path | None = None,
               id_column: str | None = None, label_column: str | None = None) -> PerfusionFits:
    """The cached fits of ``arm``'s options, fitted now (and cached) when absent.

    ``cohort_dir`` and the column names default to those of the run's ``protocol.lock.yaml``.
    """
    folder = layout.perfusion_fits(fits_key(arm, store))
    table, curves = folder / TABLE_FILE, folder / CURVES_FILE
    if not (table.is_file() and curves.is_file()):
        if cohort_dir is None or id_column is None or label_column is None:
            lock = read_lock_document(layout.lock)
            columns = protocol_from_lock(lock).columns
            cohort_dir, id_column, label_column = Path(lock["cohort_dir"]), columns.id, columns.label
        fits = perfusion_fits(cohort_dir, id_column=id_column, label_column=label_column,
                              **fit_options(arm.perfusion))
        rename = {id_column: PATIENT, label_column: LABEL}
        folder.mkdir(parents=True, exist_ok=True)
        _write(fits.curves.rename(columns=rename), curves)
        _write(fits.table.rename(columns=rename), table)  # last: both present = complete
    return PerfusionFits(_read(table), _read(curves))


def _write(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={PATIENT: str}, keep_default_na=True)


def perfusion_inputs(arm: ArmSpec, layout: Layout, store: PairStore) -> tuple[pd.DataFrame, pd.Series]:
    """``(features, labels)`` of a perfusion unit: one feature row per stored patient (index
    ``patient_id``, :func:`~studykit.train.perfusion.perfusion_features`) and patient → 0/1."""
    index = store.index
    labels = index.groupby(index[PATIENT].astype(str), sort=True)[LABEL].first().astype(int)
    features = perfusion_features(study_fits(arm, layout, store), arm.perfusion, list(labels.index))
    return features, labels


def prepare_perfusion(arms: list[ArmSpec], layout: Layout, store: PairStore, cohort_dir: Path, id_column: str,
                      label_column: str, progress: Progress) -> None:
    """Fit (or find cached) the TICs of every perfusion arm of ``arms``, before any unit trains."""
    specs = {fits_key(a, store): a for a in arms if not a.trains_network}
    for done, arm in enumerate(specs.values()):
        progress(done, len(specs), "perfusion fits")
        study_fits(arm, layout, store, cohort_dir, id_column, label_column)
    if specs:
        progress(len(specs), len(specs), "perfusion fits")
