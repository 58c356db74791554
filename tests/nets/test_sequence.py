"""SequenceMUFNet: per-frame MUF-Net features, a time encoding, attention over a patient's frames."""

from __future__ import annotations

import math

import pytest
import torch

from studykit.errors import InputError
from studykit.nets import (
    ClassBalancedFocalLoss,
    SequenceMUFNet,
    SequenceOutput,
    TimeEncoding,
    create_model,
    model_kind,
)

TINY = "test_efficientnet"
SIZE = 32


def _net(**kwargs) -> SequenceMUFNet:
    torch.manual_seed(0)
    return SequenceMUFNet(TINY, **kwargs).eval()


def _frames(n: int, t: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    bmode = torch.rand(n, t, 1, SIZE, SIZE, generator=generator)
    ceus = torch.rand(n, t, 1, SIZE, SIZE, generator=generator)
    times = torch.linspace(-4.0, 88.0, t).repeat(n, 1)
    return bmode, ceus, times


@pytest.fixture(scope="module")
def net() -> SequenceMUFNet:
    return _net()


def test_shapes_and_weights(net):
    bmode, ceus, times = _frames(3, 5)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    with torch.no_grad():
        out = net(bmode, ceus, times, mask)
    assert isinstance(out, SequenceOutput)
    assert out.logits.shape == (3, 2) and out.frame_weights.shape == (3, 5)
    assert out.w_bmode.shape == out.w_ceus.shape == (3, 5)
    assert torch.allclose(out.frame_weights.sum(dim=1), torch.ones(3))
    assert (out.frame_weights[~mask] == 0).all() and (out.frame_weights[mask] > 0).all()
    assert out.frame_weights[2, 0].item() == 1.0
    assert torch.isnan(out.w_bmode[~mask]).all()
    assert torch.allclose(out.w_bmode[mask] + out.w_ceus[mask], torch.ones(int(mask.sum())))


def test_padding_changes_nothing(net):
    bmode, ceus, times = _frames(2, 4)
    full = torch.ones(2, 4, dtype=torch.bool)
    with torch.no_grad():
        alone = [net(bmode[i:i + 1, :k], ceus[i:i + 1, :k], times[i:i + 1, :k], full[i:i + 1, :k])
                 for i, k in ((0, 4), (1, 2))]
        padded_b = bmode.clone()
        padded_b[1, 2:] = torch.rand(2, 1, SIZE, SIZE)  # garbage in the padding
        mask = torch.tensor([[True] * 4, [True, True, False, False]])
        times_p = times.clone()
        times_p[1, 2:] = float("nan")
        out = net(padded_b, ceus, times_p, mask)
    for i, single in enumerate(alone):
        assert torch.allclose(out.logits[i], single.logits[0], atol=1e-5)
        k = single.frame_weights.shape[1]
        assert torch.allclose(out.frame_weights[i, :k], single.frame_weights[0], atol=1e-6)


def test_padding_is_not_encoded_in_training():
    """Only real frames reach the backbones, so batch-norm statistics ignore padding."""
    net = _net().train()
    seen = []
    net.bmode_encoder.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    bmode, ceus, times = _frames(2, 3)
    net(bmode, ceus, times, torch.tensor([[True, True, True], [True, False, False]]))
    assert seen == [4]


def test_permutation_of_frames_with_their_times():
    net = _net()
    with torch.no_grad():  # a time encoding as strong as trained ones, so that times visibly matter
        net.time_encoding.project.weight.mul_(50.0)
    bmode, ceus, times = _frames(2, 5)
    mask = torch.ones(2, 5, dtype=torch.bool)
    order = torch.tensor([3, 0, 4, 2, 1])
    with torch.no_grad():
        out = net(bmode, ceus, times, mask)
        perm = net(bmode[:, order], ceus[:, order], times[:, order], mask)
        moved = net(bmode[:, order], ceus[:, order], times, mask)  # frames moved, times kept
    assert torch.allclose(out.logits, perm.logits, atol=1e-5)
    assert torch.allclose(out.frame_weights[:, order], perm.frame_weights, atol=1e-6)
    assert not torch.allclose(out.frame_weights[:, order], moved.frame_weights, atol=1e-3)  # times matter
    assert not torch.allclose(out.logits, moved.logits, atol=1e-3)


def test_gradient_reaches_both_encoders_and_the_time_encoding():
    net = _net().train()
    bmode, ceus, times = _frames(2, 3)
    times[0, 1] = float("nan")
    out = net(bmode, ceus, times, torch.ones(2, 3, dtype=torch.bool))
    out.logits.sum().backward()
    for module in (net.bmode_encoder, net.ceus_encoder, net.time_encoding.project, net.temporal_score):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert net.time_encoding.unknown.grad.abs().sum() > 0


def test_nan_times_take_the_unknown_embedding():
    encoding = TimeEncoding(8)
    with torch.no_grad():
        encoding.unknown.fill_(3.0)
    out = encoding(torch.tensor([[0.0, float("nan"), 30.0]]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0, 1], torch.full((8,), 3.0))
    assert not torch.allclose(out[0, 0], out[0, 2])
    # unknown times give a finite patient call
    net = _net()
    bmode, ceus, times = _frames(1, 3)
    with torch.no_grad():
        unknown = torch.full_like(times, float("nan"))
        logits = net(bmode, ceus, unknown, torch.ones(1, 3, dtype=torch.bool)).logits
    assert torch.isfinite(logits).all()


def test_fusion_ablations_and_registry():
    net = create_model("sequence", backbone_name=TINY, fusion="concat", time_scale_s=30.0).eval()
    bmode, ceus, times = _frames(2, 2)
    with torch.no_grad():
        out = net(bmode, ceus, times, torch.ones(2, 2, dtype=torch.bool))
    assert torch.isnan(out.w_bmode).all() and torch.isfinite(out.logits).all()
    assert net.head.in_features == 2 * net.bmode_encoder.num_features
    assert net.time_encoding.time_scale_s == 30.0
    assert model_kind("sequence").inputs(None) == ("bmode", "ceus")
    assert model_kind("sequence").options == ("fusion",)


def test_criterion_parts_are_the_focal_loss_of_the_patient_logits():
    torch.manual_seed(0)
    out = SequenceOutput(torch.randn(4, 2), torch.full((4, 3), 1 / 3), torch.full((4, 3), 0.5),
                         torch.full((4, 3), 0.5))
    y = torch.tensor([0, 1, 1, 0])
    parts = model_kind("sequence").criterion([6, 3], weights=(1.0, 0.5, 0.5), beta=0.99, gamma=2.0)(out, y)
    expected = ClassBalancedFocalLoss([6, 3], beta=0.99, gamma=2.0)(out.logits, y)
    assert parts[0].item() == parts[1].item() == pytest.approx(expected.item(), rel=1e-6)
    assert math.isnan(parts[2].item()) and math.isnan(parts[3].item())


@pytest.mark.parametrize(("kwargs", "field"), [({"time_scale_s": 0.0}, "time_scale_s"),
                                               ({"time_frequencies": -1}, "time_frequencies")])
def test_bad_time_settings(kwargs, field):
    with pytest.raises(InputError, match=field) as info:
        SequenceMUFNet(TINY, **kwargs)
    assert info.value.field == field


def test_bad_inputs(net):
    bmode, ceus, times = _frames(2, 3)
    with pytest.raises(InputError, match="at least one real frame") as info:
        net(bmode, ceus, times, torch.tensor([[True, False, False], [False, False, False]]))
    assert info.value.field == "mask"
    with pytest.raises(InputError, match=r"bmode must be N x T x 1 x H x W"):
        net(bmode[:, 0], ceus, times, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(InputError, match="times must be"):
        net(bmode, ceus, times[:, :2], torch.ones(2, 3, dtype=torch.bool))
