"""The protocol schema offers exactly the names the code defines (studykit.vocab): a protocol
can neither choose a rule the runner does not know nor miss one it does."""

from __future__ import annotations

import math
from typing import Literal, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from studykit import vocab
from studykit.protocol.arms import ArmSpec, AugmentSpec
from studykit.protocol.study import AnalysesSpec, DesignSpec, ReadersSpec, TablesSpec

ARM = {"name": "a", "kind": "mufnet"}
CHOICES = [
    (DesignSpec, {}, "aggregation", tuple(vocab.AGGREGATIONS)),
    (ArmSpec, ARM, "aggregation", tuple(vocab.AGGREGATIONS)),
    (DesignSpec, {}, "threshold", vocab.THRESHOLD_RULES),
    (AnalysesSpec, {}, "icc_form", vocab.ICC_FORMS),
    (AnalysesSpec, {}, "proportion_method", vocab.PROPORTION_METHODS),
    (AnalysesSpec, {}, "reader_rating", vocab.READER_RATINGS),
    (AnalysesSpec, {}, "mrmc_cov", vocab.MRMC_COVARIANCES),
    (ReadersSpec, {}, "tie", vocab.TIE_RULES),
    *[(AugmentSpec, {}, name, names) for name, names in vocab.AUGMENT_CHOICES.items()],
]


def _literal_values(annotation) -> tuple:
    """The values a ``Literal`` (or ``list[Literal]``) annotation accepts."""
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    assert get_origin(annotation) is Literal, annotation
    return get_args(annotation)


def _accepts(model: type[BaseModel], base: dict, field: str, value) -> bool:
    try:
        model.model_validate({**base, field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("model", "base", "field", "names"), CHOICES,
                         ids=[f"{m.__name__}.{f}" for m, _, f, _ in CHOICES])
def test_schema_accepts_exactly_the_vocab_names(model, base, field, names):
    assert set(_literal_values(model.model_fields[field].annotation)) == set(names)
    assert all(_accepts(model, base, field, name) for name in names)
    assert not _accepts(model, base, field, names[0] + "_x")


def test_units_are_the_vocab_units():
    assert set(_literal_values(AnalysesSpec.model_fields["units"].annotation)) == set(vocab.UNITS)
    assert AnalysesSpec().units == list(vocab.UNITS)


def test_tables_are_the_vocab_tables():
    from studykit.analysis import _REGISTRY

    assert tuple(TablesSpec.model_fields) == vocab.TABLES == tuple(_REGISTRY)
    assert AnalysesSpec().enabled == vocab.TABLES
    off = AnalysesSpec.model_validate({"tables": {"icc": False}}).enabled
    assert off == tuple(t for t in vocab.TABLES if t != "icc")
    assert not _accepts(AnalysesSpec, {}, "tables", {"table4": True})


@pytest.mark.parametrize("name", list(vocab.AUGMENT_LIMITS))
def test_augment_bounds_agree_with_the_train_layer(name):
    from studykit.errors import InputError
    from studykit.train import AugmentConfig

    low, high, inclusive, _ = vocab.AUGMENT_LIMITS[name]
    values = [low, low - 1e-9, high, high - 1e-9] if math.isfinite(high) else [low, low - 1e-9, 1e6]
    for value in values:
        try:
            AugmentConfig(**{name: value})
            train_ok = True
        except InputError:
            train_ok = False
        assert _accepts(AugmentSpec, {}, name, value) == train_ok, (name, value)
    assert _accepts(AugmentSpec, {}, name, high) == (inclusive and math.isfinite(high))
