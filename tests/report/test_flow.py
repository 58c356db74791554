"""Flow diagram: the drawing (the counts are studykit.analysis.flow_counts', tested in
tests/analysis/test_flow_counts.py)."""

from __future__ import annotations

import fake_study as fake

from studykit.analysis import flow_counts
from studykit.report import flow_figure, save_figure


def test_flow_figure_renders_deterministically(tmp_path):
    counts = flow_counts(fake.manifest(), index_test=dict.fromkeys(fake.truth()["patient_id"], 1))
    a = save_figure(flow_figure(counts), tmp_path / "a" / "flow")
    b = save_figure(flow_figure(counts), tmp_path / "b" / "flow")
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    assert a[0].stat().st_size > 10_000
