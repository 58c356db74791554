"""Backbones: timm feature extractors, their weights and their input normalisation.

MUF-Net (paper.md, Model) encodes each modality with an ImageNet-pretrained EfficientNet-b3
(Tan & Le 2019, "EfficientNet: rethinking model scaling for convolutional neural networks",
ICML, arXiv:1905.11946) whose last feature map at 300 px is 10 × 10 × 1536. Any timm model
whose ``forward_features`` returns a feature map (the convolutional families) can stand in,
including timm's tiny ``test_efficientnet`` used by the tests and the demo.

Weights (``pretrained``):

- ``"none"``: random initialisation (timm's), no file and no network.
- ``"imagenet"``: timm's default pretrained tag, fetched from the Hugging Face hub or read
  from its local cache. Without network and cache the error says which file to download.
- a path: a local weights file in timm's format (``.pth``/``.pt``/``.bin``/``.safetensors``
  state dict, or a checkpoint holding one under ``state_dict``/``model``, keys possibly
  prefixed ``module.``), loaded offline through timm's
  ``pretrained_cfg_overlay=dict(file=path)``. Because timm loads non-strictly when the
  classifier is dropped (``num_classes=0``), the file is also checked here key by key: a file
  of another architecture is a :class:`~studykit.errors.DataError`, never a silent partial load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from studykit.errors import DataError, InputError, StudyError

from ._checks import close_matches
from .adapters import InputAdapter

__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "Encoder",
    "create_backbone",
    "create_encoder",
    "list_backbones",
    "read_state_dict",
]

#: The reference study's backbone.
DEFAULT_BACKBONE = "efficientnet_b3"

_HUB_URL = "https://huggingface.co/{hub_id}/resolve/main/model.safetensors"
_SHOW = 3  # offending keys listed per kind in a mismatch message


@dataclass(frozen=True)
class Backbone:
    """A timm feature extractor and what is needed to feed it.

    Attributes
    ----------
    model
        The timm model, built with ``num_classes=0, global_pool=""``: ``model(x)`` and
        ``model.forward_features(x)`` return the last feature map.
    name
        The timm name it was built from (``efficientnet_b3`` or ``arch.tag``).
    num_features
        Channels C of the last feature map (1536 for EfficientNet-b3).
    mean, std
        Input normalisation from the model's ``pretrained_cfg`` (values on the [0, 1] scale).
    in_chans
        Input channels of the model.
    output_fmt
        Layout of ``forward_features``: ``"NCHW"`` or ``"NHWC"``.
    weights
        Where the weights came from, for provenance: ``"none"``, ``"imagenet:<hub id>"`` or
        ``"file:<path>"``.
    """

    model: nn.Module
    name: str
    num_features: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_chans: int
    output_fmt: str
    weights: str


def list_backbones(pattern: str = "", *, pretrained: bool = False) -> list[str]:
    """timm model names matching a wildcard ``pattern`` (``"efficientnet*"``); see ``timm.list_models``."""
    return timm.list_models(pattern, pretrained=pretrained)


def create_backbone(name: str = DEFAULT_BACKBONE, *, pretrained: str | os.PathLike[str] = "none",
                    in_chans: int = 3) -> Backbone:
    """Build a timm backbone as a feature extractor, with its normalisation and width.

    Parameters
    ----------
    name
        A timm model name, optionally with a pretrained tag (``efficientnet_b3.ra2_in1k``).
    pretrained
        ``"none"``, ``"imagenet"`` or the path of a local weights file (module docstring).
    in_chans
        Input channels of the model (3: gray crops are repeated by :class:`InputAdapter`).

    Returns
    -------
    Backbone
        The model (``num_classes=0, global_pool=""``) and its ``num_features``, ``mean``,
        ``std`` and weights source.

    Raises
    ------
    InputError
        Unknown name (close matches listed), unknown tag, bad ``in_chans``, or ``imagenet``
        for a model timm has no weights for.
    DataError
        The weights file is missing, unreadable or of another architecture.
    StudyError
        ``imagenet`` weights cannot be fetched (offline): the hint names the file to download.
    """
    _check_name(name)
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise InputError(f"in_chans must be a positive integer, got {in_chans!r}", field="in_chans")
    if pretrained == "none":
        model, weights = _build(name, in_chans), "none"
    elif pretrained == "imagenet":
        model = _build_imagenet(name, in_chans)
        weights = f"imagenet:{model.pretrained_cfg.get('hf_hub_id') or model.pretrained_cfg.get('url')}"
    elif isinstance(pretrained, (str, os.PathLike)):
        path = Path(pretrained).expanduser()
        model, weights = _build_from_file(name, path, in_chans), f"file:{path}"
    else:
        raise InputError(f"pretrained must be 'none', 'imagenet' or a file path, got {pretrained!r}",
                         field="pretrained")
    cfg = model.pretrained_cfg
    return Backbone(model=model, name=name, num_features=int(model.num_features),
                    mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), in_chans=in_chans,
                    output_fmt=str(getattr(model, "output_fmt", "NCHW")), weights=weights)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weights file the way timm's ``pretrained_cfg_overlay=dict(file=...)`` does.

    Parameters
    ----------
    path
        A ``.safetensors`` file, or a ``torch.save`` file holding a state dict or a
        checkpoint with the state dict under ``state_dict_ema``/``model_ema`` (preferred, as
        timm does), ``state_dict`` or ``model``. ``module.`` and ``_orig_mod.`` key prefixes
        (DistributedDataParallel, ``torch.compile``) are removed. Loaded with
        ``weights_only=True``: no code in the file runs.

    Returns
    -------
    dict
        Parameter and buffer names → tensors, on the CPU.

    Raises
    ------
    DataError
        The file is missing, unreadable or holds no state dict.
    """
    path = _existing_file(Path(path).expanduser())
    try:
        state = timm.models.load_state_dict(str(path), use_ema=True, device="cpu")
    except Exception as err:  # unpickling, zip or safetensors header errors: all mean "unreadable"
        raise DataError(f"cannot read the weights file ({type(err).__name__}: {_first_line(err)})",
                        file=str(path), field="pretrained",
                        hint="expected a torch state dict (.pth/.pt/.bin), a checkpoint holding one "
                             "under 'state_dict' or 'model', or a .safetensors file") from err
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)][:_SHOW]
    if not state or bad:
        raise DataError(f"the file holds no state dict of tensors (non-tensor entries: {bad})",
                        file=str(path), field="pretrained",
                        hint="save weights with torch.save(model.state_dict(), path)")
    return state


class Encoder(nn.Module):
    """One modality's encoder: :class:`InputAdapter` then the backbone.

    Parameters
    ----------
    backbone
        From :func:`create_backbone`.

    Notes
    -----
    ``forward(x)`` takes gray crops N × 1 × H × W (``uint8`` or floats in [0, 1]) and returns
    the backbone's last feature map N × C × h × w (h = H/32 for EfficientNets), always
    channels-first; this is the map Grad-CAM weights.
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.adapter = InputAdapter(backbone.mean, backbone.std, in_chans=backbone.in_chans)
        self.backbone = backbone.model
        self.name = backbone.name
        self.num_features = backbone.num_features
        self.output_fmt = backbone.output_fmt
        self.weights = backbone.weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map, N × C × h × w."""
        features = self.backbone.forward_features(self.adapter(x))
        if features.ndim != 4:
            raise InputError(f"backbone {self.name!r} returns features of shape {tuple(features.shape)}, "
                             "not a feature map N x C x h x w", field="backbone",
                             hint="use a convolutional timm backbone (efficientnet_*, resnet*, convnext*)")
        return features.permute(0, 3, 1, 2) if self.output_fmt == "NHWC" else features


def create_encoder(name: str = DEFAULT_BACKBONE, *, pretrained: str | os.PathLike[str] = "none",
                   in_chans: int = 3) -> Encoder:
    """:class:`Encoder` around :func:`create_backbone` (same parameters)."""
    return Encoder(create_backbone(name, pretrained=pretrained, in_chans=in_chans))


def _check_name(name: str) -> None:
    """Unknown architecture → close matches; unknown tag → the known tags."""
    if not isinstance(name, str) or not timm.is_model(name):
        arch = str(name).split(".")[0]
        near = close_matches(arch, timm.list_models())
        hint = (f"did you mean {', '.join(near)}?" if near else
                "timm.list_models('*pattern*') lists the names")
        raise InputError(f"unknown backbone {name!r}: not a timm model", field="backbone", hint=hint)
    if "." in name:
        arch = name.split(".")[0]
        tags = timm.list_pretrained(f"{arch}.*")
        if name not in tags:
            raise InputError(f"unknown pretrained tag in backbone {name!r}", field="backbone",
                             hint=f"known: {', '.join(tags) or 'none'}; or give the bare name {arch!r}")


def _build(name: str, in_chans: int, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` as a feature extractor (no classifier, no pooling)."""
    return timm.create_model(name, num_classes=0, global_pool="", in_chans=in_chans, **kwargs)


def _build_imagenet(name: str, in_chans: int) -> nn.Module:
    """Default pretrained weights from the hub or its cache; offline → StudyError with a hint."""
    if not timm.models.is_model_pretrained(name.split(".")[0]):
        raise InputError(f"timm has no ImageNet weights for backbone {name!r}", field="pretrained",
                         hint="use pretrained: none, or the path of a weights file for this model")
    try:
        return _build(name, in_chans, pretrained=True)
    except Exception as err:  # hub client and HTTP libraries raise many types; all mean "not fetched"
        raise StudyError(f"could not fetch the ImageNet weights of backbone {name!r} "
                         f"({type(err).__name__}: {_first_line(err)})",
                         field="pretrained", hint=_download_hint(name)) from err


def _download_hint(name: str) -> str:
    """Which file to download and where to point the arm spec."""
    cfg = timm.models.get_pretrained_cfg(name)
    hub_id = getattr(cfg, "hf_hub_id", None)
    where = _HUB_URL.format(hub_id=hub_id) if hub_id else getattr(cfg, "url", None) or "the timm hub"
    return (f"without network, download {where} on a machine that has it, copy the file here and "
            "set the arm's `pretrained:` to its path (pretrained: path/to/model.safetensors)")


def _build_from_file(name: str, path: Path, in_chans: int) -> nn.Module:
    """Load a local weights file through timm, then verify every key and shape."""
    state = read_state_dict(path)
    try:
        model, error = _build(name, in_chans, pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path))), None
    except RuntimeError as err:  # timm's load_state_dict: size mismatches
        model, error = None, err
    reference = model if model is not None else _build(name, in_chans)
    problems = _mismatches(reference, state)
    if problems or error is not None:
        detail = "; ".join(problems) or _first_line(error)
        raise DataError(f"the weights do not fit backbone {name!r}: {detail}", file=str(path),
                        field="pretrained",
                        hint="the file holds another architecture's weights: set the arm's backbone "
                             "to the model the file was saved from, or point pretrained at weights "
                             f"for {name!r}") from error
    return model


def _mismatches(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Missing keys, unexpected keys and shape mismatches of ``state`` against ``model``.

    The pretrained classifier (dropped by ``num_classes=0``) and BatchNorm's
    ``num_batches_tracked`` counters are ignored; the stem convolution may differ in its
    input channels (timm adapts it to ``in_chans``).
    """
    cfg = model.pretrained_cfg
    classifiers = cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    ignored = {f"{c}.{p}" for c in classifiers for p in ("weight", "bias")}
    first_conv = cfg.get("first_conv") or ()
    stems = {f"{c}.weight" for c in ((first_conv,) if isinstance(first_conv, str) else first_conv)}
    expected = {k: v.shape for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    got = {k: v.shape for k, v in state.items()
           if k not in ignored and not k.endswith("num_batches_tracked")}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f"{k} {tuple(got[k])} in the file vs {tuple(expected[k])} in the model"
              for k in expected if k in got and not _same_shape(got[k], expected[k], k in stems)]
    out = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("shape mismatches", shapes)):
        if items:
            more = f", … ({len(items)} in all)" if len(items) > _SHOW else ""
            out.append(f"{label}: {', '.join(items[:_SHOW])}{more}")
    return out


def _same_shape(got: torch.Size, expected: torch.Size, is_stem: bool) -> bool:
    """Equal shapes; a stem convolution may differ in its input-channel dimension only."""
    if is_stem and len(got) == len(expected) == 4:
        return got[0] == expected[0] and got[2:] == expected[2:]
    return got == expected


def _existing_file(path: Path) -> Path:
    """``path`` if it is a file, else a DataError with the fix."""
    if not path.is_file():
        what = "is a directory, not a weights file" if path.is_dir() else "weights file not found"
        raise DataError(what, file=str(path), field="pretrained",
                        hint="fix the arm's `pretrained:` path, or use pretrained: none or imagenet")
    return path


def _first_line(err: BaseException | None) -> str:
    """The first line of an exception's message (timm's are multi-line)."""
    text = str(err).strip() if err is not None else ""
    return text.splitlines()[0] if text else ""
