"""Fixtures for the nets tests: one CPU thread, tiny timm models, saved weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

TINY = "test_efficientnet"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The test machine is shared: one intra-op thread while these tests run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_source() -> torch.nn.Module:
    """A seeded test_efficientnet with an ImageNet-sized classifier (as a hub file has)."""
    torch.manual_seed(1)
    return timm.create_model(TINY, num_classes=1000)


@pytest.fixture(scope="session")
def tiny_weights(tiny_source, tmp_path_factory) -> Path:
    """``torch.save(state_dict)`` of :func:`tiny_source`: a plain timm-format weights file."""
    path = tmp_path_factory.mktemp("weights") / "test_efficientnet.pth"
    torch.save(tiny_source.state_dict(), path)
    return path
