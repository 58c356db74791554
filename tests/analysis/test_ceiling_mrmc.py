"""Bayes ceiling with a truth table; MRMC against stats.model_vs_readers called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import PATIENTS

from studykit import stats
from studykit.analysis import aggregate_patients, ceiling_table, matching_posterior, mrmc_table
from studykit.errors import InputError

Y = np.r_[np.ones(5, int), np.zeros(5, int)]


@pytest.fixture
def truth() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    both = np.clip(0.5 + 0.35 * (Y - 0.5) + rng.normal(0, 0.15, 10), 0.01, 0.99)
    return pd.DataFrame({"patient_id": PATIENTS, "posterior_bmode": rng.random(10),
                         "posterior_ceus": np.clip(both + rng.normal(0, 0.2, 10), 0, 1),
                         "posterior_both": both})


def test_matching_posterior():
    assert matching_posterior("B-mode-Net") == "posterior_bmode"
    assert matching_posterior("ceus_net") == "posterior_ceus"
    assert matching_posterior("MUF-Net") == "posterior_both"
    assert matching_posterior("A", {"A": "posterior_ceus"}) == "posterior_ceus"


def test_ceiling_table(predictions, reads, truth):
    t = ceiling_table(predictions, reads, truth)
    ceil = t[t.metric == "auc_ceiling"].set_index("arm").estimate
    for name in ("posterior_bmode", "posterior_ceus", "posterior_both"):
        assert ceil[name] == pytest.approx(stats.roc_auc(Y, truth[name]).estimate.item())
    gap = t[(t.arm == "A") & (t.metric == "auc_minus_ceiling")].iloc[0]
    a = aggregate_patients(predictions).query("arm == 'A'").prob_malignant.to_numpy()
    direct = stats.delong_test(Y, a, truth.posterior_both.to_numpy())
    assert gap.ceiling == "posterior_both"
    assert (gap.estimate, gap.p) == pytest.approx((direct.estimate.item(), direct.p.item()))
    with pytest.raises(InputError, match=r"lacks 1 analysed patient\(s\): p9"):
        ceiling_table(predictions, reads, truth.iloc[:9])


def test_mrmc_equals_model_vs_readers(predictions, reads):
    t = mrmc_table(predictions, reads)
    assert set(zip(t.arm_a, t.arm_b)) == {("junior", "A"), ("junior", "B")}
    a = aggregate_patients(predictions).query("arm == 'A'")
    model = pd.DataFrame({"reader": "model:A", "case": a.patient_id, "truth": a.label,
                          "rating": a.prob_malignant})
    humans = pd.DataFrame({"reader": reads.reader_id, "case": reads.patient_id,
                           "truth": reads.patient_id.map(dict(zip(PATIENTS, Y))),
                           "rating": reads.score.astype(float)})
    data = pd.concat([model, humans])
    direct = stats.model_vs_readers(data, model_reader="model:A")
    mine = t[t.arm_b == "A"].set_index("analysis")
    for _, row in direct.iterrows():
        got = mine.loc[row.analysis]
        assert (got.estimate, got.p, got.df) == pytest.approx((row.estimate, row.p, row.df))
    assert set(t.rating) == {"score"}
