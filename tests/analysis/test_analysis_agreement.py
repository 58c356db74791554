"""ICC and Fleiss' kappa per reader group against studykit.stats called directly."""

from __future__ import annotations

import pytest
from analysis_support import hand_reads

from studykit import stats
from studykit.analysis import AnalysisOptions, icc_table, kappa_table
from studykit.errors import InputError


def test_icc_all_forms_with_chosen_flag(reads):
    t = icc_table(reads)
    direct = stats.icc(reads, "patient_id", "reader_id", "score")
    assert t.estimate.to_numpy() == pytest.approx(direct.estimate.to_numpy())
    assert t[t.chosen].form.tolist() == ["ICC2"]
    assert set(t.rating) == {"score"} and set(t.arm) == {"junior"}
    t3 = icc_table(reads, options=AnalysisOptions(icc_form="ICC3k"))
    assert t3[t3.chosen].form.tolist() == ["ICC3k"]


def test_icc_on_calls_without_scores():
    reads = hand_reads(scores=False)
    t = icc_table(reads)
    direct = stats.icc(reads, "patient_id", "reader_id", "call")
    assert set(t.rating) == {"call"}
    assert t.estimate.to_numpy() == pytest.approx(direct.estimate.to_numpy())


def test_fleiss_kappa(reads):
    t = kappa_table(reads)
    direct = stats.fleiss_kappa(reads, "patient_id", "reader_id", "call")
    assert t.estimate.item() == pytest.approx(direct.estimate.item())
    assert (t.metric.item(), t.arm.item(), t.unit.item()) == ("fleiss_kappa", "junior", "patient")


def test_bad_icc_form():
    with pytest.raises(InputError, match="did you mean 'ICC2'"):
        AnalysisOptions(icc_form="ICC22")
