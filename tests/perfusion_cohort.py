"""The tiny synthetic cohort made ready for perfusion: shared by the cohort and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from studykit.cohort.synth import synthesize
from studykit.cohort.synth.options import VIDEO_START_S


def perfusion_cohort(out: Path) -> Path:
    """The tiny cohort (12 patients, 8 frames of 64 × 80) at ``out`` with the manifest's
    ``injection_s`` = 4 s (the generator's videos start 4 s before the injection)."""
    synthesize(out, tiny=True, seed=0)
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["injection_s"] = f"{-VIDEO_START_S:g}"
    manifest.to_csv(out / "manifest.csv", index=False)
    return out
