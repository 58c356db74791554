"""cohort.annotation_import: CVAT video/images XML 1.1, COCO and Label Studio JSON → annotations.csv.

Every fixture export is written here, in the tool's own format, from a tiny synthetic cohort's
``annotations.csv``; importing it back must give that table again (boxes, frames, phases). The
error paths check the message and that no byte of an existing table changes. The dual-display
split of plain videos is checked on an MP4 whose panels are black and white.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import pytest

from studykit.cohort import ingest
from studykit.cohort.annotation_import import import_annotations, parse_labels, read_export
from studykit.cohort.synth import synthesize
from studykit.cohort.synth.dicom import write_mp4
from studykit.cohort.tables import parse_box, read_manifest
from studykit.errors import DataError, InputError

SIZE = {"dcm": (160, 72, 8), "mp4": (160, 72, 8)}  # columns, rows, frames of the tiny cohorts


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("annot")
    # preset v2: the annotation table without the cortex_box column, which no importer writes
    synthesize(root / "dcm", tiny=True, seed=0, preset="v2")
    synthesize(root / "mp4", tiny=True, seed=0, syntax="mp4", preset="v2")
    manifest = pd.read_csv(root / "mp4" / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["panels"] = ["halves" if r == "" else "" for r in manifest["excluded_reason"]]
    manifest.to_csv(root / "mp4" / "manifest.csv", index=False)
    return {"dcm": root / "dcm", "mp4": root / "mp4"}


@pytest.fixture
def copy(cohorts, tmp_path):
    def make(kind: str = "dcm") -> Path:
        folder = Path(shutil.copytree(cohorts[kind], tmp_path / kind, ignore=shutil.ignore_patterns("store")))
        return folder

    return make


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "annotations.csv", dtype=str, keep_default_na=False)


def _rows(table: pd.DataFrame):
    """(video name, frame, phase, bmode box, ceus box) per annotated frame."""
    for r in table.itertuples(index=False):
        yield Path(r.file).name, int(r.frame), r.phase, parse_box(r.bmode_box), parse_box(r.ceus_box)


# ------------------------------------------------------------------------------ fixture writers


def cvat_video(path: Path, table: pd.DataFrame, frames: int) -> Path:
    """CVAT for video 1.1, project form: a task per video, a track per panel with a keyframe per
    annotated frame, interpolated (keyframe="0") boxes between keyframes and an outside="1" end."""
    videos = sorted({Path(f).name for f in table["file"]})
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotations>",
        "  <version>1.1</version>",
        "  <meta>",
        "    <project><id>1</id><name>renal</name><tasks>",
    ]
    for t, name in enumerate(videos):
        lines += [
            f"      <task><id>{t + 10}</id><name>{name}</name><size>{frames}</size><mode>interpolation"
            f"</mode><start_frame>0</start_frame><stop_frame>{frames - 1}</stop_frame><frame_filter>"
            f"</frame_filter><source>{name}</source></task>"
        ]
    lines += ["    </tasks></project>", "  </meta>"]
    track = 0
    rows = list(_rows(table))
    for t, name in enumerate(videos):
        mine = [r for r in rows if r[0] == name]
        for side in (3, 4):
            lines.append(f'  <track id="{track}" label="lesion" source="manual" task_id="{t + 10}">')
            for i, (_, frame, phase, *boxes) in enumerate(mine):
                b = boxes[side - 3]
                nxt = mine[i + 1][1] if i + 1 < len(mine) else None
                spans = [(frame, "1", "0")] + [(f, "0", "0") for f in range(frame + 1, nxt or frame + 1)]
                if nxt is None and frame + 1 < frames:
                    spans.append((frame + 1, "1", "1"))
                for f, key, outside in spans:
                    lines.append(
                        f'    <box frame="{f}" keyframe="{key}" outside="{outside}" occluded="0" '
                        f'xtl="{b.x0:.2f}" ytl="{b.y0:.2f}" xbr="{b.x1:.2f}" ybr="{b.y1:.2f}" z_order="0">'
                        f'<attribute name="phase">{phase}</attribute></box>'
                    )
            lines.append("  </track>")
            track += 1
    lines.append("</annotations>")
    path.write_text("\n".join(lines) + "\n")
    return path


def cvat_images(path: Path, table: pd.DataFrame, size, labels=("cortical", "medullary")) -> Path:
    """CVAT for images 1.1: an image per annotated frame named <stem>_frame_<n>.png; phase as the label,
    and a box labelled ``cortex`` where the table has a ``cortex_box``."""
    word = dict(zip(("cortical", "medullary"), labels))
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotations>",
        "  <version>1.1</version>",
        "  <meta><task><id>3</id><name>frames</name><mode>annotation</mode></task></meta>",
    ]
    cortex = table["cortex_box"].tolist() if "cortex_box" in table.columns else [""] * len(table)
    for i, ((name, frame, phase, *boxes), reference) in enumerate(zip(_rows(table), cortex)):
        image = f"{Path(name).stem}_frame_{frame:06d}.png"
        lines.append(f'  <image id="{i}" name={quoteattr(image)} width="{size[0]}" height="{size[1]}">')
        labelled = [(word[phase], b) for b in boxes]
        labelled += [("cortex", parse_box(reference))] if reference else []
        for label, b in labelled:
            lines.append(
                f'    <box label="{label}" source="manual" occluded="0" xtl="{b.x0}" ytl="{b.y0}" '
                f'xbr="{b.x1}" ybr="{b.y1}" z_order="0"></box>'
            )
        lines.append("  </image>")
    lines.append("</annotations>")
    path.write_text("\n".join(lines) + "\n")
    return path


def coco(path: Path, table: pd.DataFrame, size) -> Path:
    """COCO detection JSON as CVAT's COCO 1.0 writes it; images <stem>/frame_<n>.png, phase attribute."""
    images, annotations = [], []
    for i, (name, frame, phase, *boxes) in enumerate(_rows(table)):
        images.append(
            {
                "id": i + 1,
                "width": size[0],
                "height": size[1],
                "file_name": f"{Path(name).stem}/frame_{frame:06d}.png",
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": 0,
            }
        )
        for b in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "segmentation": [],
                    "area": float(b.width * b.height),
                    "bbox": [float(b.x0), float(b.y0), float(b.width), float(b.height)],
                    "iscrowd": 0,
                    "attributes": {"occluded": False, "phase": phase},
                }
            )
    data = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"description": "", "version": ""},
        "categories": [{"id": 1, "name": "lesion", "supercategory": ""}],
        "images": images,
        "annotations": annotations,
    }
    path.write_text(json.dumps(data, indent=1))
    return path


def _pct(b, size) -> dict:
    w, h = size[:2]
    return {
        "x": 100 * b.x0 / w,
        "y": 100 * b.y0 / h,
        "width": 100 * b.width / w,
        "height": 100 * b.height / h,
    }


def label_studio_video(path: Path, table: pd.DataFrame, size) -> Path:
    """Label Studio JSON: a video task per video, a videorectangle per panel and phase (frames from 1)."""
    tasks = []
    rows = list(_rows(table))
    for t, name in enumerate(sorted({r[0] for r in rows})):
        results = []
        for side in (3, 4):
            for phase in ("cortical", "medullary"):
                seq = [
                    {
                        "frame": frame + 1,
                        "enabled": True,
                        "rotation": 0,
                        "time": frame * 13.143,
                        **_pct(boxes[side - 3], size),
                    }
                    for (n, frame, p, *boxes) in rows
                    if n == name and p == phase
                ]
                if seq:
                    results.append(
                        {
                            "id": f"r{t}{side}{phase[0]}",
                            "type": "videorectangle",
                            "from_name": "box",
                            "to_name": "video",
                            "origin": "manual",
                            "value": {"framesCount": 8, "duration": 92.0, "sequence": seq, "labels": [phase]},
                        }
                    )
        tasks.append(
            {
                "id": 100 + t,
                "data": {"video": f"/data/upload/7/3f2a9c1b-{name}"},
                "annotations": [{"id": 1, "result": results, "was_cancelled": False, "completed_by": 1}],
                "predictions": [],
            }
        )
    path.write_text(json.dumps(tasks))
    return path


def label_studio_images(path: Path, table: pd.DataFrame, size, label: str | None = None) -> Path:
    """Label Studio JSON: an image task per annotated frame with two rectanglelabels results."""
    tasks = []
    for i, (name, frame, phase, *boxes) in enumerate(_rows(table)):
        image = f"{Path(name).stem}_frame_{frame:06d}.png"
        results = [
            {
                "id": f"b{i}{k}",
                "type": "rectanglelabels",
                "from_name": "label",
                "to_name": "image",
                "original_width": size[0],
                "original_height": size[1],
                "image_rotation": 0,
                "value": {"rotation": 0, **_pct(b, size), "rectanglelabels": [label or phase]},
            }
            for k, b in enumerate(boxes)
        ]
        tasks.append(
            {
                "id": i + 1,
                "data": {"image": f"/data/local-files/?d=frames/{image}"},
                "annotations": [{"id": i + 1, "result": results, "was_cancelled": False}],
            }
        )
    path.write_text(json.dumps(tasks))
    return path


WRITERS = {
    "cvat-video": lambda p, t, s: cvat_video(p, t, s[2]),
    "cvat-images": cvat_images,
    "coco": coco,
    "label-studio": label_studio_video,
}


# ---------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    ("kind", "fmt"), [("dcm", f) for f in WRITERS] + [("mp4", "cvat-video"), ("mp4", "label-studio")]
)
def test_round_trip_gives_the_original_table(copy, kind, fmt, tmp_path):
    folder = copy(kind)
    original = (folder / "annotations.csv").read_bytes()
    export = WRITERS[fmt](tmp_path / f"export.{fmt}", _table(folder), SIZE[kind])
    result = import_annotations(fmt, export, folder, out=folder / "imported.csv")
    assert (folder / "imported.csv").read_bytes() == original
    assert (result.from_labels, result.from_time) == (len(_table(folder)), 0)
    assert (folder / "annotations.csv").read_bytes() == original


def test_label_studio_image_tasks_and_mapped_labels(copy, tmp_path):
    folder = copy()
    table = _table(folder)
    export = cvat_images(tmp_path / "images.xml", table, SIZE["dcm"], labels=("arterial", "late"))
    import_annotations(
        "cvat-images",
        export,
        folder,
        out=folder / "a.csv",
        labels=parse_labels("cortical=arterial,medullary=late"),
    )
    assert (folder / "a.csv").read_bytes() == (folder / "annotations.csv").read_bytes()
    with pytest.raises(InputError, match="PHASE=LABEL"):
        parse_labels("arterial")
    export = label_studio_images(tmp_path / "ls.json", table, SIZE["dcm"])
    import_annotations("label-studio", export, folder, out=folder / "b.csv")
    assert (folder / "b.csv").read_bytes() == (folder / "annotations.csv").read_bytes()


def test_cortex_boxes_fill_the_cortex_box_column(tmp_path):
    """Boxes labelled ``cortex`` (the generator's own cortex boxes, one frame left without) come back
    as ``cortex_box``, empty where none was drawn; a cortex box on the B-mode panel, a second one on
    a frame, or one on a frame without lesion boxes is refused, naming the element; nothing is
    written then."""
    folder = synthesize(tmp_path / "cohort", tiny=True, seed=0).out_dir  # format 3: with cortex_box
    table = _table(folder)
    table.loc[1, "cortex_box"] = ""
    export = cvat_images(tmp_path / "c.xml", table, SIZE["dcm"])
    result = import_annotations("cvat-images", export, folder, out=folder / "c.csv")
    pd.testing.assert_frame_equal(_table(folder).pipe(lambda t: t.assign(cortex_box=table["cortex_box"])),
                                  pd.read_csv(folder / "c.csv", dtype=str, keep_default_na=False))
    assert list(result.table.columns)[-1] == "cortex_box"
    with pytest.raises(InputError, match="a second box in the CEUS panel"):  # no label means cortex
        import_annotations("cvat-images", export, folder, out=folder / "d.csv", cortex_label="")
    before = (folder / "c.csv").read_bytes()
    bad = table.copy()
    bad.loc[0, "cortex_box"] = "2,20,8,26"  # left (B-mode) panel
    with pytest.raises(InputError, match=r"line 8 .*RC0001_frame_000002.*box 2,20,8,26 is in the B-mode"):
        import_annotations("cvat-images", cvat_images(tmp_path / "b.xml", bad, SIZE["dcm"]), folder,
                           out=folder / "c.csv", force=True)
    text = export.read_text()
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if 'label="cortex"' in line)
    lines.insert(first + 1, '    <box label="cortex" xtl="120" ytl="20" xbr="124" ybr="24"></box>')
    (tmp_path / "twice.xml").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="a second cortex box"):
        import_annotations("cvat-images", tmp_path / "twice.xml", folder, out=folder / "c.csv", force=True)
    lone = text.replace("</annotations>", '  <image id="99" name="RC0001_frame_000007.png" width="160" '
                        'height="72">\n    <box label="cortex" xtl="120" ytl="20" xbr="124" ybr="24">'
                        "</box>\n  </image>\n</annotations>")
    (tmp_path / "lone.xml").write_text(lone)
    with pytest.raises(InputError, match="a 'cortex' box on a frame with no lesion boxes"):
        import_annotations("cvat-images", tmp_path / "lone.xml", folder, out=folder / "c.csv", force=True)
    assert (folder / "c.csv").read_bytes() == before


def test_cvat_video_imports_keyframes_unless_all_frames(copy, tmp_path):
    folder = copy()
    table = _table(folder)
    table = table[[int(f) % 2 == 0 for f in table["frame"]]]  # even frames: interpolated ones between
    export = cvat_video(tmp_path / "v.xml", table, 8)
    boxes = read_export("cvat-video", export)
    assert len(boxes) == 2 * len(table)  # the keyframes: one per panel and annotated frame
    frames = table.groupby("file")["frame"].apply(lambda s: [int(v) for v in s])
    spans = sum(max(f) - min(f) + 1 for f in frames)
    assert spans > len(table)
    # interpolated boxes too, but never an outside="1" one
    assert len(read_export("cvat-video", export, all_frames=True)) == 2 * spans
    result = import_annotations("cvat-video", export, folder, out=folder / "all.csv", all_frames=True)
    assert len(result.table) == spans
    assert set(result.table["frame"]) <= set(range(8))


def test_phase_from_time_since_injection(copy, tmp_path):
    folder = copy()
    table = _table(folder)
    manifest = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["injection_s"] = "4"  # the synthetic videos start 4 s before the injection
    manifest.to_csv(folder / "manifest.csv", index=False)
    export = label_studio_images(tmp_path / "ls.json", table, SIZE["dcm"], label="lesion")
    # frames are 13.143 s apart (Frame Time) from -4 s: frame 3 is 35.4 s after injection, frame 4 48.6 s
    result = import_annotations(
        "label-studio",
        export,
        folder,
        out=folder / "t.csv",
        windows={"cortical": (10.0, 40.0), "medullary": (40.0, 120.0)},
    )
    assert (result.from_labels, result.from_time) == (0, len(table))
    imported = pd.read_csv(folder / "t.csv", dtype=str, keep_default_na=False)
    expected = ["cortical" if int(f) * 13.143 - 4 <= 40 else "medullary" for f in table["frame"]]
    assert list(imported["phase"]) == expected and "medullary" in expected and "cortical" in expected
    assert imported.drop(columns="phase").equals(table.drop(columns="phase"))
    with pytest.raises(InputError, match=r"48\.6 s after injection, in no phase window") as caught:
        import_annotations(
            "label-studio",
            export,
            folder,
            out=folder / "u.csv",
            windows={"cortical": (10.0, 30.0), "medullary": (30.0, 40.0)},
        )
    assert "task 3 ([2]), annotations[0].result[0] (videos/RC0001.dcm, frame 4)" in str(caught.value)
    assert not (folder / "u.csv").exists()


# -------------------------------------------------------------------------------------- errors


def _edited(folder: Path, tmp_path: Path, change) -> Path:
    table = _table(folder)
    change(table)
    return coco(tmp_path / "edited.json", table, SIZE["dcm"])


def _refused(folder: Path, export: Path, kind=InputError, **kwargs):
    """Import with --force; the error must leave annotations.csv byte for byte and write no backup."""
    before = (folder / "annotations.csv").read_bytes()
    with pytest.raises(kind) as caught:
        import_annotations(kwargs.pop("fmt", "coco"), export, folder, force=True, **kwargs)
    assert (folder / "annotations.csv").read_bytes() == before
    assert not list(folder.glob("annotations.csv.bak*")) and not list(folder.glob(".annotations*"))
    assert caught.value.file == str(export)
    return str(caught.value)


def test_box_crossing_the_panels(copy, tmp_path):
    folder = copy()
    export = _edited(folder, tmp_path, lambda t: t.__setitem__("bmode_box", ["70,30,90,40"] * len(t)))
    text = _refused(folder, export)
    assert (
        "annotations[0] (image 'RC0001/frame_000002.png') (videos/RC0001.dcm, frame 2): box 70,30,90,40 "
        "crosses the panel boundary (B-mode panel 0,8,80,72, CEUS panel 80,8,160,72)" in text
    )
    assert "redraw the box inside one panel" in text


def test_two_boxes_in_one_panel_and_a_lone_box(copy, tmp_path):
    folder = copy()
    table = _table(folder)
    first = table["bmode_box"].iat[0]
    export = _edited(folder, tmp_path, lambda t: t.__setitem__("ceus_box", t["bmode_box"]))
    assert (
        "annotations[1] (image 'RC0001/frame_000002.png') (videos/RC0001.dcm, frame 2): a second box in "
        "the B-mode panel (the first is annotations[0]" in _refused(folder, export)
    )
    data = json.loads(coco(tmp_path / "lone.json", table, SIZE["dcm"]).read_text())
    del data["annotations"][3]  # the CEUS box of the second image
    (tmp_path / "lone.json").write_text(json.dumps(data))
    text = _refused(folder, tmp_path / "lone.json")
    assert (
        "annotations[2] (image 'RC0001/frame_000003.png') (videos/RC0001.dcm, frame 3): the frame has a "
        "B-mode box but no CEUS box"
        in text
        and first
    )


def test_unknown_file_and_frame_beyond_the_video(copy, tmp_path):
    folder = copy()
    export = _edited(folder, tmp_path, lambda t: t.__setitem__("file", ["videos/XRC0005.dcm"] * len(t)))
    text = _refused(folder, export)
    assert (
        "annotations[0] (image 'XRC0005/frame_000002.png'): 'XRC0005/frame_000002.png' matches no video"
        in text
    )
    assert "did you mean 'RC0005'?" in text
    export = _edited(folder, tmp_path, lambda t: t.__setitem__("frame", ["8"] * len(t)))
    text = _refused(folder, export)
    assert "frame 8 is beyond the video, which has 8 frame(s) (0–7)" in text
    table = _table(folder)
    export = label_studio_video(tmp_path / "ls.json", table, SIZE["dcm"])
    data = json.loads(export.read_text())
    data[0]["annotations"][0]["result"][0]["value"]["sequence"][0]["frame"] = 9
    export.write_text(json.dumps(data))
    text = _refused(folder, export, fmt="label-studio")
    assert (
        "task 100 ([0]), annotations[0].result[0].value.sequence[0] (videos/RC0001.dcm, frame 8): frame 8 "
        "is beyond the video"
        in text
        and "Label Studio counts from 1" in text
    )


def test_existing_table_is_kept_unless_force_then_backed_up(copy, tmp_path):
    folder = copy()
    before = (folder / "annotations.csv").read_bytes()
    export = coco(tmp_path / "c.json", _table(folder), SIZE["dcm"])
    with pytest.raises(InputError, match="exists; the import never overwrites it") as caught:
        import_annotations("coco", export, folder)
    assert "--force" in caught.value.hint and (folder / "annotations.csv").read_bytes() == before
    (folder / "annotations.csv").write_text("patient_id,file,frame,phase,bmode_box,ceus_box\n")
    result = import_annotations("coco", export, folder, force=True)
    assert result.backup == folder / "annotations.csv.bak1"
    assert result.backup.read_text() == "patient_id,file,frame,phase,bmode_box,ceus_box\n"
    assert (folder / "annotations.csv").read_bytes() == before


def test_malformed_exports(copy, tmp_path):
    folder = copy()
    (tmp_path / "bad.xml").write_text("<annotations><version>1.1</version><track>")
    assert "is not well-formed XML" in _refused(folder, tmp_path / "bad.xml", fmt="cvat-video")
    images = cvat_images(tmp_path / "img.xml", _table(folder), SIZE["dcm"])
    assert "it is a CVAT for images export" in _refused(folder, images, fmt="cvat-video")
    with pytest.raises(InputError, match="format 'cvat-image' is not one of") as caught:
        read_export("cvat-image", images)
    assert "did you mean 'cvat-images'" in caught.value.hint


# --------------------------------------------------------------------------- dual-display split


def _black_white_cohort(root: Path, panels: str) -> Path:
    """One patient, an MP4 of 64×128 frames: left half 0 (B-mode), right half 255 (CEUS)."""
    frames = np.zeros((3, 64, 128), np.uint8)
    frames[:, :, 64:] = 255
    (root / "videos").mkdir(parents=True)
    write_mp4(root / "videos" / "P1.mp4", frames, 100.0, {})
    pd.DataFrame({"patient_id": ["P1"], "label": ["benign"], "panels": [panels]}).to_csv(
        root / "manifest.csv", index=False
    )
    pd.DataFrame(
        {
            "patient_id": ["P1"],
            "file": ["videos/P1.mp4"],
            "frame": [1],
            "phase": ["cortical"],
            "bmode_box": ["40,20,60,40"],
            "ceus_box": ["68,20,88,40"],
        }
    ).to_csv(root / "annotations.csv", index=False)
    return root


def test_plain_video_split_keeps_crops_inside_their_panel(tmp_path):
    split = ingest(_black_white_cohort(tmp_path / "split", "halves"), size=16, margin=1.0)
    # margin 1.0 widens 40-60 to 20-80 and 68-88 to 48-108: clipped at the boundary x = 64
    assert split.images[0, 0].max() < 40 and split.images[0, 1].min() > 215
    single = ingest(_black_white_cohort(tmp_path / "single", ""), size=16, margin=1.0)
    assert single.images[0, 0].max() > 215 and single.images[0, 1].min() < 40  # bled into the other panel
    explicit = ingest(_black_white_cohort(tmp_path / "boxes", "0,0,64,64;64,0,128,64"), size=16, margin=1.0)
    assert np.array_equal(explicit.images, split.images)
    assert explicit.path.name != split.path.name  # the manifest (and so the key) differs
    again = ingest(tmp_path / "single", size=16, margin=1.0, panels="halves")
    assert np.array_equal(again.images, split.images) and again.path.name != single.path.name


def test_split_errors_are_row_precise(tmp_path):
    folder = _black_white_cohort(tmp_path / "c", "left")
    with pytest.raises(DataError) as caught:
        read_manifest(folder / "manifest.csv")
    error = caught.value
    assert (error.row, error.field) == (1, "panels") and "is neither 'halves' nor two boxes" in error.message
    pd.DataFrame({"patient_id": ["P1"], "label": ["benign"], "panels": ["0,0,70,64;60,0,128,64"]}).to_csv(
        folder / "manifest.csv", index=False
    )
    with pytest.raises(DataError, match="overlapping B-mode and CEUS panels"):
        read_manifest(folder / "manifest.csv")
    pd.DataFrame({"patient_id": ["P1"], "label": ["benign"], "panels": ["0,0,64,64;64,0,200,64"]}).to_csv(
        folder / "manifest.csv", index=False
    )
    with pytest.raises(DataError) as caught:
        ingest(folder, size=16)
    assert (
        "puts the CEUS panel 64,0,200,64 outside the 128×64 frame of 'videos/P1.mp4'" in caught.value.message
    )
    assert (caught.value.row, caught.value.field) == (1, "panels")
    with pytest.raises(InputError, match="panels 'thirds' is neither"):
        ingest(folder, size=16, panels="thirds")


def test_cvat_video_task_export_maps_task_frames_to_video_frames(copy, tmp_path):
    """A single-task export with start_frame 1 and step=2: task frame k is video frame 1 + 2k."""
    folder = copy()
    xml = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><id>4</id><name>RC0002</name><size>4</size><mode>interpolation</mode><start_frame>1</start_frame>
    <stop_frame>7</stop_frame><frame_filter>step=2</frame_filter><source>RC0002.dcm</source></task></meta>
  <track id="0" label="cortical" source="manual">
    <box frame="1" keyframe="1" outside="0" occluded="0" xtl="10.4" ytl="20.0" xbr="30.6" ybr="40.0"/>
    <box frame="2" keyframe="1" outside="1" occluded="0" xtl="10.4" ytl="20.0" xbr="30.6" ybr="40.0"/>
  </track>
  <track id="1" label="cortical" source="manual">
    <box frame="1" keyframe="1" outside="0" occluded="0" xtl="90" ytl="20" xbr="110" ybr="40" z_order="0"/>
    <box frame="2" keyframe="1" outside="1" occluded="0" xtl="90" ytl="20" xbr="110" ybr="40" z_order="0"/>
  </track>
</annotations>
"""
    (tmp_path / "task.xml").write_text(xml)
    result = import_annotations("cvat-video", tmp_path / "task.xml", folder, out=folder / "task.csv")
    assert result.table.to_dict("records") == [
        {"patient_id": "RC0002", "file": "videos/RC0002.dcm", "frame": 3, "phase": "cortical",
         "bmode_box": "10,20,31,40", "ceus_box": "90,20,110,40"}]
