"""Registry of arm architectures: ``create_model(kind, **kwargs)``, ``model_kind(kind)``, ``list_models()``.

Kinds, as timm registers its entry points: ``single`` (:class:`SingleModalityNet`, the
B-mode-Net and CEUS-Net arms of the reference study) and ``mufnet`` (:class:`MUFNet`).
An arm spec names the kind; its other keys are the keyword arguments of the class.

Each kind carries its own behaviour (:class:`ModelKind`): which modalities it reads (the
data channels and the Grad-CAM branches follow from it), which arm-spec fields its builder
takes besides the common ones, and its training criterion. The train layer asks the kind
instead of branching on its name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from studykit.errors import InputError

from ._checks import close_matches, lookup

__all__ = ["ModelKind", "create_model", "list_models", "model_kind", "register_model"]

F = TypeVar("F", bound=Callable[..., nn.Module])

#: ``criterion(class_counts, weights=(fused, bmode, ceus), beta=β, gamma=γ)`` → a module
#: mapping (net output, class indices N) to the loss parts, a tensor ``[total, fused, bmode,
#: ceus]`` (NaN for parts a kind has not); ``total`` is what is backpropagated.
CriterionFactory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelKind:
    """An arm architecture and the behaviour the train layer needs from it.

    Attributes
    ----------
    name
        The kind's name (the arm spec's ``kind``).
    builder
        The class (or function) building the net.
    modalities
        The modalities the net reads, in its ``forward`` argument order; ``None``: one, the
        arm's own ``modality``.
    options
        Arm-spec fields passed to ``builder`` besides ``backbone_name``, ``pretrained`` and
        ``drop_rate`` (``("fusion",)`` for MUF-Net).
    criterion
        The training loss factory (:data:`CriterionFactory`).
    """

    name: str
    builder: Callable[..., nn.Module]
    modalities: tuple[str, ...] | None
    options: tuple[str, ...]
    criterion: CriterionFactory

    def inputs(self, modality: str | None) -> tuple[str, ...]:
        """The modalities an arm of this kind reads (``modality``: the arm's own, for a single net)."""
        if self.modalities is not None:
            return self.modalities
        if modality is None:
            raise InputError(f"model kind {self.name!r} reads one modality; the arm names none",
                             field="modality", hint="set modality: bmode or modality: ceus")
        return (modality,)


_MODELS: dict[str, ModelKind] = {}


def register_model(kind: str, *, criterion: CriterionFactory, modalities: Sequence[str] | None = None,
                   options: Sequence[str] = ()) -> Callable[[F], F]:
    """Decorator registering a builder under ``kind`` (a name used once) with its behaviour
    (:class:`ModelKind`)."""
    def register(builder: F) -> F:
        if kind in _MODELS:
            raise ValueError(f"model kind {kind!r} is registered twice")  # a programming error
        _MODELS[kind] = ModelKind(kind, builder, None if modalities is None else tuple(modalities),
                                  tuple(options), criterion)
        return builder
    return register


def model_kind(kind: str) -> ModelKind:
    """The registered :class:`ModelKind` ``kind``; an :class:`InputError` naming close matches otherwise."""
    return lookup(_MODELS, kind, what="model kind", field="kind")


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
    builder = model_kind(kind).builder
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
