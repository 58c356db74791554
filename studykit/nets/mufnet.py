"""MUF-Net: multimodal ultrasound fusion of B-mode and CEUS by adaptive weighting.

The reference study (paper.md, Model): two independent EfficientNet-b3 backbones, one per
modality (input 300 × 300 × 3, last map 10 × 10 × 1536), global average pooling to a 1536-d
vector each; one attention block with weights shared between the modalities scores each
vector, a softmax over the two scores gives w_B, w_C and the fused vector
w_B·f_B + w_C·f_C feeds a fully connected classifier. Two auxiliary classifiers, one on f_B
and one on f_C, add their own losses in training (:class:`MUFNetLoss`).

``fusion`` selects the ablations of :mod:`studykit.nets.fusion` (``attention`` | ``mean`` |
``concat``). ``forward_features`` returns both last maps and ``forward_head`` everything
after them, so the train layer computes Grad-CAM per branch from the fused malignant score.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from studykit.vocab import ARM_KINDS

from ._checks import check_fraction, check_num_classes
from .backbones import DEFAULT_BACKBONE, create_encoder
from .fusion import DEFAULT_ATTENTION_HIDDEN, create_fusion
from .losses import MUFNetLossParts
from .outputs import MUFNetOutput
from .registry import register_model

__all__ = ["MUFNet", "MUFNetOutput"]


@register_model("mufnet", criterion=MUFNetLossParts, modalities=ARM_KINDS["mufnet"], options=("fusion",))
class MUFNet(nn.Module):
    """Two backbones, shared-attention fusion, a fused head and two auxiliary heads.

    Parameters
    ----------
    backbone_name
        timm model name of both backbones (``efficientnet_b3``).
    pretrained
        ``"none"``, ``"imagenet"`` or a local weights file, for both backbones
        (:func:`create_backbone`); each backbone gets its own copy.
    num_classes
        Output classes (2: benign, malignant).
    fusion
        ``"attention"`` (reference), ``"mean"`` or ``"concat"``.
    attention_hidden
        Hidden width of the shared attention scorer (``attention`` only).
    drop_rate
        Dropout probability on the pooled and fused vectors before the heads, in [0, 1).
    in_chans
        Backbone input channels (gray crops are repeated to 3 by each encoder's adapter).

    Notes
    -----
    Inputs: gray crops of one frame, ``bmode`` and ``ceus``, each N × 1 × H × W, ``uint8`` or
    floats in [0, 1] (H and W may differ between the modalities).
    """

    def __init__(self, backbone_name: str = DEFAULT_BACKBONE, *,
                 pretrained: str | os.PathLike[str] = "none", num_classes: int = 2,
                 fusion: str = "attention", attention_hidden: int = DEFAULT_ATTENTION_HIDDEN,
                 drop_rate: float = 0.0, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        drop_rate = check_fraction(drop_rate, field="drop_rate")
        self.bmode_encoder = create_encoder(backbone_name, pretrained=pretrained, in_chans=in_chans)
        self.ceus_encoder = create_encoder(backbone_name, pretrained=pretrained, in_chans=in_chans)
        self.num_features = width = self.bmode_encoder.num_features
        self.fusion_kind = fusion
        self.fusion = create_fusion(fusion, width, hidden=attention_hidden)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.fusion.out_features, num_classes)
        self.bmode_head = nn.Linear(width, num_classes)
        self.ceus_head = nn.Linear(width, num_classes)

    def forward_features(self, bmode: torch.Tensor, ceus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Last feature maps (B-mode, CEUS), each N × C × h × w (the Grad-CAM maps)."""
        return self.bmode_encoder(bmode), self.ceus_encoder(ceus)

    def forward_head(self, bmode_map: torch.Tensor, ceus_map: torch.Tensor) -> MUFNetOutput:
        """Pool both maps, fuse, classify: the fused logits, the auxiliary logits, the weights."""
        f_bmode, f_ceus = bmode_map.mean(dim=(2, 3)), ceus_map.mean(dim=(2, 3))
        fused, w_bmode, w_ceus = self.fusion(f_bmode, f_ceus)
        return MUFNetOutput(
            fused_logits=self.head(self.head_drop(fused)),
            bmode_logits=self.bmode_head(self.head_drop(f_bmode)),
            ceus_logits=self.ceus_head(self.head_drop(f_ceus)),
            w_bmode=w_bmode,
            w_ceus=w_ceus,
        )

    def forward(self, bmode: torch.Tensor, ceus: torch.Tensor) -> MUFNetOutput:
        """:class:`MUFNetOutput` of a batch of B-mode and CEUS crops (N × 1 × H × W each)."""
        return self.forward_head(*self.forward_features(bmode, ceus))
