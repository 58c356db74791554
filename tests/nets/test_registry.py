"""Arm kinds on the registry: what each kind reads, its builder options and its criterion."""

from __future__ import annotations

import math

import pytest
import torch

from studykit.errors import InputError
from studykit.nets import (
    ClassBalancedFocalLoss,
    MUFNetLoss,
    MUFNetOutput,
    create_model,
    list_models,
    model_kind,
)

COUNTS = [30, 10]


def test_kinds_and_their_inputs():
    assert list_models() == ["mufnet", "sequence", "single"]
    assert model_kind("mufnet").inputs(None) == ("bmode", "ceus")
    assert model_kind("sequence").inputs(None) == ("bmode", "ceus")
    assert model_kind("mufnet").options == ("fusion",)
    assert model_kind("single").inputs("ceus") == ("ceus",)
    assert model_kind("single").options == ()


def test_single_kind_without_a_modality_is_an_input_error():
    with pytest.raises(InputError, match="reads one modality") as info:
        model_kind("single").inputs(None)
    assert info.value.field == "modality"


def test_unknown_kind_names_the_close_match():
    with pytest.raises(InputError, match="mufnet"):
        model_kind("mufnett")


def test_single_criterion_parts_are_the_focal_loss_and_two_nans():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 0, 1])
    parts = model_kind("single").criterion(COUNTS, weights=(1.0, 0.5, 0.5), beta=0.99, gamma=2.0)(logits, y)
    expected = ClassBalancedFocalLoss(COUNTS, beta=0.99, gamma=2.0)(logits, y)
    assert parts.shape == (4,)
    assert parts[0].item() == parts[1].item() == pytest.approx(expected.item(), rel=1e-6)
    assert math.isnan(parts[2].item()) and math.isnan(parts[3].item())


def test_mufnet_criterion_parts_equal_the_mufnet_loss():
    torch.manual_seed(0)
    out = MUFNetOutput(*(torch.randn(5, 2) for _ in range(3)), torch.full((5,), 0.5), torch.full((5,), 0.5))
    y = torch.tensor([0, 1, 1, 0, 1])
    crit = model_kind("mufnet").criterion(COUNTS, weights=(1.0, 0.3, 0.0), beta=0.999, gamma=1.0)
    expected = MUFNetLoss(COUNTS, weights=(1.0, 0.3, 0.0), beta=0.999, gamma=1.0)(out, y)
    assert torch.allclose(crit(out, y), torch.stack(tuple(expected)))
    assert crit.leaves_unused_parameters  # the CEUS head gets no gradient
    assert not model_kind("mufnet").criterion(COUNTS, weights=(1.0, 0.5, 0.5)).leaves_unused_parameters


def test_builder_options_are_what_create_model_passes():
    net = create_model("mufnet", backbone_name="test_efficientnet", pretrained="none", fusion="mean")
    assert net.fusion_kind == "mean"
    with pytest.raises(InputError, match="takes no argument 'fusion'"):
        create_model("single", backbone_name="test_efficientnet", pretrained="none", fusion="mean")


def test_registered_kinds_and_fusions_are_vocabs():
    from studykit.nets import list_fusions
    from studykit.vocab import ARM_EVIDENCE, ARM_KINDS, FUSIONS, NET_KINDS

    assert set(list_models()) == set(NET_KINDS) < set(ARM_KINDS) == set(ARM_EVIDENCE)
    for kind in NET_KINDS:
        assert model_kind(kind).modalities == ARM_KINDS[kind]
    assert set(list_fusions()) == set(FUSIONS)
