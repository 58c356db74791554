"""run_analyses: every table, determinism, options, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import PATIENTS

from studykit.analysis import TABLES, AnalysisOptions, run_analyses
from studykit.errors import InputError

OPTIONS = AnalysisOptions(continuous=["age"], categorical=["sex"], n_boot=300, seed=7)


def _truth():
    rng = np.random.default_rng(3)  # no posterior separates the classes perfectly (DeLong CI defined)
    y = np.r_[np.ones(5), np.zeros(5)]
    names = [f"posterior_{level}_{modality}" for level in ("frame", "video", "all")
             for modality in ("bmode", "ceus", "both")]
    noisy = {name: np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.4, 10), 0, 1) for name in names}
    return pd.DataFrame({"patient_id": PATIENTS, **noisy})


def test_every_table_and_shape(predictions, reads, manifest):
    tables = run_analyses(predictions, reads, manifest, options=OPTIONS, truth=_truth())
    assert list(tables) == list(TABLES)
    for name, table in tables.items():
        assert list(table.columns[:4]) == ["estimate", "ci_low", "ci_high", "p"], name
        assert "unit" in table.columns and "metric" in table.columns, name
    assert {"ceiling", "level", "modality"} <= set(tables["ceiling"].columns)


def test_deterministic(predictions, reads, manifest):
    first = run_analyses(predictions, reads, manifest, options=OPTIONS, truth=_truth())
    again = run_analyses(predictions.copy(), reads.copy(), manifest.copy(), options=OPTIONS, truth=_truth())
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    other = run_analyses(predictions, reads, manifest, options=AnalysisOptions(seed=8, n_boot=300,
                                                                               analyses=["calibration"]))
    brier = other["calibration"].query("metric == 'brier'")
    assert not np.allclose(brier.ci_low, first["calibration"].query("metric == 'brier'").ci_low)


def test_tables_without_their_inputs_are_left_out(predictions):
    tables = run_analyses(predictions)
    assert list(tables) == ["table3_performance", "comparisons", "calibration", "decision_curve", "folds"]


def test_selected_analyses_only(predictions, reads):
    tables = run_analyses(predictions, reads, options=AnalysisOptions(analyses=["icc"]))
    assert list(tables) == ["icc"]
    with pytest.raises(InputError, match="did you mean 'folds'"):
        AnalysisOptions(analyses=["fold"])


def test_bad_reads_call(predictions, reads):
    reads = reads.astype({"call": object})
    reads.loc[0, "call"] = "maybe"
    with pytest.raises(InputError, match="must be 0/1"):
        run_analyses(predictions, reads)


def test_bad_probability(predictions):
    predictions.loc[3, "prob_malignant"] = 1.5
    with pytest.raises(InputError, match=r"predictions\.prob_malignant"):
        run_analyses(predictions)
