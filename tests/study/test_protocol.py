"""Protocol loading: the shipped protocols, and every error by its message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from study_support import MODELS, tiny_protocol, write_protocol

from studykit.errors import ProtocolError
from studykit.protocol import StudyProtocol, load_protocol

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"


def test_demo_protocol_loads_with_resolved_arms():
    protocol = load_protocol(PROTOCOLS / "renal_ceus_demo.yaml")
    assert isinstance(protocol, StudyProtocol)
    assert protocol.arm_names == ["bmode_net", "ceus_net", "muf_net", "perfusion", "junior", "senior"]
    assert protocol.arm_specs[3].kind == "perfusion" and protocol.arm_specs[3].sees == ("video", "ceus")
    assert protocol.design.folds == 5 and protocol.analyses.reference == "muf_net"
    assert all(Path(arm.model).is_absolute() for arm in protocol.arms if hasattr(arm, "model"))
    assert protocol.arm_specs[2].kind == "mufnet" and protocol.arm_specs[2].backbone == "test_efficientnet"


def test_reference_protocol_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    shutil.copy(PROTOCOLS / "renal_ceus.yaml", tmp_path / "renal_ceus.yaml")
    (tmp_path / "protocols").mkdir()
    shutil.move(tmp_path / "renal_ceus.yaml", tmp_path / "protocols" / "renal_ceus.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProtocolError) as info:
        load_protocol("protocols/renal_ceus.yaml")
    text = str(info.value)
    assert "cohort.dir (line 10)" in text and "data/renal_ceus does not exist" in text
    assert "studykit synth data/renal_ceus" in text and "manifest.csv" in text and "annotations.csv" in text


def test_unknown_key_names_line_and_close_match(tmp_path):
    data = tiny_protocol()
    data["desing"] = data.pop("design")
    path = write_protocol(tmp_path, data)
    with pytest.raises(ProtocolError, match=r"desing \(line \d+\): unknown key; did you mean 'design'\?"):
        load_protocol(path)


def test_unknown_key_inside_an_arm_names_its_path(tmp_path):
    data = tiny_protocol()
    data["arms"][1]["overides"] = data["arms"][1].pop("overrides")
    with pytest.raises(
        ProtocolError,
        match=r"arms\[1\]\.overides \(line \d+\): unknown key; did you mean "
        r"'overrides'\?",
    ):
        load_protocol(write_protocol(tmp_path, data))


def test_missing_model_file(tmp_path):
    data = tiny_protocol()
    data["arms"][0]["model"] = "models/nope.yaml"
    with pytest.raises(
        ProtocolError, match=r"arms\[0\]\.model \(line \d+\): model arm file not found: .*nope\.yaml"
    ):
        load_protocol(write_protocol(tmp_path, data))


def test_bad_override_names_the_arm(tmp_path):
    data = tiny_protocol()
    data["arms"][1]["overrides"]["epochz"] = 3
    with pytest.raises(
        ProtocolError,
        match=r"arms\[1\]\.overrides\.epochz \(line \d+\): "
        r"unknown key; did you mean .epochs.",
    ):
        load_protocol(write_protocol(tmp_path, data))


def test_duplicate_arm_names(tmp_path):
    data = tiny_protocol()
    data["arms"][1]["name"] = "bmode_net"
    with pytest.raises(ProtocolError, match=r"arms\[1\] \(line \d+\): arm name 'bmode_net' is used twice"):
        load_protocol(write_protocol(tmp_path, data))


def test_reader_group_clashing_with_a_model_arm(tmp_path):
    data = tiny_protocol()
    data["arms"][2]["groups"] = ["muf_net", "senior"]
    with pytest.raises(ProtocolError, match=r"arms\[2\]\.groups .*'muf_net' is used twice"):
        load_protocol(write_protocol(tmp_path, data))


def test_unknown_reference_arm_has_did_you_mean(tmp_path):
    data = tiny_protocol(analyses={"reference": "mufnet"})
    with pytest.raises(
        ProtocolError,
        match=r"analyses\.reference \(line \d+\): unknown arm 'mufnet'.*"
        r"\n  hint: did you mean 'muf_net'\?",
    ):
        load_protocol(write_protocol(tmp_path, data))


def test_unknown_comparison_arm(tmp_path):
    data = tiny_protocol(analyses={"comparisons": [["muf_net", "senoir"]]})
    with pytest.raises(ProtocolError, match=r"(?s)analyses\.comparisons\[0\]\[1\].*did you mean 'senior'"):
        load_protocol(write_protocol(tmp_path, data))


def test_unknown_table_name(tmp_path):
    data = tiny_protocol(analyses={"tables": {"calibraton": False}})
    with pytest.raises(
        ProtocolError,
        match=r"analyses\.tables\.calibraton \(line \d+\): unknown key; did you mean 'calibration'",
    ):
        load_protocol(write_protocol(tmp_path, data))


def test_cohort_needs_exactly_one_source(tmp_path):
    data = tiny_protocol(cohort={"dir": "x", "synthetic": {"tiny": True}})
    with pytest.raises(ProtocolError, match=r"cohort \(line \d+\): .*exactly one of 'dir'"):
        load_protocol(write_protocol(tmp_path, data))


def test_missing_reader_file(tmp_path):
    data = tiny_protocol()
    data["arms"][2]["readers"] = ["reads_junior.csv"]
    with pytest.raises(ProtocolError, match=r"arms\[2\]\.readers\[0\] \(line \d+\): reader CSV not found"):
        load_protocol(write_protocol(tmp_path, data))


def test_runtime_defaults_to_two_threads_and_deterministic_kernels(tmp_path):
    protocol = load_protocol(write_protocol(tmp_path, tiny_protocol()))
    assert protocol.runtime.threads == 2 and protocol.runtime.deterministic is True
    demo = load_protocol(PROTOCOLS / "renal_ceus_demo.yaml")
    assert demo.runtime.threads == 2 and demo.runtime.deterministic is True


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        ({"threads": 0}, r"runtime\.threads \(line \d+\): Input should be greater than or equal to 1; got 0"),
        ({"threads": True}, r"runtime\.threads \(line \d+\): Input should be a valid integer; got True"),
        ({"threds": 2}, r"runtime\.threds \(line \d+\): unknown key; did you mean 'threads'\?"),
    ],
)
def test_runtime_errors_name_their_yaml_path(tmp_path, runtime, message):
    with pytest.raises(ProtocolError, match=message):
        load_protocol(write_protocol(tmp_path, tiny_protocol(runtime=runtime)))


def test_paths_are_relative_to_the_protocol_file(tmp_path, monkeypatch):
    data = tiny_protocol()
    shutil.copytree(MODELS, tmp_path / "models")
    data["arms"][0]["model"] = "../models/tiny/bmode_net.yaml"
    path = write_protocol(tmp_path / "protocols", data)
    monkeypatch.chdir(tmp_path / "models")
    protocol = load_protocol(path)
    assert Path(protocol.arms[0].model) == (tmp_path / "models" / "tiny" / "bmode_net.yaml").resolve()


def test_decision_thresholds_default_and_a_chosen_range(tmp_path):
    protocol = load_protocol(write_protocol(tmp_path, tiny_protocol()))
    grid = protocol.analyses.decision_thresholds.values()
    assert len(grid) == 99 and grid[0] == 0.01 and grid[-1] == 0.99 and grid[6] == 0.07
    chosen = tiny_protocol(analyses={"decision_thresholds": {"start": 0.05, "stop": 0.95, "step": 0.05}})
    values = load_protocol(write_protocol(tmp_path / "b", chosen)).analyses.decision_thresholds.values()
    assert values == tuple(round(0.05 * k, 10) for k in range(1, 20))
    off = tiny_protocol(analyses={"tables": {"decision_curve": False}})
    assert "decision_curve" not in load_protocol(write_protocol(tmp_path / "c", off)).analyses.enabled


DT = r"analyses\.decision_thresholds"
THRESHOLD_ERRORS = [
    ({"strat": 0.1}, DT + r"\.strat \(line \d+\): unknown key; did you mean 'start'\?"),
    ({"start": 0, "stop": 0.5}, DT + r"\.start \(line \d+\): Input should be greater than 0; got 0"),
    ({"stop": 1.0}, DT + r"\.stop \(line \d+\): Input should be less than 1; got 1\.0"),
    ({"start": 0.5, "stop": 0.2}, DT + r" \(line \d+\): .*stop \(0\.2\) must be above start \(0\.5\)"),
    ({"start": 0.1, "stop": 0.2, "step": 0.5}, r"step \(0\.5\) is wider than the range 0\.1–0\.2"),
    ({"start": 0.1, "stop": 0.9, "step": 0.0001},
     r"gives 8001 thresholds, more than 999; use a step of at least 0\.00081"),
    ([0.05, 0.95, 0.01], r"write the range as a mapping \{start: …, stop: …, step: …\}.*got a list"),
]


@pytest.mark.parametrize(("thresholds", "message"), THRESHOLD_ERRORS)
def test_decision_threshold_errors_name_the_field_and_the_fix(tmp_path, thresholds, message):
    data = tiny_protocol(analyses={"decision_thresholds": thresholds})
    with pytest.raises(ProtocolError, match=message):
        load_protocol(write_protocol(tmp_path, data))


def test_a_misspelt_decision_key_gets_did_you_mean(tmp_path):
    data = tiny_protocol(analyses={"decision_threshold": {"start": 0.1}})
    with pytest.raises(ProtocolError, match=r"analyses\.decision_threshold \(line \d+\): unknown key; "
                                            r"did you mean 'decision_thresholds'\?"):
        load_protocol(write_protocol(tmp_path, data))


def test_reader_panels_experience_and_blinding(tmp_path):
    data = tiny_protocol()
    data["arms"][2] |= {"experience": {"junior": "5–6 years of CEUS"}, "blinded_to": ["clinical data"]}
    arm = load_protocol(write_protocol(tmp_path, data)).arms[2]
    assert arm.experience == {"junior": "5–6 years of CEUS"} and arm.blinded_to == ["clinical data"]
    data["arms"][2]["experience"] = {"junor": "5 years"}
    with pytest.raises(ProtocolError, match=r"arms\[2\] \(line \d+\): .*experience names the group 'junor', "
                                            r"which is not in groups; did you mean 'junior'\?"):
        load_protocol(write_protocol(tmp_path / "b", data))


TR = r"outputs\.tracking"
TRACKING_ERRORS = [
    ({"kind": "wandb"}, TR + r"\.kind \(line \d+\): Input should be 'mlflow'; got 'wandb'"),
    ({"uri": "http://h:5000"}, TR + r"\.kind \(line \d+\): Field required"),
    ({"kind": "mlflow", "url": "x"}, TR + r"\.url \(line \d+\): unknown key; did you mean 'uri'\?"),
    ({"kind": "mlflow", "experiment": ""}, TR + r"\.experiment \(line \d+\): String should have at least 1 "),
]


@pytest.mark.parametrize(("tracking", "message"), TRACKING_ERRORS)
def test_tracking_errors_name_the_field_and_the_fix(tmp_path, tracking, message):
    data = tiny_protocol(outputs={"tracking": tracking})
    with pytest.raises(ProtocolError, match=message):
        load_protocol(write_protocol(tmp_path, data))


def test_tracking_is_off_by_default_and_mlflow_with_defaults_when_asked(tmp_path):
    assert load_protocol(write_protocol(tmp_path, tiny_protocol())).outputs.tracking is None
    data = tiny_protocol(outputs={"tracking": {"kind": "mlflow"}})
    spec = load_protocol(write_protocol(tmp_path / "t", data)).outputs.tracking
    assert (spec.kind, spec.uri, spec.experiment) == ("mlflow", None, None)


def test_a_synthetic_cohort_in_one_video_format(tmp_path):
    """cohort.synthetic.syntax reaches the generator: every video of the cohort is a plain MP4."""
    from studykit.study import Layout
    from studykit.study.merge import prepare_cohort

    protocol = load_protocol(write_protocol(tmp_path, tiny_protocol(
        cohort={"synthetic": {"tiny": True, "seed": 0, "syntax": "mp4"}})))
    raw = prepare_cohort(protocol, Layout(tmp_path / "results" / "tiny_study"))
    videos = sorted(p.suffix for p in (raw / "videos").iterdir())
    assert videos and set(videos) == {".mp4"}


def test_synthetic_params_take_a_preset_and_flags(tmp_path):
    """cohort.synthetic.params passes names (preset) and flags (timing_annotations) as well as
    numbers to the generator (README: ``params: {SynthParams fields, or preset: v1}``); a bad
    value is the generator's error naming the field."""
    from studykit.errors import InputError
    from studykit.study import Layout
    from studykit.study.merge import prepare_cohort

    params = {"preset": "v2", "timing_annotations": True, "junior_noise": 1}
    protocol = load_protocol(write_protocol(tmp_path, tiny_protocol(
        cohort={"synthetic": {"tiny": True, "seed": 0, "params": params}})))
    expected = {"preset": "v2", "timing_annotations": True, "junior_noise": 1.0}
    assert protocol.cohort.synthetic.params == expected
    raw = prepare_cohort(protocol, Layout(tmp_path / "results" / "tiny_study"))
    assert "cortex_box" in (raw / "annotations.csv").read_text().splitlines()[0]  # the flag over the preset
    bad = load_protocol(write_protocol(tmp_path / "bad", tiny_protocol(
        cohort={"synthetic": {"tiny": True, "params": {"junior_noise": "loud"}}})))
    with pytest.raises(InputError, match=r"'junior_noise': must be a finite number"):
        prepare_cohort(bad, Layout(tmp_path / "bad" / "results" / "tiny_study"))


def test_an_unknown_synthetic_video_format_names_the_choices(tmp_path):
    data = tiny_protocol(cohort={"synthetic": {"tiny": True, "syntax": "h265"}})
    expected = r"(?s)cohort\.synthetic\.syntax \(line \d+\): .*'h264', 'hevc' or 'mp4'"
    with pytest.raises(ProtocolError, match=expected):
        load_protocol(write_protocol(tmp_path, data))
