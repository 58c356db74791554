"""Single-modality network: the B-mode-Net and CEUS-Net arms of the reference study.

MUF-Net (paper.md, Model) compares against the same EfficientNet-b3 trained on one modality:
backbone → global average pooling → linear head (Tan & Le 2019, ICML, arXiv:1905.11946).
``forward_features`` returns the last feature map (N × C × h × w) and ``forward_head`` pools
and classifies, so the train layer computes Grad-CAM (Selvaraju et al. 2017, ICCV,
doi:10.1109/ICCV.2017.74) from the map between the two.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from studykit.vocab import ARM_KINDS

from ._checks import check_fraction, check_num_classes
from .backbones import DEFAULT_BACKBONE, create_encoder
from .losses import SingleLossParts
from .registry import register_model

__all__ = ["SingleModalityNet"]


@register_model("single", criterion=SingleLossParts, modalities=ARM_KINDS["single"])
class SingleModalityNet(nn.Module):
    """Backbone → global average pooling → dropout → linear head.

    Parameters
    ----------
    backbone_name
        timm model name (``efficientnet_b3``; ``test_efficientnet`` in tests).
    pretrained
        ``"none"``, ``"imagenet"`` or a local weights file (:func:`create_backbone`).
    num_classes
        Output classes (2: benign, malignant).
    drop_rate
        Dropout probability on the pooled vector, in [0, 1).
    in_chans
        Backbone input channels (gray crops are repeated to 3 by the encoder's adapter).

    Notes
    -----
    Input: gray crops N × 1 × H × W, ``uint8`` or floats in [0, 1]; normalisation happens
    inside (:class:`InputAdapter`). Output of ``forward``: logits N × ``num_classes``.
    """

    def __init__(self, backbone_name: str = DEFAULT_BACKBONE, *,
                 pretrained: str | os.PathLike[str] = "none", num_classes: int = 2,
                 drop_rate: float = 0.0, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.encoder = create_encoder(backbone_name, pretrained=pretrained, in_chans=in_chans)
        self.num_features = self.encoder.num_features
        self.head_drop = nn.Dropout(check_fraction(drop_rate, field="drop_rate"))
        self.head = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map N × C × h × w of gray crops N × 1 × H × W (the Grad-CAM map)."""
        return self.encoder(x)

    def forward_head(self, features: torch.Tensor, *, pre_logits: bool = False) -> torch.Tensor:
        """Pool a feature map N × C × h × w; return logits N × K, or the N × C vector if ``pre_logits``."""
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.head(self.head_drop(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits N × ``num_classes`` of gray crops N × 1 × H × W."""
        return self.forward_head(self.forward_features(x))

