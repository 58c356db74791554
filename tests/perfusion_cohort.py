"""The tiny synthetic cohort made ready for perfusion: shared by the cohort and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from studykit.cohort.synth import synthesize
from studykit.cohort.synth.options import VIDEO_START_S


def perfusion_cohort(out: Path) -> Path:
    """The tiny cohort (12 patients, 8 frames of 64 × 80) at ``out``, as the generator writes it:
    the manifest's ``injection_s`` = 4 s (its videos start 4 s before the injection) and a
    ``cortex_box`` on every annotated frame."""
    synthesize(out, tiny=True, seed=0)
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert set(manifest.loc[manifest["excluded_reason"] == "", "injection_s"]) == {f"{-VIDEO_START_S:g}"}
    return out
