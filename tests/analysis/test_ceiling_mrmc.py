"""Bayes ceiling with a truth table; MRMC against stats.model_vs_readers called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import MAJORITY, PATIENTS

from studykit import stats
from studykit.analysis import (
    AnalysisOptions,
    aggregate_patients,
    ceiling_table,
    matching_posterior,
    mrmc_table,
    posterior_column,
)
from studykit.errors import InputError

Y = np.r_[np.ones(5, int), np.zeros(5, int)]
LEVELS, MODALITIES = ("frame", "video", "all"), ("bmode", "ceus", "both")
NINE = [f"posterior_{level}_{modality}" for level in LEVELS for modality in MODALITIES]


@pytest.fixture
def truth() -> pd.DataFrame:
    """Nine posterior columns: B-mode equal at every level (no temporal latents); CEUS and both
    drawn afresh per level (class separation growing with the level), so each differs."""
    rng = np.random.default_rng(8)
    cols = {}
    bmode = rng.random(10)
    for k, level in enumerate(LEVELS):
        both = np.clip(0.5 + (0.2 + 0.1 * k) * (Y - 0.5) + rng.normal(0, 0.2, 10), 0.01, 0.99)
        cols |= {f"posterior_{level}_bmode": bmode,
                 f"posterior_{level}_ceus": np.clip(both + rng.normal(0, 0.2, 10), 0, 1),
                 f"posterior_{level}_both": both}
    return pd.DataFrame({"patient_id": PATIENTS, **cols})


def test_posterior_column_names():
    assert posterior_column("frame", "bmode") == "posterior_frame_bmode"
    assert posterior_column("video", "both") == "posterior_video_both"
    with pytest.raises(InputError, match="did you mean 'video'"):
        posterior_column("vidoe", "both")


def test_matching_posterior_model_arms_get_the_frame_level_by_modality():
    assert matching_posterior("B-mode-Net", kind="model") == "posterior_frame_bmode"
    assert matching_posterior("ceus_net", kind="model") == "posterior_frame_ceus"
    assert matching_posterior("MUF-Net", kind="model") == "posterior_frame_both"
    assert matching_posterior("bmode_ceus_concat", kind="model") == "posterior_frame_both"


def test_matching_posterior_reader_arms_get_video_both():
    assert matching_posterior("junior", kind="readers") == "posterior_video_both"
    # a reader group named like a modality still reads the whole video of both modalities
    assert matching_posterior("ceus_readers", kind="readers") == "posterior_video_both"
    with pytest.raises(InputError, match=r"'kind'.*\n.*did you mean 'readers'"):
        matching_posterior("junior", kind="reader")


def test_matching_posterior_explicit_match_wins():
    assert matching_posterior("A", {"A": "posterior_all_ceus"}, kind="model") == "posterior_all_ceus"
    assert matching_posterior("B-mode-Net", {"B-mode-Net": "posterior_video_both"},
                              kind="model") == "posterior_video_both"
    assert matching_posterior("junior", {"junior": "posterior_frame_both"},
                              kind="readers") == "posterior_frame_both"
    assert matching_posterior("B", {"A": "posterior_all_ceus"}, kind="model") == "posterior_frame_both"


def test_matching_posterior_explicit_bad_name():
    with pytest.raises(InputError, match=r"ceiling_match\['A'\].*got 'posterior_frame_cues'"
                                         r"(.|\n)*did you mean 'posterior_frame_ceus'"):
        matching_posterior("A", {"A": "posterior_frame_cues"}, kind="model")
    with pytest.raises(InputError, match=r"ceiling_match\['A'\]': must be one of 'posterior_frame_bmode'"):
        matching_posterior("A", {"A": "posterior_both"}, kind="model")  # an old name: no alias


def test_ceiling_table(predictions, reads, truth):
    t = ceiling_table(predictions, reads, truth)
    rows = t[t.metric == "auc_ceiling"].set_index("arm")
    assert list(rows.index) == NINE and set(rows.arm_kind) == {"ceiling"}
    for name in NINE:
        assert rows.estimate[name] == pytest.approx(stats.roc_auc(Y, truth[name]).estimate.item())
        assert (rows.ceiling[name], f"posterior_{rows.level[name]}_{rows.modality[name]}") == (name, name)
    gap = t[(t.arm == "A") & (t.metric == "auc_minus_ceiling")].iloc[0]
    a = aggregate_patients(predictions).query("arm == 'A'").prob_malignant.to_numpy()
    direct = stats.delong_test(Y, a, truth.posterior_frame_both.to_numpy())
    assert (gap.ceiling, gap.level) == ("posterior_frame_both", "frame")
    assert (gap.estimate, gap.p) == pytest.approx((direct.estimate.item(), direct.p.item()))
    junior = t[(t.arm == "junior") & (t.metric == "auc_minus_ceiling")].iloc[0]
    direct = stats.delong_test(Y, np.array(MAJORITY, float), truth.posterior_video_both.to_numpy())
    assert (junior.ceiling, junior.level, junior.arm_kind) == ("posterior_video_both", "video", "readers")
    assert (junior.estimate, junior.p) == pytest.approx((direct.estimate.item(), direct.p.item()))
    auc_rows = t[t.metric == "auc"].set_index("arm")
    assert dict(auc_rows.ceiling) == {"A": "posterior_frame_both", "B": "posterior_frame_both",
                                      "junior": "posterior_video_both"}
    with pytest.raises(InputError, match=r"lacks 1 analysed patient\(s\): p9"):
        ceiling_table(predictions, reads, truth.iloc[:9])


def test_ceiling_table_explicit_match(predictions, reads, truth):
    options = AnalysisOptions(ceiling_match={"A": "posterior_all_both", "junior": "posterior_frame_ceus"})
    t = ceiling_table(predictions, reads, truth, options=options)
    gaps = t[t.metric == "auc_minus_ceiling"].set_index("arm")
    assert dict(gaps.ceiling) == {"A": "posterior_all_both", "B": "posterior_frame_both",
                                  "junior": "posterior_frame_ceus"}
    assert dict(gaps.level) == {"A": "all", "B": "frame", "junior": "frame"}
    a = aggregate_patients(predictions).query("arm == 'A'").prob_malignant.to_numpy()
    direct = stats.delong_test(Y, a, truth.posterior_all_both.to_numpy())
    assert gaps.estimate["A"] == pytest.approx(direct.estimate.item())
    bad = AnalysisOptions(ceiling_match={"A": "posterior_vido_both"})
    with pytest.raises(InputError, match="did you mean 'posterior_video_both'"):
        ceiling_table(predictions, reads, truth, options=bad)


def test_ceiling_table_old_truth_format(predictions, reads, truth):
    old = pd.DataFrame({"patient_id": PATIENTS, "posterior_bmode": truth.posterior_frame_bmode,
                        "posterior_ceus": truth.posterior_frame_ceus,
                        "posterior_both": truth.posterior_all_both})
    with pytest.raises(InputError, match="lacks the posterior column") as err:
        ceiling_table(predictions, reads, old)
    assert err.value.field == "truth"
    assert all(name in err.value.message for name in NINE)
    assert "regenerate the synthetic cohort" in err.value.hint and "studykit synth" in err.value.hint
    assert "delete the cached cohort folder" in err.value.hint
    partial = truth.drop(columns=["posterior_video_ceus"])
    with pytest.raises(InputError, match=r"lacks the posterior column\(s\) posterior_video_ceus \("):
        ceiling_table(predictions, reads, partial)


def test_ceiling_gap_known_answer():
    """Six patients, one image each. By Mann–Whitney counts over the 3 × 3 (malignant, benign) pairs:
    CEUS-Net .9 .6 .4 | .5 .3 .1 → 3 + 3 + 2 = 8 pairs won, AUC 8/9;
    posterior_frame_ceus .7 .3 .8 | .3 .6 .1 → 3 + (1 + ½ tie) + 3 = 7.5, AUC 7.5/9 = 5/6;
    gap 8/9 − 5/6 = 1/18. Every other posterior is .1 .2 .9 | .8 .3 .4 → 0 + 0 + 3, AUC 1/3,
    so a wrong match shows."""
    ids, y = [f"q{i}" for i in range(6)], [1, 1, 1, 0, 0, 0]
    preds = pd.DataFrame({"arm": "CEUS-Net", "fold": 0, "patient_id": ids,
                          "image_id": [f"{p}_0" for p in ids], "label": y,
                          "prob_malignant": [.9, .6, .4, .5, .3, .1], "threshold": 0.5})
    truth = pd.DataFrame({"patient_id": ids, **{name: [.1, .2, .9, .8, .3, .4] for name in NINE}})
    truth["posterior_frame_ceus"] = [.7, .3, .8, .3, .6, .1]
    t = ceiling_table(preds, None, truth)
    gap = t[t.metric == "auc_minus_ceiling"].iloc[0]
    assert (gap.arm, gap.ceiling, gap.level) == ("CEUS-Net", "posterior_frame_ceus", "frame")
    assert gap.estimate == pytest.approx(1 / 18)
    by_roc = (stats.roc_auc(y, preds.prob_malignant).estimate.item()
              - stats.roc_auc(y, truth.posterior_frame_ceus).estimate.item())
    assert gap.estimate == pytest.approx(by_roc)
    assert t[t.metric == "auc"].estimate.item() == pytest.approx(8 / 9)
    ceil = t[t.metric == "auc_ceiling"].set_index("arm").estimate
    assert ceil["posterior_frame_ceus"] == pytest.approx(5 / 6)
    assert ceil.drop("posterior_frame_ceus").tolist() == pytest.approx([1 / 3] * 8)


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
