"""SingleModalityNet (B-mode-Net, CEUS-Net): shapes, Grad-CAM split, input handling."""

from __future__ import annotations

import pytest
import torch

from studykit.errors import InputError
from studykit.nets import SingleModalityNet, create_model

TINY = "test_efficientnet"  # timm's tiny EfficientNet: 99k parameters, 256 output channels


@pytest.fixture
def net() -> SingleModalityNet:
    torch.manual_seed(0)
    return SingleModalityNet(TINY).eval()


def test_logits_and_feature_map_shapes(net):
    x = torch.rand(3, 1, 64, 64)
    features = net.forward_features(x)
    assert features.shape == (3, 256, 2, 2)  # the map before pooling (Grad-CAM's)
    assert net.forward_head(features, pre_logits=True).shape == (3, 256)
    assert net(x).shape == (3, 2)
    torch.testing.assert_close(net(x), net.forward_head(features))


def test_head_is_global_average_pooling_then_linear(net):
    x = torch.rand(2, 1, 64, 64)
    features = net.forward_features(x)
    expected = features.mean(dim=(2, 3)) @ net.head.weight.T + net.head.bias
    torch.testing.assert_close(net(x), expected)


def test_grad_cam_gradient_reaches_the_map(net):
    features = net.forward_features(torch.rand(2, 1, 64, 64))
    features.retain_grad()
    net.forward_head(features)[:, 1].sum().backward()
    assert features.grad is not None and features.grad.shape == features.shape
    assert features.grad.abs().sum() > 0


def test_uint8_and_unit_float_crops_agree(net):
    gray = torch.randint(0, 256, (2, 1, 64, 64), dtype=torch.uint8)
    torch.testing.assert_close(net(gray), net(gray.float() / 255))


def test_dropout_acts_in_training_only():
    torch.manual_seed(0)
    net = SingleModalityNet(TINY, drop_rate=0.5)
    x = torch.rand(2, 1, 64, 64)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    torch.manual_seed(1)
    first = net(x)
    torch.manual_seed(2)
    assert not torch.allclose(first, net(x))


def test_registry_builds_it():
    assert isinstance(create_model("single", backbone_name=TINY, num_classes=3), SingleModalityNet)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
    ({"drop_rate": 1.0}, r"drop_rate must be a number in \[0, 1\), got 1.0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        SingleModalityNet(TINY, **kwargs)
