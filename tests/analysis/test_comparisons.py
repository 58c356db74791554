"""DeLong and McNemar comparisons: pairs, hand counts, Holm vs statsmodels."""

from __future__ import annotations

import pytest
from analysis_support import clustered_study
from statsmodels.stats.multitest import multipletests

from studykit import stats
from studykit.analysis import AnalysisOptions, aggregate_patients, compare_arms
from studykit.errors import InputError


def _row(t, a, b, unit, metric):
    hit = t[(t.arm_a == a) & (t.arm_b == b) & (t.unit == unit) & (t.metric == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_default_pairs_and_delong(predictions, reads):
    t = compare_arms(predictions, reads)
    pairs = t[t.unit == "patient"][["arm_a", "arm_b"]].drop_duplicates().apply(tuple, axis=1).tolist()
    assert pairs == [("A", "B"), ("A", "junior"), ("B", "junior")]
    agg = aggregate_patients(predictions)
    a, b = (agg[agg.arm == arm].prob_malignant.to_numpy() for arm in ("A", "B"))
    direct = stats.delong_test(agg[agg.arm == "A"].label.to_numpy(), a, b)
    row = _row(t, "A", "B", "patient", "auc")
    assert row.estimate == pytest.approx(direct.estimate.item())
    assert row.p == pytest.approx(direct.p.item())
    assert (row.estimate_a, row.estimate_b) == pytest.approx((0.9, direct.auc_b.item()))


def test_mcnemar_counts_by_hand(predictions, reads):
    t = compare_arms(predictions, reads)
    sens = _row(t, "A", "B", "patient", "sensitivity")   # A misses p2, B misses p3
    assert (sens.b, sens.c, sens.n) == (1, 1, 5) and sens.p == pytest.approx(1.0)
    spec = _row(t, "A", "junior", "patient", "specificity")  # both call p6 malignant
    assert (spec.b, spec.c) == (0, 0)
    sens_j = _row(t, "A", "junior", "patient", "sensitivity")  # A misses p2, junior misses p3
    assert (sens_j.b, sens_j.c) == (1, 1)


def test_holm_matches_statsmodels(predictions, reads):
    t = compare_arms(predictions, reads)
    for _, family in t.groupby(["unit", "metric"]):
        expected = multipletests(family.p.to_numpy(), method="holm")[1]
        assert family.p_adjusted.to_numpy() == pytest.approx(expected)


def test_reference_and_explicit_pairs(predictions, reads):
    t = compare_arms(predictions, reads, options=AnalysisOptions(reference="junior", units=("patient",)))
    assert set(zip(t.arm_a, t.arm_b)) == {("junior", "A"), ("junior", "B")}
    options = AnalysisOptions(comparisons=[("B", "A")], units=("patient",))
    t = compare_arms(predictions, reads, options=options)
    assert set(zip(t.arm_a, t.arm_b)) == {("B", "A")}
    with pytest.raises(InputError, match="did you mean 'junior'"):
        compare_arms(predictions, reads, options=AnalysisOptions(reference="junoir"))


def test_image_level_model_pairs_clustered():
    one = clustered_study()
    two = one.assign(arm="N", prob_malignant=one.prob_malignant ** 2 * 0.9 + 0.05 * (one.index % 3))
    preds = __import__("pandas").concat([one, two])
    t = compare_arms(preds)
    row = _row(t, "M", "N", "image", "auc")
    direct = stats.delong_test(one.label, one.prob_malignant, two.prob_malignant.to_numpy(),
                               cluster=one.patient_id)
    assert row.estimate == pytest.approx(direct.estimate.item())
    assert row.se == pytest.approx(direct.se.item())
    assert row.n_clusters == 40 and "clustered" in row.method
