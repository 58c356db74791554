"""``arms[i].resources``: what a unit's job asks a scheduler for, validated by the protocol schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from studykit.errors import ProtocolError
from studykit.protocol import load_protocol
from studykit.protocol.resources import ResourcesSpec

ARM = Path(__file__).parents[2] / "models" / "tiny" / "bmode_net.yaml"


def _protocol(tmp_path: Path, resources: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: r\ncohort:\n  synthetic: {{tiny: true}}\narms:\n  - model: {ARM}\n"
                    f"    name: a\n  - model: {ARM}\n    name: b\n    resources:\n{resources}")
    return path


def test_each_arm_has_its_resources_and_the_defaults_are_stated(tmp_path):
    path = _protocol(tmp_path, "      gpus: 4\n      cpus: 16\n      mem_gb: 64\n      time_min: 720\n"
                               "      partition: gpu\n      account: renal\n      qos: high\n"
                               "      constraint: a100\n      extra: {exclusive: true, mail-type: END}\n")
    protocol = load_protocol(path)
    b = protocol.resources("b")
    assert (b.gpus, b.cpus, b.mem_gb, b.time_min, b.partition, b.account, b.qos, b.constraint) == \
        (4, 16, 64.0, 720, "gpu", "renal", "high", "a100")
    assert b.extra == {"exclusive": True, "mail-type": "END"}
    a = protocol.resources("a")  # none given: CPU only, runtime.threads cores, one day
    assert a == ResourcesSpec() and (a.gpus, a.cpus, a.mem_gb, a.time_min, a.partition) == (0, None, None,
                                                                                              1440, None)
    with pytest.raises(KeyError):
        protocol.resources("c")


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("      gpus: -1\n", r"arms\[1\]\.resources\.gpus \(line 10\).*greater than or equal to 0"),
    ("      gpu: 2\n", r"arms\[1\]\.resources\.gpu \(line 10\).*did you mean 'gpus'"),
    ("      time_min: 0\n", r"arms\[1\]\.resources\.time_min \(line 10\)"),
    ("      extra: {partition: gpu}\n",
     r"the sbatch option --partition is not an extra; use resources\.partition"),
    ("      extra: {dependency: 'afterok:1'}\n", r"--dependency is not an extra; studykit sets it itself"),
    ("      extra: {cpus_per_task: 4}\n", r"--cpus-per-task is not an extra; use resources\.cpus"),
    ("      extra: {'mail type': END}\n", r"not an sbatch option name"),
])
def test_bad_resources_are_protocol_errors_naming_the_yaml_path(tmp_path, yaml_text, message):
    with pytest.raises(ProtocolError, match=message):
        load_protocol(_protocol(tmp_path, yaml_text))


def test_command_line_overrides_are_validated_again():
    base = ResourcesSpec(gpus=1, partition="gpu")
    changed = base.with_overrides(time_min=30, partition=None, cpus=4)
    assert (changed.time_min, changed.partition, changed.cpus, changed.gpus) == (30, "gpu", 4, 1)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        base.with_overrides(gpus=-1)
    with pytest.raises(ValueError, match="no resource named 'time'; did you mean 'time_min'"):
        base.with_overrides(time=30)


def test_the_tiny_protocol_states_its_units_resources():
    protocol = load_protocol(Path(__file__).parents[2] / "protocols" / "renal_ceus_tiny.yaml")
    assert [protocol.resources(a.name) for a in protocol.arm_specs] == \
        [ResourcesSpec(cpus=1, mem_gb=2, time_min=30)] * 2
