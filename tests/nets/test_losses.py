"""Class-balanced focal loss (Cui et al. 2019) and MUF-Net's loss, against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from studykit.errors import InputError
from studykit.nets import ClassBalancedFocalLoss, MUFNetLoss, MUFNetOutput, class_balanced_weights

# counts (3, 1), β = 0.9:
#   raw w_0 = (1 − 0.9) / (1 − 0.9³) = 0.1 / 0.271 = 0.36900369
#   raw w_1 = (1 − 0.9) / (1 − 0.9¹) = 0.1 / 0.1   = 1
#   normalised to sum to K = 2: w = 2 · raw / (0.36900369 + 1)
RAW_0 = 0.1 / (1 - 0.9**3)
W0, W1 = 2 * RAW_0 / (RAW_0 + 1), 2 * 1 / (RAW_0 + 1)  # 0.53908356, 1.46091644


def test_class_weights_by_hand():
    weights = class_balanced_weights([3, 1], beta=0.9)
    torch.testing.assert_close(weights, torch.tensor([W0, W1]))
    assert math.isclose(W0, 0.5390835579514824) and math.isclose(W0 + W1, 2.0)


def test_class_weights_limits():
    torch.testing.assert_close(class_balanced_weights([90, 10], beta=0.0), torch.ones(2))  # β = 0: equal
    # β → 1: inverse class frequency, 1/90 : 1/10 normalised to sum 2 → 0.2, 1.8
    torch.testing.assert_close(class_balanced_weights([90, 10], beta=1 - 1e-9), torch.tensor([0.2, 1.8]),
                               rtol=1e-5, atol=1e-5)


def test_focal_loss_by_hand():
    loss = ClassBalancedFocalLoss([3, 1], beta=0.9, gamma=2.0)
    # sample A: logits (0, 0), class 0 → p_t = 1/2
    # sample B: logits (0, ln 3), class 1 → p_t = 3 / (1 + 3) = 3/4
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    target = torch.tensor([0, 1])
    loss_a = W0 * (1 - 0.5) ** 2 * -math.log(0.5)  # 0.53908 · 0.25 · 0.69315 = 0.09342
    loss_b = W1 * (1 - 0.75) ** 2 * -math.log(0.75)  # 1.46092 · 0.0625 · 0.28768 = 0.02627
    torch.testing.assert_close(loss(logits, target), torch.tensor((loss_a + loss_b) / 2))  # mean over N
    assert math.isclose((loss_a + loss_b) / 2, 0.0598417645, rel_tol=1e-9)
    none = ClassBalancedFocalLoss([3, 1], beta=0.9, gamma=2.0, reduction="none")(logits, target)
    torch.testing.assert_close(none, torch.tensor([loss_a, loss_b]))
    summed = ClassBalancedFocalLoss([3, 1], beta=0.9, gamma=2.0, reduction="sum")(logits, target)
    torch.testing.assert_close(summed, torch.tensor(loss_a + loss_b))


def test_gamma_zero_is_class_weighted_cross_entropy_averaged_over_samples():
    torch.manual_seed(0)
    logits, target = torch.randn(6, 2), torch.tensor([0, 0, 0, 0, 0, 1])
    weights = class_balanced_weights([3, 1], beta=0.9)
    loss = ClassBalancedFocalLoss([3, 1], beta=0.9, gamma=0.0)(logits, target)
    expected = F.cross_entropy(logits, target, weight=weights, reduction="none").mean()
    torch.testing.assert_close(loss, expected)
    # the documented reduction is Cui's (sum / N), not torch's weighted mean (sum / Σ w)
    assert not torch.allclose(loss, F.cross_entropy(logits, target, weight=weights))


@pytest.mark.parametrize("beta", [0.0, 1e-12])
def test_beta_zero_and_gamma_zero_is_plain_cross_entropy(beta):
    torch.manual_seed(0)
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 2])
    loss = ClassBalancedFocalLoss([10, 3, 50], beta=beta, gamma=0.0)(logits, target)
    torch.testing.assert_close(loss, F.cross_entropy(logits, target))


def test_gradient_is_finite_for_confident_logits():
    for gamma in (0.0, 0.5, 2.0):
        logits = torch.tensor([[60.0, -60.0]], requires_grad=True)
        ClassBalancedFocalLoss([3, 1], gamma=gamma)(logits, torch.tensor([0])).backward()
        assert bool(torch.isfinite(logits.grad).all()), gamma


def test_low_precision_logits_give_a_float32_loss():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]], dtype=torch.bfloat16)
    loss = ClassBalancedFocalLoss([3, 1], beta=0.9)(logits, torch.tensor([0, 1]))
    assert loss.dtype == torch.float32


def test_mufnet_loss_is_the_weighted_sum_of_its_parts():
    criterion = ClassBalancedFocalLoss([3, 1], beta=0.9, gamma=2.0)
    torch.manual_seed(0)
    fused, bmode, ceus = torch.randn(4, 2), torch.randn(4, 2), torch.randn(4, 2)
    target = torch.tensor([0, 1, 0, 0])
    output = MUFNetOutput(fused, bmode, ceus, torch.full((4,), 0.5), torch.full((4,), 0.5))
    parts = MUFNetLoss([3, 1], beta=0.9, gamma=2.0)(output, target)
    for got, logits in ((parts.fused, fused), (parts.bmode, bmode), (parts.ceus, ceus)):
        torch.testing.assert_close(got, criterion(logits, target))
    torch.testing.assert_close(parts.total, 1.0 * parts.fused + 0.5 * parts.bmode + 0.5 * parts.ceus)
    only_fused = MUFNetLoss([3, 1], weights=(1.0, 0.0, 0.0), beta=0.9, gamma=2.0)(output, target)
    torch.testing.assert_close(only_fused.total, parts.fused)


def test_class_without_samples():
    with pytest.raises(InputError) as info:
        ClassBalancedFocalLoss([12, 0])
    assert str(info.value) == ("'class_counts': class_counts [12.0, 0.0]: class [1] has no training samples\n"
                               "  hint: every class needs training samples in every fold: check the split, "
                               "or use fewer folds")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"class_counts": [5]}, r"class_counts must be K >= 2 non-negative counts, got \[5.0\]"),
    ({"class_counts": [5, -1]}, r"class_counts must be K >= 2 non-negative counts, got \[5.0, -1.0\]"),
    ({"class_counts": ["a", "b"]}, "class_counts must be numbers"),
    ({"class_counts": [5, 5], "beta": 1.0}, r"beta must be a number in \[0, 1\), got 1.0"),
    ({"class_counts": [5, 5], "gamma": -1.0}, "gamma must be a finite number >= 0, got -1.0"),
    ({"class_counts": [5, 5], "reduction": "avg"}, "reduction must be 'mean', 'sum' or 'none', got 'avg'"),
])
def test_bad_loss_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        ClassBalancedFocalLoss(**kwargs)


def test_bad_mufnet_loss_weights():
    with pytest.raises(InputError, match=r"weights must be three non-negative .* got \(1.0, -0.5, 0.5\)"):
        MUFNetLoss([3, 1], weights=(1.0, -0.5, 0.5))
    with pytest.raises(InputError, match="not all zero"):
        MUFNetLoss([3, 1], weights=(0, 0, 0))


def test_logits_that_do_not_fit():
    loss = ClassBalancedFocalLoss([3, 1])
    with pytest.raises(InputError, match=r"'logits': expected logits of shape N x 2, got \(4, 3\)"):
        loss(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(InputError, match=r"'target': expected 4 integer class indices, got shape \(3,\)"):
        loss(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
