"""The autouse fixture of the test directories that train nets (study, train): torch at most two
intra-op threads, the CI machine's cores, restored afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)
