"""Tests of ``studykit.stats.agreement``.

Known answers: psych::ICC (live through ``rbridge`` and stored in ``golden/psych_icc.json``),
the Shrout & Fleiss (1979) worked example, pingouin's ``intraclass_corr``; Fleiss's (1971)
psychiatric-diagnosis table (kappa and irr's z), statsmodels' ``fleiss_kappa`` and a
brute-force jackknife; hand-counted majority votes.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pingouin
import pytest
import rbridge
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats import _icc, agreement
from studykit.stats.agreement import fleiss_kappa, icc, majority_vote

FORMS = ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
# Their Table 4, to two decimals.
SHROUT_FLEISS_PUBLISHED = [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]

# Fleiss (1971), Table 1: 30 patients, each diagnosed by 6 psychiatrists (not the same 6);
# counts of the diagnoses depression, personality disorder, schizophrenia, neurosis, other.
FLEISS_1971 = np.array([
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
])
DIAGNOSES = ["depression", "personality disorder", "schizophrenia", "neurosis", "other"]
# R irr::kappam.fleiss on these data, as recorded in statsmodels' test_inter_rater.py.
IRR_KAPPA, IRR_Z = 0.4302445, 17.65183

PSYCH_ICC = """
suppressPackageStartupMessages(library(psych))
x <- unclass(xtabs(rating ~ target + rater, data = inputs$ratings))
r <- psych::ICC(x, lmer = FALSE, alpha = 1 - inputs$options$confidence)$results
result <- list(form = r$type, estimate = r$ICC, statistic = r$F, df1 = r$df1, df2 = r$df2, p = r$p,
               ci_low = r[["lower bound"]], ci_high = r[["upper bound"]])
"""


# --- helpers ---------------------------------------------------------------------------

def long_table(x: np.ndarray, *, rating: str = "rating") -> pd.DataFrame:
    """targets × raters matrix → long frame ``target, rater, rating`` (raters named r1, r2 …)."""
    n, k = x.shape
    return pd.DataFrame({"target": np.repeat(np.arange(1, n + 1), k),
                         "rater": np.tile([f"r{j + 1}" for j in range(k)], n),
                         rating: x.ravel()})


def counts_to_long(counts: np.ndarray, categories: list) -> pd.DataFrame:
    """Fleiss's counts table → one row per rating; rater ids are positions within a target."""
    rows = [(i + 1, f"r{j + 1}", cat)
            for i, row in enumerate(counts)
            for j, cat in enumerate(np.repeat(categories, row))]
    return pd.DataFrame(rows, columns=["target", "rater", "rating"])


def icc_inputs(x: np.ndarray, confidence: float) -> dict[str, pd.DataFrame]:
    return {"ratings": long_table(np.asarray(x, dtype=float)),
            "options": pd.DataFrame({"confidence": [confidence]})}


def assert_matches_psych(ours: pd.DataFrame, psych: dict) -> None:
    theirs = pd.DataFrame(psych)
    assert ours["form"].tolist() == theirs["form"].tolist() == FORMS
    for col in ("estimate", "statistic", "ci_low", "ci_high"):
        np.testing.assert_allclose(ours[col], theirs[col].astype(float), rtol=1e-9, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(ours["p"], theirs["p"].astype(float), rtol=1e-6, atol=0, err_msg="p")
    np.testing.assert_array_equal(ours["df1"], theirs["df1"])
    np.testing.assert_array_equal(ours["df2"], theirs["df2"])


def run_icc(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return icc(frames["ratings"], "target", "rater", "rating",
               confidence=float(frames["options"]["confidence"].iloc[0]))


def well_conditioned(x: np.ndarray) -> bool:
    """Residual and between-target mean squares clear of rounding (R's QR vs our sums)."""
    msr, _, mse, _ = _icc._mean_squares(np.asarray(x, dtype=float))
    total = np.var(x) + 1e-300
    return mse > 1e-6 * total and msr > 1e-6 * total


@st.composite
def rating_tables(draw, max_targets: int = 12, max_raters: int = 6):
    """A targets × raters table of normal, ordinal (1–5) or binary ratings, and a confidence."""
    n, k = draw(st.integers(2, max_targets)), draw(st.integers(2, max_raters))
    kind = draw(st.sampled_from(["normal", "ordinal", "binary"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    target_sd, rater_sd = draw(st.sampled_from([0.0, 0.5, 2.0])), draw(st.sampled_from([0.0, 0.3, 1.0]))
    x = rng.normal(0, target_sd, (n, 1)) + rng.normal(0, rater_sd, (1, k)) + rng.normal(size=(n, k))
    if kind == "ordinal":
        x = np.clip(np.round(x + 3), 1, 5)
    elif kind == "binary":
        x = (x > 0).astype(float)
    return x, draw(st.sampled_from([0.9, 0.95, 0.99]))


def golden_cases() -> list[dict[str, pd.DataFrame]]:
    """The fixed inputs of golden/psych_icc.json: the published table and seeded tables."""
    rng = np.random.default_rng(20240611)
    continuous = rng.normal(0, 1.5, (15, 1)) + rng.normal(0, 0.7, (1, 5)) + rng.normal(size=(15, 5))
    ordinal = np.clip(np.round(3 + rng.normal(0, 1, (30, 1)) + rng.normal(0, 0.8, (30, 4))), 1, 5)
    binary = (rng.normal(0, 1, (20, 1)) + rng.normal(0, 0.8, (20, 3)) > 0.3).astype(float)
    negative = rng.normal(0, 0.1, (8, 1)) + rng.normal(size=(8, 3))  # ICC1 < 0 expected
    small = rng.normal(size=(3, 2))
    return [icc_inputs(SHROUT_FLEISS, 0.95), icc_inputs(continuous, 0.90), icc_inputs(ordinal, 0.99),
            icc_inputs(binary, 0.95), icc_inputs(negative, 0.95), icc_inputs(small, 0.95)]


def regenerate_golden() -> list:
    """Rewrite golden/psych_icc.json from R (``python tests/regen_golden.py test_agreement``)."""
    return [rbridge.write_golden(__file__, "psych_icc", PSYCH_ICC, ("psych",), golden_cases())]


def test_docstring_examples_run():
    failures, tried = doctest.testmod(agreement, extraglobs={"pd": pd})
    assert tried >= 3 and failures == 0


# --- ICC: known answers ----------------------------------------------------------------

def test_icc_reproduces_shrout_fleiss_published_table():
    result = icc(long_table(SHROUT_FLEISS), "target", "rater", "rating")
    assert result["form"].tolist() == FORMS
    np.testing.assert_allclose(result["estimate"], SHROUT_FLEISS_PUBLISHED, atol=0.005)
    assert result["description"].tolist() == [
        "Single_raters_absolute", "Single_random_raters", "Single_fixed_raters",
        "Average_raters_absolute", "Average_random_raters", "Average_fixed_raters"]
    assert (result["n"] == 6).all() and (result["n_raters"] == 4).all() and (result["ci_level"] == 0.95).all()
    assert result.columns.tolist() == ["estimate", "ci_low", "ci_high", "p", "statistic", "df1", "df2",
                                       "method", "n", "ci_level", "form", "description", "n_raters"]
    assert result["df1"].tolist() == [5] * 6 and result["df2"].tolist() == [18, 15, 15, 18, 15, 15]


def test_icc_matches_golden_psych():
    golden = rbridge.load_golden(__file__, "psych_icc")
    assert "lmer = FALSE" in golden["r_code"]
    assert len(golden["cases"]) == len(golden_cases())
    for case in golden["cases"]:
        assert_matches_psych(run_icc(rbridge.frames_of(case["inputs"])), case["result"])


def test_golden_inputs_are_the_generated_ones():
    stored = rbridge.load_golden(__file__, "psych_icc")["cases"]
    for case, frames in zip(stored, golden_cases(), strict=True):
        pd.testing.assert_frame_equal(rbridge.frames_of(case["inputs"])["ratings"], frames["ratings"],
                                      check_dtype=False)


@pytest.mark.r
@settings(max_examples=10)
@given(rating_tables())
def test_icc_matches_live_psych(table):
    rbridge.require_r("psych")
    x, confidence = table
    assume(well_conditioned(x))
    frames = icc_inputs(x, confidence)
    assert_matches_psych(run_icc(frames), rbridge.run_r(PSYCH_ICC, frames))


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pingouin under pandas 3
@settings(max_examples=25)
@given(rating_tables(max_targets=15))
def test_icc_matches_pingouin(table):
    x, _ = table
    assume(well_conditioned(x) and x.size >= 5)
    ours = icc(long_table(x), "target", "rater", "rating", confidence=0.95)
    saved = dict(pingouin.options)
    pingouin.options.update({"round": None, "round.column.CI95": None})  # pingouin rounds CIs to 2 decimals
    try:
        theirs = pingouin.intraclass_corr(long_table(x), "target", "rater", "rating")
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)
    for col, their_col in (("estimate", "ICC"), ("statistic", "F"), ("df1", "df1"), ("df2", "df2")):
        np.testing.assert_allclose(ours[col], theirs[their_col], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["p"], theirs["pval"], rtol=1e-9)
    bounds = np.stack(theirs["CI95"].to_numpy())
    np.testing.assert_allclose(ours[["ci_low", "ci_high"]], bounds, rtol=1e-9, atol=1e-12)


@settings(max_examples=20)
@given(rating_tables(), st.floats(0.1, 10), st.floats(-5, 5), st.randoms(use_true_random=False))
def test_icc_invariant_to_order_and_affine_rescaling(table, scale, shift, random):
    x, confidence = table
    assume(well_conditioned(x))
    base = icc(long_table(x), "target", "rater", "rating", confidence=confidence)
    rows, cols = list(range(x.shape[0])), list(range(x.shape[1]))
    random.shuffle(rows)
    random.shuffle(cols)
    frame = long_table(x[np.ix_(rows, cols)] * scale + shift).sample(frac=1.0, random_state=0)
    moved = icc(frame, "target", "rater", "rating", confidence=confidence)
    for col in ("estimate", "ci_low", "ci_high", "statistic", "p"):
        np.testing.assert_allclose(moved[col], base[col], rtol=1e-7, atol=1e-9)


def test_icc_accepts_booleans_like_zero_one():
    x = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 1, 0]])
    as_bool = icc(long_table(x.astype(bool)), "target", "rater", "rating")
    as_int = icc(long_table(x), "target", "rater", "rating")
    pd.testing.assert_frame_equal(as_bool, as_int)


def test_icc_perfect_consistency_gives_bounds_at_their_limit():
    # raters differ by constant offsets only: MSE = 0, so ICC3 = 1 with an infinite F
    x = np.array([[1.0, 2.0, 4.0], [3.0, 4.0, 6.0], [2.0, 3.0, 5.0], [6.0, 7.0, 9.0]])
    result = icc(long_table(x), "target", "rater", "rating").set_index("form")
    assert result.loc["ICC3", "estimate"] == pytest.approx(1.0)
    assert result.loc[["ICC3", "ICC3k"], ["ci_low", "ci_high"]].to_numpy() == pytest.approx(1.0)
    assert result.loc["ICC3", "p"] == pytest.approx(0.0, abs=1e-12)
    assert 0 < result.loc["ICC2", "estimate"] < 1
    assert result.loc["ICC2", "ci_low"] <= result.loc["ICC2", "estimate"] <= result.loc["ICC2", "ci_high"]


def test_icc_zero_variance_warns_and_returns_nan():
    with pytest.warns(UndefinedStatisticWarning, match="the ICC is undefined: every rating is equal"):
        result = icc(long_table(np.full((4, 3), 2.0)), "target", "rater", "rating")
    assert result[["estimate", "ci_low", "ci_high", "p", "statistic"]].isna().all().all()
    assert result["form"].tolist() == FORMS and (result["n"] == 4).all()


def test_icc_identical_targets_without_residual_warns_for_undefined_forms():
    x = np.tile([1.0, 2.0, 5.0], (4, 1))  # only the raters differ
    with pytest.warns(UndefinedStatisticWarning, match="ICC3, ICC3k is undefined"):
        result = icc(long_table(x), "target", "rater", "rating").set_index("form")
    assert np.isnan(result.loc["ICC3", "estimate"]) and result.loc["ICC2", "estimate"] == pytest.approx(0.0)


# --- ICC: errors -----------------------------------------------------------------------

def test_icc_unbalanced_design_names_targets_and_missing_raters():
    frame = long_table(SHROUT_FLEISS.astype(float))
    frame = frame.drop(index=frame.index[(frame["target"] == 3) & frame["rater"].isin(["r2", "r4"])])
    with pytest.raises(InputError, match=r"complete design.*1 target\(s\) are incomplete: target 3 lacks "
                                         r"rater\(s\) 'r2', 'r4'(?s:.*)hint: drop the incomplete targets"):
        icc(frame, "target", "rater", "rating")


def test_icc_duplicate_cells_name_target_and_rater():
    frame = long_table(SHROUT_FLEISS.astype(float))
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    with pytest.raises(InputError, match=r"one rating per target and rater; 1 pair\(s\) appear more than "
                                         r"once: target 2 × rater 'r2' \(2 rows\)(?s:.*)average a rater's"):
        icc(frame, "target", "rater", "rating")


def test_icc_rejects_string_ratings():
    frame = long_table(SHROUT_FLEISS).astype({"rating": str})
    frame.loc[3, "rating"] = "high"
    with pytest.raises(InputError, match=r"'ratings': column 'rating' must hold numbers \(or booleans\); "
                                         r"got non-numeric values such as '9'(?s:.*)use fleiss_kappa"):
        icc(frame, "target", "rater", "rating")


def test_icc_rejects_missing_and_infinite_ratings_by_position():
    frame = long_table(SHROUT_FLEISS.astype(float))
    frame.loc[[2, 7], "rating"] = np.nan
    with pytest.raises(InputError, match=r"'ratings': column 'rating' contains 2 values \(positions 2, 7\) "
                                         r"that are missing"):
        icc(frame, "target", "rater", "rating")
    frame = long_table(SHROUT_FLEISS.astype(float))
    frame.loc[4, "rating"] = np.inf
    with pytest.raises(InputError, match=r"'ratings': contains 1 value \(position 4\) that are NaN or inf"):
        icc(frame, "target", "rater", "rating")


def test_icc_needs_two_targets_and_two_raters():
    with pytest.raises(InputError, match=r"'targets': needs at least 2 targets; got 1 \(1\)"):
        icc(long_table(np.array([[1.0, 2.0, 3.0]])), "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'raters': needs at least 2 raters; got 1"):
        icc(long_table(np.array([[1.0], [2.0], [4.0]])), "target", "rater", "rating")


def test_icc_unknown_column_suggests_close_name():
    with pytest.raises(InputError, match=r"'ratings': column 'ratng' is not in data(?s:.*)did you mean 'rat"):
        icc(long_table(SHROUT_FLEISS), "target", "rater", "ratng")


def test_icc_missing_ids_and_bad_arguments():
    frame = long_table(SHROUT_FLEISS).astype({"rater": object})
    frame.loc[9, "rater"] = None
    with pytest.raises(InputError, match=r"'raters': column 'rater' contains 1 value \(position 9\) that are "
                                         r"missing(?s:.*)every row needs its target, rater and rating"):
        icc(frame, "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'confidence': must be a number strictly between 0 and 1; got 95"):
        icc(long_table(SHROUT_FLEISS), "target", "rater", "rating", confidence=95)
    with pytest.raises(InputError, match=r"'data': must be a pandas DataFrame; got ndarray"):
        icc(SHROUT_FLEISS, "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'data': has no rows"):
        icc(long_table(SHROUT_FLEISS).iloc[:0], "target", "rater", "rating")


# --- Fleiss' kappa -----------------------------------------------------------------------

def test_fleiss_kappa_reproduces_fleiss_1971_and_irr():
    result = fleiss_kappa(counts_to_long(FLEISS_1971, DIAGNOSES), "target", "rater", "rating")
    row = result.iloc[0]
    assert row["estimate"] == pytest.approx(0.430, abs=5e-4)  # Fleiss (1971), p. 381
    assert row["estimate"] == pytest.approx(IRR_KAPPA, abs=5e-8)
    assert row["statistic"] == pytest.approx(IRR_Z, abs=5e-6)
    assert row["p"] < 1e-60
    assert (row["n"], row["n_raters"], row["n_categories"]) == (30, 6, 5)
    assert row["ci_low"] < row["estimate"] < row["ci_high"] and row["se"] > 0
    assert "jackknife" in row["method"] and "Fleiss-Nee-Landis (1979)" in row["method"]
    assert list(result.columns[:9]) == ["estimate", "ci_low", "ci_high", "p", "statistic", "se", "method",
                                        "n", "ci_level"]


def brute_force_jackknife_se(counts: np.ndarray) -> float:
    """Leave each target out and recompute with statsmodels: the slow reference."""
    n = counts.shape[0]
    kappas = np.array([sm_fleiss_kappa(np.delete(counts, i, axis=0)) for i in range(n)])
    return float(np.sqrt((n - 1) / n * np.sum((kappas - kappas.mean()) ** 2)))


@st.composite
def nominal_ratings(draw):
    """targets × raters categorical calls (integer categories 0..K-1) from a seeded generator."""
    n, m, k = draw(st.integers(3, 40)), draw(st.integers(2, 7)), draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    typical = rng.integers(0, k, size=(n, 1))
    agree = draw(st.sampled_from([0.0, 0.5, 0.9]))
    calls = np.where(rng.random((n, m)) < agree, typical, rng.integers(0, k, size=(n, m)))
    return calls


@settings(max_examples=40)
@given(nominal_ratings(), st.sampled_from([0.9, 0.95]))
def test_fleiss_kappa_matches_statsmodels_and_brute_force_jackknife(calls, confidence):
    counts, _ = aggregate_raters(calls)
    loo_defined = all(np.count_nonzero(np.delete(counts, i, 0).sum(0)) >= 2 for i in range(len(counts)))
    assume(np.count_nonzero(counts.sum(0)) >= 2 and loo_defined)
    row = fleiss_kappa(long_table(calls), "target", "rater", "rating", confidence=confidence).iloc[0]
    assert row["estimate"] == pytest.approx(sm_fleiss_kappa(counts), rel=1e-12, abs=1e-12)
    assert row["se"] == pytest.approx(brute_force_jackknife_se(counts), rel=1e-9, abs=1e-12)
    half = 1.959963984540054 if confidence == 0.95 else 1.6448536269514722
    assert row["ci_high"] == pytest.approx(min(row["estimate"] + half * row["se"], 1.0), rel=1e-12)
    assert row["ci_low"] == pytest.approx(max(row["estimate"] - half * row["se"], -1.0), rel=1e-12)


def test_fleiss_kappa_binary_calls_coded_any_way_agree():
    calls = np.array([[1, 1, 1], [0, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]])
    as_int = fleiss_kappa(long_table(calls), "target", "rater", "rating")
    as_bool = fleiss_kappa(long_table(calls.astype(bool)), "target", "rater", "rating")
    text = long_table(np.where(calls == 1, "malignant", "benign"))
    as_text = fleiss_kappa(text, "target", "rater", "rating")
    for other in (as_bool, as_text):
        pd.testing.assert_frame_equal(other, as_int)
    # by hand: P̄ = (1 + 1 + 1/3 + 1 + 1/3 + 1 + 1/3) / 7 = 5/7, p = 11/21, P_e = (121 + 100) / 441
    chance = 221 / 441
    assert as_int["estimate"].item() == pytest.approx((5 / 7 - chance) / (1 - chance), rel=1e-12)


def test_fleiss_kappa_raters_may_differ_between_targets():
    frame = counts_to_long(FLEISS_1971, DIAGNOSES)
    relabelled = frame.assign(rater=frame["target"].astype(str) + "-" + frame["rater"])
    pd.testing.assert_frame_equal(fleiss_kappa(relabelled, "target", "rater", "rating"),
                                  fleiss_kappa(frame, "target", "rater", "rating"))


def test_fleiss_kappa_single_category_warns_and_returns_nan():
    with pytest.warns(UndefinedStatisticWarning, match="kappa is undefined: every rating falls in one"):
        result = fleiss_kappa(long_table(np.ones((5, 3))), "target", "rater", "rating")
    assert result[["estimate", "ci_low", "ci_high", "p", "statistic", "se"]].isna().all().all()
    assert (result["n"].item(), result["n_raters"].item(), result["n_categories"].item()) == (5, 3, 1)


def test_fleiss_kappa_undefined_jackknife_warns_and_keeps_estimate():
    calls = np.array([[0, 0, 0], [1, 1, 1]])  # leaving either target out leaves one category
    with pytest.warns(UndefinedStatisticWarning, match="jackknife CI of Fleiss' kappa is undefined"):
        row = fleiss_kappa(long_table(calls), "target", "rater", "rating").iloc[0]
    assert row["estimate"] == 1.0 and np.isnan(row["ci_low"]) and np.isnan(row["se"])
    assert row["statistic"] > 0


def test_fleiss_kappa_unequal_rater_counts_name_targets():
    frame = counts_to_long(FLEISS_1971, DIAGNOSES)
    frame = frame.drop(index=frame.index[(frame["target"].isin([4, 9])) & (frame["rater"] == "r6")])
    with pytest.raises(InputError, match=r"'data': must give every target the same number of ratings; "
                                         r"most have 6, but 2 target\(s\) differ: 4 has 5, 9 has 5"
                                         r"(?s:.*)hint: drop"):
        fleiss_kappa(frame, "target", "rater", "rating")


def test_fleiss_kappa_errors():
    frame = long_table(np.array([[1, 0, 1], [0, 0, 1]]))
    with pytest.raises(InputError, match=r"one rating per target and rater; 1 pair\(s\)"):
        fleiss_kappa(pd.concat([frame, frame.iloc[[0]]]), "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'targets': needs at least 2 targets; got 1 \(1\)"):
        fleiss_kappa(frame.iloc[:3], "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'raters': needs at least 2 ratings per target; got 1"):
        fleiss_kappa(frame[frame["rater"] == "r1"], "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'ratings': column 'rating' contains 1 value \(position 1\) that "
                                         r"are missing"):
        fleiss_kappa(frame.assign(rating=[1, None, 1, 0, 0, 1]), "target", "rater", "rating")
    with pytest.raises(InputError, match=r"'confidence': must be a number strictly between 0 and 1; got 0"):
        fleiss_kappa(frame, "target", "rater", "rating", confidence=0)
    with pytest.raises(InputError, match=r"'targets': column 'patient' is not in data"):
        fleiss_kappa(frame, "patient", "rater", "rating")


# --- majority vote -----------------------------------------------------------------------

READS = pd.DataFrame({
    "patient_id": ["p3"] * 3 + ["p1"] * 3 + ["p2"] * 4,
    "reader": ["a", "b", "c", "a", "b", "c", "a", "b", "c", "d"],
    "call": ["malignant", "malignant", "benign", "benign", "benign", "benign",
             "malignant", "benign", "malignant", "benign"],
})


def test_majority_vote_by_hand_with_each_tie_rule():
    positive = majority_vote(READS, "patient_id", "reader", "call", tie="positive", pos_label="malignant")
    assert positive.columns.tolist() == ["patient_id", "call", "votes_positive", "n_raters",
                                         "fraction_positive", "tie"]
    assert positive["patient_id"].tolist() == ["p3", "p1", "p2"]  # order of first appearance
    assert positive["call"].tolist() == [1, 0, 1]
    assert positive["votes_positive"].tolist() == [2, 0, 2]
    assert positive["n_raters"].tolist() == [3, 3, 4]
    assert positive["fraction_positive"].tolist() == pytest.approx([2 / 3, 0.0, 0.5])
    assert positive["tie"].tolist() == [False, False, True]
    negative = majority_vote(READS, "patient_id", "reader", "call", tie="negative", pos_label="malignant")
    assert negative["call"].tolist() == [1, 0, 0] and negative["tie"].tolist() == [False, False, True]


def test_majority_vote_ties_raise_by_default_listing_targets():
    with pytest.raises(InputError, match=r"'tie': 1 target\(s\) have as many positive as negative calls: "
                                         r"'p2'(?s:.*)hint: set tie='positive' or tie='negative', or use an "
                                         r"odd number of raters"):
        majority_vote(READS, "patient_id", "reader", "call", pos_label="malignant")


def test_majority_vote_accepts_zero_one_and_bool_calls():
    coded = READS.assign(call=(READS["call"] == "malignant").astype(int))
    as_int = majority_vote(coded.iloc[:6], "patient_id", "reader", "call")
    as_bool = majority_vote(coded.iloc[:6].astype({"call": bool}), "patient_id", "reader", "call")
    pd.testing.assert_frame_equal(as_int, as_bool)
    assert as_int["call"].tolist() == [1, 0] and not as_int["tie"].any()


def test_majority_vote_errors():
    with pytest.raises(InputError, match=r"'tie': must be one of 'error', 'positive', 'negative'; got "
                                         r"'postive'(?s:.*)did you mean 'positive'"):
        majority_vote(READS, "patient_id", "reader", "call", tie="postive", pos_label="malignant")
    with pytest.raises(InputError, match=r"'calls': has non-numeric labels \('benign', 'malignant'\) but no "
                                         r"positive label was given"):
        majority_vote(READS, "patient_id", "reader", "call")
    with pytest.raises(InputError, match=r"'calls': must contain two label values; got 3"):
        majority_vote(READS.assign(call=READS["call"].replace({"benign": "unsure"}).where(
            READS.index != 0, "benign")), "patient_id", "reader", "call", pos_label="malignant")
    with pytest.raises(InputError, match=r"'calls': must be coded 0/1 \(1 = positive\); 1 value"):
        majority_vote(READS.assign(call=[1, 0, 1, 0, 0, 0, 1, 0, 2, 0]), "patient_id", "reader", "call")
    duplicated = pd.concat([READS, READS.iloc[[1]]], ignore_index=True)
    with pytest.raises(InputError, match=r"target 'p3' × rater 'b' \(2 rows\)"):
        majority_vote(duplicated, "patient_id", "reader", "call", pos_label="malignant")
    with pytest.raises(InputError, match=r"'calls': column 'call' contains 1 value \(position 4\) that are "
                                         r"missing"):
        majority_vote(READS.assign(call=READS["call"].where(READS.index != 4)), "patient_id", "reader",
                      "call", pos_label="malignant")
