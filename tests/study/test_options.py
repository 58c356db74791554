"""The protocol → AnalysisOptions mapping (studykit.study.options): derived from the dataclass's
fields, every field has a source, a new field without one fails, and the result equals the
field-by-field mapping it replaced."""

from __future__ import annotations

import dataclasses

import pytest
from study_support import tiny_protocol, write_protocol

from studykit.analysis import AnalysisOptions, posterior_column
from studykit.protocol import load_protocol
from studykit.protocol.study import AnalysesSpec
from studykit.study import options
from studykit.study.options import analysis_options, option_sources, threshold_origin

VARIANT = {
    "analyses": {"comparisons": [["muf_net", "bmode_net"], ["muf_net", "junior"]], "reader_rating": "score",
                 "units": ["patient"], "calibration_bins": 5, "confidence": 0.9, "proportion_method": "exact",
                 "mrmc_cov": "delong", "icc_form": "ICC3", "n_boot": 150, "seed": 3,
                 "decision_thresholds": {"start": 0.1, "stop": 0.6, "step": 0.05},
                 "tables": {"ceiling": False}},
    "readers": {"tie": "positive", "allow_missing": True},
}


@pytest.fixture(params=["tiny", "variant"])
def protocol(request, tmp_path):
    data = tiny_protocol(**(VARIANT if request.param == "variant" else {}))
    if request.param == "variant":
        data["design"] = {**data["design"], "aggregation": "median", "threshold": "youden_inner_val"}
    return load_protocol(write_protocol(tmp_path, data))


def _by_hand(protocol, *, allow_missing=False, available=None) -> AnalysisOptions:
    """The mapping as it was written before: every field copied by hand."""
    a, c = protocol.analyses, protocol.columns
    kinds = c.covariates
    have = set(protocol.arm_names) if available is None else available
    pairs = None if a.comparisons is None else [tuple(p) for p in a.comparisons if set(p) <= have]
    posterior = {m: posterior_column("frame", m or "both") for m in ("bmode", "ceus", None)}
    return AnalysisOptions(
        analyses=a.enabled,
        reference=a.reference if a.reference in have else None,
        comparisons=pairs or None,
        aggregation=protocol.design.aggregation,
        icc_form=a.icc_form,
        continuous=[k for k, v in kinds.items() if v == "continuous"],
        categorical=[k for k, v in kinds.items() if v == "categorical"],
        pos_label=c.positive,
        units=list(a.units),
        seed=a.seed,
        confidence=a.confidence,
        n_boot=a.n_boot,
        proportion_method=a.proportion_method,
        allow_missing=allow_missing or protocol.readers.allow_missing,
        tie=protocol.readers.tie,
        threshold_origin=threshold_origin(protocol),
        reader_rating=a.reader_rating,
        n_bins=a.calibration_bins,
        ceiling_match={s.name: posterior[s.modality] for s in protocol.arm_specs},
        mrmc_cov=a.mrmc_cov,
        decision_thresholds=a.decision_thresholds.values(),
    )


@pytest.mark.parametrize("run", [{}, {"allow_missing": True, "available": {"muf_net", "junior"}},
                                 {"available": {"bmode_net"}}])
def test_derived_options_equal_the_hand_written_mapping(protocol, run):
    assert analysis_options(protocol, **run) == _by_hand(protocol, **run)


def test_every_option_has_a_source():
    sources = option_sources()
    assert list(sources) == [f.name for f in dataclasses.fields(AnalysisOptions)]
    assert sources["n_bins"] == "analyses.calibration_bins" and sources["seed"] == "analyses.seed"
    assert sources["aggregation"] == "design.aggregation" and sources["mrmc_analysis"] == "default"


def test_an_option_the_protocol_does_not_map_fails(protocol, monkeypatch):
    grown = dataclasses.make_dataclass("AnalysisOptions", [("new_option", int, dataclasses.field(default=0))],
                                       bases=(AnalysisOptions,), frozen=True)
    monkeypatch.setattr(options, "AnalysisOptions", grown)
    with pytest.raises(LookupError, match=r"AnalysisOptions\.new_option has no source in the protocol"):
        analysis_options(protocol)


def test_every_analyses_setting_reaches_the_options():
    read = " ".join(option_sources().values()).replace("analyses.enabled", "analyses.tables")
    unused = [name for name in AnalysesSpec.model_fields if f"analyses.{name}" not in read]
    assert unused == []
