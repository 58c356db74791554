"""Argument checks shared by the ``nets`` modules (private).

Every check raises :class:`studykit.errors.InputError` naming the argument, what is allowed
and what was received (STYLE.md, conventions 3 and 4).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

from studykit.errors import InputError

__all__ = ["check_fraction", "check_num_classes", "close_matches", "lookup"]

T = TypeVar("T")


def close_matches(name: str, choices: Iterable[str], *, n: int = 5) -> list[str]:
    """Up to ``n`` entries of ``choices`` that look like ``name`` (difflib ratio ≥ 0.6)."""
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)


def lookup(registry: Mapping[str, T], name: str, *, what: str, field: str) -> T:
    """Return ``registry[name]``; an unknown name lists the known ones and the near misses.

    Parameters
    ----------
    registry
        The known names and their values.
    name
        The name asked for.
    what, field
        What the names are (``"model kind"``) and the argument or YAML key that gave it.
    """
    if isinstance(name, str) and name in registry:
        return registry[name]
    known = ", ".join(sorted(registry))
    near = close_matches(str(name), registry)
    hint = f"did you mean {' or '.join(repr(m) for m in near)}?" if near else f"use one of: {known}"
    raise InputError(f"unknown {what} {name!r}; known: {known}", field=field, hint=hint)


def check_num_classes(num_classes: int) -> int:
    """``num_classes`` must be an integer ≥ 2 (a classifier needs two classes)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InputError(f"num_classes must be an integer >= 2, got {num_classes!r}",
                         field="num_classes")
    return num_classes


def check_fraction(value: float, *, field: str) -> float:
    """``value`` must be a finite number in [0, 1) (a dropout rate, a β)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0.0 <= value < 1.0:
        raise InputError(f"{field} must be a number in [0, 1), got {value!r}", field=field)
    return float(value)
