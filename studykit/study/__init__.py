"""Layer ``study``: the protocol runner — plan (arm, fold) units, run and resume them, call the
analyses and write every output. May import protocol, cohort, train, readers, analysis, report.

    from studykit.study import run, validate, report
    summary = run("protocols/renal_ceus_demo.yaml")            # results/renal_ceus_demo/
    summary = run(protocol, arms=["muf_net"], folds=[0])      # one cluster job
    summary = report("results/renal_ceus_demo")               # merge what is done
"""

from studykit.study.layout import Layout
from studykit.study.runner import Unit, plan_units, protocol_from_lock, report, run
from studykit.study.summary import RunSummary, UnitResult
from studykit.study.validate import Check, validate

__all__ = [
    "Check",
    "Layout",
    "RunSummary",
    "Unit",
    "UnitResult",
    "plan_units",
    "protocol_from_lock",
    "report",
    "run",
    "validate",
]
