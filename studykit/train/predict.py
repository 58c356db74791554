"""Test-set predictions of one (arm, fold) unit: ``predictions.csv`` rows.

Probabilities come from the fused head (MUF-Net) or the single head — the auxiliary heads
are training-only — as the softmax probability of class 1 (malignant). One row per test
image, with the columns of DESIGN.md's ``predictions.csv``:

    arm, fold, patient_id, image_id, label, prob_malignant, w_bmode, w_ceus, threshold

``w_bmode, w_ceus`` are MUF-Net's fusion weights (they sum to 1 per image; NaN for single
arms and for ``fusion: concat``). ``threshold`` is the probability at or above which an
image or a patient is called malignant: 0.5, fixed. Choosing it on the inner validation
split (e.g. Youden's J) belongs to the analysis and is not done here, so the test fold is
never used to pick it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from studykit.cohort import Fold, PairStore
from studykit.errors import DataError
from studykit.nets import MUFNetOutput, create_model, model_kind
from studykit.protocol.arms import ArmSpec
from studykit.vocab import PREDICTION_COLUMNS, PREDICTIONS

from .checkpoint import load_checkpoint, write_csv
from .data import arm_channels, load_batch, store_rows
from .device import autocast, resolve_device
from .gradcam import save_gradcam

__all__ = ["DEFAULT_THRESHOLD", "PREDICTION_COLUMNS", "build_model", "infer", "predict"]

DEFAULT_THRESHOLD = 0.5

def build_model(arm: ArmSpec, *, pretrained: str | None = None) -> nn.Module:
    """The arm's network (``studykit.nets.create_model``), weights from the spec unless overridden."""
    weights = arm.pretrained if pretrained is None else pretrained
    extra = {name: getattr(arm, name) for name in model_kind(arm.kind).options}
    return create_model(arm.kind, backbone_name=arm.backbone, pretrained=weights, drop_rate=arm.drop_rate,
                        **extra)


def forward(model: nn.Module, x: torch.Tensor) -> MUFNetOutput | torch.Tensor:
    """Run the net on a batch of the arm's channels (``N × 2`` pairs or ``N × 1`` crops)."""
    return model(x[:, 0:1], x[:, 1:2]) if x.shape[1] == 2 else model(x)


@torch.no_grad()
def infer(model: nn.Module, arm: ArmSpec, store: PairStore, rows: np.ndarray,
          device: torch.device) -> dict[str, np.ndarray]:
    """Malignancy probabilities and fusion weights of store ``rows``, in eval mode.

    Returns
    -------
    dict
        ``prob_malignant, w_bmode, w_ceus``: float64 arrays of shape ``(len(rows),)``
        (NaN weights for a single arm).
    """
    was_training = model.training
    model.eval()
    out = {k: np.full(len(rows), np.nan) for k in ("prob_malignant", "w_bmode", "w_ceus")}
    for start in range(0, len(rows), arm.batch_size):
        part = slice(start, start + arm.batch_size)
        x = load_batch(store, rows[part], device, channels=arm_channels(arm), size=arm.input_size)
        with autocast(device, arm.amp):
            result = forward(model, x)
        logits = result.fused_logits if isinstance(result, MUFNetOutput) else result
        out["prob_malignant"][part] = torch.softmax(logits.float(), dim=1)[:, 1].cpu().double().numpy()
        if isinstance(result, MUFNetOutput):
            out["w_bmode"][part] = result.w_bmode.float().cpu().numpy()
            out["w_ceus"][part] = result.w_ceus.float().cpu().numpy()
    model.train(was_training)
    return out


def predict(arm: ArmSpec, store: PairStore, fold: Fold, checkpoint_path: str | Path, *,
            device: str | torch.device | None = None, out_dir: str | Path | None = None,
            patients: Sequence[str] | None = None) -> pd.DataFrame:
    """Predict every test image of ``fold`` (or of ``patients``) with the weights of ``checkpoint_path``.

    Parameters
    ----------
    arm
        The arm spec the checkpoint was trained with.
    store
        The pair store.
    fold
        The fold; its ``test`` patients are predicted unless ``patients`` is given.
    checkpoint_path
        ``checkpoint-best.pt`` (or ``-last``) written by :func:`studykit.train.fit`.
    device
        Overrides ``arm.device``.
    out_dir
        When given (the unit folder), ``predictions.csv`` and ``gradcam.npz`` (Grad-CAM of
        ``arm.gradcam_images`` test images, :func:`studykit.train.gradcam.save_gradcam`)
        are written there, atomically.
    patients
        Predict these patients instead of the test fold (e.g. ``fold.val``, to choose a
        threshold on the inner validation split); the ``fold`` column still names ``fold``.

    Returns
    -------
    DataFrame
        One row per test image, columns :data:`PREDICTION_COLUMNS`, in store order.
    """
    dev = resolve_device(device if device is not None else arm.device)
    model = _load_model(arm, Path(checkpoint_path), dev)
    rows = (store_rows(store, fold.test, split="test") if patients is None
            else store_rows(store, patients, split="prediction"))
    result = infer(model, arm, store, rows, dev)
    index = store.index.iloc[rows]
    frame = pd.DataFrame({"arm": arm.name, "fold": int(fold.index),
                          "patient_id": index["patient_id"].to_numpy(),
                          "image_id": index["image_id"].to_numpy(),
                          "label": index["label"].to_numpy().astype(int), **result,
                          "threshold": DEFAULT_THRESHOLD})
    frame = frame.loc[:, list(PREDICTION_COLUMNS)]
    if out_dir is not None:
        write_csv(frame, Path(out_dir) / PREDICTIONS)
        save_gradcam(model, arm, store, frame, rows, dev, Path(out_dir))
    return frame


def _load_model(arm: ArmSpec, path: Path, device: torch.device) -> nn.Module:
    if not path.is_file():
        raise DataError("checkpoint not found.", file=str(path),
                        hint="train the unit first (studykit.train.fit) or give checkpoint-best.pt's path.")
    state = load_checkpoint(path)
    model = build_model(arm, pretrained="none")
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as error:
        raise DataError(f"does not hold weights of arm {arm.name!r} ({str(error)[:200]}).", file=str(path),
                        hint="predict with the arm spec the checkpoint was trained with.") from None
    return model.to(device).eval()
