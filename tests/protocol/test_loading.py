"""YAML reading faults: duplicate keys, non-UTF-8 text, unreadable files — clear ProtocolErrors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studykit.errors import FaultError, ProtocolError
from studykit.protocol.arms import load_arm
from studykit.protocol.loading import read_yaml

DEMO = Path(__file__).parents[2] / "protocols" / "renal_ceus_demo.yaml"


def test_a_key_given_twice_names_both_lines(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: a\ndesign:\n  folds: 5\n  seed: 0\n  folds: 3\n")
    with pytest.raises(ProtocolError, match=r"key 'folds' is given twice \(lines 3 and 5\)") as info:
        read_yaml(path)
    assert info.value.row == 5 and info.value.file == str(path)


def test_the_same_key_in_two_mappings_is_fine(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("a:\n  seed: 1\nb:\n  seed: 2\nlist:\n  - {seed: 1}\n  - {seed: 2}\n")
    assert read_yaml(path)[0]["b"]["seed"] == 2


@pytest.mark.parametrize(("data", "found", "line"), [
    ("name: caf\u00e9\n".encode("latin-1"), "another encoding", 1),
    ("\ufeffname: a\n".encode("utf-16"), "UTF-16", 1),
    (b"a: 1\nb: 2\n\x00\x01\xff\xfe", "binary data", 3),
])
def test_text_that_is_not_utf8_says_what_it_looks_like(tmp_path, data, found, line):
    path = tmp_path / "arm.yaml"
    path.write_bytes(data)
    with pytest.raises(ProtocolError, match=f"is not UTF-8 text: .*line {line}.*{found}") as info:
        load_arm(path)
    assert "iconv" in info.value.hint and info.value.row == line


def test_an_unreadable_file_is_a_fault_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "arm.yaml"
    path.write_text("name: a\n")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(FaultError, match=rf"{path}: cannot be written or read: permission denied"):
        read_yaml(path)


def test_the_cli_exits_2_without_a_traceback_and_leaves_the_file_alone(tmp_path):
    path = tmp_path / "demo.yaml"
    text = DEMO.read_text().replace("  folds: 5\n", "  folds: 5\n  folds: 3\n", 1)
    path.write_text(text)
    before = path.read_bytes()
    command = [sys.executable, "-c", "from studykit.cli import main; main()", "validate", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "key 'folds' is given twice" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert path.read_bytes() == before


@pytest.mark.parametrize("reader", ["manifest", "reads"])
def test_csv_inputs_that_are_not_utf8_say_what_they_look_like(tmp_path, reader):
    from studykit.cohort.tables import read_table
    from studykit.errors import DataError
    from studykit.readers._csv import read_csv_text

    path = tmp_path / f"{reader}.csv"
    path.write_bytes("patient_id,label\nP1,b\u00e9nin\n".encode("latin-1"))
    before = path.read_bytes()
    read = (lambda p: read_table(p, what="manifest.csv")) if reader == "manifest" else read_csv_text
    with pytest.raises(DataError, match=r"is not UTF-8 text: byte 21 \(line 2\).*another encoding") as info:
        read(path)
    assert info.value.row == 2 and f"iconv -f LATIN1 -t UTF-8 {reader}.csv" in info.value.hint
    assert path.read_bytes() == before


def test_a_byte_order_mark_is_dropped(tmp_path):
    from studykit.cohort.tables import read_table

    path = tmp_path / "manifest.csv"
    path.write_bytes("patient_id,label\nP1,benign\n".encode("utf-8-sig"))
    assert list(read_table(path, what="manifest.csv").columns) == ["patient_id", "label"]
