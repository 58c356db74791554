"""Layer ``readers``: reader CSV import and validation, majority vote, panel scores.

May import only :mod:`studykit.stats` and :mod:`studykit.errors` (DESIGN.md layers)::

    from studykit import readers
    reads = readers.read_reads(["junior.csv", "senior.csv"], patients=manifest.included)
    votes = readers.majority_votes(reads, tie="error")
    frame = readers.reads_csv_frame(reads, votes)      # what the runner writes as reads.csv
"""

from studykit.readers.panel import (
    KIND,
    KIND_MAJORITY,
    KIND_READER,
    READS_CSV_COLUMNS,
    TIE_RULES,
    majority_votes,
    panel_scores,
    reader_operating_points,
    reads_csv_frame,
)
from studykit.readers.reads import MAJORITY_PREFIX, READS_COLUMNS, Reads, read_reads

__all__ = [
    "KIND",
    "KIND_MAJORITY",
    "KIND_READER",
    "MAJORITY_PREFIX",
    "READS_COLUMNS",
    "READS_CSV_COLUMNS",
    "TIE_RULES",
    "Reads",
    "majority_votes",
    "panel_scores",
    "read_reads",
    "reader_operating_points",
    "reads_csv_frame",
]
