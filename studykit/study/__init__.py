"""Layer ``study``: the protocol runner — plan (arm, fold) units, run and resume them, call the
analyses and write every output. May import protocol, cohort, train, readers, analysis, report.

    from studykit.study import plan, report, run, validate
    summary = run("protocols/renal_ceus_demo.yaml")            # results/renal_ceus_demo/
    summary = run(protocol, arms=["muf_net"], folds=[0])      # one cluster job
    summary = report("results/renal_ceus_demo")               # merge what is done
    planned = plan("results/renal_ceus_demo", effect=0.05)    # readers × cases for the next study
    outputs = perfusion_outputs("cohort/", "perfusion/")      # TIC fits, tables and figure of a cohort

Importing the package, or its results layout (:mod:`studykit.study.layout`), loads neither
torch nor the other layers: the runner and the validator are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from studykit.study.layout import Layout
from studykit.study.summary import RunSummary, UnitResult

#: Public names imported on first use, and the module that defines each.
_LAZY = {
    "Plan": "planning",
    "Unit": "runner",
    "plan": "planning",
    "plan_units": "runner",
    "perfusion_outputs": "perfusion",
    "protocol_from_lock": "provenance",
    "report": "runner",
    "run": "runner",
    "Check": "checks",
    "validate": "checks",
}

__all__ = [
    "Check",
    "Layout",
    "Plan",
    "RunSummary",
    "Unit",
    "UnitResult",
    "perfusion_outputs",
    "plan",
    "plan_units",
    "protocol_from_lock",
    "report",
    "run",
    "validate",
]


def __getattr__(name: str) -> Any:
    """Import the runner or the validator when one of their names is first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
