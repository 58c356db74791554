"""Grad-CAM of each branch (Selvaraju et al. 2017) from the fused malignant score.

For a branch's last convolutional feature map ``A`` (``N × K × h × w``) and the score
``y`` — the **logit of class 1 (malignant) of the fused head** (pre-softmax, as the paper
recommends, so the map is not flattened by a saturated softmax) — the class-activation
map is

.. math:: L = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k A^k\\Big), \\qquad
          \\alpha_k = \\frac{1}{hw} \\sum_{i,j} \\frac{\\partial y}{\\partial A^k_{ij}},

upsampled bilinearly to the input size and divided by its maximum per image (so it lies in
[0, 1]; an all-zero map stays zero). For MUF-Net both branches' maps are taken from one
backward pass of the same fused score, so they show what each modality contributes to the
fused decision (the reference study's Figure); a single arm has one branch.

References
----------
Selvaraju RR, Cogswell M, Das A, Vedantam R, Parikh D, Batra D. Grad-CAM: visual
explanations from deep networks via gradient-based localization. ICCV 2017.
doi:10.1109/ICCV.2017.74.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studykit.cohort import PairStore
from studykit.nets import MUFNetOutput
from studykit.protocol.arms import ArmSpec
from studykit.vocab import GRADCAM, atomic_write

from .data import arm_channels, arm_modalities, load_batch

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["gradcam", "save_gradcam", "select_images"]


def gradcam(model: nn.Module, *inputs: torch.Tensor, target_class: int = 1) -> tuple[np.ndarray, ...]:
    """Grad-CAM maps of every branch for the fused score of ``target_class``.

    Parameters
    ----------
    model
        A ``SingleModalityNet`` (one input) or ``MUFNet`` (``bmode, ceus``): any module with
        ``forward_features(*inputs)`` and ``forward_head(*maps)``.
    *inputs
        Crops ``N × 1 × H × W`` (uint8 or float in [0, 1]) on the model's device.
    target_class
        Class whose logit is explained (1 = malignant).

    Returns
    -------
    tuple of np.ndarray
        One float32 ``N × H × W`` map in [0, 1] per branch: ``(cam_bmode, cam_ceus)`` for
        MUF-Net, ``(cam,)`` for a single arm.
    """
    was_training = model.training
    model.eval()
    with torch.enable_grad():
        maps = model.forward_features(*inputs)
        maps = maps if isinstance(maps, tuple) else (maps,)
        maps = tuple(m.detach().float().requires_grad_(True) for m in maps)
        out = model.forward_head(*maps)
        logits = out.fused_logits if isinstance(out, MUFNetOutput) else out
        grads = torch.autograd.grad(logits[:, target_class].sum(), maps)
    model.train(was_training)
    return tuple(_cam(a.detach(), g, x.shape[-2:]) for a, g, x in zip(maps, grads, inputs, strict=True))


def _cam(activation: torch.Tensor, grad: torch.Tensor, size: torch.Size) -> np.ndarray:
    """ReLU of the gradient-weighted map sum, upsampled to ``size`` and max-normalised."""
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    return (cam / peak).clamp_(0.0, 1.0).cpu().numpy().astype(np.float32)


def select_images(frame: pd.DataFrame, count: int) -> np.ndarray:
    """Positions of ``count`` test images spread over the patients (deterministic).

    The first image of each patient in turn, then the second of each, …, taken at evenly
    spaced positions of that round-robin order, so every patient is shown before any
    patient is shown twice.
    """
    if count <= 0 or frame.empty:
        return np.zeros(0, dtype=np.int64)
    rank = frame.groupby("patient_id", sort=False).cumcount().to_numpy()
    order = np.lexsort((np.arange(len(frame)), rank))
    return np.sort(order[:count])


def save_gradcam(model: nn.Module, arm: ArmSpec, store: PairStore, frame: pd.DataFrame, rows: np.ndarray,
                 device: torch.device, out_dir: Path) -> Path | None:
    """Write ``gradcam.npz`` for ``arm.gradcam_images`` test images of ``frame``.

    The format is the report layer's (``studykit.report.load_gradcam``): per modality the
    input crop ``bmode`` / ``ceus`` (``M × S × S`` float32 in [0, 1]) and its map
    ``cam_bmode`` / ``cam_ceus`` (``M × S × S`` in [0, 1]); ``image_ids`` and
    ``patient_ids`` (str), ``labels`` (int, 1 = malignant) and ``probs`` (the fused
    malignant probability), each of length M. Returns its path, or None when no image is
    asked for.
    """
    chosen = select_images(frame, arm.gradcam_images)
    if chosen.size == 0:
        return None
    x = load_batch(store, rows[chosen], device, channels=arm_channels(arm), size=arm.input_size)
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x
    cams = gradcam(model, *(x[:, c:c + 1] for c in range(x.shape[1])))
    names = arm_modalities(arm)
    crops = x.cpu().numpy()
    data: dict[str, np.ndarray] = {}
    for c, (name, cam) in enumerate(zip(names, cams, strict=True)):
        data[name], data[f"cam_{name}"] = crops[:, c], cam
    data |= {"image_ids": frame["image_id"].to_numpy()[chosen].astype(str),
             "patient_ids": frame["patient_id"].to_numpy()[chosen].astype(str),
             "labels": frame["label"].to_numpy()[chosen].astype(np.int64),
             "probs": frame["prob_malignant"].to_numpy()[chosen].astype(np.float64)}
    path = out_dir / GRADCAM
    atomic_write(path, lambda tmp: _savez(tmp, data))
    return path


def _savez(path: Path, data: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:  # an open file: np.savez would append ".npz" to the temp name
        np.savez_compressed(handle, **{k: np.asarray(v) if v.dtype != object else v.astype(str)
                                       for k, v in data.items()})
