"""``studykit annotations import``: the written table, the printed summary, exit 2 on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from studykit.cli.app import cli
from studykit.cohort.synth import synthesize


def run(*args: str):
    from studykit.cli import commands  # noqa: F401  (registers commands, as main() does)

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    # preset v2: the annotation table without the cortex_box column, which no importer writes
    return synthesize(tmp_path_factory.mktemp("cli-annot") / "cohort", tiny=True, seed=0, preset="v2").out_dir


@pytest.fixture
def cohort(base, tmp_path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "cohort"))


def _coco(path: Path, table: pd.DataFrame, label: str = "lesion") -> Path:
    """COCO JSON of ``table`` (images <stem>_frame_<n>.png, 160×72 frames, phase as an attribute)."""
    images, annotations = [], []
    for i, r in enumerate(table.itertuples(index=False)):
        images.append(
            {
                "id": i,
                "file_name": f"{Path(r.file).stem}_frame_{int(r.frame):06d}.png",
                "width": 160,
                "height": 72,
            }
        )
        for box in (r.bmode_box, r.ceus_box):
            x0, y0, x1, y1 = (int(v) for v in box.split(","))
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": i,
                    "category_id": 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "attributes": {"phase": r.phase},
                }
            )
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": label}]})
    )
    return path


def test_import_writes_the_table_and_prints_a_summary(cohort, tmp_path):
    original = (cohort / "annotations.csv").read_bytes()
    table = pd.read_csv(cohort / "annotations.csv", dtype=str, keep_default_na=False)
    export = _coco(tmp_path / "coco.json", table)
    (cohort / "annotations.csv").unlink()
    result = run("annotations", "import", "coco", export, "--cohort", cohort)
    assert result.exit_code == 0, result.output
    assert (cohort / "annotations.csv").read_bytes() == original
    text = " ".join(result.output.split())
    counts = table["phase"].value_counts()
    assert (
        f"annotations.csv: {len(table)} frames of {table['file'].nunique()} videos from 12 patients "
        f"({counts['cortical']} cortical, {counts['medullary']} medullary; phase from labels {len(table)}, "
        "from time since injection 0)."
    ) in text
    result = run("annotations", "import", "coco", export, "--cohort", cohort, "--force")
    assert result.exit_code == 0 and "the previous table is kept as" in " ".join(result.output.split())
    assert (cohort / "annotations.csv.bak1").read_bytes() == original


def test_bad_input_exits_2_with_one_message_and_no_traceback(cohort, tmp_path):
    before = (cohort / "annotations.csv").read_bytes()
    table = pd.read_csv(cohort / "annotations.csv", dtype=str, keep_default_na=False)
    export = _coco(tmp_path / "coco.json", table)
    result = run("annotations", "import", "coco", export, "--cohort", cohort)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "exists; the import never overwrites it unless asked" in result.output
    table.loc[0, "ceus_box"] = "60,30,100,40"
    result = run(
        "annotations", "import", "coco", _coco(tmp_path / "cross.json", table), "--cohort", cohort, "--force"
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "error (InputError)" in result.output and "crosses the panel boundary" in result.output
    result = run(
        "annotations", "import", "coco", export, "--cohort", cohort, "--force", "--labels", "arterial"
    )
    assert result.exit_code == 2 and "'--labels': 'arterial' is not PHASE=LABEL" in result.output
    result = run("annotations", "import", "coco", export, "--cohort", cohort, "--force", "--cortical", "9")
    assert result.exit_code == 2 and "--cortical" in result.output
    result = run("annotations", "import", "yolo", export, "--cohort", cohort)
    assert result.exit_code == 2 and "'yolo' is not one of" in result.output
    assert (cohort / "annotations.csv").read_bytes() == before and not list(cohort.glob("*.bak*"))
