"""Layer ``cohort``: manifest, DICOM reading, de-identification, annotations, ROI pair store,
time–intensity curves and perfusion fits (``cohort.perfusion``), splits and the synthetic
cohort. May import errors and vocab only.

Entry points: :func:`load_cohort` (manifest → the validated :class:`Cohort`, read once),
:func:`ingest` (raw cohort → :class:`PairStore`), :func:`make_splits` /
:func:`load_or_make_splits` (patient-grouped folds) and ``cohort.synth.synthesize``
(the synthetic cohort).
"""

from studykit.cohort.cohort import Cohort, load_cohort
from studykit.cohort.ingest import ingest
from studykit.cohort.splits import Fold, Splits, check_splits, load_or_make_splits, make_splits
from studykit.cohort.store import PairStore

__all__ = [
    "Cohort",
    "Fold",
    "PairStore",
    "Splits",
    "check_splits",
    "ingest",
    "load_cohort",
    "load_or_make_splits",
    "make_splits",
]
