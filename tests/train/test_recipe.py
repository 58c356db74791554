"""The train layer's recipe registries accept exactly the choices the arm-spec schema offers."""

from __future__ import annotations

import importlib

import pytest

from studykit.train import recipe
from studykit.vocab import LOSS_KINDS, OPTIMIZER_KINDS, SCHEDULE_KINDS, SELECTION_METRICS


def test_registries_match_the_vocab():
    assert set(recipe.OPTIMIZERS) == set(OPTIMIZER_KINDS)
    assert set(recipe.SCHEDULES) == set(SCHEDULE_KINDS)
    assert set(recipe._LOSS_PARAMS) == set(LOSS_KINDS)
    fit = importlib.import_module("studykit.train.fit")  # the module, not the function
    assert set(fit._SELECTION_COLUMN) == set(SELECTION_METRICS)


@pytest.mark.parametrize(("epoch", "expected"), [(0, 0.5), (1, 1.0), (5, 0.1)])
def test_cosine_factor_warms_up_then_decays_to_the_floor(epoch, expected):
    assert recipe.cosine_factor(epoch, 6, 1, 0.1) == pytest.approx(expected)
