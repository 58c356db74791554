"""Backbones: names, local weights files (timm overlay and checkpoints), offline ImageNet."""

from __future__ import annotations

import re

import huggingface_hub.constants
import pytest
import timm
import torch
from torch import nn

from studykit.errors import DataError, InputError, StudyError
from studykit.nets import Backbone, Encoder, create_backbone, create_encoder, list_backbones, read_state_dict

TINY = "test_efficientnet"  # timm's tiny EfficientNet: 99k parameters, 256 output channels


def _assert_same_backbone_weights(model: nn.Module, source: nn.Module) -> None:
    """Every entry of ``model``'s state dict equals the source's (the classifier is dropped)."""
    source_state = source.state_dict()
    state = model.state_dict()
    assert state.keys() <= source_state.keys()
    for key, value in state.items():
        assert torch.equal(value, source_state[key]), key


# --- names -------------------------------------------------------------------------------

def test_random_init_backbone_is_a_feature_extractor():
    backbone = create_backbone(TINY)
    assert isinstance(backbone, Backbone)
    assert (backbone.num_features, backbone.in_chans, backbone.weights) == (256, 3, "none")
    assert backbone.mean == (0.485, 0.456, 0.406) and backbone.std == (0.229, 0.224, 0.225)
    assert backbone.model(torch.rand(2, 3, 64, 64)).shape == (2, 256, 2, 2)  # no pooling, no head


def test_unknown_backbone_lists_close_matches():
    with pytest.raises(InputError) as info:
        create_backbone("efficientnet_b33")
    message = str(info.value)
    assert "'backbone': unknown backbone 'efficientnet_b33': not a timm model" in message
    assert re.search(r"hint: did you mean .*efficientnet_b3\b", message)


def test_unknown_tag_lists_known_tags():
    with pytest.raises(InputError, match=r"unknown pretrained tag .*\n.*test_efficientnet\.r160_in1k"):
        create_backbone("test_efficientnet.nope")


def test_tagged_name_builds():
    assert create_backbone("test_efficientnet.r160_in1k").num_features == 256


@pytest.mark.parametrize("pretrained", [3, None])
def test_bad_pretrained_value(pretrained):
    with pytest.raises(InputError, match="pretrained must be 'none', 'imagenet' or a file path"):
        create_backbone(TINY, pretrained=pretrained)


def test_list_backbones_filters_timm_names():
    assert TINY in list_backbones("test_eff*")


# --- local weights files -------------------------------------------------------------------

def test_weights_file_loads_through_timm_overlay(tiny_weights, tiny_source):
    backbone = create_backbone(TINY, pretrained=tiny_weights)
    assert backbone.model.pretrained_cfg["file"] == str(tiny_weights)  # timm's overlay was used
    assert backbone.weights == f"file:{tiny_weights}"
    _assert_same_backbone_weights(backbone.model, tiny_source)


def test_nested_checkpoint_gives_the_same_weights(tiny_weights, tiny_source, tmp_path):
    ddp_state = {f"module.{k}": v for k, v in tiny_source.state_dict().items()}
    for wrapper in ("state_dict", "model"):
        path = tmp_path / f"{wrapper}.ckpt"
        torch.save({wrapper: ddp_state, "epoch": 7}, path)
        from_checkpoint = create_backbone(TINY, pretrained=path).model
        from_file = create_backbone(TINY, pretrained=tiny_weights).model
        _assert_same_backbone_weights(from_checkpoint, tiny_source)
        for a, b in zip(from_checkpoint.state_dict().values(), from_file.state_dict().values()):
            assert torch.equal(a, b)


def test_read_state_dict_unwraps_like_timm(tiny_source, tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in tiny_source.state_dict().items()}}, path)
    state = read_state_dict(path)
    assert state.keys() == tiny_source.state_dict().keys()


def test_safetensors_file(tiny_source, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(tiny_source.state_dict(), str(path))
    _assert_same_backbone_weights(create_backbone(TINY, pretrained=path).model, tiny_source)


def test_gray_backbone_adapts_the_stem_of_a_three_channel_file(tiny_weights, tiny_source):
    backbone = create_backbone(TINY, pretrained=tiny_weights, in_chans=1)
    stem = backbone.model.conv_stem.weight
    assert stem.shape[1] == 1
    torch.testing.assert_close(stem, tiny_source.conv_stem.weight.sum(dim=1, keepdim=True))  # timm's rule


def test_missing_weights_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(DataError) as info:
        create_backbone(TINY, pretrained=path)
    assert str(info.value).startswith(f"{path}, field 'pretrained': weights file not found")
    assert "hint: fix the arm's `pretrained:` path" in str(info.value)


def test_directory_is_not_a_weights_file(tmp_path):
    with pytest.raises(DataError, match="is a directory, not a weights file"):
        create_backbone(TINY, pretrained=tmp_path)


def test_unreadable_weights_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not weights")
    with pytest.raises(DataError, match=r"cannot read the weights file \(\w+"):
        create_backbone(TINY, pretrained=path)


def test_file_without_tensors(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.05}, path)
    with pytest.raises(DataError, match=r"no state dict of tensors \(non-tensor entries: \['epoch', 'lr'\]"):
        create_backbone(TINY, pretrained=path)


def test_wrong_architecture_with_other_keys(tmp_path):
    """timm loads such a file non-strictly (num_classes=0 drops strictness): studykit must catch it."""
    path = tmp_path / "vit.pth"
    torch.save(timm.create_model("test_vit").state_dict(), path)
    with pytest.raises(DataError) as info:
        create_backbone(TINY, pretrained=path)
    message = str(info.value)
    assert message.startswith(f"{path}, field 'pretrained': the weights do not fit backbone "
                              "'test_efficientnet': missing keys: conv_stem.weight, bn1.weight, "
                              "bn1.bias, … (")
    # counts depend on timm's test models; the listing format does not
    assert re.search(r"in all\); unexpected keys: cls_token, pos_embed, patch_embed\.proj\.weight, "
                     r"… \(\d+ in all\)\n", message)
    assert "hint: the file holds another architecture's weights" in message


def test_wrong_architecture_with_other_shapes(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(timm.create_model(TINY, channel_multiplier=1.5).state_dict(), path)
    with pytest.raises(DataError, match=r"shape mismatches: conv_stem\.weight \(40, 3, 3, 3\) in the "
                                        r"file vs \(24, 3, 3, 3\) in the model, .* \(\d+ in all\)"):
        create_backbone(TINY, pretrained=path)


# --- ImageNet weights without network ---------------------------------------------------------

def _offline(monkeypatch, tmp_path) -> None:
    """No network and an empty hub cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    def no_download(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr("timm.models._builder.load_state_dict_from_url", no_download, raising=False)


def test_imagenet_offline_says_what_to_download(monkeypatch, tmp_path):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(StudyError) as info:
        create_backbone(TINY, pretrained="imagenet")
    message = str(info.value)
    assert message.startswith("'pretrained': could not fetch the ImageNet weights of backbone "
                              "'test_efficientnet' (")
    assert ("hint: without network, download https://huggingface.co/timm/test_efficientnet.r160_in1k/"
            "resolve/main/model.safetensors") in message
    assert "set the arm's `pretrained:` to its path" in message


def test_imagenet_for_a_model_without_weights():
    no_weights = sorted(set(timm.list_models()) - {n.split(".")[0] for n in timm.list_pretrained()})
    with pytest.raises(InputError, match="timm has no ImageNet weights for backbone"):
        create_backbone(no_weights[0], pretrained="imagenet")


# --- Encoder ------------------------------------------------------------------------------

def test_encoder_takes_gray_crops_and_returns_the_last_map():
    encoder = create_encoder(TINY)
    torch.manual_seed(0)
    gray = torch.randint(0, 256, (2, 1, 64, 64), dtype=torch.uint8)
    assert encoder(gray).shape == (2, 256, 2, 2)
    assert encoder.num_features == 256


class _Stub(nn.Module):
    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.out


def _stub_encoder(out: torch.Tensor, output_fmt: str) -> Encoder:
    return Encoder(Backbone(model=_Stub(out), name="stub", num_features=out.shape[-1], mean=(0.5,) * 3,
                            std=(0.5,) * 3, in_chans=3, output_fmt=output_fmt, weights="none"))


def test_encoder_makes_channels_last_maps_channels_first():
    nhwc = torch.rand(2, 5, 4, 8)
    assert torch.equal(_stub_encoder(nhwc, "NHWC")(torch.rand(2, 1, 8, 8)), nhwc.permute(0, 3, 1, 2))


def test_encoder_rejects_token_outputs():
    with pytest.raises(InputError, match=r"backbone 'stub' returns features of shape \(2, 10, 8\)"):
        _stub_encoder(torch.rand(2, 10, 8), "NCHW")(torch.rand(2, 1, 8, 8))
