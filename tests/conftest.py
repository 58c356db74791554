"""Shared test setup: make ``tests/`` importable (for ``rbridge``) and fix hypothesis."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("studykit", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.load_profile("studykit")
