"""Fixtures of the study tests: a tiny protocol (synthetic 12-patient cohort, 2 folds, 32-px
crops, tiny arms) written into a temporary folder, and one finished run of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(autouse=True)
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


def tiny_protocol(**changes) -> dict:
    """The tiny protocol as a dict; ``changes`` replace top-level sections."""
    arm = {"device": "cpu", "input_size": 32, "batch_size": 8, "epochs": 2}
    protocol = {
        "schema_version": 1,
        "name": "tiny_study",
        "title": "Tiny study",
        "cohort": {"synthetic": {"tiny": True, "seed": 0}},
        "columns": {"covariates": {"age": "continuous", "sex": "categorical"}},
        "design": {"folds": 2, "val_fraction": 0.25, "seed": 0, "crop_size": 32, "stratify_by": []},
        "arms": [
            {
                "model": str(MODELS / "tiny" / "bmode_net.yaml"),
                "name": "bmode_net",
                "overrides": {**arm, "gradcam_images": 0},
            },
            {
                "model": str(MODELS / "tiny" / "muf_net.yaml"),
                "name": "muf_net",
                "overrides": {**arm, "gradcam_images": 2},
            },
            {"readers": "{cohort}/reads.csv", "groups": ["junior", "senior"]},
        ],
        "analyses": {"reference": "muf_net", "n_boot": 200, "seed": 0},
        "outputs": {"decimals": 3},
    }
    protocol.update(changes)
    return protocol


def write_protocol(folder: Path, data: dict, name: str = "study.yaml") -> Path:
    """Write ``data`` as YAML into ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """(protocol path, results root) of one uninterrupted run of the tiny protocol."""
    from studykit.study import run

    folder = tmp_path_factory.mktemp("finished")
    protocol = write_protocol(folder, tiny_protocol())
    run(protocol, results=folder / "results", device="cpu")
    return protocol, folder / "results"


def copy_cohort(results: Path, target: Path) -> None:
    """Reuse a run's synthetic cohort and store in another results root (saves the synthesis)."""
    shutil.copytree(
        results / "tiny_study" / "cohort",
        target / "tiny_study" / "cohort",
        ignore=shutil.ignore_patterns("splits.json"),
    )
