"""Names and small registries that several layers share, defined once.

The column names of the tidy input tables (``predictions.csv``, ``reads.csv``), the analysis
tables, the option vocabularies the protocol schema offers (aggregation and threshold rules,
ICC forms, tie rules …), the patient-aggregation registry used both to select checkpoints
(``train``) and to build the tables (``analysis``), the files of one (arm, fold) unit, the
progress-hook type, the exclusion rule of the manifest and the patient counts of the flow
diagram (:class:`FlowCounts`), and the helpers every layer needs: :func:`did_you_mean`,
:func:`require_columns` / :func:`require_table_columns` and :func:`atomic_write`.

Like :mod:`studykit.errors` this is a bottom layer: it imports nothing from studykit but
``errors`` and nothing heavier than numpy (no torch, no pandas at import), and every layer
may import it. The protocol schema builds its ``Literal`` choices from these tuples, so a
name is accepted by a protocol exactly when the code that runs it knows it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studykit.errors import InputError, StudyError, fault_error

__all__ = [
    "AGGREGATIONS",
    "AGGREGATION_EPS",
    "ANNOTATION_FORMATS",
    "ARM",
    "ARM_EVIDENCE",
    "ARM_KINDS",
    "AUGMENT_CHOICES",
    "AUGMENT_LIMITS",
    "BEST",
    "CALL",
    "DONE",
    "ELASTIC_GRID_MIN",
    "EXCLUDED_REASON",
    "FOLD",
    "FUSIONS",
    "FUSION_WEIGHTS",
    "GRADCAM",
    "GROUP",
    "HISTORY",
    "ICC_FORMS",
    "IMAGE",
    "IMAGE_UNIT",
    "LABEL",
    "LAST",
    "LOSS_KINDS",
    "MODALITIES",
    "MRMC_COVARIANCES",
    "NET_KINDS",
    "OPTIMIZER_KINDS",
    "PATIENT",
    "PATIENT_KINDS",
    "PATIENT_UNIT",
    "PREDICTIONS",
    "PREDICTION_COLUMNS",
    "PROB",
    "PROPORTION_METHODS",
    "READER",
    "READER_RATINGS",
    "READ_COLUMNS",
    "REQUIRED_PREDICTION_COLUMNS",
    "REQUIRED_READ_COLUMNS",
    "SCHEDULE_KINDS",
    "SCORE",
    "SELECTION_METRICS",
    "SYNTH_SYNTAXES",
    "TABLES",
    "THRESHOLD",
    "THRESHOLD_FIXED",
    "THRESHOLD_RULES",
    "THRESHOLD_YOUDEN",
    "TIE_RULES",
    "UNITS",
    "W_BMODE",
    "W_CEUS",
    "FlowCounts",
    "Progress",
    "atomic_write",
    "ci_label",
    "closest",
    "did_you_mean",
    "exclusion_reasons",
    "fsync_dir",
    "read_utf8",
    "remove_dead_temps",
    "require_columns",
    "require_table_columns",
    "temp_name",
    "unit_dir",
]

# --- columns of the input tables ----------------------------------------------------------
ARM, FOLD, PATIENT, IMAGE, LABEL = "arm", "fold", "patient_id", "image_id", "label"
PROB, THRESHOLD, W_BMODE, W_CEUS = "prob_malignant", "threshold", "w_bmode", "w_ceus"
READER, GROUP, CALL, SCORE = "reader_id", "group", "call", "score"
#: Fusion weights of a MUF-Net arm: written by every model arm, optional when read back.
FUSION_WEIGHTS = (W_BMODE, W_CEUS)
#: Columns of ``predictions.csv``, in the order the train layer writes them.
PREDICTION_COLUMNS = (ARM, FOLD, PATIENT, IMAGE, LABEL, PROB, W_BMODE, W_CEUS, THRESHOLD)
#: The columns the analyses need (the fusion weights may be absent).
REQUIRED_PREDICTION_COLUMNS = tuple(c for c in PREDICTION_COLUMNS if c not in FUSION_WEIGHTS)
#: Columns of the reader rows of ``reads.csv``, in order (``score`` may be empty).
READ_COLUMNS = (READER, GROUP, PATIENT, CALL, SCORE)
#: The columns the analyses need of the reads.
REQUIRED_READ_COLUMNS = READ_COLUMNS[:-1]
#: Optional manifest column: a non-empty reason excludes the patient (the flow diagram's boxes).
EXCLUDED_REASON = "excluded_reason"
#: Optional manifest column: the video time of the contrast injection, s from the first frame.
INJECTION_COLUMN = "injection_s"
#: Optional annotations column: a reference box in the renal cortex (CEUS panel, frame pixels).
CORTEX_COLUMN = "cortex_box"

# --- names a protocol chooses among ------------------------------------------------------
#: Image modalities of a B-mode/CEUS pair, in store channel order.
MODALITIES = ("bmode", "ceus")
#: Arm kinds and the modalities each reads (``None``: one, the arm's own ``modality``). The
#: nets registry (:func:`studykit.nets.model_kind`) registers the :data:`NET_KINDS`; a
#: ``perfusion`` arm is a scikit-learn model on the CEUS video's time–intensity curves
#: (:mod:`studykit.train.perfusion`).
ARM_KINDS: dict[str, tuple[str, ...] | None] = {"single": None, "mufnet": MODALITIES, "sequence": MODALITIES,
                                                 "perfusion": ("ceus",)}
#: Arm kinds that train a network on the pair store (checkpoints, epochs, Grad-CAM).
NET_KINDS = ("single", "mufnet", "sequence")
#: Arm kinds that predict patients, not images: one ``predictions.csv`` row per patient with an
#: empty ``image_id`` (the image-level analyses leave them out).
PATIENT_KINDS = ("sequence", "perfusion")
#: What each arm kind sees, as an evidence level of the Bayes ceiling (``analysis.ceiling``):
#: single frames (a per-frame classifier averaged per patient) or the whole video (a
#: ``sequence`` arm sees a patient's annotated frames with their times since injection).
ARM_EVIDENCE = {"single": "frame", "mufnet": "frame", "sequence": "video", "perfusion": "video"}
#: MUF-Net fusion kinds (:func:`studykit.nets.create_fusion`).
FUSIONS = ("attention", "mean", "concat")
#: Recipe choices of an arm spec (the train layer's registries, :mod:`studykit.train.recipe`).
OPTIMIZER_KINDS = ("sgd", "adamw")
SCHEDULE_KINDS = ("step", "constant", "cosine")
LOSS_KINDS = ("class_balanced_focal", "cross_entropy")
SELECTION_METRICS = ("accuracy", "auc", "last")
#: Output tables, in the order :func:`studykit.analysis.run_analyses` computes them; a
#: protocol switches each on or off under ``analyses.tables``.
TABLES = (
    "table1_cohort",
    "table2_histology",
    "table3_performance",
    "comparisons",
    "icc",
    "agreement_kappa",
    "calibration",
    "decision_curve",
    "folds",
    "ceiling",
    "mrmc",
)
#: Units of analysis: the patient (primary) and the image (secondary, patient-clustered).
UNITS = ("patient", "image")
PATIENT_UNIT, IMAGE_UNIT = UNITS
#: The six Shrout–Fleiss ICC forms, in psych's order.
ICC_FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
#: Decision-threshold rules: the protocol's fixed value, or Youden's on the inner validation.
THRESHOLD_FIXED, THRESHOLD_YOUDEN = "fixed", "youden_inner_val"
THRESHOLD_RULES = (THRESHOLD_FIXED, THRESHOLD_YOUDEN)
#: What a majority-vote tie becomes: an error, a positive or a negative call.
TIE_RULES = ("error", "positive", "negative")
#: CIs of proportions: Wilson score or exact (Clopper–Pearson).
PROPORTION_METHODS = ("wilson", "exact")
#: What represents a reader group in the paired comparisons: its majority call or mean score.
READER_RATINGS = ("call", "score")
#: Video formats the synthetic cohort can be written in (``synth --syntax``, the protocol's
#: ``cohort.synthetic.syntax``): DICOM transfer syntaxes by short name, and plain MP4 files.
#: Annotation export formats ``studykit annotations import`` reads (cohort.annotation_import).
ANNOTATION_FORMATS = ("cvat-video", "cvat-images", "coco", "label-studio")
SYNTH_SYNTAXES = ("explicit", "jpeg", "rle", "mpeg2", "h264", "hevc", "mp4")
#: Estimators of the covariance of the reader × modality AUCs in the MRMC analyses.
MRMC_COVARIANCES = ("jackknife", "delong", "bootstrap")

# --- patient aggregation -----------------------------------------------------------------
#: Probabilities are clipped to [eps, 1 − eps] before the logit of ``logit_mean``.
AGGREGATION_EPS = 1e-6


def _logit_mean(p: Any) -> float:
    """Inverse logit of the mean logit (a geometric mean of the odds)."""
    q = np.clip(np.asarray(p, dtype=np.float64), AGGREGATION_EPS, 1 - AGGREGATION_EPS)
    z = float(np.mean(np.log(q / (1 - q))))
    return float(1.0 / (1.0 + np.exp(-z)))


#: Patient aggregation rules: name → function of one patient's image probabilities (any
#: 1-D array-like) returning the patient's probability. The one registry of the library:
#: checkpoint selection and the tables aggregate with the same numbers.
AGGREGATIONS: dict[str, Callable[[Any], float]] = {
    "mean": lambda p: float(np.mean(np.asarray(p, dtype=np.float64))),
    "median": lambda p: float(np.median(np.asarray(p, dtype=np.float64))),
    "max": lambda p: float(np.max(np.asarray(p, dtype=np.float64))),
    "logit_mean": _logit_mean,
}

# --- augmentation magnitudes ---------------------------------------------------------------
#: Numeric augmentation settings: (lower bound, upper bound, upper bound allowed?, meaning).
#: The lower bound is always allowed; an infinite upper bound means none.
AUGMENT_LIMITS: dict[str, tuple[float, float, bool, str]] = {
    "rotation_deg": (0.0, 180.0, True, "maximum rotation in degrees"),
    "scale": (0.0, 1.0, False, "zoom factor drawn in [1 - scale, 1 + scale]"),
    "translate": (0.0, 1.0, True, "maximum shift as a fraction of the image side"),
    "hflip_p": (0.0, 1.0, True, "probability of a horizontal flip"),
    "vflip_p": (0.0, 1.0, True, "probability of a vertical flip"),
    "elastic_px": (0.0, float("inf"), False, "mean elastic displacement in pixels"),
    "gain": (0.0, 1.0, False, "gain factor drawn in [1 - gain, 1 + gain]"),
    "contrast": (0.0, 1.0, False, "contrast factor drawn in [1 - contrast, 1 + contrast]"),
    "gamma": (0.0, float("inf"), False, "gamma exponent drawn as exp(U(-gamma, gamma))"),
    "speckle": (0.0, float("inf"), False, "standard deviation of the mean-1 multiplicative speckle"),
    "noise": (0.0, float("inf"), False, "standard deviation of additive Gaussian noise (intensity units)"),
}
#: Smallest number of elastic control points per side.
ELASTIC_GRID_MIN = 2
#: Augmentation settings chosen by name: setting → the allowed names (the first is the default).
AUGMENT_CHOICES: dict[str, tuple[str, ...]] = {
    "pair_spatial": ("shared", "independent"),
    "interpolation": ("bilinear", "nearest", "bicubic"),
    "padding_mode": ("zeros", "border", "reflection"),
}

# --- files of one (arm, fold) unit ----------------------------------------------------------
# The study layout (studykit.study.layout) owns the results tree; the train layer writes
# these files inside a unit's folder, results/<protocol-name>/arms/<arm>/fold-<k>/.
LAST = "checkpoint-last.pt"  # every epoch: everything needed to resume exactly
BEST = "checkpoint-best.pt"  # model weights of the epoch selected on the validation split
HISTORY = "history.csv"  # one row per epoch
DONE = "done.json"  # written last: the unit is finished (its inputs' fingerprint)
PREDICTIONS = "predictions.csv"  # the unit's test-image predictions
GRADCAM = "gradcam.npz"  # Grad-CAM maps of selected test images


def unit_dir(results: str | os.PathLike[str], arm: str, fold: int) -> Path:
    """``results/arms/<arm>/fold-<k>``: the folder of one (arm, fold) unit.

    ``results`` is the protocol run's results folder (``results/<protocol-name>``), ``arm``
    the arm's name and ``fold`` the fold's 0-based index. Inside it live :data:`LAST`,
    :data:`BEST`, :data:`HISTORY`, :data:`DONE`, :data:`PREDICTIONS` and :data:`GRADCAM`.
    """
    return Path(results) / "arms" / arm / f"fold-{int(fold)}"


# --- the manifest's exclusions and the flow diagram ------------------------------------------
def exclusion_reasons(manifest: Any, column: str = EXCLUDED_REASON) -> Any:
    """Each manifest row's exclusion reason, ``""`` for an included patient (a pandas Series).

    The one exclusion rule: the ``column`` cell stripped of surrounding white space, a missing
    cell or a missing column meaning "included". ``studykit.cohort`` decides the study's
    patients with it; the analysis helpers apply it to manifests given as DataFrames.
    """
    import pandas as pd

    if column not in manifest.columns:
        return pd.Series("", index=manifest.index, dtype=object)
    return manifest[column].astype("string").str.strip().fillna("").astype(object)


@dataclass
class FlowCounts:
    """Patient counts at each step of the STARD flow diagram (``studykit.report.flow_figure``).

    ``excluded`` maps each reason to its count (most frequent first); ``reference`` maps
    the reference-standard class (``"benign"``, ``"malignant"``) to its count;
    ``index_test`` maps each class to ``{"positive": n, "negative": n[, "missing": n]}``
    when index-test calls were given, else is empty.
    """

    records: int
    excluded: dict[str, int]
    included: int
    reference: dict[str, int]
    index_test: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def n_excluded(self) -> int:
        """All excluded records."""
        return sum(self.excluded.values())


# --- progress -----------------------------------------------------------------------------
#: The one progress hook: ``progress(done, total, description)`` as work completes; the CLI
#: draws it (library code never prints).
Progress = Callable[[int, int, str], None]


def ci_label(confidence: float) -> str:
    """``"95% CI"`` for ``confidence=0.95`` (``"97.5% CI"``, ``"90% CI"`` …)."""
    return f"{round(float(confidence) * 100, 6):g}% CI"


# --- near misses and required columns ----------------------------------------------------------
def closest(value: Any, choices: Iterable[Any]) -> str | None:
    """The entry of ``choices`` that looks most like ``value`` (difflib ratio ≥ 0.6), or None."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return close[0] if close else None


def did_you_mean(value: Any, choices: Iterable[Any], otherwise: str | None = None) -> str | None:
    """``"did you mean 'x'?"`` for the closest of ``choices`` to ``value``, else ``otherwise``."""
    match = closest(value, choices)
    return f"did you mean {match!r}?" if match is not None else otherwise


def require_columns(frame: Any, columns: Sequence[str], *, table: str) -> None:
    """Raise :class:`InputError` naming the first of ``columns`` that ``frame`` (``table``) lacks.

    The hint names a close match among the frame's columns, or else every column needed.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame; got {type(frame).__name__}.", field=table)
    for name in columns:
        if name not in frame.columns:
            hint = did_you_mean(name, frame.columns, f"{table} needs columns {', '.join(columns)}.")
            raise InputError(f"has no column '{name}' (columns: {', '.join(map(str, frame.columns))}).",
                             field=table, hint=hint)


def require_table_columns(frame: Any, what: str, needed: Sequence[str], *, hint: str | None = None) -> None:
    """Raise :class:`InputError` naming every column of ``needed`` that ``frame`` (``what``) lacks.

    For the tables one layer hands another (analysis tables, figure data); user files get
    :func:`require_columns`, which suggests a near match.
    """
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lacks required column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}",
            field=missing[0],
            hint=hint,
        )


# --- atomic writes -----------------------------------------------------------------------
def atomic_write(path: str | os.PathLike[str], content: str | bytes | Callable[[Path], object], *,
                 encoding: str = "utf-8") -> Path:
    """Write ``path`` so that it holds either its old content or the whole new one, never a part.

    ``content`` is text (written with ``encoding`` and ``\\n`` line ends), bytes, or a
    function ``write(tmp_path)`` that writes the file itself (``torch.save``,
    ``DataFrame.to_csv``, ``Figure.savefig`` …). It goes to a temporary file in the same
    folder, named ``.<stem>.<random><suffix>`` so a writer that picks the format from the
    suffix still sees it, with the usual permissions (``0o666`` less the umask); the file
    is flushed to disk (``fsync``), renamed onto ``path`` (``os.replace``, atomic on POSIX
    and Windows) and the folder is synced. Missing parent folders are created. On any
    exception the temporary file is removed, ``path`` is left as it was and the exception
    propagates. Returns ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    tmp = Path(name)
    try:
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if isinstance(content, str):
            tmp.write_text(content, encoding=encoding, newline="\n")
        elif isinstance(content, (bytes, bytearray, memoryview)):
            tmp.write_bytes(bytes(content))
        else:
            content(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return target


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows it."""
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temp_name(prefix: str) -> str:
    """``<prefix><host>-<pid>-<random>``: a temporary folder name :func:`remove_dead_temps` can
    attribute to the process that made it."""
    import socket
    import uuid

    return f"{prefix}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_dead_temps(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """Remove ``parent/<prefix><this host>-<pid>-*`` folders whose process no longer runs.

    Left behind by a killed run (:func:`temp_name`); a live process's folder, another host's
    (its processes cannot be checked from here) and anything not named so are kept. Returns
    the folders removed.
    """
    import shutil
    import socket

    start = f"{prefix}{socket.gethostname()}-"
    removed = []
    for folder in Path(parent).glob(f"{start}*"):
        try:
            pid = int(folder.name[len(start):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except (ValueError, PermissionError, OSError):
            continue
    return removed


def read_utf8(path: str | os.PathLike[str], error: type[StudyError], *, example: str = "in.txt") -> str:
    """The text of ``path`` (a UTF-8 byte-order mark dropped), or ``error`` naming the file.

    For bytes that are not UTF-8 the message gives the byte offset and line and what the file
    looks like (UTF-16, binary, or another encoding such as Latin-1), and the hint how to
    convert it; OS faults (permissions, …) go through :func:`studykit.errors.fault_error`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fault_error(exc) or error(f"cannot be read ({exc.strerror or exc}).", file=str(path),
                                        hint="check the file's permissions (it must be readable).") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = "another encoding (e.g. Latin-1)"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            found = "UTF-16 (it starts with a byte-order mark)"
        elif b"\x00" in data[:4096]:
            found = "binary data (it holds NUL bytes)"
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"is not UTF-8 text: byte {exc.start} (line {line}) is not valid UTF-8; it looks like "
                    f"{found}.", file=str(path), row=line,
                    hint="save it as UTF-8 (your editor's 'save with encoding', or "
                         f"`iconv -f LATIN1 -t UTF-8 {example} > out{Path(example).suffix}`).") from None
