"""InputAdapter: gray crops → 3 channels normalised with the backbone's mean and std."""

from __future__ import annotations

import pytest
import torch

from studykit.errors import InputError
from studykit.nets import InputAdapter

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def test_uint8_gray_is_scaled_repeated_and_normalised():
    adapter = InputAdapter(IMAGENET_MEAN, IMAGENET_STD)
    x = torch.tensor([[[[0, 51], [255, 102]]]], dtype=torch.uint8)  # N=1, 1 × 2 × 2
    y = adapter(x)
    assert y.shape == (1, 3, 2, 2) and y.dtype == torch.float32
    # gray 51 is 51/255 = 0.2; channel c: (0.2 − mean_c) / std_c
    expected = [(0.2 - 0.485) / 0.229, (0.2 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    torch.testing.assert_close(y[0, :, 0, 1], torch.tensor(expected))
    # gray 0 → −mean/std; gray 255 → (1 − mean)/std
    torch.testing.assert_close(y[0, 0, 0, 0], torch.tensor(-0.485 / 0.229))
    torch.testing.assert_close(y[0, 2, 1, 0], torch.tensor((1 - 0.406) / 0.225))


def test_float_input_in_unit_range_matches_uint8():
    adapter = InputAdapter(IMAGENET_MEAN, IMAGENET_STD)
    gray = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    torch.testing.assert_close(adapter(gray), adapter(gray.float() / 255))


def test_three_channel_input_is_not_repeated():
    adapter = InputAdapter(IMAGENET_MEAN, IMAGENET_STD)
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(adapter(x), (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
                               / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))


def test_one_channel_backbone_uses_channel_means():
    adapter = InputAdapter(IMAGENET_MEAN, IMAGENET_STD, in_chans=1)
    y = adapter(torch.full((1, 1, 2, 2), 0.5))
    mean, std = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    assert y.shape == (1, 1, 2, 2)
    torch.testing.assert_close(y, torch.full((1, 1, 2, 2), (0.5 - mean) / std))


def test_statistics_are_buffers_outside_the_state_dict():
    adapter = InputAdapter(IMAGENET_MEAN, IMAGENET_STD)
    assert dict(adapter.state_dict()) == {}
    assert {name for name, _ in adapter.named_buffers()} == {"mean", "std"}  # move with .to(device)


@pytest.mark.parametrize(("x", "match"), [
    (torch.rand(2, 2, 4, 4), r"N x 1 x H x W .* got \(2, 2, 4, 4\)"),
    (torch.rand(1, 4, 4), r"got \(1, 4, 4\)"),
    (torch.ones(1, 1, 4, 4, dtype=torch.int64), "dtype torch.int64"),
])
def test_bad_input_is_named(x, match):
    with pytest.raises(InputError, match=match):
        InputAdapter(IMAGENET_MEAN, IMAGENET_STD)(x)


def test_bad_statistics():
    with pytest.raises(InputError, match="std must be positive"):
        InputAdapter(IMAGENET_MEAN, (0.2, 0.0, 0.2))
    with pytest.raises(InputError, match="same number of channels"):
        InputAdapter(IMAGENET_MEAN, (0.2, 0.2))
    with pytest.raises(InputError, match="in_chans=2 does not fit 3-channel"):
        InputAdapter(IMAGENET_MEAN, IMAGENET_STD, in_chans=2)
