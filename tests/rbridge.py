"""Run R from the tests: live cross-checks against pROC, psych, epiR and friends.

``run_r(code, frames)`` writes each DataFrame to a CSV file, runs ``Rscript`` with the
data frames bound in a list ``inputs`` (``inputs$name``), and returns the R list
``result`` (which ``code`` must assign) decoded from JSON at full precision.

Golden fixtures (``tests/**/golden/*.json``) store the R code, the inputs we generated
and R's outputs, so the same comparisons run where R is absent. Regenerate them with
``python tests/regen_golden.py`` on a machine with R.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

GOLDEN_DIRS = sorted(Path(__file__).parent.glob("**/golden"))

_PRELUDE = r"""
suppressPackageStartupMessages({{ library(jsonlite) }})
inputs <- list()
for (f in list.files("{dir}", pattern = "[.]csv$", full.names = TRUE)) {{
  inputs[[sub("[.]csv$", "", basename(f))]] <- read.csv(f, stringsAsFactors = FALSE)
}}
"""

_EPILOGUE = r"""
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, na = "string"), "{dir}/result.json")
"""


@functools.cache
def r_has(*packages: str) -> bool:
    """True when ``Rscript`` exists and can load every package named (and jsonlite)."""
    if shutil.which("Rscript") is None:
        return False
    libs = "; ".join(f"library({p})" for p in ("jsonlite", *packages))
    probe = subprocess.run(["Rscript", "-e", f"suppressPackageStartupMessages({{{libs}}})"],
                           capture_output=True, text=True, check=False)
    return probe.returncode == 0


def require_r(*packages: str) -> None:
    """Skip the calling test, with the reason, when R or one of ``packages`` is missing."""
    if not r_has(*packages):
        pytest.skip(f"Rscript with {', '.join(packages)} and jsonlite is not installed "
                    "(CI installs it; the golden-fixture tests cover this without R)")


def run_r(code: str, frames: dict[str, pd.DataFrame] | None = None, timeout: float = 120) -> Any:
    """Run ``code`` in R with ``inputs$<name>`` bound to each frame; return ``result``."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in (frames or {}).items():
            frame.to_csv(Path(tmp) / f"{name}.csv", index=False, float_format="%.17g")
        script = Path(tmp) / "script.R"
        script.write_text(_PRELUDE.format(dir=tmp) + code + _EPILOGUE.format(dir=tmp))
        proc = subprocess.run(["Rscript", str(script)], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"Rscript failed:\n{proc.stderr}\n--- code ---\n{code}")
        return _decode_specials(json.loads((Path(tmp) / "result.json").read_text()))


_SPECIAL = {"NA": float("nan"), "NaN": float("nan"), "Inf": float("inf"), "-Inf": float("-inf")}


def _decode_specials(value: Any) -> Any:
    """jsonlite writes NA, NaN and ±Inf as strings (``na = "string"``): back to floats."""
    if isinstance(value, dict):
        return {k: _decode_specials(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_specials(v) for v in value]
    return _SPECIAL.get(value, value) if isinstance(value, str) else value


def r_versions(*packages: str) -> dict[str, str]:
    """Versions of R and the named packages, recorded in golden fixtures."""
    entries = [f"{p} = as.character(packageVersion('{p}'))" for p in packages]
    code = "result <- list(" + ", ".join(["R = paste(R.version$major, R.version$minor, sep = '.')",
                                          *entries]) + ")"
    return run_r(code)


def golden_path(test_file: str, name: str) -> Path:
    """``tests/<dir of test_file>/golden/<name>.json``."""
    return Path(test_file).parent / "golden" / f"{name}.json"


def load_golden(test_file: str, name: str) -> dict[str, Any]:
    """A golden fixture: ``{"r_code", "r_versions", "cases": [{"inputs", "result"}]}``."""
    return _decode_specials(json.loads(golden_path(test_file, name).read_text()))


def frames_of(inputs: dict[str, dict[str, list]]) -> dict[str, pd.DataFrame]:
    """Golden ``inputs`` (column → list per frame) back to DataFrames."""
    return {name: pd.DataFrame(cols) for name, cols in inputs.items()}


def golden_case(test_file: str, name: str, r_code: str, index: int,
                inputs: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], Any]:
    """Case ``index`` of a golden fixture as ``(frames, R's result)``, after checking that
    the stored R code and inputs are those the test builds now (else: regenerate)."""
    golden = load_golden(test_file, name)
    module = Path(test_file).stem
    assert golden["r_code"] == r_code, f"R code changed: run python tests/regen_golden.py {module}"
    case = golden["cases"][index]
    frames = frames_of(case["inputs"])
    for key, frame in inputs.items():
        pd.testing.assert_frame_equal(frames[key], frame, check_dtype=False)
    return frames, case["result"]


def write_golden(test_file: str, name: str, r_code: str, packages: tuple[str, ...],
                 cases: list[dict[str, pd.DataFrame]]) -> Path:
    """Run ``r_code`` on each case's frames and store code, versions, inputs and results."""
    stored = []
    for frames in cases:
        stored.append({"inputs": {k: v.to_dict(orient="list") for k, v in frames.items()},
                       "result": run_r(r_code, frames)})
    path = golden_path(test_file, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"r_code": r_code, "r_versions": r_versions(*packages), "cases": stored}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path
