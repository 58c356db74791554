"""MUFNet: two independent branches, shared-attention fusion, auxiliary heads, ablations."""

from __future__ import annotations

import pytest
import torch

from studykit.errors import InputError
from studykit.nets import (
    AttentionFusion,
    MUFNet,
    MUFNetLoss,
    MUFNetOutput,
    create_fusion,
    create_model,
    list_models,
)

TINY = "test_efficientnet"  # timm's tiny EfficientNet: 99k parameters, 256 output channels

C = 256  # test_efficientnet's output channels


def _mufnet(**kwargs) -> MUFNet:
    torch.manual_seed(0)
    return MUFNet(TINY, **kwargs).eval()


def _pair(n: int = 4, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    bmode = torch.rand(n, 1, size, size, generator=generator)
    return bmode, torch.rand(n, 1, size, size, generator=generator)


@pytest.fixture(scope="module")
def net() -> MUFNet:
    return _mufnet()


def test_output_shapes(net):
    out = net(*_pair())
    assert isinstance(out, MUFNetOutput)
    assert [tuple(t.shape) for t in out] == [(4, 2), (4, 2), (4, 2), (4,), (4,)]


def test_forward_is_forward_head_of_forward_features(net):
    bmode, ceus = _pair()
    maps = net.forward_features(bmode, ceus)
    assert [tuple(m.shape) for m in maps] == [(4, C, 2, 2)] * 2
    for a, b in zip(net.forward_head(*maps), net(bmode, ceus)):
        torch.testing.assert_close(a, b)


def test_attention_weights_sum_to_one_and_depend_on_the_inputs(net):
    bmode, ceus = _pair(n=8)
    out = net(bmode, ceus)
    torch.testing.assert_close(out.w_bmode + out.w_ceus, torch.ones(8))
    assert bool(((out.w_bmode > 0) & (out.w_bmode < 1)).all())
    assert out.w_bmode.std() > 0  # adaptive: differs between samples
    assert not torch.allclose(net(bmode, torch.zeros_like(ceus)).w_bmode, out.w_bmode)


def test_mean_fusion_weights_are_exactly_one_half():
    out = _mufnet(fusion="mean")(*_pair())
    assert torch.equal(out.w_bmode, torch.full((4,), 0.5)) and torch.equal(out.w_ceus, torch.full((4,), 0.5))


def test_concat_fusion_has_no_weights_and_a_wider_head():
    net = _mufnet(fusion="concat")
    out = net(*_pair())
    assert net.head.in_features == 2 * C
    assert bool(out.w_bmode.isnan().all()) and bool(out.w_ceus.isnan().all())
    assert out.fused_logits.shape == (4, 2)


@pytest.mark.parametrize("fusion", ["attention", "mean", "concat"])
def test_fusion_uses_both_branches(fusion):
    net = _mufnet(fusion=fusion)
    bmode, ceus = _pair()
    fused = net(bmode, ceus).fused_logits
    assert not torch.allclose(net(torch.zeros_like(bmode), ceus).fused_logits, fused)
    assert not torch.allclose(net(bmode, torch.zeros_like(ceus)).fused_logits, fused)


def test_auxiliary_heads_see_their_own_branch_only(net):
    bmode, ceus = _pair()
    out = net(bmode, ceus)
    other_ceus = net(bmode, torch.zeros_like(ceus))
    other_bmode = net(torch.zeros_like(bmode), ceus)
    torch.testing.assert_close(other_ceus.bmode_logits, out.bmode_logits)
    torch.testing.assert_close(other_bmode.ceus_logits, out.ceus_logits)
    b_map, c_map = net.forward_features(bmode, ceus)
    torch.testing.assert_close(out.bmode_logits, net.bmode_head(b_map.mean(dim=(2, 3))))
    torch.testing.assert_close(out.ceus_logits, net.ceus_head(c_map.mean(dim=(2, 3))))


def test_backbones_are_independent(net):
    bmode_params = {p.data_ptr() for p in net.bmode_encoder.parameters()}
    ceus_params = {p.data_ptr() for p in net.ceus_encoder.parameters()}
    assert bmode_params and not bmode_params & ceus_params
    assert sum(p.numel() for p in net.bmode_encoder.parameters()) == \
        sum(p.numel() for p in net.ceus_encoder.parameters())


def test_attention_block_is_shared_between_modalities(net):
    hidden = 256
    fusion = net.fusion
    assert isinstance(fusion, AttentionFusion)
    # one scorer: Linear(C, hidden) + Linear(hidden, 1), not two
    assert sum(p.numel() for p in fusion.parameters()) == C * hidden + hidden + hidden + 1
    calls = []
    fusion.score.register_forward_hook(lambda module, args, output: calls.append(tuple(args[0].shape)))
    net(*_pair())
    assert calls == [(4, 2, C)]  # one call scores both modalities (N × 2 × C)
    f_b, f_c = torch.rand(3, C), torch.rand(3, C)
    swapped = fusion(f_c, f_b)  # a shared scorer makes fusion symmetric in the modalities
    torch.testing.assert_close(swapped.w_bmode, fusion(f_b, f_c).w_ceus)


def test_attention_fusion_formula():
    torch.manual_seed(0)
    fusion = AttentionFusion(5, hidden=3)
    f_b, f_c = torch.rand(2, 5), torch.rand(2, 5)
    s_b, s_c = fusion.score(f_b).squeeze(1), fusion.score(f_c).squeeze(1)
    w_b = torch.exp(s_b) / (torch.exp(s_b) + torch.exp(s_c))
    out = fusion(f_b, f_c)
    torch.testing.assert_close(out.w_bmode, w_b)
    torch.testing.assert_close(out.fused, w_b[:, None] * f_b + (1 - w_b[:, None]) * f_c)


def test_fused_loss_trains_both_backbones_and_the_scorer(net):
    net.zero_grad()
    net(*_pair()).fused_logits.sum().backward()
    for module in (net.bmode_encoder, net.ceus_encoder, net.fusion, net.head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert all(p.grad is None for p in net.bmode_head.parameters())  # auxiliaries: their own losses


def test_modalities_may_differ_in_size(net):
    out = net(torch.rand(2, 1, 64, 64), torch.rand(2, 1, 96, 96))
    assert out.fused_logits.shape == (2, 2)


def test_reference_backbone_last_map_is_10x10x1536():
    """paper.md: EfficientNet-b3 at 300 × 300 gives a 10 × 10 × 1536 last feature map."""
    torch.manual_seed(0)
    net = MUFNet("efficientnet_b3").eval()
    with torch.no_grad():
        b_map, c_map = net.forward_features(torch.rand(1, 1, 300, 300), torch.rand(1, 1, 300, 300))
    assert tuple(b_map.shape) == tuple(c_map.shape) == (1, 1536, 10, 10)
    assert net.num_features == 1536 and net.head.in_features == 1536


def test_registry():
    assert list_models() == ["mufnet", "sequence", "single"]
    torch.manual_seed(0)
    assert isinstance(create_model("mufnet", backbone_name=TINY, fusion="mean"), MUFNet)


def test_registry_unknown_kind_and_argument():
    with pytest.raises(InputError, match=r"unknown model kind 'mufnt'; known: mufnet, sequence, single\n"
                                         r"  hint: did you mean 'mufnet'\?"):
        create_model("mufnt")
    with pytest.raises(InputError, match=r"'fuson': model kind 'mufnet' takes no argument 'fuson'; it takes "
                                         r"backbone_name, pretrained, .*\n  hint: did you mean 'fusion'\?"):
        create_model("mufnet", backbone_name=TINY, fuson="mean")


def test_unknown_fusion():
    with pytest.raises(InputError, match=r"'fusion': unknown fusion 'atention'; known: attention, concat, "
                                         r"mean\n  hint: did you mean 'attention'\?"):
        create_fusion("atention", C)


def test_bf16_autocast_training_step():
    """The CUDA path trains under bf16 autocast; the same code runs under CPU autocast."""
    net = _mufnet().train()
    criterion = MUFNetLoss([3, 1])
    bmode, ceus = _pair()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(bmode, ceus)
        loss = criterion(out, torch.tensor([0, 1, 0, 1]))
    loss.total.backward()
    assert loss.total.dtype == torch.float32 and bool(torch.isfinite(loss.total))
    torch.testing.assert_close(out.w_bmode + out.w_ceus, torch.ones(4))
