"""Regenerate the README figures in docs/figures/ from the fake study.

Run: ``python tests/report/make_doc_figures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

import fake_study as fake

from studykit.analysis import flow_counts, reader_points, reliability_bins, roc_bands, roc_curves
from studykit.report import (
    calibration_figure,
    decision_curve_figure,
    flow_figure,
    gradcam_figure,
    roc_figure,
    save_figure,
)

OUT = Path(__file__).resolve().parents[2] / "docs" / "figures"


def main() -> None:
    scores, reads = fake.patient_scores(), fake.reads()
    points = reader_points(reads, fake.truth())
    muf = scores[scores["arm"] == "muf_net"].set_index("patient_id")["prob_malignant"]
    figures = {
        "roc": roc_figure(roc_curves(scores), bands=roc_bands(scores), points=points,
                          aucs=fake.table3(scores, reads), arm_labels=fake.ARM_LABELS),
        "calibration": calibration_figure(reliability_bins(scores), arm_labels=fake.ARM_LABELS),
        "decision_curve": decision_curve_figure(fake.decision_curve(scores, reads, n_boot=1000),
                                                arm_labels=fake.ARM_LABELS),
        "flow": flow_figure(flow_counts(fake.manifest(), index_test=muf.ge(0.5).astype(int)),
                            records_text="Pathology records", index_test_name="MUF-Net"),
        "gradcam": gradcam_figure(fake.gradcam(n=4, size=96)),
    }
    for name, fig in figures.items():
        save_figure(fig, OUT / name, formats=("png",), dpi=150 if name != "gradcam" else 90)


if __name__ == "__main__":
    main()
