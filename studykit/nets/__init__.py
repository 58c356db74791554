"""Layer ``nets``: torch modules — timm backbones, MUF-Net, the sequence net, fusion, losses.

May import torch, timm and :mod:`studykit.errors` only (DESIGN.md layers). The reference
architecture is MUF-Net (paper.md, Model): two EfficientNet-b3 backbones, attention fusion
with weights shared between B-mode and CEUS, a fused and two auxiliary classifiers, trained
with a class-balanced focal loss (Cui et al. 2019, CVPR, doi:10.1109/CVPR.2019.00949).

Arm architectures come from a registry, as timm's models do::

    from studykit import nets
    model = nets.create_model("mufnet", backbone_name="efficientnet_b3", pretrained="none")
    out = model(bmode, ceus)          # MUFNetOutput(fused_logits, ..., w_bmode, w_ceus)
    seq = nets.create_model("sequence", backbone_name="efficientnet_b3")
    out = seq(bmode, ceus, times, mask)   # SequenceOutput(logits, frame_weights, w_bmode, w_ceus)
"""

from .adapters import InputAdapter
from .backbones import (
    DEFAULT_BACKBONE,
    Backbone,
    Encoder,
    create_backbone,
    create_encoder,
    list_backbones,
    read_state_dict,
)
from .fusion import AttentionFusion, ConcatFusion, FusionOutput, MeanFusion, create_fusion, list_fusions
from .losses import (
    ClassBalancedFocalLoss,
    MUFNetLoss,
    MUFNetLossOutput,
    MUFNetLossParts,
    SequenceLossParts,
    SingleLossParts,
    class_balanced_weights,
)
from .mufnet import MUFNet, MUFNetOutput
from .outputs import SequenceOutput
from .registry import ModelKind, create_model, list_models, model_kind, register_model
from .sequence import SequenceMUFNet, TimeEncoding
from .single import SingleModalityNet

__all__ = [
    "DEFAULT_BACKBONE",
    "AttentionFusion",
    "Backbone",
    "ClassBalancedFocalLoss",
    "ConcatFusion",
    "Encoder",
    "FusionOutput",
    "InputAdapter",
    "MUFNet",
    "MUFNetLoss",
    "MUFNetLossOutput",
    "MUFNetLossParts",
    "MUFNetOutput",
    "MeanFusion",
    "ModelKind",
    "SequenceLossParts",
    "SequenceMUFNet",
    "SequenceOutput",
    "SingleLossParts",
    "SingleModalityNet",
    "TimeEncoding",
    "class_balanced_weights",
    "create_backbone",
    "create_encoder",
    "create_fusion",
    "create_model",
    "list_backbones",
    "list_fusions",
    "list_models",
    "model_kind",
    "read_state_dict",
    "register_model",
]
