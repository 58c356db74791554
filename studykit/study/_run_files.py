"""What a finished run's files say, read once for the reporting checklists (:mod:`studykit.study.checklists`).

``protocol.lock.yaml`` (the protocol and arm specs as run, the cohort folder, the pair store),
the cohort's flow counts, the pair-store index, ``cohort/splits.json``, ``reads.csv``,
``tables/*.csv`` of the enabled tables, ``report.md`` (which sections it has), ``figures/`` and
the provenance block that report.md and ``provenance.json`` carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from studykit.cohort import Cohort, Splits
from studykit.protocol.study import ReaderArm, StudyProtocol
from studykit.study.layout import Layout
from studykit.study.merge import frozen_splits
from studykit.study.provenance import protocol_from_lock, read_lock_document
from studykit.vocab import FlowCounts

__all__ = ["RunFiles", "counts", "in_lock", "read_run", "where"]


@dataclass(frozen=True)
class RunFiles:
    """What a run's files say, read once for both checklists."""

    layout: Layout
    outputs: Layout
    protocol: StudyProtocol
    cohort_dir: str
    flow: FlowCounts | None
    index: pd.DataFrame | None
    splits: Splits | None
    reads: pd.DataFrame | None
    tables: dict[str, pd.DataFrame]
    report: str
    provenance: Mapping[str, Any]
    store: str = "cohort/store/<key>"
    missing_units: tuple[tuple[str, int], ...] = ()

    def section(self, name: str) -> str | None:
        """``report.md, <name>`` when report.md has that section."""
        return f"report.md, {name}" if f"\n## {name}" in self.report else None

    def table(self, name: str) -> str | None:
        """``tables/<name>.csv`` when the run wrote it."""
        return f"tables/{name}.csv" if name in self.tables else None

    def figure(self, name: str) -> str | None:
        """``figures/<name>.png`` when the run drew it."""
        return f"figures/{name}.png" if self.outputs.figure(name).with_suffix(".png").is_file() else None

    def cohort_file(self, name: str) -> str:
        """A file of the raw cohort folder, relative to the results folder when inside it."""
        return self._shown(Path(self.cohort_dir) / name)

    def store_file(self, name: str) -> str:
        """A file of the pair store (``index.csv``, ``store.json``), as :meth:`cohort_file`."""
        return self._shown(Path(self.store) / name)

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.layout.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def synthetic(self) -> bool:
        """True for a synthetic cohort (``cohort.synthetic`` of the protocol)."""
        return self.protocol.cohort.synthetic is not None

    @property
    def reader_arms(self) -> list[ReaderArm]:
        """The protocol's reader arms."""
        return [arm for arm in self.protocol.arms if isinstance(arm, ReaderArm)]


def read_run(layout: Layout, *, outputs: Layout | None = None, cohort: Cohort | None,
             provenance: Mapping[str, Any], missing: list[tuple[str, int]] | tuple = ()) -> RunFiles:
    """Read the run's files: its inputs (lock file, splits) under ``layout``, its outputs
    (reads.csv, tables, figures, report.md) under ``outputs`` (default ``layout``; the staging
    folder of a build that is not published yet). ``cohort``: the validated cohort, None when its
    manifest is gone; ``provenance``: report.md's provenance block; ``missing``: units not finished."""
    outputs = outputs or layout
    document = read_lock_document(layout.lock)
    protocol = protocol_from_lock(document)
    tables = {name: pd.read_csv(outputs.tables / f"{name}.csv") for name in protocol.analyses.enabled
              if (outputs.tables / f"{name}.csv").is_file()}
    return RunFiles(
        layout=layout, outputs=outputs, protocol=protocol, cohort_dir=str(document["cohort_dir"]),
        flow=None if cohort is None else cohort.flow_counts(), index=_store_index(document.get("store")),
        splits=frozen_splits(layout), tables=tables, provenance=provenance, missing_units=tuple(missing),
        store=document.get("store") or "cohort/store/<key>",
        reads=pd.read_csv(outputs.reads, dtype={"patient_id": str}) if outputs.reads.is_file() else None,
        report=outputs.report.read_text(encoding="utf-8") if outputs.report.is_file() else "")


def _store_index(store: str | None) -> pd.DataFrame | None:
    """The pair store's ``index.csv`` (as text), or None when the store is gone."""
    path = Path(store) / "index.csv" if store else None
    return pd.read_csv(path, dtype=str) if path is not None and path.is_file() else None


def where(*parts: str | None) -> str:
    """The given places, ``"; "``-joined, the absent (None) ones left out."""
    return "; ".join(p for p in parts if p)


def counts(series: pd.Series) -> str:
    """``"a (n = 5), b (n = 2)"``: each value's count, most frequent first (ties by name)."""
    tally = series.value_counts()
    order = sorted(tally.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{key} (n = {n})" for key, n in order)


def in_lock(part: str) -> str:
    """``protocol.lock.yaml (<part>)``: where in the lock file a setting is."""
    return f"protocol.lock.yaml ({part})"
