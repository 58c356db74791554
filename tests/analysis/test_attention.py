"""attention_over_time: a sequence arm's per-frame attention by class and time, closed-form cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from studykit.analysis import ATTENTION_SUMMARY, attention_over_time
from studykit.errors import InputError


def _attention() -> tuple[pd.DataFrame, pd.DataFrame]:
    # a: 4 frames (one untimed) → relative weights 4w = 0.4, 0.8, 1.2 (and 1.6, not binned);
    # b: 2 frames → 0.5, 1.5; c: 2 frames → 1.0, 1.0; d has no label: left out
    attention = pd.DataFrame({"patient_id": ["a"] * 4 + ["b"] * 2 + ["c"] * 2 + ["d"],
                              "time_s": [5, 15, 16, np.nan, 5, 25, 12, 14, 3],
                              "frame_weight": [0.1, 0.2, 0.3, 0.4, 0.25, 0.75, 0.5, 0.5, 1.0]})
    labels = pd.DataFrame({"patient_id": ["a", "b", "c"], "label": [1, 1, 0]})
    return attention, labels


def test_relative_weights_are_averaged_per_patient_then_per_class():
    table = attention_over_time(*_attention(), bin_s=10.0)
    assert list(table.columns) == list(ATTENTION_SUMMARY)
    assert table[["group", "time_s", "n"]].values.tolist() == [[0, 15.0, 1], [1, 5.0, 2], [1, 15.0, 1],
                                                               [1, 25.0, 1]]
    np.testing.assert_allclose(table["mean"], [1.0, 0.45, 1.0, 1.5])  # a's 15-s bin: (0.8 + 1.2) / 2
    sd = np.std([0.4, 0.5], ddof=1)
    half = scipy_stats.t.ppf(0.975, 1) * sd / np.sqrt(2)
    np.testing.assert_allclose(table.loc[1, ["sd", "ci_low", "ci_high"]].astype(float), [sd, 0.45 - half,
                                                                                          0.45 + half])
    assert table.loc[[0, 2, 3], ["sd", "ci_low", "ci_high"]].isna().all().all()  # n = 1: no interval
    wide = attention_over_time(*_attention(), bin_s=30.0, confidence=0.9)
    assert wide["time_s"].tolist() == [15.0, 15.0] and wide["n"].tolist() == [1, 2]
    assert (wide["ci_level"] == 0.9).all()


def test_uniform_attention_reads_one_everywhere():
    attention = pd.DataFrame({"patient_id": np.repeat(["p", "q", "r"], 5),
                              "time_s": np.tile(np.arange(5) * 7.0, 3), "frame_weight": 0.2})
    table = attention_over_time(attention, pd.DataFrame({"patient_id": ["p", "q", "r"], "label": [0, 1, 1]}))
    np.testing.assert_allclose(table["mean"], 1.0)
    np.testing.assert_allclose(table.loc[table["n"] == 2, ["ci_low", "ci_high"]], 1.0)  # no spread


def test_bad_inputs_are_named():
    attention, labels = _attention()
    with pytest.raises(InputError) as caught:
        attention_over_time(attention, labels, bin_s=0)
    assert caught.value.field == "bin_s"
    with pytest.raises(InputError, match="frame_weight"):
        attention_over_time(attention.drop(columns="frame_weight"), labels)
    empty = attention_over_time(attention.assign(time_s=np.nan), labels)
    assert empty.empty and list(empty.columns) == list(ATTENTION_SUMMARY)
