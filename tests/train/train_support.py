"""Fixtures of the train tests: a tiny synthetic cohort (cohort.synth → ingest) and an easy,
hand-made pair store whose class is a bright vs a dark square lesion at a known box."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch_threads import _two_threads  # noqa: F401  (autouse, re-exported by conftest)

from studykit.cohort import Fold, PairStore, ingest, make_splits
from studykit.cohort.store import INDEX_COLUMNS, STORE_FORMAT
from studykit.cohort.synth import synthesize
from studykit.protocol.arms import ArmSpec, load_arm

MODELS = Path(__file__).resolve().parents[2] / "models"
EASY_SIZE, EASY_BOX = 128, 40  # crop side and lesion square side, pixels




@dataclass(frozen=True)
class Cohort:
    store: PairStore
    folds: tuple[Fold, ...]
    boxes: np.ndarray | None = None  # N × 4 (y0, x0, y1, x1) lesion boxes of the easy store


def tiny_arm(name: str = "muf_net", **overrides) -> ArmSpec:
    """A models/tiny arm, CPU, few images per epoch; ``overrides`` replace top-level keys."""
    return load_arm(MODELS / "tiny" / f"{name}.yaml", **{"device": "cpu", "gradcam_images": 2, **overrides})


def patients_of(store: PairStore) -> pd.DataFrame:
    return store.index.groupby("patient_id", as_index=False)["label"].first()


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Cohort:
    """12 synthetic patients, 48 pairs of 64 × 64 (cohort.synth tiny preset), 3 folds."""
    root = tmp_path_factory.mktemp("tiny-cohort")
    synthesize(root / "raw", tiny=True, seed=0)
    store = ingest(root / "raw", root / "store", size=64)
    return Cohort(store, make_splits(patients_of(store), n_folds=3, seed=0).folds)


def write_store(folder: Path, images: np.ndarray, index: pd.DataFrame, key: str) -> PairStore:
    """A pair store written by hand: ``images`` N × 2 × H × W uint8 and its index."""
    folder.mkdir(parents=True)
    images.tofile(folder / "pairs.u8")
    index.loc[:, list(INDEX_COLUMNS)].to_csv(folder / "index.csv", index=False)
    meta = {"format": STORE_FORMAT, "key": key, "shape": list(images.shape)}
    (folder / "store.json").write_text(json.dumps(meta))
    return PairStore(folder)


def easy_images(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Speckled gray crops with a square lesion, bright (label 1) or dark (0), at a random place.

    Both panels of a pair show the lesion at the same box (one frame), CEUS with more
    contrast. Returns the images ``N × 2 × S × S`` uint8 and the boxes ``N × 4``.
    """
    n, s, b = len(labels), EASY_SIZE, EASY_BOX
    base = rng.normal(0.45, 0.08, size=(n, 2, s, s))
    corners = rng.integers(4, s - b - 4, size=(n, 2))
    level = np.where(labels == 1, 0.85, 0.15)
    for i, (y, x) in enumerate(corners):
        base[i, 0, y:y + b, x:x + b] = rng.normal(level[i], 0.06, size=(b, b))
        base[i, 1, y:y + b, x:x + b] = rng.normal(0.5 + 1.2 * (level[i] - 0.5), 0.06, size=(b, b))
    boxes = np.column_stack([corners, corners + b])
    return (base.clip(0, 1) * 255).round().astype(np.uint8), boxes


@pytest.fixture(scope="session")
def easy_cohort(tmp_path_factory) -> Cohort:
    """32 patients × 4 pairs of 128 × 128: a bright (malignant) or dark (benign) square lesion."""
    rng = np.random.default_rng(7)
    patient_labels = np.array([0, 1] * 16)
    labels = np.repeat(patient_labels, 4)
    images, boxes = easy_images(labels, rng)
    pids = np.repeat([f"P{i:03d}" for i in range(32)], 4)
    index = pd.DataFrame({"image_id": [f"{p}-{k}" for p, k in zip(pids, np.tile(range(4), 32))],
                          "patient_id": pids, "frame": np.tile(range(4), 32), "phase": "cortical",
                          "label": labels, "subtype": "x", "center": "c", "scanner": "s"})
    store = write_store(tmp_path_factory.mktemp("easy") / "store", images, index, key="easy0000")
    return Cohort(store, make_splits(patients_of(store), n_folds=4, seed=0).folds, boxes)


def easy_arm(name: str = "muf_net", **overrides) -> ArmSpec:
    """A tiny arm at the easy store's size, no augmentation, selected by AUC."""
    settings = {"input_size": EASY_SIZE, "epochs": 6, "batch_size": 16, "drop_rate": 0.0,
                "augment": {k: 0 for k in (
        "rotation_deg", "scale", "translate", "hflip_p", "vflip_p", "elastic_px", "gain", "contrast", "gamma",
        "speckle", "noise")}, "selection": {"metric": "auc"}, "schedule": {"kind": "constant"},
        "optimizer": {"kind": "sgd", "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-4}}
    return tiny_arm(name, **{**settings, **overrides})


@pytest.fixture(scope="session")
def easy_fit(easy_cohort, tmp_path_factory):
    """MUF-Net trained on fold 0 of the easy store (shared by the learning and Grad-CAM tests)."""
    from studykit.train import fit
    arm = easy_arm()
    torch.set_num_threads(2)
    result = fit(arm, easy_cohort.store, easy_cohort.folds[0], tmp_path_factory.mktemp("easy-fit"))
    return arm, result
