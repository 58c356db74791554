"""The protocol's analysis settings as :class:`studykit.analysis.AnalysisOptions`, derived field by field.

Every field of ``AnalysisOptions`` (``dataclasses.fields``) takes its value from one place,
looked up in this order:

1. :data:`COMPUTED` — fields that combine settings or depend on the run: the reference arm
   and compared pairs (only arms with results), Table 1's covariates by kind, the threshold
   rule in words, each model arm's ceiling posterior, ``allow_missing``, the decision curve's
   threshold probabilities (from their start, stop and step);
2. :data:`RENAMED` — fields whose setting has another name or sits in another section
   (``n_bins`` ← ``analyses.calibration_bins``, ``aggregation`` ← ``design.aggregation`` …);
3. the ``analyses`` setting of the same name (``seed``, ``confidence``, ``n_boot`` …);
4. :data:`DEFAULTED` — fields a protocol does not offer, left at ``AnalysisOptions``' default.

A field found in none of them raises at once (and a test checks that every field has a
source), so a new analysis option cannot be left unmapped without anyone noticing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from studykit.analysis import AnalysisOptions, posterior_column
from studykit.protocol.study import AnalysesSpec, StudyProtocol
from studykit.vocab import THRESHOLD_FIXED

__all__ = ["COMPUTED", "DEFAULTED", "RENAMED", "analysis_options", "option_sources", "threshold_origin"]

@dataclasses.dataclass(frozen=True)
class _Run:
    """What the options depend on besides the protocol: units missing, arms with results."""

    allow_missing: bool
    available: frozenset[str]


def threshold_origin(protocol: StudyProtocol) -> str:
    """Where the thresholds come from, in words (Table 3's ``threshold_origin``)."""
    d = protocol.design
    if d.threshold == THRESHOLD_FIXED:
        return f"{d.threshold_value:g} (fixed by the protocol)"
    return "Youden on each fold's inner-validation patients"


def _comparisons(protocol: StudyProtocol, run: _Run) -> list[tuple[str, str]] | None:
    pairs = protocol.analyses.comparisons
    kept = None if pairs is None else [tuple(p) for p in pairs if set(p) <= run.available]
    return kept or None


def _covariates(kind: str) -> Callable[[StudyProtocol, _Run], list[str]]:
    return lambda protocol, run: [k for k, v in protocol.columns.covariates.items() if v == kind]


#: Field → (the settings it reads, its value from the protocol and the run).
COMPUTED: dict[str, tuple[tuple[str, ...], Callable[[StudyProtocol, _Run], Any]]] = {
    "reference": (("analyses.reference",),
                  lambda p, run: p.analyses.reference if p.analyses.reference in run.available else None),
    "comparisons": (("analyses.comparisons",), _comparisons),
    "continuous": (("columns.covariates",), _covariates("continuous")),
    "categorical": (("columns.covariates",), _covariates("categorical")),
    "allow_missing": (("readers.allow_missing",),
                      lambda p, run: run.allow_missing or p.readers.allow_missing),
    "threshold_origin": (("design.threshold", "design.threshold_value"), lambda p, run: threshold_origin(p)),
    # each model arm's ceiling: the posterior of what its input shows (ArmSpec.sees): the per-frame
    # one for the network arms, which classify single frames; the video's for a perfusion arm
    "ceiling_match": (("arms",), lambda p, run: {s.name: posterior_column(*s.sees) for s in p.arm_specs}),
    "decision_thresholds": (("analyses.decision_thresholds",),
                            lambda p, run: p.analyses.decision_thresholds.values()),
}
#: Field → the protocol setting (``section.name``) it is read from, where the names differ.
RENAMED = {
    "analyses": "analyses.enabled",
    "n_bins": "analyses.calibration_bins",
    "aggregation": "design.aggregation",
    "pos_label": "columns.positive",
    "tie": "readers.tie",
}
#: Fields a protocol does not set: ``AnalysisOptions``' defaults apply.
DEFAULTED = frozenset({"mrmc_analysis"})


def _setting(protocol: StudyProtocol, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(getattr(protocol, section), name)


def option_sources(names: Iterable[str] | None = None) -> dict[str, str]:
    """Each ``AnalysisOptions`` field (or each of ``names``) → where its value comes from.

    ``"analyses.seed"``, ``"design.aggregation"``, ``"computed from analyses.reference"``,
    ``"default"``. Raises ``LookupError`` for a field with no source.
    """
    names = [f.name for f in dataclasses.fields(AnalysisOptions)] if names is None else list(names)
    sources = {}
    for name in names:
        if name in COMPUTED:
            sources[name] = "computed from " + ", ".join(COMPUTED[name][0])
        elif name in RENAMED:
            sources[name] = RENAMED[name]
        elif name in AnalysesSpec.model_fields:
            sources[name] = f"analyses.{name}"
        elif name in DEFAULTED:
            sources[name] = "default"
        else:
            raise LookupError(f"AnalysisOptions.{name} has no source in the protocol: map it in "
                              f"studykit/study/options.py (COMPUTED, RENAMED or DEFAULTED).")
    return sources


def analysis_options(
    protocol: StudyProtocol, *, allow_missing: bool = False, available: Iterable[str] | None = None
) -> AnalysisOptions:
    """The protocol's ``analyses`` (and design, columns, readers, arms) as :class:`AnalysisOptions`.

    ``allow_missing``: units are missing (the analyses use the patients every arm has).
    ``available``: the arms that have results (default every arm); a reference arm or
    compared pair without them is dropped (a partial run compares what it has).
    """
    run = _Run(allow_missing, frozenset(protocol.arm_names if available is None else available))
    kwargs = {}
    for name, source in option_sources().items():
        if name in COMPUTED:
            kwargs[name] = COMPUTED[name][1](protocol, run)
        elif source != "default":
            kwargs[name] = _setting(protocol, source)
    return AnalysisOptions(**kwargs)
