"""Layer ``train``: fit and predict one arm on one fold — sampler, on-device augmentation,
checkpoints, Grad-CAM. May import nets, cohort, protocol and errors (DESIGN.md layers).

Entry points::

    from studykit.train import fit, predict, aggregate_patients, gradcam, unit_dir
    result = fit(arm, store, fold, unit_dir("results/renal", arm.name, fold.index))
    table = predict(arm, store, fold, result.best_checkpoint, out_dir=result.out_dir)
    patients = aggregate_patients(table, arm.aggregation)

A ``sequence`` arm (one prediction per patient, attention weights over its frames)::

    result = fit_sequence(arm, store, fold, unit_dir("results/renal", arm.name, fold.index))
    table = predict_sequence(arm, store, fold, result.best_checkpoint, out_dir=result.out_dir)

Multi-GPU data parallel training of one unit::

    torchrun --nproc_per_node=4 -m studykit.train.launch ARM_YAML STORE SPLITS_JSON FOLD OUT_DIR
"""

from studykit.vocab import AGGREGATIONS, PREDICTION_COLUMNS, unit_dir

from .aggregate import aggregate_patients
from .augment import AugmentConfig, PairAugmenter
from .checkpoint import read_done
from .data import arm_modalities
from .device import configure_runtime, dist_context, resolve_device
from .fit import HISTORY_COLUMNS, FitResult, NonFiniteLossError, UnitConflictError, fit
from .gradcam import gradcam
from .predict import DEFAULT_THRESHOLD, predict
from .sampler import ClassBalancedSampler
from .sequence import fit_sequence, predict_sequence

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_THRESHOLD",
    "HISTORY_COLUMNS",
    "PREDICTION_COLUMNS",
    "AugmentConfig",
    "ClassBalancedSampler",
    "FitResult",
    "NonFiniteLossError",
    "PairAugmenter",
    "UnitConflictError",
    "aggregate_patients",
    "arm_modalities",
    "configure_runtime",
    "dist_context",
    "fit",
    "fit_sequence",
    "gradcam",
    "predict",
    "predict_sequence",
    "read_done",
    "resolve_device",
    "unit_dir",
]
