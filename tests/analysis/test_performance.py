"""Table 3 against hand-computed numbers, stats.roc_auc, and the reference study's reader rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import clustered_study

from studykit import stats
from studykit.analysis import AnalysisOptions, aggregate_patients, performance_table
from studykit.errors import InputError


def _row(table, arm, unit, metric):
    hit = table[(table.arm == arm) & (table.unit == unit) & (table.metric == metric)]
    assert len(hit) == 1, (arm, unit, metric)
    return hit.iloc[0]


def test_patient_level_by_hand(predictions, reads):
    t = performance_table(predictions, reads)
    assert _row(t, "A", "patient", "auc").estimate == pytest.approx(22.5 / 25)
    for arm in ("A", "B", "junior"):
        for metric in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
            row = _row(t, arm, "patient", metric)
            assert row.estimate == pytest.approx(0.8)
        assert (_row(t, arm, "patient", "sensitivity")[["numerator", "denominator"]] == [4, 5]).all()
        assert _row(t, arm, "patient", "accuracy")[["tp", "fp", "fn", "tn"]].tolist() == [4, 1, 1, 4]
    junior = _row(t, "junior", "patient", "auc")
    assert junior.estimate == pytest.approx(0.8)  # (sens + spec) / 2
    assert "binary call" in junior.method
    assert _row(t, "junior", "patient", "auc_score").method.startswith("panel mean score")
    assert _row(t, "A", "patient", "auc").threshold_origin == "0.5 (default)"
    assert set(t.n_patients) == {10} and set(t.n_patients_arm) == {10}
    assert list(t.columns[:4]) == ["estimate", "ci_low", "ci_high", "p"]


def test_wilson_ci_of_proportions(predictions, reads):
    t = performance_table(predictions, reads)
    direct = stats.diagnostic_metrics([1] * 5 + [0] * 5, [1, 1, 0, 1, 1, 0, 1, 0, 0, 0]).set_index("metric")
    row = _row(t, "A", "patient", "sensitivity")
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(direct.loc["sensitivity", ["ci_low", "ci_high"]]))


@pytest.mark.parametrize("rule", ["mean", "median", "max", "logit_mean"])
def test_auc_equals_roc_auc_on_aggregated(predictions, reads, rule):
    t = performance_table(predictions, reads, options=AnalysisOptions(aggregation=rule, units=("patient",)))
    agg = aggregate_patients(predictions, rule=rule)
    for arm in ("A", "B"):
        part = agg[agg.arm == arm]
        direct = stats.roc_auc(part.label.to_numpy(), part.prob_malignant.to_numpy())
        row = _row(t, arm, "patient", "auc")
        assert (row.estimate, row.ci_low, row.ci_high) == pytest.approx(
            tuple(direct[["estimate", "ci_low", "ci_high"]].iloc[0]))


def test_aggregation_rules_by_hand(predictions):
    p3 = {rule: aggregate_patients(predictions, rule=rule).query("arm == 'A' and patient_id == 'p3'")
          .prob_malignant.item() for rule in ("mean", "median", "max", "logit_mean")}
    logit = np.mean(np.log(np.array([.55, .45]) / (1 - np.array([.55, .45]))))
    assert p3 == pytest.approx({"mean": .5, "median": .5, "max": .55, "logit_mean": 1 / (1 + np.exp(-logit))})


def test_image_level_clustered_and_wider_than_naive():
    preds = clustered_study()
    t = performance_table(preds, options=AnalysisOptions(n_boot=500))
    image, patient = _row(t, "M", "image", "auc"), _row(t, "M", "patient", "auc")
    assert image.estimate != patient.estimate
    assert image.n == len(preds) and image.n_clusters == 40 and patient.n == 40
    clustered = stats.roc_auc(preds.label, preds.prob_malignant, cluster=preds.patient_id)
    naive = stats.roc_auc(preds.label, preds.prob_malignant)
    assert image.ci_low == pytest.approx(clustered.ci_low.item())
    assert image.ci_high - image.ci_low > naive.ci_high.item() - naive.ci_low.item()
    sens = _row(t, "M", "image", "sensitivity")
    calls = (preds.prob_malignant >= 0.5).astype(int)
    wilson = stats.diagnostic_metrics(preds.label, calls).set_index("metric").loc["sensitivity"]
    assert sens.estimate == pytest.approx(wilson.estimate)
    assert sens.ci_high - sens.ci_low > wilson.ci_high - wilson.ci_low
    assert "patient-cluster bootstrap" in sens.method


def _paper_reads(sens_hits: int, spec_hits: int, group: str) -> pd.DataFrame:
    """Three readers whose majority vote gets sens_hits/100 and spec_hits/81 right."""
    rows = []
    for i in range(181):
        malignant = i < 100
        right = i < sens_hits if malignant else i - 100 < spec_hits
        call = int(malignant) if right else int(not malignant)
        for r in range(3):
            flip = r == 2 and i % 7 == 0  # one dissenting reader never changes the majority
            rows.append({"reader_id": f"{group}{r}", "group": group, "patient_id": f"s{i:03d}",
                         "call": 1 - call if flip else call, "score": np.nan})
    return pd.DataFrame(rows)


def test_reference_study_reader_rows():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(100, int), np.zeros(81, int)]
    prob = np.clip(0.5 + 0.2 * (labels - 0.5) + rng.normal(0, 0.2, 181), 0, 1)
    preds = pd.DataFrame({"arm": "MUF-Net", "fold": np.arange(181) % 5,
                          "patient_id": [f"s{i:03d}" for i in range(181)], "image_id": np.arange(181),
                          "label": labels, "prob_malignant": prob, "threshold": 0.5})
    reads = pd.concat([_paper_reads(89, 48, "junior"), _paper_reads(96, 51, "senior")])
    t = performance_table(preds, reads, options=AnalysisOptions(units=("patient",)))
    for group, (tp, tn, paper_auc) in {"junior": (89, 48, 0.740), "senior": (96, 51, 0.794)}.items():
        sens, spec = _row(t, group, "patient", "sensitivity"), _row(t, group, "patient", "specificity")
        assert (sens.numerator, sens.denominator, spec.numerator, spec.denominator) == (tp, 100, tn, 81)
        auc = _row(t, group, "patient", "auc").estimate
        assert auc == pytest.approx((sens.estimate + spec.estimate) / 2)
        assert auc == pytest.approx(paper_auc, abs=0.003)
        assert "auc_score" not in set(t[t.arm == group].metric)


def test_arm_missing_patients_raises_or_intersects(predictions, reads):
    short = predictions[~((predictions.arm == "B") & (predictions.patient_id == "p9"))]
    with pytest.raises(InputError, match=r"arm 'B' lacks 1 patient\(s\) that other arms have: p9"):
        performance_table(short, reads)
    t = performance_table(short, reads, options=AnalysisOptions(allow_missing=True, units=("patient",)))
    assert set(t.n_patients) == {9}
    assert _row(t, "A", "patient", "auc").n_patients_arm == 10
    assert _row(t, "B", "patient", "auc").n_patients_arm == 9


def test_missing_column_named(predictions):
    with pytest.raises(InputError, match=r"'predictions'.*no column 'prob_malignant'"):
        performance_table(predictions.drop(columns="prob_malignant"))


def test_label_disagreement_with_manifest(predictions, manifest):
    manifest.loc[manifest.patient_id == "p0", "label"] = "benign"
    with pytest.raises(InputError, match=r"disagrees with the manifest's label for 1 patient\(s\): p0"):
        performance_table(predictions, manifest=manifest)


def test_patient_in_two_folds_rejected(predictions):
    predictions.loc[predictions.image_id == "p0_1", "fold"] = 1
    with pytest.raises(InputError, match="a patient is in two test folds of one arm"):
        performance_table(predictions)
