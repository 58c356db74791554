"""Patient-grouped, stratified k-fold splits with an inner validation split, frozen to JSON.

Every fold has three disjoint sets of *patients*: ``test`` (the fold's held-out k-th),
``val`` (an inner validation subset of the remaining patients, used for checkpoint
selection and thresholds) and ``train`` (the rest). All images of a patient follow the
patient, so no patient can leak between partitions.

Stratification by dealing: patients are grouped into strata (the label, optionally
crossed with subtype, centre …), shuffled within each stratum with the seed, and the
concatenated list is dealt to folds round-robin. Each stratum's patients are then spread
over the folds as evenly as possible (counts differ by at most one), and fold sizes
differ by at most one. The inner validation split deals each training stratum the same
way and takes ``round(val_fraction × n)`` patients in total (largest remainder per
stratum). Same patients + same settings + same seed → identical splits.

Once written, ``splits.json`` is reused (as nnU-Net does), so every arm of a study and
every re-run sees exactly the same folds; a file that no longer matches the cohort or the
settings is an error, never silently replaced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import DataError, InputError
from studykit.vocab import atomic_write

__all__ = ["Fold", "Splits", "check_splits", "load_or_make_splits", "make_splits"]

SPLITS_VERSION = 1


@dataclass(frozen=True)
class Fold:
    """One fold's patient ids (sorted): train, inner validation and test."""

    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


@dataclass(frozen=True)
class Splits:
    """All folds plus the settings and the cohort fingerprint they were made from."""

    folds: tuple[Fold, ...]
    settings: dict[str, Any]

    def to_json(self) -> str:
        """The ``splits.json`` text (stable key order, one patient list per partition)."""
        payload = {"version": SPLITS_VERSION, "settings": self.settings,
                   "folds": [asdict(fold) for fold in self.folds]}
        return json.dumps(payload, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, file: str | None = None) -> Splits:
        """Parse ``splits.json``; a malformed file is a :class:`DataError` naming it."""
        try:
            payload = json.loads(text)
            folds = tuple(Fold(index=int(f["index"]), train=tuple(f["train"]), val=tuple(f["val"]),
                               test=tuple(f["test"])) for f in payload["folds"])
            return cls(folds=folds, settings=payload["settings"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"is not a valid splits file ({exc}).", file=file,
                            hint="delete it to have the splits made again from the cohort.") from exc

    def fold(self, index: int) -> Fold:
        """Fold ``index`` (0-based); an unknown index is an :class:`InputError`."""
        if not 0 <= index < len(self.folds):
            raise InputError(f"fold {index} does not exist; folds are 0..{len(self.folds) - 1}.",
                             field="fold")
        return self.folds[index]


def _patient_table(patients: pd.DataFrame, id_column: str, strata: Sequence[str]) -> pd.DataFrame:
    """One row per patient with its stratum key; image-level rows are collapsed."""
    for name in (id_column, *strata):
        if name not in patients.columns:
            raise InputError(f"column {name!r} is not in the patient table "
                             f"(columns: {', '.join(map(str, patients.columns))}).", field=name,
                             hint="name the id, label and stratification columns of the manifest.")
    table = patients[[id_column, *strata]].astype(str).drop_duplicates()
    clash = table[id_column].duplicated(keep=False)
    if clash.any():
        first = table.loc[clash, id_column].iloc[0]
        raise DataError(f"patient {first!r} has conflicting values of {', '.join(strata)} across rows.",
                        field=id_column, hint="every image of a patient must carry the same label.")
    table = table.sort_values(id_column, kind="stable").reset_index(drop=True)
    table["stratum"] = table[list(strata)].agg("|".join, axis=1)
    return table


def _deal(table: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """Patient ids ordered stratum by stratum, shuffled within each stratum."""
    order: list[str] = []
    for _, members in table.groupby("stratum", sort=True):
        ids = members.iloc[:, 0].to_numpy()
        order.extend(ids[rng.permutation(ids.size)].tolist())
    return order


def _inner_validation(table: pd.DataFrame, train_ids: list[str], fraction: float,
                      rng: np.random.Generator) -> set[str]:
    """Stratified subset of ``train_ids`` of size round(fraction × n), largest remainder."""
    sub = table[table.iloc[:, 0].isin(train_ids)]
    groups = [members.iloc[:, 0].to_numpy() for _, members in sub.groupby("stratum", sort=True)]
    exact = np.array([fraction * g.size for g in groups])
    take = np.floor(exact).astype(int)
    extra = round(fraction * len(sub)) - take.sum()
    for i in np.argsort(-(exact - take), kind="stable")[:max(extra, 0)]:
        take[i] += 1
    chosen: set[str] = set()
    for ids, k in zip(groups, take):
        chosen.update(ids[rng.permutation(ids.size)][:k].tolist())
    return chosen


def make_splits(patients: pd.DataFrame, *, n_folds: int = 5, val_fraction: float = 0.2, seed: int = 0,
                id_column: str = "patient_id", label_column: str = "label",
                stratify_by: Sequence[str] = ()) -> Splits:
    """Patient-grouped, label-stratified k-fold splits with an inner validation split.

    Parameters
    ----------
    patients : DataFrame
        One row per patient (or per image: rows are collapsed to patients, and a patient
        whose rows disagree on the label or strata is an error).
    n_folds : int
        Number of folds k ≥ 2; every label class needs at least k patients.
    val_fraction : float
        Share of each fold's training patients held out for inner validation, in [0, 1).
    stratify_by : sequence of str
        Extra columns crossed with the label for stratification (e.g. ``("subtype",)``).

    Returns
    -------
    Splits
    """
    _check_settings(n_folds, val_fraction)
    strata = [label_column, *[c for c in stratify_by if c != label_column]]
    table = _patient_table(patients, id_column, strata)
    _check_class_sizes(table, label_column, n_folds)
    rng = np.random.default_rng(seed)
    dealt = _deal(table, rng)
    fold_of = {pid: i % n_folds for i, pid in enumerate(dealt)}
    folds = []
    for k in range(n_folds):
        test = sorted(p for p in dealt if fold_of[p] == k)
        rest = sorted(p for p in dealt if fold_of[p] != k)
        val = _inner_validation(table, rest, val_fraction, rng)
        folds.append(Fold(k, tuple(p for p in rest if p not in val), tuple(sorted(val)), tuple(test)))
    settings = {"n_folds": n_folds, "val_fraction": val_fraction, "seed": seed, "id_column": id_column,
                "label_column": label_column, "stratify_by": strata[1:],
                "cohort_sha256": _fingerprint(table)}
    splits = Splits(folds=tuple(folds), settings=settings)
    check_splits(splits, table[id_column])
    return splits


def _check_settings(n_folds: int, val_fraction: float) -> None:
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise InputError(f"must be an integer ≥ 2; got {n_folds!r}.", field="n_folds",
                         hint="the reference study uses 5 folds.")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"must be in [0, 1); got {val_fraction!r}.", field="val_fraction",
                         hint="0.2 holds out a fifth of each fold's training patients for validation.")


def _check_class_sizes(table: pd.DataFrame, label_column: str, n_folds: int) -> None:
    counts = table[label_column].value_counts()
    small = counts[counts < n_folds]
    if not small.empty:
        listed = ", ".join(f"{label!r} has {n}" for label, n in small.items())
        raise DataError(f"every class needs at least {n_folds} patients for {n_folds}-fold splits: "
                        f"{listed}.", field=label_column,
                        hint=f"use at most {int(counts.min())} folds or add patients of that class.")


def _fingerprint(table: pd.DataFrame) -> str:
    """SHA-256 of the sorted patient ids with their strata: changes when the cohort does."""
    text = "\n".join(table.iloc[:, 0] + "\t" + table["stratum"])
    return hashlib.sha256(text.encode()).hexdigest()


def check_splits(splits: Splits, patient_ids: Sequence[str] | None = None) -> None:
    """Raise :class:`DataError` unless every fold partitions the patients exactly.

    Checked, not assumed: within each fold train, val and test are disjoint and together
    hold every patient; across folds each patient is in exactly one test set.
    """
    everyone = set(patient_ids) if patient_ids is not None else set().union(
        *(set(f.train) | set(f.val) | set(f.test) for f in splits.folds))
    seen_in_test: dict[str, int] = {}
    for fold in splits.folds:
        parts = {"train": set(fold.train), "val": set(fold.val), "test": set(fold.test)}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            both = parts[a] & parts[b]
            if both:
                raise DataError(f"fold {fold.index}: patient {sorted(both)[0]!r} is in both {a} and {b}.",
                                hint="delete splits.json so the splits are made again.")
        union = parts["train"] | parts["val"] | parts["test"]
        if union != everyone:
            odd = sorted(union ^ everyone)[0]
            raise DataError(f"fold {fold.index} does not cover the cohort exactly (patient {odd!r}).",
                            hint="the cohort changed since the splits were made: delete splits.json.")
        for pid in fold.test:
            if pid in seen_in_test:
                raise DataError(f"patient {pid!r} is in the test set of folds {seen_in_test[pid]} "
                                f"and {fold.index}.", hint="delete splits.json so the splits are made again.")
            seen_in_test[pid] = fold.index
    missing = everyone - set(seen_in_test)
    if missing:
        raise DataError(f"patient {sorted(missing)[0]!r} is in no test fold.",
                        hint="delete splits.json so the splits are made again.")


def load_or_make_splits(path: str | Path, patients: pd.DataFrame, **settings: Any) -> Splits:
    """Reuse ``path`` when it exists and matches the cohort and settings; else make and freeze it.

    A file made from another cohort or other settings raises :class:`DataError` with the
    difference; it is never silently replaced (its folds may already have trained arms).
    """
    path = Path(path)
    fresh = make_splits(patients, **settings)
    if not path.exists():
        atomic_write(path, fresh.to_json())
        return fresh
    stored = Splits.from_json(path.read_text(), file=str(path))
    changed = sorted(k for k in fresh.settings if stored.settings.get(k) != fresh.settings[k])
    if changed:
        what = ", ".join(f"{k}: file {stored.settings.get(k)!r} vs now {fresh.settings[k]!r}"
                         if k != "cohort_sha256" else "the cohort's patients or labels" for k in changed)
        raise DataError(f"was made with other settings or another cohort ({what}).", file=str(path),
                        hint="keep the original settings, or delete the file (and the trained folds) "
                             "to start the study afresh.")
    check_splits(stored, [p for f in stored.folds for p in f.test])
    return stored

