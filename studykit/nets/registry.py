"""Registry of arm architectures: ``create_model(kind, **kwargs)`` and ``list_models()``.

Kinds, as timm registers its entry points: ``single`` (:class:`SingleModalityNet`, the
B-mode-Net and CEUS-Net arms of the reference study) and ``mufnet`` (:class:`MUFNet`).
An arm spec names the kind; its other keys are the keyword arguments of the class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from studykit.errors import InputError

from ._checks import close_matches, lookup

__all__ = ["create_model", "list_models", "register_model"]

F = TypeVar("F", bound=Callable[..., nn.Module])

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(kind: str) -> Callable[[F], F]:
    """Decorator registering a builder under ``kind`` (a name used once)."""
    def register(builder: F) -> F:
        if kind in _MODELS:
            raise ValueError(f"model kind {kind!r} is registered twice")  # a programming error
        _MODELS[kind] = builder
        return builder
    return register


def list_models() -> list[str]:
    """Registered model kinds, sorted."""
    return sorted(_MODELS)


def create_model(kind: str, **kwargs: Any) -> nn.Module:
    """Build the arm architecture ``kind`` with the keyword arguments of its class.

    Parameters
    ----------
    kind
        ``single`` or ``mufnet`` (see :func:`list_models`).
    **kwargs
        Passed on (``backbone_name``, ``pretrained``, ``num_classes``, ``drop_rate``,
        ``fusion``, ``attention_hidden``, …).

    Raises
    ------
    InputError
        Unknown kind (close matches listed) or an argument the kind does not take.
    """
    builder = lookup(_MODELS, kind, what="model kind", field="kind")
    params = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL]
        for key in kwargs:
            if key not in params:
                near = close_matches(key, allowed, n=1)
                raise InputError(f"model kind {kind!r} takes no argument {key!r}; it takes "
                                 f"{', '.join(allowed)}", field=key,
                                 hint=f"did you mean {near[0]!r}?" if near else None)
    return builder(**kwargs)
