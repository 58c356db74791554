"""Argument validation shared by the statistics: raise clear :class:`InputError`s.

Every check names the argument, what is allowed, what was received and, for arrays,
how many values offend and where (0-based positions), following STYLE.md convention 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studykit.errors import InputError
from studykit.vocab import did_you_mean

_SHOW = 5  # offending positions listed in a message


def positions(mask: np.ndarray) -> str:
    """``"3 values (positions 0, 5, 7)"`` for a boolean mask; at most five positions."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:_SHOW]) + (", …" if idx.size > _SHOW else "")
    noun = "value" if idx.size == 1 else "values"
    return f"{idx.size} {noun} (position{'s' if idx.size > 1 else ''} {shown})"


def check_option(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise with a close match."""
    allowed = list(allowed)
    if isinstance(value, str) and value in allowed:
        return value
    hint = did_you_mean(value, allowed, f"use one of {', '.join(map(repr, allowed))}.")
    raise InputError(f"must be one of {', '.join(map(repr, allowed))}; got {value!r}.",
                     field=name, hint=hint)


def check_unit_interval(name: str, value: Any, *, example: str) -> float:
    """A number strictly between 0 and 1 (a confidence level, an alpha)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 < number < 1.0:
        raise InputError(f"must be a number strictly between 0 and 1; got {value!r}.", field=name,
                         hint=f"pass e.g. {example}.")
    return number


def check_confidence(confidence: float) -> float:
    """Confidence level strictly between 0 and 1 (e.g. 0.95)."""
    return check_unit_interval("confidence", confidence, example="confidence=0.95 for a 95% CI")


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """An integer ≥ ``minimum`` (replicate counts, seeds' companions)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"must be an integer ≥ {minimum}; got {value!r}.", field=name)
    return int(value)


def as_1d(values: Any, *, name: str) -> np.ndarray:
    """A 1-D numpy view of a list, array or Series; raise when it is not one-dimensional."""
    arr = np.asarray(values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else values)
    if arr.ndim != 1:
        raise InputError(f"must be one-dimensional; got an array of shape {arr.shape}.",
                         field=name, hint="pass one value per observation (a list, 1-D array or Series).")
    return arr


def finite_scores(values: Any, *, name: str = "score") -> np.ndarray:
    """Scores as float64; NaN or ±inf raise naming their count and positions."""
    arr = as_1d(values, name=name)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric; got values of type {arr.dtype}.", field=name,
                         hint="convert the scores to numbers first.") from exc
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(f"contains {positions(bad)} that are NaN or infinite.", field=name,
                         hint="drop or impute those observations before computing the statistic.")
    return arr


def binary_labels(values: Any, *, name: str = "y_true", pos_label: Any = None) -> np.ndarray:
    """Binary labels as a boolean array (True = positive / diseased).

    Accepted: booleans; numbers coded 0/1; any two values (strings or numbers) when
    ``pos_label`` names the positive one. Missing labels and a third value raise.
    """
    arr = as_1d(values, name=name)
    if arr.size == 0:
        raise InputError("is empty; at least one observation is needed.", field=name,
                         hint="check that the data were filtered as intended.")
    missing = pd.isna(arr) if arr.dtype.kind in "fO" else np.zeros(arr.shape, bool)
    if np.any(missing):
        raise InputError(f"contains {positions(np.asarray(missing))} that are missing.", field=name,
                         hint="every observation needs its reference-standard label.")
    if arr.dtype == bool:
        return arr.copy()
    if pos_label is not None:
        return _labels_with_positive(arr, name=name, pos_label=pos_label)
    if arr.dtype.kind in "iuf":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            raise InputError(f"must be coded 0/1 (1 = positive); {positions(bad)} are neither, "
                             f"e.g. {arr[bad][0].item()!r}.", field=name,
                             hint="recode the labels to 0/1 or pass pos_label= naming the positive value.")
        return arr == 1
    kinds = sorted(map(str, pd.unique(arr)))[:3]
    raise InputError(f"has non-numeric labels ({', '.join(map(repr, kinds))}) but no positive label "
                     "was given.", field=name,
                     hint=f"pass pos_label= naming the positive value, e.g. pos_label={kinds[-1]!r}.")


def _labels_with_positive(arr: np.ndarray, *, name: str, pos_label: Any) -> np.ndarray:
    levels = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(arr)]  # plain reprs
    if len(levels) > 2:
        raise InputError(f"must contain two label values; got {len(levels)}: "
                         f"{', '.join(map(repr, levels[:5]))}.", field=name,
                         hint="keep only the two classes of the binary reference standard.")
    if pos_label not in levels and len(levels) == 2:
        raise InputError(f"pos_label={pos_label!r} is not among the labels "
                         f"{', '.join(map(repr, levels))}.", field="pos_label",
                         hint="name one of the two label values as positive.")
    return arr == pos_label


def same_length(**arrays: Sequence[Any] | np.ndarray) -> int:
    """Common length of the named arrays; raise naming each length when they differ."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(f"arguments must have the same length: {listed}.",
                         field=next(iter(lengths)), hint="pass one value per observation in each argument.")
    return next(iter(lengths.values()))


def cluster_ids(values: Any, n: int) -> np.ndarray | None:
    """Cluster labels (e.g. patient ids) → dense integer codes 0..I-1, or ``None``."""
    if values is None:
        return None
    arr = as_1d(values, name="cluster")
    same_length(cluster=arr, y_true=np.empty(n))
    if np.any(pd.isna(arr)):
        raise InputError(f"contains {positions(np.asarray(pd.isna(arr)))} that are missing.",
                         field="cluster", hint="every image needs the id of its patient.")
    codes, _ = pd.factorize(arr, sort=True)
    return codes.astype(np.int64)


def column(data: pd.DataFrame, name: str, *, argument: str) -> pd.Series:
    """``data[name]`` or an error naming the argument and close column names."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame; got {type(data).__name__}.", field="data")
    if name not in data.columns:
        listed = ", ".join(map(str, data.columns))
        hint = did_you_mean(name, data.columns, f"columns are: {listed}.")
        raise InputError(f"column {name!r} is not in data.", field=argument, hint=hint)
    return data[name]


def from_data(data: pd.DataFrame | None, **arguments: Any) -> dict[str, Any]:
    """pingouin-style second way in: with ``data``, each string argument names a column.

    ``from_data(df, y_true="label", score="prob")`` returns the two columns as arrays;
    without ``data`` the arguments are returned unchanged. ``None`` stays ``None``.
    """
    if data is None:
        return arguments
    return {name: None if value is None else column(data, value, argument=name).to_numpy()
            for name, value in arguments.items()}


def binary_inputs(y_true: Any, score: Any, *, pos_label: Any = None, score_name: str = "score"):
    """Validated ``(y, score)``: boolean labels and finite float scores of equal length."""
    y = binary_labels(y_true, pos_label=pos_label)
    s = finite_scores(score, name=score_name)
    same_length(y_true=y, **{score_name: s})
    return y, s


def paired_inputs(y_true: Any, score_a: Any, score_b: Any, *, pos_label: Any = None):
    """Validated ``(y, a, b)``: boolean labels and two finite score arrays on the same cases."""
    y, a = binary_inputs(y_true, score_a, pos_label=pos_label, score_name="score_a")
    b = finite_scores(score_b, name="score_b")
    same_length(y_true=y, score_b=b)
    return y, a, b
