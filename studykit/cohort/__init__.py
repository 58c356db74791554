"""Layer ``cohort``: manifest, DICOM reading, de-identification, annotations, ROI pair store,
splits and the synthetic cohort. May import errors only.

Entry points: :func:`ingest` (raw cohort → :class:`PairStore`), :func:`make_splits` /
:func:`load_or_make_splits` (patient-grouped folds) and ``cohort.synth.synthesize``
(the synthetic cohort).
"""

from studykit.cohort.ingest import ingest
from studykit.cohort.splits import Fold, Splits, check_splits, load_or_make_splits, make_splits
from studykit.cohort.store import PairStore

__all__ = ["Fold", "PairStore", "Splits", "check_splits", "ingest", "load_or_make_splits", "make_splits"]
