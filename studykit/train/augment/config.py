"""Settings of the pair augmentation: :class:`AugmentConfig`, its choices and their checks.

Every magnitude is checked against :data:`studykit.vocab.AUGMENT_LIMITS` and every choice
against :data:`studykit.vocab.AUGMENT_CHOICES`, the tables the protocol's ``AugmentSpec``
takes its bounds and ``Literal`` choices from, so a protocol accepts exactly what the
augmenter runs. The defaults (all magnitudes zero) are the identity.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studykit.errors import InputError
from studykit.vocab import AUGMENT_CHOICES, AUGMENT_LIMITS, ELASTIC_GRID_MIN, did_you_mean

#: Names of the choice settings (:data:`studykit.vocab.AUGMENT_CHOICES`).
_CHOICES = AUGMENT_CHOICES
PAIR_SPATIAL = _CHOICES["pair_spatial"]
INTERPOLATIONS = _CHOICES["interpolation"]
PADDING_MODES = _CHOICES["padding_mode"]
#: Numeric fields: (lower bound, upper bound, upper bound allowed?, meaning); the protocol's
#: ``AugmentSpec`` takes its bounds from the same table.
_LIMITS = AUGMENT_LIMITS


@dataclass(frozen=True)
class AugmentConfig:
    """Magnitudes of every augmentation; the defaults (all zero) are the identity.

    Parameters
    ----------
    rotation_deg
        Rotation angle uniform in ``[-rotation_deg, rotation_deg]`` degrees (≤ 180).
    scale
        Zoom factor uniform in ``[1 - scale, 1 + scale]`` (``0 ≤ scale < 1``).
    translate
        Shift uniform in ``±translate`` × width (x) and × height (y), independently.
    hflip_p, vflip_p
        Probabilities of a horizontal (left–right) and a vertical (up–down) flip.
    elastic_px
        Mean length, in pixels, of the elastic displacement field (Simard et al. 2003).
    elastic_grid
        Control points per side of the coarse elastic field (≥ 2); the field varies on
        a length scale of about ``side / (elastic_grid - 1)`` pixels. Its largest
        gradient is about 4–9 × ``elastic_px · (elastic_grid - 1) / side``, so
        ``elastic_px ≤ side / (10 · (elastic_grid - 1))`` (10 px for 300-px crops and 4
        points) keeps it below 1: the deformation never folds.
    gain, contrast, gamma
        Per-panel multiplicative gain, contrast about the panel mean and gamma; see
        :mod:`studykit.train.augment.intensity` for the distributions.
    speckle
        Standard deviation of the mean-1 log-normal multiplicative noise.
    noise
        Standard deviation of the additive Gaussian noise, in intensity units ([0, 1]).
    pair_spatial
        ``"shared"`` (default): both panels of a pair get the same geometric transform;
        ``"independent"``: each panel its own.
    interpolation
        ``grid_sample`` mode: ``"bilinear"`` (default), ``"nearest"`` or ``"bicubic"``.
    padding_mode
        Value outside the crop: ``"zeros"`` (default, black as outside the ultrasound
        sector), ``"border"`` or ``"reflection"``.
    """

    rotation_deg: float = 0.0
    scale: float = 0.0
    translate: float = 0.0
    hflip_p: float = 0.0
    vflip_p: float = 0.0
    elastic_px: float = 0.0
    elastic_grid: int = 4
    gain: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    speckle: float = 0.0
    noise: float = 0.0
    pair_spatial: str = "shared"
    interpolation: str = "bilinear"
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        for name, limits in _LIMITS.items():
            object.__setattr__(self, name, _check_magnitude(name, getattr(self, name), limits))
        grid = self.elastic_grid
        if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < ELASTIC_GRID_MIN:
            raise InputError(f"the elastic control points per side must be an integer ≥ {ELASTIC_GRID_MIN}; "
                             f"got {grid!r}.",
                             field="elastic_grid", hint="4 control points per side is a smooth default.")
        object.__setattr__(self, "elastic_grid", int(grid))
        for name, allowed in _CHOICES.items():
            check_choice(name, getattr(self, name), allowed)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> AugmentConfig:
        """Build from a mapping (an arm spec's ``augmentation:`` block); unknown keys are errors."""
        values = {} if values is None else values
        if not isinstance(values, Mapping):
            raise InputError(f"augmentation settings must be a mapping; got {type(values).__name__}.",
                             field="augmentation")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                raise InputError(f"unknown augmentation setting {key!r}.", field=str(key),
                                 hint=did_you_mean(key, known, f"known settings: {', '.join(known)}."))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @property
    def has_affine(self) -> bool:
        """Whether rotation, zoom or shift is on (flips excluded: they are exact)."""
        return bool(self.rotation_deg or self.scale or self.translate)

    @property
    def has_flips(self) -> bool:
        """Whether either flip has a non-zero probability."""
        return bool(self.hflip_p or self.vflip_p)


def _check_magnitude(name: str, value: Any, limits: tuple[float, float, bool, str]) -> float:
    low, high, inclusive, meaning = limits
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    ok = number >= low and (number <= high if inclusive else number < high)
    if not ok:
        bound = f"in [{low:g}, {high:g}{']' if inclusive else ')'}" if math.isfinite(high) else f"≥ {low:g}"
        raise InputError(f"the {meaning} must be a number {bound}; got {value!r}.",
                         field=name, hint="0 switches this augmentation off.")
    return number


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of ``allowed`` (a near miss gets "did you mean")."""
    if isinstance(value, str) and value in allowed:
        return
    raise InputError(f"must be one of {', '.join(map(repr, allowed))}; got {value!r}.", field=name,
                     hint=did_you_mean(value, allowed, f"use one of {', '.join(allowed)}."))
