"""Grad-CAM: shapes and range, equality with a hand computation (retain_grad on the maps),
and more heat inside the lesion box than outside on a trained easy case."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from train_support import EASY_SIZE

from studykit.nets import create_model
from studykit.train import gradcam
from studykit.train.checkpoint import load_checkpoint
from studykit.train.data import store_rows
from studykit.train.gradcam import select_images
from studykit.train.predict import build_model


def hand_gradcam(model, *inputs):
    """The brief's recipe: retain_grad on the maps, backward of the fused class-1 logit."""
    maps = model.forward_features(*inputs)
    maps = maps if isinstance(maps, tuple) else (maps,)
    for m in maps:
        m.retain_grad()
    out = model.forward_head(*maps)
    logits = out.fused_logits if hasattr(out, "fused_logits") else out
    logits[:, 1].sum().backward()
    cams = []
    for m, x in zip(maps, inputs, strict=True):
        cam = torch.relu((m.grad.mean(dim=(2, 3), keepdim=True) * m).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        cams.append((cam / cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).detach().numpy())
    return cams


@pytest.mark.parametrize("kind", ["mufnet", "single"])
def test_shapes_range_and_the_hand_computation(kind):
    torch.manual_seed(0)
    model = create_model(kind, backbone_name="test_efficientnet").eval()
    inputs = tuple(torch.rand(3, 1, 64, 48) for _ in range(2 if kind == "mufnet" else 1))
    cams = gradcam(model, *inputs)
    assert len(cams) == len(inputs)
    assert all(p.grad is None for p in model.parameters())  # autograd.grad: no parameter gradients
    for cam, expected in zip(cams, hand_gradcam(model, *inputs), strict=True):
        assert cam.shape == (3, 64, 48) and cam.dtype == np.float32
        assert cam.min() >= 0 and cam.max() <= 1
        np.testing.assert_allclose(cam, expected, atol=1e-5)


def test_selected_images_cover_patients_first():
    import pandas as pd
    frame = pd.DataFrame({"patient_id": ["a", "a", "a", "b", "c", "c"]})
    assert select_images(frame, 3).tolist() == [0, 3, 4]
    assert select_images(frame, 4).tolist() == [0, 1, 3, 4]
    assert select_images(frame, 0).size == 0


def test_heat_is_higher_inside_the_lesion_box(easy_cohort, easy_fit):
    arm, result = easy_fit
    store, fold = easy_cohort.store, easy_cohort.folds[0]
    rows = store_rows(store, fold.test)
    rows = rows[store.index["label"].to_numpy()[rows] == 1]  # malignant: the bright lesion is the evidence
    model = build_model(arm, pretrained="none")
    # the last epoch's weights: on this easy case the first epoch already ranks the validation
    # patients perfectly, so AUC selection keeps an almost untrained net
    model.load_state_dict(load_checkpoint(result.last_checkpoint)["model"])
    x = torch.from_numpy(np.asarray(store.images[rows])).float() / 255
    inside_minus_outside = []
    for cam in gradcam(model, x[:, :1], x[:, 1:]):
        for c, (y0, x0, y1, x1) in zip(cam, easy_cohort.boxes[rows], strict=True):
            mask = np.zeros((EASY_SIZE, EASY_SIZE), bool)
            mask[y0:y1, x0:x1] = True
            inside_minus_outside.append(c[mask].mean() - c[~mask].mean())
    diffs = np.array(inside_minus_outside)
    assert diffs.mean() > 0.1 and (diffs > 0).mean() >= 0.8
