"""Arguments of a synthetic cohort: defaults, limits, and their validation.

Every public entry point (:func:`~studykit.cohort.synth.synthesize`, ``draw_cohort``,
``render_patient``, ``population_bayes_auc``) turns its keyword arguments into a validated
:class:`Config` here, so a bad argument gets the same :class:`~studykit.errors.InputError`
(named field, allowed range, did-you-mean) whichever function was called.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, NamedTuple

import numpy as np

from studykit.errors import InputError
from studykit.vocab import SYNTH_SYNTAXES

from .model import LATENT_MODELS, PRESETS, SynthParams

__all__ = ["ANNOTATION_COLUMNS", "MARKER", "SYNTAX_NAMES", "SYNTH_FORMAT", "Config", "make_config",
           "make_params"]

DEFAULT_PATIENTS, DEFAULT_FRAMES, DEFAULT_SIZE = 181, 24, (160, 192)
TINY_PATIENTS, TINY_FRAMES, TINY_SIZE = 12, 8, (64, 80)
MIN_PATIENTS, MAX_PATIENTS = 10, 100_000
MIN_FRAMES, MAX_FRAMES = 8, 2_000
MIN_SIDE, MAX_SIDE = 48, 1_024
VIDEO_START_S, VIDEO_END_S = -4.0, 88.0  # relative to the injection
MEDULLARY_WINDOW_S = 30.0  # annotated part of the medullary phase
OVERSAMPLE = 1.5  # polar canvas samples per display pixel
SYNTH_FORMAT = 3  # bump when the generator's output changes for the same arguments
MARKER = "synth.json"
STREAM_RENDER, STREAM_IDENTITY, STREAM_ANNOTATOR = 10, 11, 12
ANNOTATION_COLUMNS = ("patient_id", "file", "frame", "phase", "bmode_box", "ceus_box")



class Config(NamedTuple):
    """Validated arguments of one synthesis (what makes its output)."""

    patients: int
    seed: int
    frames: int
    size: tuple[int, int]
    tiny: bool
    params: SynthParams
    syntax: str = ""  # "" = the mix of jpeg_fraction/rle_fraction; else every video in this one

    def arguments(self) -> dict[str, Any]:
        """JSON-ready identity of the output (compared to decide idempotence).

        ``syntax`` enters only when set, so mixed cohorts keep their earlier identity (and UIDs).
        """
        out = {"format": SYNTH_FORMAT, "patients": self.patients, "seed": self.seed, "frames": self.frames,
               "size": list(self.size), "tiny": self.tiny, "params": dataclasses.asdict(self.params)}
        return {**out, "syntax": self.syntax} if self.syntax else out


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


def _check_value(name: str, value: Any) -> Any:
    """One SynthParams field's value, validated by its kind (choice, flag or number)."""
    if name == "latent_model":
        return _choice_arg(name, value, LATENT_MODELS, "latent model",
                           "; `preset` sets every parameter of a generator version at once.")
    if isinstance(getattr(SynthParams(), name), bool):
        if not isinstance(value, (bool, np.bool_)):
            raise InputError(f"must be true or false; got {value!r}.", field=name,
                             hint=f"see SynthParams for what '{name}' means.")
        return bool(value)
    return _check_param(name, value)


def make_params(model_params: dict[str, Any]) -> SynthParams:
    """SynthParams from keyword arguments, with did-you-mean for unknown names."""
    known = [f.name for f in dataclasses.fields(SynthParams)] + ["preset"]
    for name in model_params:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known parameters: {', '.join(known)}."
            raise InputError(f"unknown model parameter {name!r}.", field=name, hint=hint)
    model_params = dict(model_params)
    preset = _choice_arg("preset", model_params.pop("preset", "v3"), tuple(PRESETS),
                         "synthetic-cohort preset",
                         " (v3: the current generator, cohort format 3; v2 and v1: the settings of cohort "
                         "formats 2 and 1).")
    values = {k: _check_value(k, v) for k, v in model_params.items()}
    params = SynthParams.named(preset, **values)
    if params.jpeg_fraction + params.rle_fraction > 1.0:
        raise InputError(f"jpeg_fraction + rle_fraction must be ≤ 1; got {params.jpeg_fraction:g} + "
                         f"{params.rle_fraction:g}.", field="rle_fraction",
                         hint="the rest of the videos are uncompressed; lower one of the two.")
    return params


#: ``synthesize(syntax=…)`` / ``studykit synth --syntax``: short name → the writer's syntax key.
SYNTAX_NAMES = dict(zip(SYNTH_SYNTAXES, ("explicit_vr_little_endian", "jpeg_baseline", "rle_lossless",
                                         "mpeg2_main_main", "h264_high_41", "hevc_main", "mp4"), strict=True))


def make_config(patients, seed, frames, size, tiny, model_params, syntax=None) -> Config:
    """Validate and complete the arguments of :func:`synthesize` (tiny preset applied)."""
    if syntax is not None:
        syntax = SYNTAX_NAMES[_choice_arg("syntax", syntax, tuple(SYNTAX_NAMES), "syntax",
                                          " (one syntax for every video; omit it for the default mix).")]
    tiny = bool(tiny)
    patients = (TINY_PATIENTS if tiny else DEFAULT_PATIENTS) if patients is None else patients
    frames = (TINY_FRAMES if tiny else DEFAULT_FRAMES) if frames is None else frames
    size = (TINY_SIZE if tiny else DEFAULT_SIZE) if size is None else size
    return Config(
        _int_arg("patients", patients, MIN_PATIENTS, MAX_PATIENTS,
                 f"the smallest cohort with every subtype has {MIN_PATIENTS} patients; tests use tiny=True."),
        _int_arg("seed", seed, 0, 2**63 - 1, "use a non-negative integer such as 0."),
        _int_arg("frames", frames, MIN_FRAMES, MAX_FRAMES,
                 f"at least {MIN_FRAMES} frames are needed so that every video has a cortical-phase frame."),
        _size_arg(size), tiny, make_params(model_params), syntax or "")
