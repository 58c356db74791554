"""Analysis options and the study's arms on common patients, prepared once per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from studykit.analysis._arms import check_reads, model_arms, patient_labels, reader_arms
from studykit.analysis._common import Arm, check_option, common_patients
from studykit.analysis.aggregate import check_predictions
from studykit.errors import InputError
from studykit.vocab import AGGREGATIONS, ARM, ICC_FORMS, IMAGE, READER_RATINGS, TABLES, UNITS


@dataclass(frozen=True)
class AnalysisOptions:
    """Every setting of the analyses (the protocol's ``analyses`` section maps onto it).

    Attributes
    ----------
    analyses : tables to compute (names of :data:`studykit.vocab.TABLES`); default all.
    reference : arm compared with every other arm; ``None``: every model arm vs every other arm.
    comparisons : explicit ``(arm_a, arm_b)`` pairs; overrides ``reference``.
    aggregation : image → patient rule (``mean``, ``median``, ``max``, ``logit_mean``).
    icc_form : the protocol's ICC form (all six are reported; this one is flagged ``chosen``).
        Default ICC2: two-way random effects, absolute agreement, single rater — readers are
        a sample of radiologists and each reads every patient (Koo & Li 2016).
    continuous, categorical : manifest columns of Table 1 by kind.
    pos_label : the manifest's malignant label when labels are not 0/1.
    units : ``("patient", "image")``; patient is primary, image secondary (model arms only).
    seed, confidence, n_boot : random seed, two-sided level, bootstrap replicates.
    proportion_method : ``wilson`` or ``exact`` (Clopper–Pearson) CIs of proportions.
    allow_missing : analyse the patients every arm has instead of raising on gaps.
    tie : majority-vote tie rule (``error``, ``positive``, ``negative``).
    threshold_origin : text of each model arm's threshold origin (one string, or arm → string);
        ``None`` infers "0.5 (default)" / "(from predictions)".
    reader_rating : what represents a reader group in the DeLong comparisons: ``call`` (the
        majority vote, as the reference study) or ``score`` (the panel's mean score).
    n_bins : reliability-curve bins (equal count).
    ceiling_match : arm → a ``truth.csv`` posterior column ``posterior_{frame|video|all}_{bmode|ceus|both}``;
        unmatched model arms get the ``frame`` level with the modality guessed from their names
        (bmode, ceus, else both), unmatched reader groups ``posterior_video_both``.
    mrmc_cov, mrmc_analysis : covariance estimator and analyses of :func:`stats.model_vs_readers`.
    decision_thresholds : threshold probabilities p_t of the decision curve (floats in (0, 1));
        ``None``: 0.01, 0.02, …, 0.99 (:func:`studykit.stats.decision_curve`'s default).
    """

    analyses: Sequence[str] = TABLES
    reference: str | None = None
    comparisons: Sequence[tuple[str, str]] | None = None
    aggregation: str = "mean"
    icc_form: str = "ICC2"
    continuous: Sequence[str] = ()
    categorical: Sequence[str] = ()
    pos_label: Any = "malignant"
    units: Sequence[str] = UNITS
    seed: int = 0
    confidence: float = 0.95
    n_boot: int = 2000
    proportion_method: str = "wilson"
    allow_missing: bool = False
    tie: str = "error"
    threshold_origin: str | Mapping[str, str] | None = None
    reader_rating: str = "call"
    n_bins: int = 10
    ceiling_match: Mapping[str, str] = field(default_factory=dict)
    mrmc_cov: str = "jackknife"
    mrmc_analysis: str | Sequence[str] = "all"
    decision_thresholds: Sequence[float] | None = None

    def __post_init__(self) -> None:
        for name in self.analyses:
            check_option("analyses", name, TABLES)
        for unit in self.units:
            check_option("units", unit, UNITS)
        check_option("aggregation", self.aggregation, AGGREGATIONS)
        check_option("icc_form", self.icc_form, ICC_FORMS)
        check_option("reader_rating", self.reader_rating, READER_RATINGS)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"must be a non-negative integer; got {self.seed!r}.", field="seed")
        if not isinstance(self.n_bins, int) or self.n_bins < 1:
            raise InputError(f"must be a positive integer; got {self.n_bins!r}.", field="n_bins")


@dataclass(frozen=True)
class Study:
    """Validated inputs: predictions, labels, every arm, and the patients all arms share."""

    predictions: pd.DataFrame
    reads: pd.DataFrame | None
    labels: pd.Series
    arms: list[Arm]
    patients: list[Any]
    n_by_arm: dict[str, int]

    @property
    def models(self) -> list[Arm]:
        return [a for a in self.arms if a.kind == "model"]

    @property
    def readers(self) -> list[Arm]:
        return [a for a in self.arms if a.kind == "readers"]

    def per_image(self, name: str) -> bool:
        """True when model arm ``name`` predicts images (every row has an ``image_id``); False for
        a patient-level arm (a perfusion arm), which the image-level analyses leave out."""
        rows = self.predictions[self.predictions[ARM] == name]
        return len(rows) > 0 and bool(rows[IMAGE].notna().all())

    def arm(self, name: str) -> Arm:
        names = [a.name for a in self.arms]
        return self.arms[names.index(check_option("arm", name, names))]


def prepare(predictions: pd.DataFrame, reads: pd.DataFrame | None, manifest: pd.DataFrame | None,
            options: AnalysisOptions) -> Study:
    """Validate the inputs and build every arm at patient level on the common patients."""
    preds = check_predictions(predictions)
    labels = patient_labels(preds, manifest, pos_label=options.pos_label)
    checked = check_reads(reads)
    arms = model_arms(preds, rule=options.aggregation, origin=options.threshold_origin)
    arms += reader_arms(checked, labels, tie=options.tie)
    names = [a.name for a in arms]
    if len(set(names)) < len(names):
        raise InputError(f"a model arm and a reader group share a name: {sorted(names)}.", field="arms",
                         hint="rename the reader group or the arm.")
    patients, counts = common_patients(arms, allow_missing=options.allow_missing)
    return Study(preds, checked, labels, arms, patients, counts)
