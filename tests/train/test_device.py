"""configure_runtime(): torch's thread count and deterministic mode, and seed_everything keeping to it."""

from __future__ import annotations

import os

import pytest
import torch

from studykit.errors import InputError
from studykit.train import configure_runtime
from studykit.train.device import CUBLAS_WORKSPACE, seed_everything


@pytest.fixture
def restore_runtime():
    """Put torch's threads, deterministic mode, the runtime policy and the cuBLAS variable back."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    cublas = os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    yield
    configure_runtime(threads, True)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    if cublas is not None:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas


def test_configure_runtime_sets_threads_and_deterministic_kernels(restore_runtime):
    other = 1 if torch.get_num_threads() != 1 else 2
    got = configure_runtime(other, True)
    assert torch.get_num_threads() == other and torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE == ":4096:8"
    assert got == {"threads": other, "interop_threads": torch.get_num_interop_threads(),
                   "deterministic": True, "cublas_workspace_config": ":4096:8"}


def test_a_cublas_setting_of_the_user_is_kept(restore_runtime, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    assert configure_runtime(1, True)["cublas_workspace_config"] == ":16:8"


def test_non_deterministic_runtime_is_kept_by_seed_everything(restore_runtime):
    got = configure_runtime(1, False)
    assert got["deterministic"] is False and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    seed_everything(0)  # what fit() calls: must not switch deterministic kernels back on
    assert not torch.are_deterministic_algorithms_enabled()
    configure_runtime(1, True)
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("threads", [0, -2, 1.5, True])
def test_threads_must_be_a_positive_integer(threads):
    before = torch.get_num_threads()
    with pytest.raises(InputError, match=r"threads must be an integer >= 1, got"):
        configure_runtime(threads, True)
    assert torch.get_num_threads() == before
