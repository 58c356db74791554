"""Synthetic renal-tumour CEUS cohort: DICOM videos, annotations, manifest, reads and truth.

Real patient data cannot ship with studykit, so :func:`synthesize` writes a raw cohort in
exactly the formats real users bring (README, "Your own data") from a documented
generative model whose Bayes-optimal accuracy is known.

Generative model
----------------
**Cohort.** n included patients (default 181) get subtypes in the reference study's
proportions, rounded by largest remainder (at n = 181 exactly 45 typical AML, 36 atypical
(fat-poor) AML, 62 ccRCC, 25 pRCC, 13 chRCC; 81 benign, 100 malignant), plus
``excluded_fraction``·n excluded patients (at least one; reasons cycle through *poor image
quality*, *no CEUS*, *stage ≥ T2b*) who have no video. Table-1 covariates: age with
per-class sample mean and SD matched to 53.2 / 57.6 ± 12 years (t-test p ≈ 0.015 at
n = 181, as the study's 0.017); sex by subtype (AML mostly female, RCC mostly male); BMI
N(23, 3) (median 23, IQR ≈ 21–25); size log-normal with median 4 cm, IQR ≈ 3–6 cm, the same
in both classes so that size carries no class information into the images; symptoms
(35 % vs 20 %); radical rather than partial nephrectomy with logit −2.3 + 2.2·malignant +
0.55·(size − 4) (p < 0.001). Two centres (60/40) and three scanners (GE LOGIQ E9, Mindray
Resona 7, Philips iU22), independent of the class.

**Latent lesion features.** Ten standardised liabilities z ~ N(μ_s, Σ) per patient, μ_s
by subtype s (table ``SUBTYPE_MEANS`` in ``_synth_model``, per latent-model version), Σ with
unit variances and within-subtype couplings ±ρ (``modality_correlation``) between paired
B-mode and CEUS cues. Each liability maps monotonically to a physical feature:

======================  ======  ======  =====================================================
feature                 block   seen    meaning
======================  ======  ======  =====================================================
echogenicity_db         B-mode  frame   lesion echo level relative to renal cortex, dB
heterogeneity_db        B-mode  frame   SD of the lesion's echo texture, dB
margin_sharpness        B-mode  frame   0–1; sets the width of the lesion's edge
cystic_fraction         B-mode  frame   anechoic (cystic/necrotic) fraction of the lesion
peak_enhancement_db     CEUS    frame   lesion peak enhancement relative to the cortical peak, dB
arrival_delay_s         CEUS    video   lesion arrival after cortical arrival, s
time_to_peak_s          CEUS    video   arrival to peak, s
washout                 CEUS    frame   fraction of peak lost 30 s after the peak
rim_enhancement_db      CEUS    frame   pseudocapsule rim above the late lesion core, dB
nonenhancing_fraction   CEUS    frame   non-enhancing fraction (and enhancement heterogeneity)
======================  ======  ======  =====================================================

The subtype patterns follow the EFSUMB CEUS guidelines and the renal CEUS literature
(Bertolotto et al. 2018; Sidhu et al. 2018): typical AML is markedly hyperechoic (fat) and
homogeneous with sustained enhancement; atypical (fat-poor) AML resembles RCC on B-mode but
shows sustained, homogeneous enhancement without a rim or wash-out on CEUS; ccRCC is
heterogeneous (necrosis, cystic areas), hyper-enhancing, early and fast washing out, with a
pseudocapsule rim; pRCC is hypo-echoic and hypo-enhancing with late arrival; chRCC is
intermediate. The B-mode and CEUS cues are complementary (B-mode finds the fat, CEUS tells the
fat-poor AML from RCC), so fusion helps. In latent model v2 the class evidence sits in cues a
single frame shows at the demo's resolution (margin sharpness carries none: its edge width
is not visible in 64-px crops), and the physical effect of one liability unit is large
enough to stand out of speckle, scanner gain and anatomy.

**Bayes posterior at three evidence levels.** With Σ shared, the posterior of malignancy
given what a level shows of a block of z is exact: log-odds = logsumexp_{s malignant}(log π_s
− ½ d²_s) − logsumexp_{s benign}(…), d²_s the Mahalanobis distance to μ_s of the observed
liabilities and π_s the cohort's subtype shares. ``frame``: the static liabilities (all but
the bolus timing); ``video``: plus the timing as a reader perceives it from the video, with
independent N(0, ``timing_noise``²) errors (the observed liabilities stay Gaussian within a
subtype, covariance Σ + diag(τ²) on the timing, so this too is exact); ``all``: every
liability exactly. The features are bijective transforms of z, so these are also the
posteriors given the features. ``truth.csv`` holds the nine posteriors
``posterior_{frame,video,all}_{bmode,ceus,both}`` and the perceived timing
(``seen_arrival_delay_s``, ``seen_time_to_peak_s``). Bayes AUCs are reported twice: on the
cohort's own patients (empirical AUC of the posteriors; varies with the seed by about ±0.03
at n = 181) and for the population, by Monte-Carlo integration over 200 000 patients drawn
with a fixed seed (SE ≈ 0.001). At the defaults the population AUCs are frame 0.823
(B-mode) / 0.824 (CEUS) / 0.918 (both) — the reference study's per-frame arms reached 0.820
and 0.815 — video 0.849 / 0.931 and all latents 0.855 / 0.934 (CEUS / both).

**Readers.** See ``_synth_readers``: each reader perceives the video-level log-odds (what the
whole video shows) plus group-shared and own Gaussian noise, calls malignant above a
personal threshold and scores 1–5 consistently with the call. In the population (20 000
simulated patients) the majority votes are junior sens 0.894 / spec 0.600, senior 0.952 /
0.658, ICC(2,1) of the scores 0.83 / 0.84 (reference study: 0.893 / 0.587, 0.959 / 0.629,
ICC 0.81 / 0.83); at n = 181 they vary with the seed (seed 0: 0.88 / 0.54 and 0.95 / 0.68).

**Presets.** ``SynthParams.named("v1")`` (``preset="v1"``) gives the first generator's
settings (cohort format 1: its latent model, rim rendering, speckle, vendor presets and
reader calibration), whose tables and lossless pixels it reproduces byte for byte.

**Images.** ``_synth_anatomy`` and ``_synth_render``: a convex probe's fan over body wall,
liver (with vessels), perirenal fat, kidney (cortex, medullary pyramids, sinus) and the
lesion (lobulated outline, margin, texture, cystic areas); B-mode as the Rayleigh envelope
of a tissue-fixed complex scatterer field convolved with an axial/lateral Gaussian PSF
(Burckhardt 1978; Wagner et al. 1983), depth attenuation with TGC, electronic noise, gain
and log compression; CEUS as microbubble speckle whose power follows gamma-variate bolus
time–intensity curves (Madsen 1992; Strouthos et al. 2010) per compartment over a
suppressed tissue background; respiratory motion across frames; scanner-dependent PSF,
gain, dynamic range, noise and smoothing. Frames run from 4 s before injection to 88 s
after it at a reduced frame rate; annotated frames are those of the cortical phase (from
``selection_delay_s`` = 6 s after the cortical arrival at 10–15 s, once the lesion has
enhanced, up to the medullary phase, 30–45 s) and the first 30 s of the medullary phase.

References
----------
Bertolotto M, Bucci S, Valentino M, et al. (2018). Contrast-enhanced ultrasound for
characterizing renal masses. Eur J Radiol 105:41–48. doi:10.1016/j.ejrad.2018.05.015
Sidhu PS, Cantisani V, Dietrich CF, et al. (2018). The EFSUMB guidelines and
recommendations for the clinical practice of contrast-enhanced ultrasound (CEUS) in
non-hepatic applications: update 2017 (long version). Ultraschall Med 39:e2–e44.
doi:10.1055/a-0586-1107
Madsen MT (1992). A simplified formulation of the gamma variate function. Phys Med Biol
37:1597–1600. doi:10.1088/0031-9155/37/7/010
Strouthos C, Lampaskis M, Sboros V, McNeilly A, Averkiou M (2010). Indicator dilution
models for the quantification of microvascular blood flow with bolus administration of
ultrasound contrast agents. IEEE Trans Ultrason Ferroelectr Freq Control 57:1296–1310.
doi:10.1109/TUFFC.2010.1550
Burckhardt CB (1978). Speckle in ultrasound B-mode scans. IEEE Trans Sonics Ultrason
25:1–6. doi:10.1109/T-SU.1978.30978
Wagner RF, Smith SW, Sandrik JM, Lopez H (1983). Statistics of speckle in ultrasound
B-scans. IEEE Trans Sonics Ultrason 30:156–163. doi:10.1109/T-SU.1983.31404
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 86:420–428. doi:10.1037/0033-2909.86.2.420

Examples
--------
>>> from studykit.cohort.synth import draw_cohort
>>> cohort = draw_cohort(patients=181, seed=0)
>>> cohort.manifest["subtype"][cohort.manifest["excluded_reason"] == ""].value_counts().to_dict()
{'ccrcc': 62, 'typical_aml': 45, 'atypical_aml': 36, 'prcc': 25, 'chrcc': 13}
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from studykit.cohort import _synth_anatomy as anatomy_mod
from studykit.cohort import _synth_dicom as dicom
from studykit.cohort import _synth_render as render
from studykit.cohort._synth_cohort import CohortTables, draw_tables, stream
from studykit.cohort._synth_model import (
    FEATURE_NAMES,
    LATENT_MODELS,
    PRESETS,
    SUBTYPES,
    SynthParams,
    auc,
    bayes_auc_mc,
)
from studykit.cohort._synth_readers import ReaderGroupSummary, summarize_reads
from studykit.errors import InputError, StudyError

__all__ = [
    "FEATURE_NAMES",
    "SUBTYPES",
    "BayesAUC",
    "CohortTables",
    "ReaderGroupSummary",
    "RenderedPatient",
    "SynthParams",
    "SynthSummary",
    "draw_cohort",
    "population_bayes_auc",
    "render_patient",
    "synthesize",
]

DEFAULT_PATIENTS, DEFAULT_FRAMES, DEFAULT_SIZE = 181, 24, (160, 192)
TINY_PATIENTS, TINY_FRAMES, TINY_SIZE = 12, 8, (64, 80)
MIN_PATIENTS, MAX_PATIENTS = 10, 100_000
MIN_FRAMES, MAX_FRAMES = 8, 2_000
MIN_SIDE, MAX_SIDE = 48, 1_024
VIDEO_START_S, VIDEO_END_S = -4.0, 88.0  # relative to the injection
MEDULLARY_WINDOW_S = 30.0  # annotated part of the medullary phase
OVERSAMPLE = 1.5  # polar canvas samples per display pixel
SYNTH_FORMAT = 2  # bump when the generator's output changes for the same arguments
MARKER = "synth.json"
STREAM_RENDER, STREAM_IDENTITY, STREAM_ANNOTATOR = 10, 11, 12
ANNOTATION_COLUMNS = ("patient_id", "file", "frame", "phase", "bmode_box", "ceus_box")

ProgressHook = Callable[[int, int], None]


class BayesAUC(NamedTuple):
    """Bayes-optimal AUCs (of the exact posteriors) by evidence level and block.

    ``frame_*``: what single frames show (the ceiling of per-frame model arms); ``video_*``:
    plus the bolus timing as perceived from the video (the readers' ceiling); ``all_*``:
    every latent exactly. B-mode has no temporal cues, so its three values are equal.
    """

    frame_bmode: float
    frame_ceus: float
    frame_both: float
    video_bmode: float
    video_ceus: float
    video_both: float
    all_bmode: float
    all_ceus: float
    all_both: float


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote, and the cohort's reference figures.

    Attributes
    ----------
    out_dir, manifest, annotations, reads, truth, videos : Path
        The cohort folder, its four CSV files and the folder of DICOM videos.
    patients, excluded : int
        Included patients (with a video) and excluded ones (manifest only).
    frames : int
        Frames per video. ``frame_shape`` is (rows, columns) of one dual-display frame
        and ``panel_shape`` (rows, columns) of one panel.
    annotated_frames : int
        Rows of ``annotations.csv``.
    transfer_syntaxes : dict
        Videos per transfer syntax (``explicit_vr_little_endian``, ``jpeg_baseline``,
        ``rle_lossless``).
    bytes_written : int
        Total size of the cohort folder's files, bytes.
    bayes_auc : BayesAUC
        Empirical AUC of the exact posteriors on this cohort's included patients.
    bayes_auc_population : BayesAUC
        The same in the population, by Monte-Carlo integration (200 000 patients, fixed
        seed; SE ≈ 0.001): the stable ceiling.
    readers : tuple of ReaderGroupSummary
        Junior and senior majority-vote sensitivity/specificity and ICC(2,1) of the scores.
    cached : bool
        True when the folder already held this cohort and nothing was written.
    """

    out_dir: Path
    manifest: Path
    annotations: Path
    reads: Path
    truth: Path
    videos: Path
    seed: int
    params: SynthParams
    patients: int
    excluded: int
    frames: int
    frame_shape: tuple[int, int]
    panel_shape: tuple[int, int]
    annotated_frames: int
    transfer_syntaxes: dict[str, int]
    bytes_written: int
    bayes_auc: BayesAUC
    bayes_auc_population: BayesAUC
    readers: tuple[ReaderGroupSummary, ...]
    cached: bool = False


class _Config(NamedTuple):
    """Validated arguments of one synthesis (what makes its output)."""

    patients: int
    seed: int
    frames: int
    size: tuple[int, int]
    tiny: bool
    params: SynthParams

    def arguments(self) -> dict[str, Any]:
        """JSON-ready identity of the output (compared to decide idempotence)."""
        return {"format": SYNTH_FORMAT, "patients": self.patients, "seed": self.seed, "frames": self.frames,
                "size": list(self.size), "tiny": self.tiny, "params": dataclasses.asdict(self.params)}


# --------------------------------------------------------------------------- validation

def _int_arg(name: str, value: Any, low: int, high: int, hint: str) -> int:
    """An integer argument within [low, high], else InputError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(f"must be an integer from {low} to {high}; got {value!r}.", field=name, hint=hint)
    return int(value)


def _size_arg(size: Any) -> tuple[int, int]:
    """Panel (height, width) in pixels from an int (height) or a pair."""
    hint = (f"pass the panel height (e.g. size=176, width in proportion) or (height, width), each "
            f"{MIN_SIDE}–{MAX_SIDE} pixels.")
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        pair = (int(size), int(2 * round(int(size) * DEFAULT_SIZE[1] / DEFAULT_SIZE[0] / 2)))
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        pair = tuple(size)
    else:
        raise InputError(f"must be an integer or a (height, width) pair; got {size!r}.", field="size",
                         hint=hint)
    for side in pair:
        _int_arg("size", side, MIN_SIDE, MAX_SIDE, hint)
    return int(pair[0]), int(pair[1])


_RANGES = {  # parameter: (low, high, low inclusive, high inclusive)
    "modality_correlation": (-1.0, 1.0, False, False),
    "excluded_fraction": (0.0, 1.0, True, True), "jpeg_fraction": (0.0, 1.0, True, True),
    "rle_fraction": (0.0, 1.0, True, True), "score_step": (0.0, math.inf, False, False),
    "respiratory_motion_cm": (0.0, 3.0, True, True), "speckle_decorrelation": (0.0, 1.0, True, False),
    "rim_width_cm": (0.0, 2.0, False, True), "ceus_vendor_spread": (0.0, 1.0, True, True),
    "selection_delay_s": (0.0, 10.0, True, True),
    "annotator_jitter_px": (0.0, 10.0, True, True),
    "junior_threshold": (-math.inf, math.inf, False, False),
    "senior_threshold": (-math.inf, math.inf, False, False),
}


def _check_param(name: str, value: Any) -> float:
    """A finite number within the parameter's range (default: ≥ 0)."""
    low, high, low_in, high_in = _RANGES.get(name, (0.0, math.inf, True, False))
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    inside = (number > low or (low_in and number == low)) and (number < high or (high_in and number == high))
    if not (math.isfinite(number) and inside):
        span = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
        raise InputError(f"must be a finite number in {span}; got {value!r}.", field=name,
                         hint=f"see SynthParams for what '{name}' means; its default is "
                              f"{getattr(SynthParams(), name)!r}.")
    return number


def _choice_arg(field: str, value: Any, allowed: tuple[str, ...], what: str, hint: str) -> str:
    """``value`` when it is one of ``allowed``, else InputError naming ``field``."""
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}.", field=field,
                         hint=f"known {what}s: {', '.join(allowed)}{hint}")
    return str(value)


def _params(model_params: dict[str, Any]) -> SynthParams:
    """SynthParams from keyword arguments, with did-you-mean for unknown names."""
    known = [f.name for f in dataclasses.fields(SynthParams)] + ["preset"]
    for name in model_params:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known parameters: {', '.join(known)}."
            raise InputError(f"unknown model parameter {name!r}.", field=name, hint=hint)
    model_params = dict(model_params)
    preset = _choice_arg("preset", model_params.pop("preset", "v2"), tuple(PRESETS),
                         "synthetic-cohort preset",
                         " (v2: the current generator, v1: the settings of the first one, cohort format 1).")
    values = {k: (_choice_arg(k, v, LATENT_MODELS, "latent model",
                              "; `preset` sets every parameter of a generator version at once.")
                  if k == "latent_model" else _check_param(k, v)) for k, v in model_params.items()}
    params = SynthParams.named(preset, **values)
    if params.jpeg_fraction + params.rle_fraction > 1.0:
        raise InputError(f"jpeg_fraction + rle_fraction must be ≤ 1; got {params.jpeg_fraction:g} + "
                         f"{params.rle_fraction:g}.", field="rle_fraction",
                         hint="the rest of the videos are uncompressed; lower one of the two.")
    return params


def _config(patients, seed, frames, size, tiny, model_params) -> _Config:
    """Validate and complete the arguments of :func:`synthesize` (tiny preset applied)."""
    tiny = bool(tiny)
    patients = (TINY_PATIENTS if tiny else DEFAULT_PATIENTS) if patients is None else patients
    frames = (TINY_FRAMES if tiny else DEFAULT_FRAMES) if frames is None else frames
    size = (TINY_SIZE if tiny else DEFAULT_SIZE) if size is None else size
    return _Config(
        _int_arg("patients", patients, MIN_PATIENTS, MAX_PATIENTS,
                 f"the smallest cohort with every subtype has {MIN_PATIENTS} patients; tests use tiny=True."),
        _int_arg("seed", seed, 0, 2**63 - 1, "use a non-negative integer such as 0."),
        _int_arg("frames", frames, MIN_FRAMES, MAX_FRAMES,
                 f"at least {MIN_FRAMES} frames are needed so that every video has a cortical-phase frame."),
        _size_arg(size), tiny, _params(model_params))


# --------------------------------------------------------------------------- public API

def synthesize(out_dir: str | os.PathLike, *, patients: int | None = None, seed: int = 0,
               frames: int | None = None, size: int | tuple[int, int] | None = None, tiny: bool = False,
               progress: ProgressHook | None = None, **model_params: float) -> SynthSummary:
    """Write a synthetic renal-tumour CEUS cohort to ``out_dir`` (see the module docstring).

    Parameters
    ----------
    out_dir : path
        New or empty folder; created with its parents. A folder holding this very cohort
        (same arguments) is returned at once without writing (``cached=True``); any other
        non-empty folder raises :class:`~studykit.errors.StudyError`.
    patients : int, default 181 (12 with ``tiny``)
        Included patients (each with a video); excluded patients come on top.
    seed : int
        Seed of every random draw: the same arguments give byte-identical files.
    frames : int, default 24 (8 with ``tiny``)
        Frames per video, evenly spaced from 4 s before injection to 88 s after it.
    size : int or (int, int), default (176, 208) ((64, 80) with ``tiny``)
        Panel (height, width) in pixels; an int gives the height, width in proportion.
        A frame is (height + top bar) × 2·width.
    tiny : bool
        Test preset: 12 patients, 8 frames of 64 × 80 pixel panels (writes in about 2 s).
    progress : callable, optional
        ``progress(done, total)`` after each video (the CLI's progress bar).
    **model_params
        Fields of :class:`SynthParams` (class separations, modality correlation, reader
        noise, compressed shares…).

    Returns
    -------
    SynthSummary

    Raises
    ------
    InputError
        A bad argument (named, with the allowed range or a did-you-mean).
    StudyError
        ``out_dir`` is a file or a non-empty folder that is not this cohort.

    Notes
    -----
    The cohort is written to a hidden sibling folder and renamed into place at the end,
    so an interrupted run never leaves a folder that looks complete. Every video is read
    back and decoded with pydicom before the rename.
    """
    config = _config(patients, seed, frames, size, tiny, model_params)
    out = Path(out_dir)
    done = _existing(out, config)
    if done is not None:
        return done
    tables = draw_tables(config.patients, config.seed, config.params)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.synth-tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        summary = _write_cohort(staging, out, tables, config, progress)
        if out.is_dir():
            out.rmdir()  # empty (checked by _existing)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def draw_cohort(*, patients: int = DEFAULT_PATIENTS, seed: int = 0, **model_params: float) -> CohortTables:
    """The cohort's tables without rendering: manifest, truth and reads (DataFrames).

    Identical to the CSV files :func:`synthesize` writes for the same patients, seed and
    parameters (frames and size do not enter the tables). Takes milliseconds.
    """
    config = _config(patients, seed, None, None, False, model_params)
    return draw_tables(config.patients, config.seed, config.params)


def population_bayes_auc(**model_params: float) -> BayesAUC:
    """Population Bayes-optimal AUCs (B-mode, CEUS, both) by Monte-Carlo integration.

    200 000 patients drawn with subtypes in the reference proportions and a fixed seed;
    the AUC of each exact posterior (Monte-Carlo SE ≈ 0.001). Cached per parameter set.
    """
    return _population(_params(model_params))


class RenderedPatient(NamedTuple):
    """One patient's video as :func:`synthesize` writes it (before any compression).

    ``video`` is uint8 of shape (frames, rows, columns), B-mode panel left and CEUS right;
    ``times`` the frame times in s after injection, shape (frames,); ``annotations`` the
    patient's rows of ``annotations.csv``; ``panel`` the (x0, y0, x1, y1) rectangle of the
    left panel in frame pixels (x1, y1 exclusive; the right panel is shifted by its width).
    """

    patient_id: str
    video: np.ndarray
    times: np.ndarray
    annotations: pd.DataFrame
    panel: tuple[int, int, int, int]


def render_patient(patient_id: str, *, patients: int | None = None, seed: int = 0, frames: int | None = None,
                   size: int | tuple[int, int] | None = None, tiny: bool = False,
                   **model_params: float) -> RenderedPatient:
    """Render one included patient's video in memory (same pixels as :func:`synthesize`).

    Arguments as :func:`synthesize`. Raises :class:`~studykit.errors.InputError` for an
    unknown or excluded patient.
    """
    config = _config(patients, seed, frames, size, tiny, model_params)
    tables = draw_tables(config.patients, config.seed, config.params)
    manifest = tables.manifest.set_index("patient_id", drop=False)
    if patient_id not in manifest.index:
        close = difflib.get_close_matches(str(patient_id), list(manifest.index), n=1)
        raise InputError(f"no patient {patient_id!r} in a cohort of {config.patients}.", field="patient_id",
                         hint=f"did you mean '{close[0]}'?" if close else "ids run RC0001, RC0002, ….")
    row = manifest.loc[patient_id].to_dict()
    if row["excluded_reason"]:
        raise InputError(f"patient {patient_id!r} is excluded ({row['excluded_reason']}) and has no video.",
                         field="patient_id", hint="pick a patient whose excluded_reason is empty.")
    truth = tables.truth.set_index("patient_id", drop=False).loc[patient_id].to_dict()
    video = _render_patient(row, truth, config, int(patient_id[2:]))
    g = video.geometry
    annotations = pd.DataFrame(video.annotations, columns=list(ANNOTATION_COLUMNS))
    return RenderedPatient(patient_id, video.pixels, frame_times(config.frames)[0], annotations,
                           (0, g.bar, g.panel_width, g.bar + g.panel_height))


@lru_cache(maxsize=16)
def _population(params: SynthParams) -> BayesAUC:
    """Cached :func:`population_bayes_auc`."""
    values = bayes_auc_mc(params)
    return BayesAUC(*(values[name] for name in BayesAUC._fields))


# --------------------------------------------------------------------------- output folder

def _existing(out: Path, config: _Config) -> SynthSummary | None:
    """The stored summary if ``out`` holds this cohort; None if ``out`` is new or empty."""
    if out.exists() and not out.is_dir():
        raise StudyError("exists and is not a folder.", file=str(out),
                         hint="pass the path of a new or empty folder for the synthetic cohort.")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    stored = _read_marker(out / MARKER)
    if stored is None:
        raise StudyError("is not empty and holds no synthetic cohort; refusing to overwrite it.",
                         file=str(out), hint="pass a new or empty folder, or delete this one first.")
    if stored["arguments"] == config.arguments():
        return _summary_from_json(out, stored)
    new = config.arguments()
    differ = sorted(k for k in new if stored["arguments"].get(k) != new[k])
    raise StudyError(f"holds a synthetic cohort made with other arguments ({', '.join(differ)}); "
                     "refusing to overwrite it.", file=str(out),
                     hint="pass a new or empty folder, or delete this one to regenerate it.")


def _read_marker(path: Path) -> dict[str, Any] | None:
    """The JSON record of an earlier synthesis, or None when absent or not one."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(stored, dict) and isinstance(stored.get("arguments"), dict) and "summary" in stored
    return stored if ok else None


def frame_times(frames: int) -> tuple[np.ndarray, int]:
    """Frame times (s after injection) and the frame interval (ms, integer)."""
    interval_ms = round((VIDEO_END_S - VIDEO_START_S) * 1000.0 / (frames - 1))
    return VIDEO_START_S + np.arange(frames) * interval_ms / 1000.0, interval_ms


def phases(times: np.ndarray, cortex_arrival: float, medullary_start: float,
           delay: float = 0.0) -> np.ndarray:
    """Phase of each frame: ``cortical``, ``medullary`` (first 30 s) or ``""`` (not annotated).

    Cortical frames are annotated from ``delay`` s after the cortical arrival (the annotator
    skips the first wash-in frames, where the lesion has not yet enhanced).
    """
    out = np.full(times.shape, "", dtype=object)
    out[(times >= cortex_arrival + delay) & (times < medullary_start)] = "cortical"
    out[(times >= medullary_start) & (times <= medullary_start + MEDULLARY_WINDOW_S)] = "medullary"
    return out


def _syntax(index: int, params: SynthParams) -> str:
    """Transfer syntax of the index-th video: golden-ratio sequence against the shares."""
    u = (index * 0.6180339887498949) % 1.0
    if u < params.jpeg_fraction:
        return "jpeg_baseline"
    if u < params.jpeg_fraction + params.rle_fraction:
        return "rle_lossless"
    return "explicit_vr_little_endian"


class _Video(NamedTuple):
    """One rendered patient: pixels, DICOM geometry and annotation rows."""

    pixels: np.ndarray
    geometry: dicom.VideoGeometry
    annotations: list[dict[str, Any]]


def _render_patient(row: dict, truth: dict, config: _Config, number: int) -> _Video:
    """Render one patient's dual-display video and its annotated boxes."""
    rng = stream(config.seed, STREAM_RENDER, number)
    cues = {name: float(truth[name]) for name in FEATURE_NAMES}
    layout = anatomy_mod.draw_layout(float(row["size_cm"]), rng)
    height, width = config.size
    panel = render.panel_geometry(height, width, layout.depth_cm)
    motion = config.params.respiratory_motion_cm
    grid = anatomy_mod.polar_grid(layout.depth_cm, panel.pixel_cm, 1.6 * motion + 0.2, OVERSAMPLE)
    style = config.params.latent_model
    anatomy = anatomy_mod.build_anatomy(layout, grid, cues, rng, rim_width_cm=config.params.rim_width_cm)
    curves = render.compartment_curves(cues, float(truth["cortex_arrival_s"]), style)
    times, interval_ms = frame_times(config.frames)
    spec = render.VideoSpec(times, panel, max(8, height // 12))
    scanner = render.harmonised(render.SCANNERS[row["scanner"]], config.params.ceus_vendor_spread)
    pixels, shifts = render.render_video(anatomy, scanner, spec, curves, motion, rng,
                                        render.speckle_shares(config.params.speckle_decorrelation, style))
    geometry = dicom.VideoGeometry(height, width, spec.bar, panel.pixel_cm, -panel.top_cm / panel.pixel_cm,
                                   interval_ms)
    boxes = _annotations(row["patient_id"], truth, anatomy, spec, shifts, config, number)
    return _Video(pixels, geometry, boxes)


def _jittered_box(box: np.ndarray, jitter: float, panel: render.Panel,
                  rng: np.random.Generator) -> np.ndarray:
    """Annotator's box: the tight box enlarged 8 %, edges jittered, clipped inside the panel."""
    centre, half = (box[:2] + box[2:]) / 2.0, (box[2:] - box[:2]) / 2.0 * 1.08
    edges = np.r_[centre - half, centre + half] + rng.normal(0.0, jitter, 4)
    limit = np.array([panel.width, panel.height])
    low = np.clip(np.floor(edges[:2]), 0, limit - 2).astype(int)
    high = np.clip(np.ceil(edges[2:]), low + 2, limit).astype(int)
    return np.r_[low, high]


def _annotations(pid: str, truth: dict, anatomy, spec: render.VideoSpec, shifts: np.ndarray,
                 config: _Config, number: int) -> list[dict[str, Any]]:
    """Annotation rows of one patient: selected frames, phases and both panels' boxes."""
    rng = stream(config.seed, STREAM_ANNOTATOR, number)
    phase = phases(spec.times, float(truth["cortex_arrival_s"]), float(truth["medullary_start_s"]),
                   config.params.selection_delay_s)
    rows = []
    for f in np.flatnonzero(phase != ""):
        tight = render.lesion_box(anatomy, spec.panel, tuple(shifts[f]))
        boxes = []
        for x_offset in (0, spec.panel.width):
            b = _jittered_box(tight, config.params.annotator_jitter_px, spec.panel, rng)
            boxes.append(f"{b[0] + x_offset},{b[1] + spec.bar},{b[2] + x_offset},{b[3] + spec.bar}")
        rows.append({"patient_id": pid, "file": f"videos/{pid}.dcm", "frame": int(f), "phase": phase[f],
                     "bmode_box": boxes[0], "ceus_box": boxes[1]})
    return rows


# --------------------------------------------------------------------------- writing

def _content_key(config: _Config) -> str:
    """Short hash of the arguments: enters the SOP Instance UIDs."""
    import hashlib

    text = json.dumps(config.arguments(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_video(folder: Path, row: dict, truth: dict, config: _Config, index: int) -> tuple[list, str]:
    """Render, encode, write and verify one patient's DICOM; its annotations and syntax."""
    number = int(row["patient_id"][2:])
    video = _render_patient(row, truth, config, number)
    identity = dicom.draw_identity(int(row["age"]), row["sex"], stream(config.seed, STREAM_IDENTITY, number))
    ds = dicom.build_dataset(video.pixels, row, identity, render.SCANNERS[row["scanner"]], video.geometry,
                             config.seed, _content_key(config))
    syntax = _syntax(index, config.params)
    dicom.encode(ds, video.pixels, syntax)
    path = folder / f"{row['patient_id']}.dcm"
    dicom.write(ds, path)
    problem = dicom.check_decodes(path, video.pixels, syntax)
    if problem is not None:
        raise StudyError(f"the written video does not read back: {problem}", file=str(path),
                         hint=_decoder_hint(syntax))
    return video.annotations, syntax


def _decoder_hint(syntax: str) -> str:
    """How to get a decoder for ``syntax`` (JPEG needs Pillow with libjpeg, or pylibjpeg)."""
    if syntax == "jpeg_baseline":
        return ("install a JPEG decoder for pydicom: Pillow built with libjpeg, or "
                "`pip install pylibjpeg pylibjpeg-libjpeg`; or pass jpeg_fraction=0.")
    return "this is a bug in studykit's synthetic cohort; please report it with the arguments used."


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with Unix line ends and shortest round-trip floats (deterministic bytes)."""
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_cohort(staging: Path, out: Path, tables: CohortTables, config: _Config,
                  progress: ProgressHook | None) -> SynthSummary:
    """Write every file into ``staging`` and return the summary (paths under ``out``)."""
    (staging / "videos").mkdir(parents=True)
    truth_rows = tables.truth.set_index("patient_id", drop=False)
    included = tables.manifest[tables.manifest["excluded_reason"] == ""]
    annotations, syntaxes = [], dict.fromkeys(dicom.SYNTAXES, 0)
    for index, row in enumerate(included.to_dict("records")):
        rows, syntax = _write_video(staging / "videos", row, truth_rows.loc[row["patient_id"]].to_dict(),
                                    config, index)
        annotations.extend(rows)
        syntaxes[syntax] += 1
        if progress is not None:
            progress(index + 1, len(included))
    frame = pd.DataFrame(annotations, columns=list(ANNOTATION_COLUMNS))
    for name, table in (("manifest", tables.manifest), ("annotations", frame), ("reads", tables.reads),
                        ("truth", tables.truth)):
        _write_csv(table, staging / f"{name}.csv")
    summary = _summary(out, staging, tables, config, len(frame), syntaxes)
    record = {"generator": "studykit.cohort.synth", "arguments": config.arguments(),
              "summary": _to_json(summary)}
    (staging / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return summary


# --------------------------------------------------------------------------- summary

def _folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``, bytes."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _paths(out: Path) -> dict[str, Path]:
    """The cohort's file paths (SynthSummary fields)."""
    return {"out_dir": out, "manifest": out / "manifest.csv", "annotations": out / "annotations.csv",
            "reads": out / "reads.csv", "truth": out / "truth.csv", "videos": out / "videos"}


def _cohort_auc(truth: pd.DataFrame) -> BayesAUC:
    """Empirical AUC of each posterior column on the cohort."""
    y = truth["label"].eq("malignant").to_numpy()
    return BayesAUC(*(auc(y, truth[f"posterior_{name}"].to_numpy()) for name in BayesAUC._fields))


def _summary(out: Path, staging: Path, tables: CohortTables, config: _Config, n_annotated: int,
             syntaxes: dict[str, int]) -> SynthSummary:
    """SynthSummary of a freshly written cohort (files measured in ``staging``)."""
    malignant = tables.truth.set_index("patient_id")["label"].eq("malignant")
    height, width = config.size
    bar = max(8, height // 12)
    return SynthSummary(
        **_paths(out), seed=config.seed, params=config.params,
        patients=len(tables.truth), excluded=len(tables.manifest) - len(tables.truth), frames=config.frames,
        frame_shape=(height + bar, 2 * width), panel_shape=(height, width), annotated_frames=n_annotated,
        transfer_syntaxes=syntaxes, bytes_written=_folder_bytes(staging), bayes_auc=_cohort_auc(tables.truth),
        bayes_auc_population=_population(config.params), readers=summarize_reads(tables.reads, malignant))


def _to_json(summary: SynthSummary) -> dict[str, Any]:
    """The summary's figures as JSON (paths and parameters are re-derived on reading)."""
    return {"patients": summary.patients, "excluded": summary.excluded, "frames": summary.frames,
            "frame_shape": list(summary.frame_shape), "panel_shape": list(summary.panel_shape),
            "annotated_frames": summary.annotated_frames, "transfer_syntaxes": summary.transfer_syntaxes,
            "bytes_written": summary.bytes_written, "bayes_auc": list(summary.bayes_auc),
            "bayes_auc_population": list(summary.bayes_auc_population),
            "readers": [list(r) for r in summary.readers]}


def _summary_from_json(out: Path, stored: dict[str, Any]) -> SynthSummary:
    """SynthSummary of a cohort written earlier (``cached=True``)."""
    args, s = stored["arguments"], stored["summary"]
    return SynthSummary(
        **_paths(out), seed=args["seed"], params=SynthParams(**args["params"]),
        patients=s["patients"], excluded=s["excluded"], frames=s["frames"],
        frame_shape=tuple(s["frame_shape"]), panel_shape=tuple(s["panel_shape"]),
        annotated_frames=s["annotated_frames"],
        transfer_syntaxes=dict(s["transfer_syntaxes"]), bytes_written=s["bytes_written"],
        bayes_auc=BayesAUC(*s["bayes_auc"]), bayes_auc_population=BayesAUC(*s["bayes_auc_population"]),
        readers=tuple(ReaderGroupSummary(*r) for r in s["readers"]), cached=True)
