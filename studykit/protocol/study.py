"""Study protocols (``protocols/*.yaml``): the schema and its loader.

A protocol names the study, its cohort (a raw cohort folder, or a synthetic one generated on
first run), the roles of the manifest's columns, the design (folds, inner validation, seed,
crop size, aggregation, threshold rule), the arms (model arms referencing ``models/*.yaml``
with overrides; reader arms referencing reader CSVs), the reader options, the analyses (each
switchable) and the outputs. Paths are relative to the protocol file; the string
``{cohort}`` at the start of a reader path stands for the cohort folder (the raw folder, or
the synthetic cohort's cache). ``runtime`` fixes torch's thread count and deterministic
kernels, so a protocol gives the same numbers on any machine.

Every mistake is one :class:`~studykit.errors.ProtocolError` naming the file, the YAML path
(``arms[2].model``), its line, what was expected, and a close match for misspelt names.

Longer than ~400 lines on purpose: the schema is one pydantic model tree, kept in one file so
that the whole shape of a protocol reads top to bottom in the order a YAML file has it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from studykit.errors import ProtocolError
from studykit.protocol.arms import Aggregation, ArmSpec, _resolve_weights, load_arm
from studykit.protocol.loading import read_yaml, validate_model
from studykit.protocol.resources import ResourcesSpec
from studykit.vocab import (
    ICC_FORMS,
    MRMC_COVARIANCES,
    PROPORTION_METHODS,
    READER_RATINGS,
    SYNTH_SYNTAXES,
    TABLES,
    THRESHOLD_FIXED,
    THRESHOLD_RULES,
    TIE_RULES,
    UNITS,
    did_you_mean,
)

__all__ = [
    "COHORT_PLACEHOLDER",
    "AnalysesSpec",
    "CohortSpec",
    "ColumnsSpec",
    "DesignSpec",
    "ModelArm",
    "OutputsSpec",
    "ReaderArm",
    "ReadersSpec",
    "ResourcesSpec",
    "RuntimeSpec",
    "StudyProtocol",
    "SyntheticSpec",
    "TablesSpec",
    "ThresholdRange",
    "TrackingSpec",
    "load_protocol",
]

PROTOCOL_SCHEMA_VERSION = 1
#: A reader path starting with this stands for the cohort folder.
COHORT_PLACEHOLDER = "{cohort}"
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]

REAL_DATA_HINT = (
    "lay out real data as COHORT/manifest.csv, COHORT/videos/*.dcm, COHORT/annotations.csv and "
    "COHORT/reads.csv (README, 'Your own data'), or make a synthetic stand-in with "
    "`studykit synth {path}`; `studykit run protocols/renal_ceus_demo.yaml` runs the same design on a "
    "small synthetic cohort."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSpec(_Strict):
    """Settings of :func:`studykit.cohort.synth.synthesize` (``params``: ``SynthParams`` fields)."""

    patients: Annotated[int, Field(ge=10)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    frames: Annotated[int, Field(ge=8)] | None = None
    size: tuple[int, int] | None = None
    tiny: bool = False
    syntax: Literal[SYNTH_SYNTAXES] | None = None  # every video in one format (synth --syntax); None: the mix
    #: SynthParams fields (numbers; true/false for flags such as ``timing_annotations``) and
    #: ``preset`` / ``latent_model`` names; checked by the generator (named field, allowed range).
    params: dict[str, float | bool | str] = Field(default_factory=dict)


class CohortSpec(_Strict):
    """The cohort: ``dir`` (a raw cohort folder, README layout) or ``synthetic`` (generated)."""

    dir: str | None = None
    synthetic: SyntheticSpec | None = None
    #: Dual-display split of plain video files without a manifest ``panels`` cell: ``halves``
    #: or ``x0,y0,x1,y1;x0,y0,x1,y1`` (B-mode first); checked by ingest (cohort.tables.parse_panels).
    panels: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CohortSpec:
        if (self.dir is None) == (self.synthetic is None):
            raise ValueError(
                "give exactly one of 'dir' (a raw cohort folder) or 'synthetic' (generator settings)"
            )
        return self


class ColumnsSpec(_Strict):
    """Roles of the manifest's columns; ``covariates`` are Table 1's variables by kind."""

    id: str = "patient_id"
    label: str = "label"
    positive: str = "malignant"
    negative: str = "benign"
    subtype: str | None = "subtype"
    center: str | None = "center"
    covariates: dict[str, Literal["continuous", "categorical"]] = Field(default_factory=dict)


class DesignSpec(_Strict):
    """Folds, inner validation, seed, crops, unit of analysis, aggregation and threshold rule."""

    folds: Annotated[int, Field(ge=2, le=20)] = 5
    val_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.2
    seed: Annotated[int, Field(ge=0)] = 0
    crop_size: Annotated[int, Field(ge=16, le=1024)] = 300
    margin: Annotated[float, Field(ge=0, le=1)] = 0.0
    stratify_by: list[str] = Field(default_factory=lambda: ["subtype"])
    unit: Literal[UNITS[0]] = UNITS[0]
    aggregation: Aggregation = "mean"
    threshold: Literal[THRESHOLD_RULES] = THRESHOLD_FIXED
    threshold_value: Annotated[float, Field(gt=0, lt=1)] = 0.5
    ingest_workers: Annotated[int, Field(ge=1)] = 1


class ModelArm(_Strict):
    """A model arm: ``models/<arm>.yaml`` plus top-level overrides (``name`` renames it) and what
    each of its units' jobs asks a scheduler for (``resources``, :mod:`studykit.protocol.resources`)."""

    model: str
    name: Name | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    resources: ResourcesSpec = ResourcesSpec()


class ReaderArm(_Strict):
    """A reader arm: reader CSV(s) and the groups they hold (each group is one arm).

    ``experience`` (group → text, e.g. ``"5–6 years of CEUS"``) and ``blinded_to`` (what the
    readers did not see, e.g. ``[clinical data, pathology]``) describe the panels for the
    reporting checklists (STARD 10a and 13a); both are optional and change no number.
    """

    readers: str | list[str]
    groups: list[Name] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    experience: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    blinded_to: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _experience_of_known_groups(self) -> ReaderArm:
        for group in self.experience:
            if group not in self.groups:
                hint = did_you_mean(group, self.groups, f"the groups are {', '.join(self.groups)}")
                raise ValueError(f"experience names the group {group!r}, which is not in groups; {hint}")
        return self


class ReadersSpec(_Strict):
    """Reader import options (``studykit.readers.read_reads`` and ``majority_votes``)."""

    allow_missing: bool = False
    tie: Literal[TIE_RULES] = "error"
    score_required: bool = False


#: Each analysis table of :data:`studykit.vocab.TABLES` on (default) or off.
TablesSpec = create_model(
    "TablesSpec",
    __base__=_Strict,
    __module__=__name__,
    __doc__="Each analysis table on (default) or off.",
    **{name: (bool, True) for name in TABLES},
)


#: The most threshold probabilities a decision curve may have.
MAX_THRESHOLDS = 999


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (0.000801 → 0.00081)."""
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / scale - 1e-9) * scale, 12)


class ThresholdRange(_Strict):
    """Threshold probabilities of the decision curve: ``start``, ``start + step``, …, ``stop``.

    Proportions strictly between 0 and 1 (p_t / (1 − p_t) is 0 at 0 and infinite at 1);
    ``stop`` is included when the steps reach it. At most :data:`MAX_THRESHOLDS` values (each
    is bootstrapped ``n_boot`` times).
    """

    start: Annotated[float, Field(gt=0, lt=1)] = 0.01
    stop: Annotated[float, Field(gt=0, lt=1)] = 0.99
    step: Annotated[float, Field(gt=0, lt=1)] = 0.01

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        if isinstance(data, (list, tuple)):
            raise ValueError("write the range as a mapping {start: …, stop: …, step: …}, e.g. "
                             "{start: 0.05, stop: 0.95, step: 0.01}; got a list")
        return data

    @model_validator(mode="after")
    def _a_range(self) -> ThresholdRange:
        if self.stop <= self.start:
            raise ValueError(f"stop ({self.stop:g}) must be above start ({self.start:g}); "
                             "write e.g. {start: 0.05, stop: 0.5, step: 0.01}")
        if self.step > self.stop - self.start:
            raise ValueError(f"step ({self.step:g}) is wider than the range {self.start:g}–{self.stop:g}; "
                             "use a smaller step")
        if self.count > MAX_THRESHOLDS:
            raise ValueError(f"{self.start:g} to {self.stop:g} in steps of {self.step:g} gives {self.count} "
                             f"thresholds, more than {MAX_THRESHOLDS}; use a step of at least "
                             f"{_round_up((self.stop - self.start) / (MAX_THRESHOLDS - 1)):g}")
        return self

    @property
    def count(self) -> int:
        """How many thresholds the range holds (``stop`` counted when reached within 1e-9)."""
        return int((self.stop - self.start) / self.step + 1e-9) + 1

    def values(self) -> tuple[float, ...]:
        """The threshold probabilities, rounded to 10 decimals (0.07, not 0.07000000000000001)."""
        return tuple(round(self.start + i * self.step, 10) for i in range(self.count))


class AnalysesSpec(_Strict):
    """Which tables are computed, and their settings (``studykit.analysis.AnalysisOptions``)."""

    tables: TablesSpec = TablesSpec()
    reference: str | None = None
    comparisons: list[tuple[str, str]] | None = None
    icc_form: Literal[ICC_FORMS] = "ICC2"
    units: list[Literal[UNITS]] = Field(default_factory=lambda: list(UNITS))
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    n_boot: Annotated[int, Field(ge=100)] = 2000
    proportion_method: Literal[PROPORTION_METHODS] = "wilson"
    reader_rating: Literal[READER_RATINGS] = "call"
    calibration_bins: Annotated[int, Field(ge=2, le=50)] = 10
    mrmc_cov: Literal[MRMC_COVARIANCES] = "jackknife"
    decision_thresholds: ThresholdRange = ThresholdRange()
    seed: Annotated[int, Field(ge=0)] = 0

    @property
    def enabled(self) -> tuple[str, ...]:
        """The tables switched on (all unless set to false)."""
        return tuple(t for t in TABLES if getattr(self.tables, t))


class TrackingSpec(_Strict):
    """Experiment tracking of a run (``outputs.tracking``; needs ``pip install "studykit[tracking]"``).

    ``kind`` names the tracker (MLflow is the only one). ``uri`` is an MLflow tracking URI
    (``sqlite:///…``, ``http://host:5000``, ``databricks``); without it the run's own store
    ``sqlite:///results/<name>/mlruns/mlflow.db`` is used, its artifacts under
    ``results/<name>/mlruns/artifacts``. ``experiment`` is the MLflow experiment's name
    (default: the protocol's ``name``). Tracking failures warn and never stop a study
    (:mod:`studykit.study.tracking`).
    """

    kind: Literal["mlflow"]
    uri: Annotated[str, Field(min_length=1)] | None = None
    experiment: Annotated[str, Field(min_length=1)] | None = None


class OutputsSpec(_Strict):
    """Table formats, decimals, figures on/off and their formats, experiment tracking (off by default)."""

    formats: list[Literal["csv", "tex"]] = Field(default_factory=lambda: ["csv", "tex"])
    decimals: Annotated[int, Field(ge=0, le=10)] = 3
    figures: bool = True
    figure_formats: list[Literal["png", "pdf"]] = Field(default_factory=lambda: ["png", "pdf"])
    gradcam: bool = True
    tracking: TrackingSpec | None = None


class RuntimeSpec(_Strict):
    """How torch runs the units: intra-op CPU threads and deterministic kernels.

    ``threads`` (a count, >= 1) is torch's intra-op thread pool
    (``torch.set_num_threads``). It is a fixed number, 2 by default, rather than "all
    cores": float sums split over a different number of threads round differently, so the
    same protocol gives the same numbers on machines with different core counts only when
    the count is fixed. ``studykit run --threads N`` overrides it for one run.
    ``deterministic`` asks torch for deterministic kernels
    (``torch.use_deterministic_algorithms(..., warn_only=True)``; on CUDA it also sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when that is unset).
    """

    threads: Annotated[int, Field(ge=1, strict=True)] = 2
    deterministic: Annotated[bool, Field(strict=True)] = True


class StudyProtocol(_Strict):
    """One study: cohort, column roles, design, arms, reader options, analyses, outputs, runtime.

    After :func:`load_protocol`, ``source`` is the protocol file, ``cohort.dir`` and every
    arm path are absolute, and ``arm_specs`` holds the loaded model arm specs (overrides
    applied) in arm order.
    """

    schema_version: Literal[1] = PROTOCOL_SCHEMA_VERSION
    name: Name
    title: str = ""
    cohort: CohortSpec
    columns: ColumnsSpec = ColumnsSpec()
    design: DesignSpec = DesignSpec()
    arms: list[ModelArm | ReaderArm] = Field(min_length=1)
    readers: ReadersSpec = ReadersSpec()
    analyses: AnalysesSpec = AnalysesSpec()
    outputs: OutputsSpec = OutputsSpec()
    runtime: RuntimeSpec = RuntimeSpec()
    source: str | None = Field(default=None, exclude=True)
    arm_specs: tuple[ArmSpec, ...] = Field(default=(), exclude=True)

    @property
    def model_arms(self) -> list[ArmSpec]:
        """The loaded model arm specs."""
        return list(self.arm_specs)

    @property
    def reader_groups(self) -> list[str]:
        """Every reader group named by a reader arm, in order."""
        return [g for arm in self.arms if isinstance(arm, ReaderArm) for g in arm.groups]

    @property
    def arm_names(self) -> list[str]:
        """Model arm names then reader groups."""
        return [a.name for a in self.arm_specs] + self.reader_groups

    def resources(self, arm: str) -> ResourcesSpec:
        """The ``resources`` of model arm ``arm`` (its units' scheduler request)."""
        entries = [a for a in self.arms if isinstance(a, ModelArm)]
        for spec, entry in zip(self.arm_specs, entries, strict=True):
            if spec.name == arm:
                return entry.resources
        raise KeyError(arm)

    def reader_paths(self, cohort_dir: Path) -> list[Path]:
        """Reader CSV files, ``{cohort}`` replaced by ``cohort_dir``."""
        out = []
        for arm in self.arms:
            if isinstance(arm, ReaderArm):
                for item in [arm.readers] if isinstance(arm.readers, str) else arm.readers:
                    out.append(_cohort_path(item, cohort_dir))
        return out

    def arm_labels(self) -> dict[str, str]:
        """Display names: model arms' titles, reader groups' labels."""
        labels = {a.name: a.title or a.name for a in self.arm_specs}
        for arm in self.arms:
            if isinstance(arm, ReaderArm):
                labels.update({g: arm.labels.get(g, f"{g.capitalize()} readers") for g in arm.groups})
        return labels


def _cohort_path(item: str, cohort_dir: Path) -> Path:
    if item.startswith(COHORT_PLACEHOLDER):
        return cohort_dir / item[len(COHORT_PLACEHOLDER) :].lstrip("/\\")
    return Path(item)


def _fail(file: Path, field: str, node: yaml.Node | None, message: str, hint: str) -> ProtocolError:
    from studykit.protocol.loading import _line_of

    location = tuple(
        int(p) if p.isdigit() else p for p in field.replace("[", ".").replace("]", "").split(".")
    )
    line = _line_of(node, location)
    return ProtocolError(f"{field}{f' (line {line})' if line else ''}: {message}", file=str(file), hint=hint)


def _resolve(base: Path, value: str) -> str:
    if value.startswith(COHORT_PLACEHOLDER):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_paths(protocol: StudyProtocol, base: Path) -> StudyProtocol:
    cohort = protocol.cohort
    if cohort.dir is not None:
        cohort = cohort.model_copy(update={"dir": _resolve(base, cohort.dir)})
    arms = []
    for arm in protocol.arms:
        if isinstance(arm, ModelArm):
            arms.append(arm.model_copy(update={"model": _resolve(base, arm.model)}))
        else:
            paths = [arm.readers] if isinstance(arm.readers, str) else arm.readers
            resolved = [_resolve(base, p) for p in paths]
            arms.append(
                arm.model_copy(update={"readers": resolved[0] if isinstance(arm.readers, str) else resolved})
            )
    return protocol.model_copy(update={"cohort": cohort, "arms": arms})


def _load_arms(protocol: StudyProtocol, file: Path, node: yaml.Node | None) -> tuple[ArmSpec, ...]:
    specs = []
    for i, arm in enumerate(protocol.arms):
        if not isinstance(arm, ModelArm):
            continue
        if not Path(arm.model).is_file():
            raise _fail(
                file,
                f"arms[{i}].model",
                node,
                f"model arm file not found: {arm.model}.",
                "paths are relative to the protocol file; the arm specs live in models/.",
            )
        base = load_arm(arm.model)
        overrides = dict(arm.overrides) | ({"name": arm.name} if arm.name else {})
        if overrides:
            data = {**base.model_dump(), **overrides}
            spec = validate_model(ArmSpec, data, file=file, node=node, prefix=("arms", i, "overrides"))
            base = _resolve_weights(spec, Path(arm.model).parent)
        specs.append(base)
    return tuple(specs)


def _check_readers(protocol: StudyProtocol, file: Path, node: yaml.Node | None) -> None:
    for i, arm in enumerate(protocol.arms):
        if isinstance(arm, ReaderArm):
            paths = [arm.readers] if isinstance(arm.readers, str) else arm.readers
            for j, path in enumerate(paths):
                if not path.startswith(COHORT_PLACEHOLDER) and not Path(path).is_file():
                    where = f"arms[{i}].readers" + ("" if isinstance(arm.readers, str) else f"[{j}]")
                    raise _fail(
                        file,
                        where,
                        node,
                        f"reader CSV not found: {path}.",
                        f"paths are relative to the protocol file; '{COHORT_PLACEHOLDER}/reads.csv' "
                        "means the cohort folder's reads.csv.",
                    )


def _check_names(protocol: StudyProtocol, file: Path, node: yaml.Node | None) -> None:
    seen: dict[str, str] = {}
    model_index = [i for i, a in enumerate(protocol.arms) if isinstance(a, ModelArm)]
    for i, spec in zip(model_index, protocol.arm_specs, strict=True):
        if spec.name in seen:
            raise _fail(
                file,
                f"arms[{i}]",
                node,
                f"arm name {spec.name!r} is used twice (also by {seen[spec.name]}).",
                "give each arm a unique 'name:'.",
            )
        seen[spec.name] = f"arms[{i}]"
    for i, arm in enumerate(protocol.arms):
        if isinstance(arm, ReaderArm):
            for group in arm.groups:
                if group in seen:
                    raise _fail(
                        file,
                        f"arms[{i}].groups",
                        node,
                        f"arm name {group!r} is used twice (also by {seen[group]}).",
                        "rename the reader group or the model arm.",
                    )
                seen[group] = f"arms[{i}].groups"
    _check_references(protocol, file, node, list(seen))


def _unknown_arm(file: Path, field: str, node, name: str, names: list[str]) -> ProtocolError:
    hint = did_you_mean(name, names, f"arms are: {', '.join(names)}.")
    return _fail(file, field, node, f"unknown arm {name!r}; arms are: {', '.join(names)}.", hint)


def _check_references(protocol: StudyProtocol, file: Path, node, names: list[str]) -> None:
    analyses = protocol.analyses
    if analyses.reference is not None and analyses.reference not in names:
        raise _unknown_arm(file, "analyses.reference", node, analyses.reference, names)
    for i, pair in enumerate(analyses.comparisons or []):
        for j, name in enumerate(pair):
            if name not in names:
                raise _unknown_arm(file, f"analyses.comparisons[{i}][{j}]", node, name, names)


def _check_cohort(protocol: StudyProtocol, file: Path, node) -> None:
    folder = protocol.cohort.dir
    if folder is not None and not (Path(folder) / "manifest.csv").is_file():
        what = "does not exist" if not Path(folder).exists() else "has no manifest.csv"
        shown = _display(Path(folder))
        raise _fail(
            file, "cohort.dir", node, f"the cohort folder {shown} {what}.", REAL_DATA_HINT.format(path=shown)
        )


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _validate_arm_items(data: Any, file: Path, node: yaml.Node | None) -> None:
    """Validate each arm as the kind it names, so errors read ``arms[2].model`` (no union noise)."""
    arms = data.get("arms") if isinstance(data, dict) else None
    for i, item in enumerate(arms if isinstance(arms, list) else []):
        if isinstance(item, dict):
            kind = ReaderArm if "readers" in item else ModelArm
            validate_model(kind, item, file=file, node=node, prefix=("arms", i))


def load_protocol(path: str | Path) -> StudyProtocol:
    """Read, validate and resolve the protocol at ``path``.

    Paths become absolute (relative ones are taken from the protocol's folder), the model
    arm specs are loaded with their overrides, and cross-references are checked: referenced
    files exist, arm names are unique, the reference arm and compared arms exist.

    Raises
    ------
    ProtocolError
        Naming the file, the YAML path and line, and the fix (did-you-mean for near misses).
    """
    file = Path(path)
    data, node = read_yaml(file)
    if data is None:
        raise ProtocolError(
            "is empty.", file=str(file), hint="write a study protocol in it (protocols/*.yaml)."
        )
    _validate_arm_items(data, file, node)
    protocol = validate_model(StudyProtocol, data, file=file, node=node)
    protocol = _resolve_paths(protocol, file.resolve().parent)
    _check_cohort(protocol, file, node)
    _check_readers(protocol, file, node)
    protocol = protocol.model_copy(update={"source": str(file.resolve())})
    protocol = protocol.model_copy(update={"arm_specs": _load_arms(protocol, file, node)})
    _check_names(protocol, file, node)
    return protocol
