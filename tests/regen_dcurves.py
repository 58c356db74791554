"""Regenerate ``tests/stats/golden/dcurves_dca.json``: decision curves from the ``dcurves`` package.

dcurves (Sjoberg; the Python port of the R/Stata ``dca``) is no dev dependency of studykit:
it needs lifelines, which requires pandas < 3, and importing it takes seconds. The golden
file stores its answers together with the inputs, so the comparison in
``tests/stats/test_decision.py`` runs without it. Regenerate in a separate environment::

    python -m venv /tmp/dca && /tmp/dca/bin/pip install dcurves==1.1.7
    /tmp/dca/bin/python tests/regen_dcurves.py

This file imports numpy, pandas and dcurves only (not studykit), so any interpreter that
has dcurves runs it. The test module imports its case builders; where dcurves happens to
be importable the live test reruns dcurves on them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

GOLDEN = Path(__file__).parent / "stats" / "golden" / "dcurves_dca.json"
#: The dcurves call that made the stored answers (``models``: the score columns).
CALL = "dcurves.dca(data, outcome='y', modelnames=models, thresholds=thresholds, nper=100)"
#: dcurves' column → studykit's: net benefit, TP / N, FP / N, net interventions avoided per 100.
COLUMNS = {"net_benefit": "estimate", "tp_rate": "tp_rate", "fp_rate": "fp_rate",
           "net_intervention_avoided": "net_interventions_avoided_per_100"}
#: dcurves' names of the reference strategies → studykit's.
REFERENCES = {"all": "treat_all", "none": "treat_none"}
DEFAULT_GRID = [i / 100 for i in range(1, 100)]  # dcurves' default less its p_t = 0


def binary_case() -> dict:
    """dcurves' own example data (``dcurves/data/df_binary.csv``, 750 patients): the outcome
    ``cancer``, the predicted risk ``cancerpredmarker`` and the 0/1 ``famhistory``."""
    import dcurves

    df = pd.read_csv(os.path.join(dcurves.data, "df_binary.csv"))
    data = pd.DataFrame({"y": df["cancer"].astype(int), "cancerpredmarker": df["cancerpredmarker"],
                         "famhistory": df["famhistory"].astype(float)})
    return {"name": "dcurves df_binary.csv", "data": data, "models": ["cancerpredmarker", "famhistory"],
            "thresholds": DEFAULT_GRID}


def generated_case() -> dict:
    """Seeded data whose scores sit exactly on thresholds (two decimals: ``prob >= p_t`` ties),
    with scores of exactly 0 and 1, and an unsorted grid with a repeated value."""
    rng = np.random.default_rng(2006)
    n = 240
    y = (rng.random(n) < 0.3).astype(int)
    a = np.round(1 / (1 + np.exp(1.0 - 2.0 * y - rng.normal(size=n))), 2)
    a[:4], a[4:8] = 0.0, 1.0
    b = np.round(rng.beta(2 + y, 4, size=n), 3)
    thresholds = [*DEFAULT_GRID, 0.001, 0.999, 0.333, 0.5]
    return {"name": "generated, ties at thresholds", "data": pd.DataFrame({"y": y, "a": a, "b": b}),
            "models": ["a", "b"], "thresholds": thresholds}


def dca_answers(case: dict) -> dict[str, dict[str, list[float]]]:
    """dcurves' answers on a case: model (dcurves' name) → column → one value per threshold."""
    import dcurves

    data, models, thresholds = case["data"], case["models"], case["thresholds"]
    out = dcurves.dca(data=data.assign(y=data["y"].astype(bool)), outcome="y", modelnames=list(models),
                      thresholds=list(thresholds), nper=100)
    return {model: {col: out.loc[out["model"] == model, col].astype(float).tolist() for col in COLUMNS}
            for model in [*models, *REFERENCES]}


def main() -> int:
    import dcurves

    cases = []
    for case in (binary_case(), generated_case()):
        cases.append({"name": case["name"], "inputs": case["data"].to_dict(orient="list"),
                      "models": case["models"], "thresholds": case["thresholds"],
                      "result": dca_answers(case)})
    versions = {"dcurves": dcurves.__version__, "pandas": pd.__version__, "numpy": np.__version__,
                "python": platform.python_version()}
    GOLDEN.write_text(json.dumps({"call": CALL, "versions": versions, "cases": cases}, indent=1) + "\n")
    print(f"wrote {GOLDEN} with dcurves {dcurves.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
