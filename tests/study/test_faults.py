"""Faults, one case per row of the reliability issue's table: every failing command exits 2 with
one clear message (file, what is wrong, the fix), no traceback, and leaves the results folder
byte for byte as it was.

Rows tested at their own layer (their messages are the layer's):
- ``auc`` CLI messages: tests/cli/test_cli.py (test_auc_messages_speak_the_command_line,
  test_auc_warnings_are_one_clean_line_each);
- ``roc_curve`` / ``youden_threshold`` at ±DBL_MAX and one ulp apart, against pROC:
  tests/stats/test_roc.py;
- non-UTF-8 text of every kind (latin-1, UTF-16, binary), unreadable files:
  tests/protocol/test_loading.py; the OS fault mapping: tests/test_errors.py;
- a damaged ``threshold.json``, ``checkpoint-last.pt`` / ``done.json`` inside ``fit``:
  tests/train/test_fit.py; a second process on a held folder or unit: tests/study/test_lock.py;
- no empty store left by a failed ingest, synth temp folders: tests/cohort/test_ingest.py and
  tests/cohort/test_synth.py; validate on a synthetic cohort not generated yet:
  tests/study/test_run.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from study_support import copy_cohort, held_lock, invoke, snapshot, tiny_protocol, write_protocol

STUDY = "tiny_study"


@pytest.fixture
def study(finished, tmp_path) -> tuple[Path, Path, Path]:
    """A private copy of the finished tiny study: (protocol, results root, study folder), its
    ``protocol.lock.yaml`` naming the copy's cohort and store (as a run of the copy writes it)."""
    protocol, results = finished
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    lock = copy / STUDY / "protocol.lock.yaml"
    lock.write_text(lock.read_text().replace(str(results), str(copy)))
    return protocol, copy, copy / STUDY


def _tables(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "tables").glob("*"))}


def _failed_cleanly(out, *texts: str) -> None:
    """Exit 2, one StudyError message holding ``texts``, and no traceback."""
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output and "error (" in out.output, out.output
    for text in texts:
        assert text in out.output, (text, out.output)


def test_run_with_bad_reads_on_a_finished_study_touches_nothing(study):
    protocol, results, folder = study
    reads = folder / "cohort" / "raw" / "reads.csv"
    original, tables = reads.read_bytes(), _tables(folder)
    frame = pd.read_csv(reads, dtype=str)
    frame.loc[2, "call"] = "maybe"
    frame.to_csv(reads, index=False)
    before = snapshot(folder)
    for command in (("run", protocol, "--results", results, "--device", "cpu"), ("report", folder)):
        _failed_cleanly(invoke(*command), f"{reads}, row 3, field 'call'", "'maybe'")
        assert snapshot(folder) == before  # protocol.lock.yaml included: `run` used to rewrite it
    reads.write_bytes(original)
    out = invoke("report", folder)  # the finished study is still whole
    assert out.exit_code == 0, out.output
    assert _tables(folder) == tables


def _cut_after_first_field(text: str, line: int) -> str:
    """``text`` ending mid-row: the lines before ``line`` (1-based) and that line's first field."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[:line - 1]) + lines[line - 1].split(",")[0] + ","


@pytest.mark.parametrize(("damage", "message"), [
    (lambda text: _cut_after_first_field(text, line=12), "line 12 has no fold, patient_id"),  # ends mid-row
    (lambda text: "".join(text.splitlines(keepends=True)[:-3]), "test images are missing"),
    (lambda text: "".join(text.splitlines(keepends=True)[:20]), "1 test patient(s) are missing"),
    (lambda text: text.splitlines(keepends=True)[0], "it has no rows"),
    (lambda text: "", "cannot be read as CSV"),
    (lambda text: text.replace("bmode_net,0,", "bmode_net,1,", 1), "rows of another unit"),
])
def test_report_names_a_damaged_unit_predictions_file_and_merges_nothing(study, damage, message):
    _, _, folder = study
    path = folder / "arms" / "bmode_net" / "fold-0" / "predictions.csv"
    path.write_text(damage(path.read_text()))
    before = snapshot(folder)
    out = invoke("report", folder)
    _failed_cleanly(out, f"{path}: is not a whole predictions file of unit bmode_net fold 0", message,
                    "--arms bmode_net --folds 0", "Nothing was merged")
    assert snapshot(folder) == before


def test_a_deleted_unit_predictions_file_is_predicted_again_without_training(study):
    protocol, results, folder = study
    path = folder / "arms" / "bmode_net" / "fold-0" / "predictions.csv"
    original, tables = path.read_bytes(), _tables(folder)
    checkpoints = {p: p.read_bytes() for p in (folder / "arms").rglob("*.pt")}
    path.write_text(path.read_text()[:700])
    assert invoke("report", folder).exit_code == 2
    path.unlink()  # the message's fix
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    assert out.exit_code == 0, out.output
    assert "4 skipped" in out.output
    assert path.read_bytes() == original and _tables(folder) == tables
    assert {p: p.read_bytes() for p in checkpoints} == checkpoints


@pytest.mark.parametrize("keep", [0, 300])  # bytes kept: an empty file, a cut archive
def test_a_damaged_gradcam_file_is_named_and_written_again_from_the_checkpoint(study, keep):
    protocol, results, folder = study
    path = folder / "arms" / "muf_net" / "fold-0" / "gradcam.npz"
    original, figure = path.read_bytes(), (folder / "figures" / "gradcam.png").read_bytes()
    path.write_bytes(original[:keep])
    before = snapshot(folder)
    _failed_cleanly(invoke("report", folder), f"{path}: is not a whole Grad-CAM .npz archive", "delete it")
    assert snapshot(folder) == before
    path.unlink()
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    assert out.exit_code == 0 and "4 skipped" in out.output, out.output
    assert path.read_bytes() == original and (folder / "figures" / "gradcam.png").read_bytes() == figure


def test_reads_of_a_synthetic_cohort_are_checked_by_validate_and_before_training(finished, tmp_path):
    _, results = finished
    data = tiny_protocol()
    data["arms"][2]["groups"] = ["junior", "fellow"]  # the synthetic reads have junior and senior
    protocol = write_protocol(tmp_path, data)
    copy_cohort(results, tmp_path / "results")
    message = ("reads.csv, row 37, field 'group': group 'senior' is not a declared reader group "
               "('junior', 'fellow')")
    _failed_cleanly(invoke("validate", protocol, "--results", tmp_path / "results"), message)
    before = snapshot(tmp_path / "results")
    _failed_cleanly(invoke("run", protocol, "--results", tmp_path / "results", "--device", "cpu"), message)
    assert snapshot(tmp_path / "results") == before  # no lock file, no splits, no unit trained
    assert not (tmp_path / "results" / STUDY / "arms").exists()


@pytest.mark.parametrize(("content", "found"), [
    ("name: caf\u00e9\n".encode("latin-1"), "another encoding"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
])
def test_a_protocol_that_is_not_utf8_text_exits_2(tmp_path, content, found):
    path = tmp_path / "study.yaml"
    path.write_bytes(content)
    _failed_cleanly(invoke("validate", path), f"{path}", "is not UTF-8 text", found, "iconv")


def test_an_arm_file_that_is_not_utf8_text_exits_2(tmp_path):
    arm = tmp_path / "arm.yaml"
    arm.write_bytes("name: b\u00e9\n".encode("latin-1"))
    data = tiny_protocol()
    data["arms"][0]["model"] = str(arm)
    _failed_cleanly(invoke("validate", write_protocol(tmp_path, data)), f"{arm}", "is not UTF-8 text")


def test_a_duplicate_yaml_key_names_both_lines(tmp_path):
    text = yaml.safe_dump(tiny_protocol(), sort_keys=False)
    text = text.replace("  folds: 2\n", "  folds: 2\n  folds: 5\n")
    path = tmp_path / "study.yaml"
    path.write_text(text)
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("folds:")]
    _failed_cleanly(invoke("validate", path), f"key 'folds' is given twice (lines {lines[0]} and {lines[1]})")


@pytest.mark.parametrize("garbage", ["protocol: [1, 2\n", "{}\n", "protocol: {}\narm_specs: []\n",
                                     "\x00\x01"])
def test_report_on_a_garbage_lock_file_exits_2_and_touches_nothing(study, garbage):
    _, _, folder = study
    (folder / "protocol.lock.yaml").write_text(garbage)
    before = snapshot(folder)
    _failed_cleanly(invoke("report", folder), "protocol.lock.yaml", "is not a protocol lock studykit wrote",
                    "studykit run PROTOCOL")
    assert snapshot(folder) == before


def _without_dac_override() -> list[str]:
    """A command prefix under which file modes bind this process (root drops CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without util-linux's setpriv: file modes cannot bind here")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


#: Runs each argument list (JSON) as one ``studykit`` command in this one process (one torch
#: import for all), printing each command's stderr and exit status between markers.
_COMMANDS = """
import contextlib, io, json, sys
from studykit.cli import cli, commands
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cli.main(args=args, prog_name="studykit")
        except SystemExit as exit:
            code = exit.code
    print(json.dumps({"args": args, "code": code, "stderr": err.getvalue()}))
"""


def _studykit_commands(*cases: tuple[object, ...]) -> list[dict]:
    """Each case's exit code and stderr, run in one subprocess under :func:`_without_dac_override`."""
    import json

    command = [*_without_dac_override(), sys.executable, "-c", _COMMANDS,
               json.dumps([[str(a) for a in case] for case in cases])]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLCONFIGDIR": "/tmp", "COLUMNS": "250"}, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _read_only(folder: Path, writable: bool = False) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod((path.stat().st_mode | 0o200) if writable else (path.stat().st_mode & ~0o222))


def test_a_read_only_results_folder_is_a_clear_error_for_every_command(study, tmp_path):
    protocol, results, folder = study
    source_cohort = folder / "cohort" / "raw"
    cohort = tmp_path / "cohort"
    shutil.copytree(source_cohort, cohort)
    before = snapshot(results)
    _read_only(results)
    _read_only(cohort)
    try:
        results_of = _studykit_commands(
            ("run", protocol, "--results", results, "--device", "cpu"),
            ("report", folder),
            ("synth", results / "new-cohort", "--tiny"),
            ("ingest", cohort, "--store-root", results / "store", "--size", "32x32"),
            ("ingest", cohort),  # the default store inside the (read-only) cohort
        )
        assert len(results_of) == 5
        for result in results_of:
            text = result["stderr"]
            assert result["code"] == 2, result
            assert "Traceback" not in text and "permission denied" in text.lower(), result
            assert str(results) in text or str(cohort) in text, result
    finally:
        _read_only(results, writable=True)
        _read_only(cohort, writable=True)
    assert snapshot(results) == before
    assert not (cohort / "store").exists()


def test_a_full_disk_while_training_is_a_clear_error_and_the_rerun_finishes(study, monkeypatch):
    protocol, results, folder = study
    tables = _tables(folder)
    shutil.rmtree(folder / "arms" / "bmode_net" / "fold-1")
    real_save = torch.save

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing "
                           "file data/0: file write failed")

    monkeypatch.setattr(torch, "save", full_disk)
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    _failed_cleanly(out, "disk is full", "resumes from its last complete checkpoint")
    monkeypatch.setattr(torch, "save", real_save)
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    assert out.exit_code == 0, out.output
    assert "1 trained" in out.output and "3 skipped" in out.output
    assert _tables(folder) == tables


def test_a_corrupt_done_json_fails_the_run_before_any_unit_trains(study):
    protocol, results, folder = study
    shutil.rmtree(folder / "arms" / "bmode_net" / "fold-0")  # a unit this run would train first
    (folder / "arms" / "muf_net" / "fold-1" / "done.json").write_bytes(b"\x00garbage{")
    before = snapshot(folder)
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    _failed_cleanly(out, "unit muf_net fold 1", "done.json", "is not valid JSON", "delete the unit folder")
    assert snapshot(folder) == before and not (folder / "arms" / "bmode_net" / "fold-0").exists()


def test_a_corrupt_last_checkpoint_names_the_unit_and_touches_nothing(study):
    protocol, results, folder = study
    unit = folder / "arms" / "muf_net" / "fold-1"
    (unit / "checkpoint-last.pt").write_bytes(b"\x00garbage{")
    (unit / "done.json").unlink()  # an interrupted unit whose last checkpoint is damaged
    before = snapshot(folder)
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    _failed_cleanly(out, "unit muf_net fold 1", "checkpoint-last.pt")
    assert snapshot(folder) == before


def test_a_second_run_on_a_held_results_folder_exits_2_naming_the_holder(study, tmp_path):
    protocol, results, folder = study
    with held_lock(folder, 60, tmp_path) as holder:
        before = snapshot(folder)
        out = invoke("run", protocol, "--results", results, "--device", "cpu")
        _failed_cleanly(out, "is in use by another studykit process", f"PID {holder.pid} on "
                        f"{socket.gethostname()}", "--wait-lock")
        assert snapshot(folder) == before


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_leftovers_of_killed_processes_are_removed_and_user_files_kept(study):
    protocol, results, folder = study
    host, dead = socket.gethostname(), _dead_pid()
    leftovers = [folder / "cohort" / f".raw.synth-tmp-{host}-{dead}-0badc0de",
                 folder / f".outputs-staging-{host}-{dead}-0badc0de"]
    kept = [folder / "cohort" / f".raw.synth-tmp-{host}-{os.getpid()}-live0000",  # a live process's
            folder / "cohort" / ".raw.synth-tmp-notes",  # not named by studykit
            folder / "my-notes"]
    for path in leftovers + kept:
        path.mkdir()
        (path / "file.txt").write_text("x")
    out = invoke("run", protocol, "--results", results, "--device", "cpu")
    assert out.exit_code == 0, out.output
    assert not any(p.exists() for p in leftovers)
    assert all((p / "file.txt").read_text() == "x" for p in kept)
    assert not list(folder.glob(".outputs-staging-*"))  # the run's own staging folder is gone too
