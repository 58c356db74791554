"""The validated cohort a study runs on, built once: manifest, included patients, labels, truth.

:func:`load_cohort` reads ``manifest.csv`` once and validates it
(:func:`studykit.cohort.tables.read_manifest`: declared columns present, unique ids, labels in
the protocol's vocabulary), and reads ``truth.csv`` where the folder has one (synthetic
cohorts). Which patients a study includes is decided here and nowhere else: the manifest's
rows without an ``excluded_reason`` (:func:`studykit.vocab.exclusion_reasons`), intersected
with the pair store's patients once a store exists (:meth:`Cohort.with_store`). Ingestion,
the reads, the analyses, the flow diagram and report.md all ask the :class:`Cohort`.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from studykit.cohort.store import PairStore
from studykit.cohort.tables import Manifest, cohort_folder, read_manifest
from studykit.vocab import EXCLUDED_REASON, LABEL, PATIENT, FlowCounts, exclusion_reasons

__all__ = ["MANIFEST_FILE", "TRUTH_FILE", "Cohort", "load_cohort"]

MANIFEST_FILE, TRUTH_FILE = "manifest.csv", "truth.csv"


@dataclass(frozen=True, eq=False)  # holds DataFrames: compared and hashed by identity
class Cohort:
    """A validated cohort: what every stage of a study needs to know about its patients.

    Attributes
    ----------
    dir : Path
        The raw cohort folder.
    validated : Manifest
        The manifest as validated (every row, as stripped text): what ingestion reads.
    manifest : DataFrame
        Every manifest row with pandas' column types (numbers as numbers, empty cells NaN),
        the protocol's id and label columns renamed ``patient_id`` and ``label`` (ids as
        validated text, label words kept) and ``excluded_reason`` as validated (``""`` when
        included). The analyses' manifest (Table 1, Table 2, the label check).
    positive, negative : str
        The label words coded 1 and 0.
    included : tuple of str
        Ids of the included patients in manifest order (with a store: those it holds).
    excluded : dict
        Excluded patient id → reason, in manifest order.
    labels : Series
        The included patients' labels coded 1 (``positive``) or 0, indexed by ``patient_id``
        in the order of ``included``.
    truth : DataFrame or None
        ``truth.csv`` (ids as text) where the folder has one: the synthetic cohort's exact
        posteriors.
    """

    dir: Path
    validated: Manifest
    manifest: pd.DataFrame
    positive: str
    negative: str
    included: tuple[str, ...]
    excluded: dict[str, str]
    labels: pd.Series
    truth: pd.DataFrame | None = None

    def with_store(self, store: PairStore | None) -> Cohort:
        """This cohort with ``included`` (and ``labels``) narrowed to the patients ``store`` holds."""
        if store is None:
            return self
        stored = set(store.index[PATIENT].astype(str))
        included = tuple(pid for pid in self.included if pid in stored)
        return dataclasses.replace(self, included=included, labels=self.labels.loc[list(included)])

    def flow_counts(self) -> FlowCounts:
        """Records, exclusions by reason (most frequent first), inclusions and classes."""
        reasons = pd.Series(list(self.excluded.values()), dtype="string")
        positives = int(self.labels.sum())
        return FlowCounts(
            records=len(self.manifest),
            excluded=reasons.value_counts(sort=True).to_dict(),
            included=len(self.included),
            reference={self.negative: len(self.labels) - positives, self.positive: positives},
        )


def load_cohort(cohort_dir: str | Path, *, id_column: str = "patient_id", label_column: str = "label",
                positive: str = "malignant", negative: str = "benign",
                store: PairStore | None = None) -> Cohort:
    """Read and validate a raw cohort's manifest (and ``truth.csv``) into a :class:`Cohort`.

    Parameters
    ----------
    cohort_dir : path
        The raw cohort folder, holding ``manifest.csv``.
    id_column, label_column : str
        The manifest's patient-id and reference-standard columns.
    positive, negative : str
        The two label words; ``positive`` is coded 1.
    store : PairStore, optional
        The cohort's pair store: only the patients it holds are included.

    Raises
    ------
    DataError
        The folder or its manifest is missing, or the manifest is invalid (the same errors,
        file, row and column as ingestion's: :func:`studykit.cohort.tables.read_manifest`).
    """
    folder = cohort_folder(cohort_dir)
    validated = read_manifest(folder / MANIFEST_FILE, id_column=id_column, label_column=label_column,
                              positive=positive, negative=negative)
    reasons = exclusion_reasons(validated.table)
    excluded = {pid: reasons.iat[row - 1] for pid, row in validated.rows.items() if pid in validated.excluded}
    labels = pd.Series([validated.labels[pid] for pid in validated.included], name=LABEL,
                       index=pd.Index(validated.included, name=PATIENT), dtype=int)
    truth_path = folder / TRUTH_FILE
    truth = pd.read_csv(truth_path, dtype={PATIENT: str}) if truth_path.is_file() else None
    cohort = Cohort(folder, validated, _typed(validated), positive, negative, validated.included, excluded,
                    labels, truth)
    return cohort.with_store(store)


def _typed(validated: Manifest) -> pd.DataFrame:
    """The validated text with pandas' type inference (parsed from memory, not from the file again),
    id and label columns renamed; ids and exclusion reasons stay the validated text."""
    table = validated.table
    text = table.to_csv(index=False, lineterminator="\n")
    frame = pd.read_csv(io.StringIO(text), dtype={validated.id_column: str})
    frame[validated.id_column] = table[validated.id_column].to_numpy()
    if EXCLUDED_REASON in frame.columns:
        frame[EXCLUDED_REASON] = table[EXCLUDED_REASON].to_numpy()
    return frame.rename(columns={validated.id_column: PATIENT, validated.label_column: LABEL})
