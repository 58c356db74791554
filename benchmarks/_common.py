"""Shared helpers for the benchmark scripts: timing and a description of the machine."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time in seconds over ``repeat`` runs (the usual timeit convention)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    """CPU model, core count and Python version, for RESULTS.md."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"
