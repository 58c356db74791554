"""Contact sheet of the default synthetic cohort: docs/synth_contact_sheet.png.

One row per subtype (the first patient of each at seed 0), three dual-display frames per
row: before contrast arrival, cortical phase and medullary phase. Annotated frames show
the annotator's boxes (green: B-mode, orange: CEUS).

    python benchmarks/make_contact_sheet.py [--out docs/synth_contact_sheet.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studykit.cohort.synth import SUBTYPES, draw_cohort, render_patient

LABEL_WIDTH = 120
COLOURS = {"bmode_box": (60, 220, 90), "ceus_box": (255, 150, 40)}


def pick_frames(times: np.ndarray, phases: dict[int, str]) -> list[int]:
    """Last frame before 8 s, the middle cortical frame and the middle medullary frame."""
    before = int(np.flatnonzero(times < 8.0)[-1])
    picks = [before]
    for phase in ("cortical", "medullary"):
        frames = sorted(f for f, p in phases.items() if p == phase)
        picks.append(frames[len(frames) // 2])
    return picks


def frame_tile(rendered, frame: int) -> Image.Image:
    """One frame as RGB with its annotation boxes (if annotated) and a time caption."""
    tile = Image.fromarray(rendered.video[frame]).convert("RGB")
    draw = ImageDraw.Draw(tile)
    rows = rendered.annotations[rendered.annotations["frame"] == frame]
    for _, row in rows.iterrows():
        for column, colour in COLOURS.items():
            x0, y0, x1, y1 = map(int, row[column].split(","))
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour)
    phase = rows["phase"].iloc[0] if len(rows) else "not annotated"
    draw.text((tile.width // 2 - 60, 0), f"t = {rendered.times[frame]:+.0f} s  {phase}", fill=(230, 230, 230))
    return tile


def contact_sheet(seed: int = 0) -> Image.Image:
    """The sheet: one row per subtype, three frames per row, labels on the left."""
    truth = draw_cohort(seed=seed).truth
    rows = []
    for subtype in SUBTYPES:
        row = truth[truth["subtype"] == subtype].iloc[0]
        rendered = render_patient(row["patient_id"], seed=seed)
        phases = dict(zip(rendered.annotations["frame"], rendered.annotations["phase"]))
        tiles = [frame_tile(rendered, f) for f in pick_frames(rendered.times, phases)]
        width = LABEL_WIDTH + sum(t.width + 4 for t in tiles)
        strip = Image.new("RGB", (width, tiles[0].height), (16, 16, 16))
        x = LABEL_WIDTH
        for tile in tiles:
            strip.paste(tile, (x, 0))
            x += tile.width + 4
        ImageDraw.Draw(strip).multiline_text(
            (6, tiles[0].height // 2 - 20),
            f"{subtype}\n{row['label']}\n{row['patient_id']}\n"
            f"P(mal | frames) = {row['posterior_frame_both']:.2f}",
            fill=(235, 235, 235))
        rows.append(strip)
    sheet = Image.new("RGB", (rows[0].width, sum(r.height + 4 for r in rows)), (0, 0, 0))
    for k, strip in enumerate(rows):
        sheet.paste(strip, (0, k * (strip.height + 4)))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).parents[1] / "docs" / "synth_contact_sheet.png"
    parser.add_argument("--out", type=Path, default=default)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(args.seed).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
