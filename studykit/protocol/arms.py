"""Model-arm specifications (``models/*.yaml``): the schema and its loader.

An arm spec fixes everything that defines one model arm's training recipe — backbone,
weights, fusion, loss, optimiser, schedule, sampler, augmentation, checkpoint selection,
patient aggregation and device options — so two runs of the same spec and seed train the
same model. Unknown keys are errors that name the key, the file and its line.

The reference recipe (paper.md): EfficientNet-b3 at 300 px, ImageNet weights, SGD with
lr 0.05 (momentum 0.9, weight decay 1e-4) halved every 10 epochs for 100 epochs,
class-balanced focal loss (β 0.999, γ 2; fused 1.0, auxiliary 0.5 + 0.5), class-balanced
sampling, spatial, elastic and noise augmentation, best validation accuracy kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from studykit.protocol.loading import load_model, validate_model
from studykit.vocab import (
    AGGREGATIONS,
    ARM_EVIDENCE,
    ARM_KINDS,
    AUGMENT_CHOICES,
    AUGMENT_LIMITS,
    ELASTIC_GRID_MIN,
    FUSIONS,
    LOSS_KINDS,
    MODALITIES,
    NET_KINDS,
    OPTIMIZER_KINDS,
    PATIENT_KINDS,
    SCHEDULE_KINDS,
    SELECTION_METRICS,
)

__all__ = [
    "ArmSpec",
    "AugmentSpec",
    "LossSpec",
    "OptimizerSpec",
    "PerfusionSpec",
    "SamplerSpec",
    "ScheduleSpec",
    "SelectionSpec",
    "SequenceSpec",
    "load_arm",
]

ARM_SCHEMA_VERSION = 1
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


Aggregation = Literal[tuple(AGGREGATIONS)]


def _magnitude(name: str) -> Any:
    """A float field bounded as ``AUGMENT_LIMITS[name]`` says (the train layer's own checks)."""
    low, high, inclusive, _ = AUGMENT_LIMITS[name]
    upper = {"le": high} if inclusive else {"lt": high}
    return Annotated[float, Field(ge=low, **upper)]


def _choice(name: str) -> Any:
    """A name among ``AUGMENT_CHOICES[name]``."""
    return Literal[AUGMENT_CHOICES[name]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LossSpec(_Strict):
    """Class-balanced focal loss (Cui et al. 2019) and the MUF-Net loss weights."""

    kind: Literal[LOSS_KINDS] = "class_balanced_focal"
    beta: Annotated[float, Field(ge=0, lt=1)] = 0.999
    gamma: Annotated[float, Field(ge=0)] = 2.0
    weight_fused: Annotated[float, Field(ge=0)] = 1.0
    weight_bmode: Annotated[float, Field(ge=0)] = 0.5
    weight_ceus: Annotated[float, Field(ge=0)] = 0.5


class OptimizerSpec(_Strict):
    """SGD with momentum (the reference) or AdamW."""

    kind: Literal[OPTIMIZER_KINDS] = "sgd"
    lr: PositiveFloat = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    nesterov: bool = False


class ScheduleSpec(_Strict):
    """Learning-rate schedule, stepped once per epoch.

    ``step`` (the reference): lr × ``gamma`` every ``step_epochs`` epochs. ``cosine``: linear
    warm-up over ``warmup_epochs``, then half a cosine down to ``min_lr_ratio`` × lr at the
    last epoch, so the decay scales with ``epochs``. ``constant``: no decay.
    """

    kind: Literal[SCHEDULE_KINDS] = "step"
    step_epochs: Annotated[int, Field(ge=1)] = 10
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.5
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    min_lr_ratio: Annotated[float, Field(ge=0, le=1)] = 0.0


class SamplerSpec(_Strict):
    """Kang et al. (2020) sampling: q = 0 class-balanced, q = 1 instance-balanced."""

    q: Fraction = 0.0
    epoch_length: Annotated[int, Field(ge=1)] | None = None


class AugmentSpec(_Strict):
    """On-device augmentation magnitudes (``studykit.train.augment.AugmentConfig``'s fields).

    The names, meanings and bounds are those of ``AugmentConfig`` (both take them from
    :data:`studykit.vocab.AUGMENT_LIMITS` and ``AUGMENT_CHOICES``), so the train layer builds
    it as ``AugmentConfig(**spec.augment.model_dump())``. All magnitudes zero = identity;
    the defaults are the reference recipe's (the paper names spatial, elastic and noise
    augmentation without magnitudes): rotation ±15°, zoom ±10 %, shift ±5 %, horizontal
    flip p = 0.5 (no vertical flip: depth runs top to bottom), a 4-pixel elastic field on
    300-px crops (scale ``elastic_px`` with ``input_size``), ±10 % gain, contrast and
    gamma, 10 % speckle and additive noise of SD 0.02.
    """

    rotation_deg: _magnitude("rotation_deg") = 15.0
    scale: _magnitude("scale") = 0.1
    translate: _magnitude("translate") = 0.05
    hflip_p: _magnitude("hflip_p") = 0.5
    vflip_p: _magnitude("vflip_p") = 0.0
    elastic_px: _magnitude("elastic_px") = 4.0
    elastic_grid: Annotated[int, Field(ge=ELASTIC_GRID_MIN)] = 4
    gain: _magnitude("gain") = 0.1
    contrast: _magnitude("contrast") = 0.1
    gamma: _magnitude("gamma") = 0.1
    speckle: _magnitude("speckle") = 0.1
    noise: _magnitude("noise") = 0.02
    pair_spatial: _choice("pair_spatial") = "shared"
    interpolation: _choice("interpolation") = "bilinear"
    padding_mode: _choice("padding_mode") = "zeros"


class SelectionSpec(_Strict):
    """Which checkpoint is kept: best ``metric`` on the inner validation patients, or the last.

    ``accuracy`` (the reference study's) or ``auc`` of the patient-level probabilities on the
    validation split (ties: the earlier epoch); ``last`` keeps the final epoch, which suits
    small validation splits where the best epoch is mostly noise. ``split: test_fold``
    reproduces the reference study (selection on the reported fold); it is optimistic and
    labelled as such in every output.
    """

    metric: Literal[SELECTION_METRICS] = "accuracy"
    split: Literal["inner_val", "test_fold"] = "inner_val"


#: Feature groups of a ``perfusion`` arm (:class:`PerfusionSpec`).
PERFUSION_FEATURES = ("parameters", "curve", "relative_curve", "heterogeneity", "rim")


class PerfusionSpec(_Strict):
    """A ``perfusion`` arm: time–intensity-curve features of the CEUS video → logistic regression.

    Each patient's lesion and cortex TICs are extracted and fitted once per study
    (:func:`studykit.cohort.perfusion.perfusion_fits` with ``model``, ``dynamic_range_db``,
    ``gamma``, ``motion``, ``first_pass_s`` and ``min_r2``). ``features`` picks the groups the
    model reads:

    - ``parameters``: the fitted bolus parameters of the lesion and the cortex and their ratios
      lesion / cortex (peak enhancement, times to peak and rise, mean transit time, wash-in rate
      and AUC, wash-out rate, AUC, 30-s wash-out, arrival; ``rel_pe_db``) — quantitative CEUS
      as VueBox/SonoLiver report it (EFSUMB 2018);
    - ``curve``: the lesion's linear intensity in dB (10·log10) on a time grid since injection,
      every ``grid_s`` s from 0 to ``grid_end_s`` s (linear interpolation between frames; no
      extrapolation), model-free;
    - ``relative_curve``: the same grid of lesion − cortex (dB), enhancement against the cortex;
    - ``heterogeneity``: the lesion ROI's SD in dB and its share of dark (non-enhancing) pixels
      (:func:`studykit.cohort.perfusion.extract_tic`), each averaged over the frames from
      ``heterogeneity_from_s`` s after injection (once the contrast has arrived);
    - ``rim``: the lesion's periphery against its centre in dB
      (:func:`studykit.cohort.perfusion.rim_contrast_db`: a pseudocapsule or peripheral
      enhancement reads positive), averaged over the same frames.

    The default, ``[curve, relative_curve, heterogeneity, rim]``, was chosen on development
    cohorts (synthetic seeds 10–12) only, never on the seeds a study reports
    (``benchmarks/RESULTS.md``, "Perfusion arm").

    A feature a patient lacks (no TIC, a failed fit, a grid time outside the video) takes the
    median of the fold's training patients; standardised on them; L2-penalised logistic
    regression (scikit-learn ``C``) fitted on the fold's training patients, ``C`` chosen among
    ``c_values`` by the arm's ``selection.metric`` on the inner validation patients (ties: the
    smaller ``C``, the stronger penalty).
    """

    features: tuple[Literal[PERFUSION_FEATURES], ...] = Field(
        default=("curve", "relative_curve", "heterogeneity", "rim"), min_length=1
    )
    model: Literal["lognormal", "gamma"] = "lognormal"
    dynamic_range_db: PositiveFloat | dict[str, PositiveFloat] = 40.0
    gamma: PositiveFloat | dict[str, PositiveFloat] = 1.0
    motion: bool = False
    first_pass_s: PositiveFloat | None = None
    min_r2: Annotated[float, Field(le=1)] = 0.8
    grid_s: PositiveFloat = 6.0
    grid_end_s: PositiveFloat = 90.0
    heterogeneity_from_s: Annotated[float, Field(ge=0)] = 15.0
    c_values: tuple[PositiveFloat, ...] = Field(default=(0.01, 0.1, 1.0, 10.0), min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> PerfusionSpec:
        if len(set(self.features)) < len(self.features):
            raise ValueError(f"features lists a group twice: {list(self.features)}")
        return self


class SequenceSpec(_Strict):
    """A ``sequence`` arm (temporal MUF-Net): a patient's annotated frames with their times since
    injection → one call (:class:`studykit.nets.SequenceMUFNet`).

    - ``frames``: at most this many of a patient's store images per training step; a patient
      with more gets a random subset each epoch, kept in time order (a pure function of the seed,
      the epoch and the patient, so a resumed fit draws the same). Prediction and validation read
      all of a patient's frames, in time order.
    - ``time_scale_s``: seconds per unit of the time encoding u = t / scale (t: s since
      injection, the store's ``time_s``); ``time_frequencies``: the number K of sinusoid pairs
      sin(2^k u), cos(2^k u), k < K, beside u. A frame of unknown time (NaN) takes a learned
      embedding instead.

    ``batch_size`` counts patients; ``sampler`` draws patients (class-balanced for ``q: 0``) and
    ``sampler.epoch_length`` defaults to the number of training patients. ``fusion`` is the
    per-frame fusion of MUF-Net. ``aggregation`` is not used (the net pools the frames itself).
    """

    frames: Annotated[int, Field(ge=1, le=1024)] = 16
    time_scale_s: PositiveFloat = 60.0
    time_frequencies: Annotated[int, Field(ge=0, le=16)] = 6


class ArmSpec(_Strict):
    """One model arm: architecture and training recipe (``kind: perfusion``: :class:`PerfusionSpec`;
    ``kind: sequence``: :class:`SequenceSpec`)."""

    schema_version: Literal[1] = ARM_SCHEMA_VERSION
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    title: str = ""
    kind: Literal[tuple(ARM_KINDS)]
    modality: Literal[MODALITIES] | None = None
    fusion: Literal[FUSIONS] = "attention"
    backbone: str = "efficientnet_b3"
    pretrained: str = "none"
    input_size: Annotated[int, Field(ge=16, le=1024)] = 300
    drop_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0  # dropout before the classifier head(s)
    epochs: Annotated[int, Field(ge=1)] = 100
    batch_size: Annotated[int, Field(ge=1)] = 32
    loss: LossSpec = LossSpec()
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: ScheduleSpec = ScheduleSpec()
    sampler: SamplerSpec = SamplerSpec()
    augment: AugmentSpec = AugmentSpec()
    selection: SelectionSpec = SelectionSpec()
    aggregation: Aggregation = "mean"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    num_workers: Annotated[int, Field(ge=0)] = 0
    gradcam_images: Annotated[int, Field(ge=0)] = 8
    seed: Annotated[int, Field(ge=0)] = 0
    perfusion: PerfusionSpec = PerfusionSpec()
    sequence: SequenceSpec = SequenceSpec()

    @model_validator(mode="after")
    def _fields_match_kind(self) -> ArmSpec:
        """A perfusion arm sets no network field; a network arm no ``perfusion``; only a sequence
        arm sets ``sequence``."""
        if self.kind != "sequence" and self.sequence != SequenceSpec():
            raise ValueError(f"a {self.kind!r} arm reads no frame sequence: remove 'sequence' "
                             "(kind: sequence reads it)")
        if self.kind in NET_KINDS:
            if self.perfusion != PerfusionSpec():
                raise ValueError(f"a {self.kind!r} arm trains a network: remove 'perfusion' "
                                 "(kind: perfusion reads it)")
            return self
        changed = [name for name in _NET_FIELDS if getattr(self, name) != ArmSpec.model_fields[name].default]
        if changed:
            raise ValueError(f"a {self.kind!r} arm trains no network: remove {', '.join(map(repr, changed))}")
        if self.selection.metric == "last":
            raise ValueError("a 'perfusion' arm has no epochs: selection.metric is 'auc' or 'accuracy' "
                             "(it chooses C among perfusion.c_values)")
        return self

    @model_validator(mode="after")
    def _modality_matches_kind(self) -> ArmSpec:
        reads = ARM_KINDS[self.kind]
        if reads is None and self.modality is None:
            raise ValueError(f"a {self.kind!r} arm needs modality: {' or '.join(MODALITIES)}")
        if reads is not None and self.modality is not None:
            uses = "both modalities" if reads == MODALITIES else ", ".join(reads)
            raise ValueError(f"a {self.kind!r} arm uses {uses}: remove 'modality'")
        return self

    @property
    def trains_network(self) -> bool:
        """True for the network kinds (``single``, ``mufnet``, ``sequence``), False for ``perfusion``."""
        return self.kind in NET_KINDS

    @property
    def predicts_patients(self) -> bool:
        """True for the kinds that write one prediction per patient (``sequence``, ``perfusion``)."""
        return self.kind in PATIENT_KINDS

    @property
    def sees(self) -> tuple[str, str]:
        """(evidence level, modality) of what the arm's input shows — its Bayes ceiling's
        (``frame`` or ``video``; ``bmode``, ``ceus`` or ``both``)."""
        reads = ARM_KINDS[self.kind] or (self.modality,)
        return ARM_EVIDENCE[self.kind], reads[0] if len(reads) == 1 else "both"

    @property
    def optimistic(self) -> bool:
        """True when the checkpoint is selected on the test fold (reference-study mode)."""
        return self.selection.split == "test_fold"


#: ArmSpec fields that only a network arm uses (a perfusion arm leaves them at their defaults).
_NET_FIELDS = ("fusion", "backbone", "pretrained", "input_size", "drop_rate", "epochs", "batch_size", "loss",
               "optimizer", "schedule", "sampler", "augment", "device", "amp", "channels_last", "compile",
               "num_workers", "gradcam_images")


def load_arm(path: str | Path, **overrides: object) -> ArmSpec:
    """Load ``models/<arm>.yaml`` as an :class:`ArmSpec`; ``overrides`` replace top-level keys.

    ``pretrained`` paths are resolved relative to the YAML file.
    """
    spec = load_model(ArmSpec, path)
    if overrides:
        spec = validate_model(ArmSpec, {**spec.model_dump(), **overrides}, file=path)
    return _resolve_weights(spec, Path(path).parent)


def _resolve_weights(spec: ArmSpec, base: Path) -> ArmSpec:
    if spec.pretrained in ("none", "imagenet"):
        return spec
    weights = Path(spec.pretrained)
    return spec.model_copy(update={"pretrained": str(weights if weights.is_absolute() else base / weights)})
