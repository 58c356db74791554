"""MRMC analyses (studykit.stats.mrmc) against published outputs of MRMCaov, RJafroc and the
Iowa OR-DBM MRMC 2.51 program, brute-force references and internal identities.

Golden numbers (the R/program call that produced each block is written beside it):

* Van Dyke et al. 1993 (``vandyke.csv`` = MRMCaov ``VanDyke`` = RJafroc ``dataset02``).
* Franken et al. 1992 (``franken.csv`` = MRMCaov ``Franken`` = RJafroc ``dataset03``).
* Hupse et al. 2013 (``hupse_cad_roc.csv`` = RJafroc ``dataset09``; reader 1 is CAD).

The data sets live in ``../shared/reference/mrmc`` beside the repository.
"""

from __future__ import annotations

import doctest
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats import mrmc
from studykit.stats._mrmc_kernels import jackknife_covariance
from studykit.stats.mrmc import MRMCResult, dbm_analysis, model_vs_readers, or_analysis

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mrmc"
LEADING = ["estimate", "ci_low", "ci_high", "p"]


def P(printed: str):
    """A published number as printed: equal to within half a unit of its last printed digit."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return pytest.approx(float(printed), abs=0.5001 * 10.0 ** (int(exponent or 0) - decimals))


def _read(name: str) -> pd.DataFrame:
    path = REF / name
    if not path.is_file():
        pytest.fail(f"MRMC reference data {path} is missing: the tests need the shared/ folder beside the "
                    "repository (shared/reference/mrmc/*.csv).", pytrace=False)
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def vandyke() -> pd.DataFrame:
    return _read("vandyke.csv")


@pytest.fixture(scope="module")
def franken() -> pd.DataFrame:
    return _read("franken.csv")


@pytest.fixture(scope="module")
def hupse() -> pd.DataFrame:
    return _read("hupse_cad_roc.csv")


@pytest.fixture(scope="module")
def vd_or(vandyke) -> MRMCResult:
    return or_analysis(vandyke, analysis="all")


@pytest.fixture(scope="module")
def fr_or(franken) -> MRMCResult:
    return or_analysis(franken, analysis="all")


def _row(frame: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(frame), bool)
    for key, value in where.items():
        mask &= (frame[key] == value).to_numpy() if value is not None else frame[key].isna().to_numpy()
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def _component(result: MRMCResult, name: str, modality=None) -> float:
    return float(_row(result.variance_components, component=name, modality=modality)["estimate"])


# ------------------------------------------------------------------ Van Dyke: published answers

# MRMCaov README: summary(mrmc(empirical_auc(truth, rating), treatment, reader, case, data = VanDyke));
# RJafroc book: StSignificanceTesting(dataset02, FOM = "Wilcoxon", method = "OR");
# OR-DBM MRMC 2.51, RJafroc inst/IowaResults/VanDyke.txt (trapezoidal = Wilcoxon, jackknife).
VD_READER_AUC = [[0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066],
                 [0.94782609, 0.90531401, 0.92173913, 0.99935588, 0.92995169]]
VD_COMPONENTS = {"ms_t": "0.0047961705", "ms_r": "0.0038362000", "ms_tr": "0.00055103062",
                 "var_r": "0.00153499935", "var_tr": "0.00020040252", "cov1": "0.00034661371",
                 "cov2": "0.00034407483", "cov3": "0.00023902837", "var": "0.00080228827"}
VD_PER_MODALITY = {1: {"ms_r": "0.0030826287", "var": "0.00101410277", "cov2": "0.00048396180"},
                   2: {"ms_r": "0.0013046019", "var": "0.00059047376", "cov2": "0.00020418785"}}


def test_vandyke_reader_aucs_and_variance_components(vd_or):
    aucs = vd_or.reader_aucs.sort_values(["modality", "reader"])["estimate"].to_numpy().reshape(2, 5)
    np.testing.assert_allclose(aucs, VD_READER_AUC, atol=5e-9)
    for name, value in VD_COMPONENTS.items():
        assert _component(vd_or, name) == P(value), name
    for modality, values in VD_PER_MODALITY.items():
        for name, value in values.items():
            assert _component(vd_or, name, modality) == P(value)
    assert float(_row(vd_or.variance_components, component="cov1")["correlation"]) == pytest.approx(
        0.43203138, abs=1e-8)


def test_vandyke_rrrc_jackknife(vd_or):
    means = vd_or.aucs[vd_or.aucs["analysis"] == "RRRC"].set_index("modality")
    assert means.loc[1, "estimate"] == pytest.approx(0.897037, abs=1e-6)
    assert means.loc[2, "estimate"] == pytest.approx(0.940837, abs=1e-6)
    test = _row(vd_or.tests, analysis="RRRC")
    assert (test["statistic"], test["df_num"], test["test"]) == (pytest.approx(4.456319, abs=1e-6), 1, "F")
    assert test["df"] == pytest.approx(15.25967, abs=1e-5)
    assert test["p"] == pytest.approx(0.05166569, abs=1e-8)
    diff = _row(vd_or.differences, analysis="RRRC")
    assert (diff["modality_a"], diff["modality_b"]) == (1, 2)
    assert diff["estimate"] == pytest.approx(-0.04380032, abs=1e-8)
    assert diff[["ci_low", "ci_high"]].tolist() == pytest.approx([-0.0879594986, 0.0003588544], abs=1e-9)
    assert (diff["se"], diff["statistic"]) == (pytest.approx(0.02074862, abs=1e-8),
                                               pytest.approx(-2.110999, abs=1e-6))
    # single-modality CIs: MS(R) + r max(Cov2, 0) (Hillis 2007 ddf_H_single)
    assert means["df"].tolist() == pytest.approx([12.74465, 12.71019], abs=1e-5)
    assert means["se"].tolist() == pytest.approx([0.03317360, 0.02156637], abs=1e-8)
    assert means["ci_low"].tolist() == pytest.approx([0.82522360, 0.89413783], abs=1e-8)
    assert means["ci_high"].tolist() == pytest.approx([0.96885048, 0.98753689], abs=1e-8)


def test_vandyke_frrc_and_rrfc(vd_or):
    frrc = _row(vd_or.tests, analysis="FRRC")
    assert (frrc["test"], frrc["df"]) == ("chi-square", 1)
    assert frrc["statistic"] == pytest.approx(5.475953, abs=1e-6)
    assert frrc["p"] == pytest.approx(0.019280, abs=1e-6)
    diff = _row(vd_or.differences, analysis="FRRC")
    assert diff[["ci_low", "ci_high"]].tolist() == pytest.approx([-0.080485914, -0.0071147303], abs=1e-9)
    assert np.isinf(diff["df"])
    single = vd_or.aucs[vd_or.aucs["analysis"] == "FRRC"]
    assert single["ci_low"].tolist() == pytest.approx([0.84943008, 0.90795637], abs=1e-8)
    assert single["ci_high"].tolist() == pytest.approx([0.94464399, 0.97371835], abs=1e-8)
    rrfc = _row(vd_or.tests, analysis="RRFC")
    assert (rrfc["statistic"], rrfc["df"]) == (pytest.approx(8.704, abs=1e-6), 4)
    assert rrfc["p"] == pytest.approx(0.041959, abs=1e-6)
    diff = _row(vd_or.differences, analysis="RRFC")
    assert diff[["ci_low", "ci_high"]].tolist() == pytest.approx([-0.085020224, -0.0025804202], abs=1e-9)
    single = vd_or.aucs[vd_or.aucs["analysis"] == "RRFC"]
    assert single["ci_low"].tolist() == pytest.approx([0.82809808, 0.89598936], abs=1e-8)
    assert single["ci_high"].tolist() == pytest.approx([0.96597599, 0.98568536], abs=1e-8)


def test_vandyke_delong_covariance(vandyke):
    # the known answer: MRMCaov mrmc(..., cov = DeLong) on VanDyke
    test = or_analysis(vandyke, cov="delong").tests.iloc[0]
    assert test["statistic"] == pytest.approx(4.484854, abs=1e-6)
    assert test["df"] == pytest.approx(15.06611, abs=1e-5)
    assert test["p"] == pytest.approx(0.05123, abs=1e-5)
    assert "DeLong" in test["method"]


def test_bootstrap_covariance_is_seeded_and_close_to_jackknife(vandyke, vd_or):
    a = or_analysis(vandyke, cov="bootstrap", n_boot=1000, seed=7, analysis="all")
    b = or_analysis(vandyke, cov="bootstrap", n_boot=1000, seed=7, analysis="all")
    c = or_analysis(vandyke, cov="bootstrap", n_boot=1000, seed=8)
    for name, frame in a.frames().items():
        pd.testing.assert_frame_equal(frame, b.frames()[name])
    assert a.tests.iloc[0]["statistic"] != c.tests.iloc[0]["statistic"]
    assert "bootstrap (1000 replicates, seed 7)" in a.tests.iloc[0]["method"]
    for name in ("var", "cov1", "cov2", "cov3"):
        assert _component(a, name) == pytest.approx(_component(vd_or, name), rel=0.25), name
    assert a.tests.iloc[0]["p"] == pytest.approx(0.0517, abs=0.01)
    # fixed cases ignore the covariance estimator
    pd.testing.assert_series_equal(_row(a.tests, analysis="RRFC")[["statistic", "p"]],
                                   _row(vd_or.tests, analysis="RRFC")[["statistic", "p"]])


# ------------------------------------------------------------------ Franken: Cov2 < Cov3

# RJafroc book, StSignificanceTesting(dataset03, FOM = "Wilcoxon", method = "OR") and "DBMH".
def test_franken_or_collapses_ddf_without_negative_variance(fr_or):
    assert _component(fr_or, "cov2") < _component(fr_or, "cov3")
    for name, value in {"cov1": "7.9168215e-04", "cov2": "4.8363767e-04", "cov3": "5.1250915e-04",
                        "var": "1.5257762e-03", "ms_tr": "5.0202641e-05", "ms_r": "6.8406000e-04"}.items():
        assert _component(fr_or, name) == P(value), name
    rrrc = _row(fr_or.tests, analysis="RRRC")
    assert rrrc["df"] == 3.0  # (t-1)(r-1): max(Cov2 - Cov3, 0) = 0
    assert rrrc["statistic"] == pytest.approx(4.6940577, abs=1e-7)
    assert rrrc["p"] == pytest.approx(0.11883786, abs=1e-8)
    diff = _row(fr_or.differences, analysis="RRRC")
    assert diff[["ci_low", "ci_high"]].tolist() == pytest.approx([-0.0050896269, 0.026799261], abs=1e-9)
    assert diff["se"] ** 2 == pytest.approx(2 * _component(fr_or, "ms_tr") / 4, rel=1e-12)
    single = fr_or.aucs[fr_or.aucs["analysis"] == "RRRC"]
    assert single["df"].tolist() == pytest.approx([70.121788, 253.644028], abs=1e-6)
    assert single["ci_low"].tolist() == pytest.approx([0.79908282, 0.79048429], abs=1e-8)
    frrc = _row(fr_or.tests, analysis="FRRC")  # Var - Cov1 + (r-1) max(Cov2 - Cov3, 0)
    assert (frrc["statistic"], frrc["p"]) == (pytest.approx(0.32101347, abs=1e-8),
                                              pytest.approx(0.57099922, abs=1e-8))
    for frame in (fr_or.aucs, fr_or.differences, fr_or.reader_aucs):
        assert (frame["se"] > 0).all() and frame[["ci_low", "ci_high"]].notna().all().all()


def test_franken_dbm_published(franken):
    res = dbm_analysis(franken, analysis="all")
    ms = {"ms_t": "0.023565410", "ms_r": "0.068406000", "ms_c": "0.530589886", "ms_tr": "0.005020264",
          "ms_tc": "0.064747968", "ms_rc": "0.132131158", "ms_trc": "0.076296558", "var_r": "3.775568e-05",
          "var_c": "0.05125091", "var_tr": "-0.0007127629", "var_tc": "-0.002887147", "var_rc": "0.0279173"}
    for name, value in ms.items():
        assert _component(res, name) == P(value), name
    assert _component(res, "ms_r", 1) == pytest.approx(0.04926635, abs=1e-8)
    frrc = _row(res.tests, analysis="FRRC")  # DBM: F = MS_T / MS_TC with (t-1)(c-1) df
    assert (frrc["statistic"], frrc["df"], frrc["p"]) == (
        pytest.approx(0.363956, abs=1e-6), 99, pytest.approx(0.547697, abs=1e-6))
    single = res.aucs[res.aucs["analysis"] == "FRRC"]
    assert single["ci_low"].tolist() == pytest.approx([0.7939590, 0.7824311], abs=1e-7)
    single = res.aucs[res.aucs["analysis"] == "RRFC"]
    assert single["ci_high"].tolist() == pytest.approx([0.88306871, 0.86162818], abs=1e-8)


# ------------------------------------------------------------------ DBM = OR under the jackknife


def _assert_dbm_equals_or(data: pd.DataFrame, **kwargs) -> None:
    ors = or_analysis(data, analysis=["RRRC", "RRFC"], **kwargs)
    dbm = dbm_analysis(data, analysis=["RRRC", "RRFC"], **kwargs)
    cols = [*LEADING, "statistic", "df"]
    np.testing.assert_allclose(dbm.tests[cols].to_numpy(float), ors.tests[cols].to_numpy(float),
                               rtol=1e-9, atol=1e-12)
    cols = [*LEADING, "se", "df"]
    for name in ("differences", "aucs"):
        np.testing.assert_allclose(getattr(dbm, name)[cols].to_numpy(float),
                                   getattr(ors, name)[cols].to_numpy(float), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dbm.reader_aucs[LEADING].to_numpy(float),
                               ors.reader_aucs[LEADING].to_numpy(float), atol=1e-12)
    assert _component(dbm, "var_r") == pytest.approx(_component(ors, "var_r"), rel=1e-9)
    assert _component(dbm, "var_tr") == pytest.approx(_component(ors, "var_tr"), rel=1e-9)


def test_dbm_equals_or_vandyke_and_franken(vandyke, franken):
    _assert_dbm_equals_or(vandyke)
    _assert_dbm_equals_or(franken)


def _dual_modality(hupse: pd.DataFrame) -> pd.DataFrame:
    """Chakraborty's 2T-RRRC layout: CAD ratings replicated once per radiologist as a modality."""
    cad, rad = hupse[hupse["reader"] == 1], hupse[hupse["reader"] != 1].assign(modality="RAD")
    copies = [cad.assign(reader=j) for j in rad["reader"].unique()]
    return pd.concat([rad, pd.concat(copies).assign(modality="CAD")], ignore_index=True)


def test_dbm_equals_or_hupse_and_dual_modality_equals_model_vs_readers(hupse):
    two = _dual_modality(hupse)
    with warnings.catch_warnings():  # replicated CAD "readers" have no reader variance: RRFC CI of CAD
        warnings.simplefilter("ignore", UndefinedStatisticWarning)
        _assert_dbm_equals_or(two)
        dual = or_analysis(two, analysis="all")
    single = model_vs_readers(hupse, model_reader=1)
    for analysis in ("RRRC", "FRRC", "RRFC"):  # 2T and 1T give the same statistic, df and p
        one, both = _row(single, analysis=analysis), _row(dual.differences, analysis=analysis)
        assert both["estimate"] == pytest.approx(-one["estimate"], abs=1e-12)  # CAD − RAD
        assert (both["statistic"], both["p"]) == (pytest.approx(-one["statistic"], rel=1e-9),
                                                  pytest.approx(one["p"], rel=1e-9))
        assert both["df"] == pytest.approx(one["df"], rel=1e-9)


# ------------------------------------------------------------------ model vs readers (CAD vs RAD)


def _naive_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y][:, None], s[~y][None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def _brute_force_1t(hupse: pd.DataFrame, model: int) -> dict[str, float]:
    """Hillis (2007) §5.3 as coded in RJafroc's DiffFomAnal2007Hillis53, with a naive jackknife."""
    wide = hupse.pivot(index="case", columns="reader", values="rating")
    y = hupse.groupby("case")["truth"].first().loc[wide.index].to_numpy() == 1
    readers = [j for j in wide.columns if j != model]
    cad = wide[model].to_numpy()
    psi = np.array([_naive_auc(y, wide[j].to_numpy()) - _naive_auc(y, cad) for j in readers])
    keep = ~np.eye(y.size, dtype=bool)
    loo = np.array([[_naive_auc(y[m], wide[j].to_numpy()[m]) - _naive_auc(y[m], cad[m]) for m in keep]
                    for j in readers])
    k, r = y.size, len(readers)
    cov = np.cov(loo) * (k - 1) ** 2 / k
    cov2 = cov[~np.eye(r, dtype=bool)].mean()
    ms_r = psi.var(ddof=1)
    den = ms_r + max(r * cov2, 0)
    df = den**2 / (ms_r**2 / (r - 1))
    stat = psi.mean() / np.sqrt(den / r)
    return {"estimate": psi.mean(), "statistic": stat, "df": df, "p": 2 * sps.t.sf(abs(stat), df),
            "var": np.diag(cov).mean(), "cov2": cov2, "ms_r": ms_r}


def test_model_vs_readers_hupse_published_and_brute_force(hupse):
    res = model_vs_readers(hupse, model_reader=1)
    rrrc, rrfc = _row(res, analysis="RRRC"), _row(res, analysis="RRFC")
    # Chakraborty, RJafrocBook "Standalone CAD vs. Radiologists", Wilcoxon rows of its Tables:
    # theta_0 = 0.817, theta_bullet = 0.849, psi = 0.0317; 1T-RRFC CI (0.009, 0.055), F = 10, ddf 8,
    # p = 0.012; 1T-RRRC CI (-0.031, 0.094), F = 0.99, ddf 878, p = 0.3210; varR 0.000878,
    # Cov2 0.000924, Var 0.0014; CI of theta_bullet (0.83, 0.87) RRFC, (0.79, 0.91) RRRC.
    assert (rrrc["auc_model"], rrrc["auc_readers"], rrrc["estimate"]) == (
        pytest.approx(0.817, abs=5e-4), pytest.approx(0.849, abs=5e-4), pytest.approx(0.0317, abs=5e-5))
    assert rrfc[["ci_low", "ci_high"]].tolist() == pytest.approx([0.009, 0.055], abs=5e-4)
    assert (rrfc["statistic"] ** 2, rrfc["df"], rrfc["p"]) == (
        pytest.approx(10, abs=0.5), 8, pytest.approx(0.012, abs=5e-4))
    assert rrrc[["ci_low", "ci_high"]].tolist() == pytest.approx([-0.031, 0.094], abs=5e-4)
    assert (rrrc["statistic"] ** 2, rrrc["df"], rrrc["p"]) == (
        pytest.approx(0.99, abs=5e-3), pytest.approx(878, abs=0.5), pytest.approx(0.3210, abs=5e-5))
    assert (rrrc["ms_r"], rrrc["cov2"], rrrc["var"]) == (
        pytest.approx(0.000878, abs=5e-7), pytest.approx(0.000924, abs=5e-7), pytest.approx(0.0014, abs=5e-5))
    ci_readers = ["auc_readers_ci_low", "auc_readers_ci_high"]
    assert rrrc[ci_readers].tolist() == pytest.approx([0.79, 0.91], abs=5e-3)
    assert rrfc[ci_readers].tolist() == pytest.approx([0.83, 0.87], abs=5e-3)
    brute = _brute_force_1t(hupse, model=1)
    for key, value in brute.items():
        assert rrrc[key] == pytest.approx(value, rel=1e-9, abs=1e-13), key
    wide = hupse.pivot(index="case", columns="reader", values="rating")
    y = hupse.groupby("case")["truth"].first().loc[wide.index].to_numpy() == 1
    psi = [_naive_auc(y, wide[j].to_numpy()) - _naive_auc(y, wide[1].to_numpy()) for j in range(2, 11)]
    ttest = sps.ttest_1samp(psi, 0.0)  # RRFC is the paired t-test of Hupse et al. (2013)
    assert (rrfc["statistic"], rrfc["p"]) == (pytest.approx(ttest.statistic, rel=1e-10),
                                              pytest.approx(ttest.pvalue, rel=1e-10))


def test_model_vs_readers_options(hupse):
    res = model_vs_readers(hupse, model_reader="1", analysis="RRRC", cov="delong", confidence=0.9)
    assert res["analysis"].tolist() == ["RRRC"] and res["model_reader"].item() == 1
    assert "DeLong" in res["method"].item() and res["ci_level"].item() == 0.9
    assert res["p"].item() == pytest.approx(0.32, abs=0.03)
    boot = model_vs_readers(hupse, model_reader=1, analysis=["RRRC"], cov="bootstrap", n_boot=500, seed=3)
    again = model_vs_readers(hupse, model_reader=1, analysis=["RRRC"], cov="bootstrap", n_boot=500, seed=3)
    pd.testing.assert_frame_equal(boot, again)
    assert list(res.columns[:4]) == LEADING


def test_jackknife_covariance_matches_brute_force(franken):
    sub = franken[franken["reader"] <= 2]
    wide = sub.pivot(index="case", columns=["modality", "reader"], values="rating")
    y = sub.groupby("case")["truth"].first().loc[wide.index].to_numpy() == 1
    scores = wide.to_numpy().T
    keep = ~np.eye(y.size, dtype=bool)
    loo = np.array([[_naive_auc(y[m], s[m]) for m in keep] for s in scores])
    expected = np.cov(loo) * (y.size - 1) ** 2 / y.size
    np.testing.assert_allclose(jackknife_covariance(y, scores), expected, rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------------ binary calls, shapes, options


def test_binary_calls_are_legal_ratings(vandyke):
    calls = vandyke.assign(rating=(vandyke["rating"] >= 3).astype(int))
    res = or_analysis(calls, analysis="all")
    for (m, j), reads in calls.groupby(["modality", "reader"]):
        sens = reads.loc[reads["truth"] == 1, "rating"].mean()
        spec = 1 - reads.loc[reads["truth"] == 0, "rating"].mean()
        auc = _row(res.reader_aucs, modality=m, reader=j)["estimate"]
        assert auc == pytest.approx((sens + spec) / 2, abs=1e-12)
    assert res.tests[["statistic", "p"]].notna().all().all()
    _assert_dbm_equals_or(calls)


def test_result_shape_three_modalities(vandyke):
    third = vandyke[vandyke["modality"] == 2].assign(modality=3)
    third = third.assign(rating=third["rating"] + (third["case"] % 3 == 0))
    data = pd.concat([vandyke, third], ignore_index=True)
    res = or_analysis(data, analysis="all")
    assert isinstance(res, MRMCResult) and set(res.frames()) == {
        "aucs", "reader_aucs", "differences", "tests", "variance_components"}
    for frame in res.frames().values():
        assert list(frame.columns[:4]) == LEADING
    assert len(res.differences) == 9 and len(res.tests) == 3 and len(res.aucs) == 9
    assert len(res.reader_aucs) == 15
    pairs = res.differences[res.differences["analysis"] == "RRRC"][["modality_a", "modality_b"]]
    assert pairs.values.tolist() == [[1, 2], [1, 3], [2, 3]]
    assert _row(res.tests, analysis="RRRC")["df_num"] == 2
    assert res.variance_components["modality"].tolist()[-1] == 3
    assert res.tests["n"].tolist() == [114] * 3 and res.tests["n_readers"].tolist() == [5] * 3
    _assert_dbm_equals_or(data)


def test_confidence_level_and_string_truth(vandyke, vd_or):
    narrow = or_analysis(vandyke, confidence=0.90)
    wide = _row(vd_or.differences, analysis="RRRC")
    diff = narrow.differences.iloc[0]
    assert diff["ci_level"] == 0.90 and wide["ci_low"] < diff["ci_low"] < diff["ci_high"] < wide["ci_high"]
    labelled = vandyke.assign(truth=np.where(vandyke["truth"] == 1, "dissection", "normal"))
    res = or_analysis(labelled, pos_label="dissection")
    assert res.tests.iloc[0]["statistic"] == pytest.approx(4.456319, abs=1e-6)


def test_undefined_error_term_warns(vandyke):
    same = vandyke[(vandyke["modality"] == 1) & (vandyke["reader"] == 1)]
    same = pd.concat([same.assign(reader=j) for j in (1, 2, 3)])  # identical readers, identical modalities
    data = pd.concat([same, same.assign(modality=2)], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = or_analysis(data)
    messages = [str(w.message) for w in caught if issubclass(w.category, UndefinedStatisticWarning)]
    assert any("the RRRC test is undefined: its error term is 0" in m for m in messages), messages
    assert np.isnan(res.tests.iloc[0]["p"]) and np.isnan(res.differences.iloc[0]["ci_low"])


def test_examples_in_docstrings_run():
    assert doctest.testmod(mrmc).failed == 0


# ------------------------------------------------------------------ input validation


@pytest.mark.parametrize(("change", "kwargs", "message"), [
    (None, {"rating": "ratings"}, r"'rating': column 'ratings' is not in data.*did you mean 'rating'"),
    (None, {"case": "cases"}, r"'case': column 'cases' is not in data"),
    ("missing", {}, r"'data': is missing 2 read\(s\) of a fully crossed design.*"
                    r"\(modality, reader, case\) \(1, 1, 4\), \(1, 5, 45\).*fully_crossed=False"),
    ("missing", {"fully_crossed": False}, r"'fully_crossed': declares a design that is not fully crossed "
                                          r"\(2 of 1140 cells unread.*only fully crossed designs"),
    ("duplicate", {}, r"'data': has 1 cell\(s\) read more than once: \(modality, reader, case\) \(1, 1, 4\)"),
    ("inconsistent", {}, r"'truth': is inconsistent within 1 case\(s\): 6 \(both 0 and 1"),
    ("non-binary", {}, r"'truth': must be coded 0/1"),
    ("nan", {}, r"'rating': contains 1 value \(position 5\) that are NaN or infinite"),
    ("no-reader-id", {}, r"'reader': column 'reader' has 1 missing value\(s\)"),
    ("one-reader", {}, r"'reader': needs at least 2 readers; column 'reader' has 1 reader\(s\) in all"),
    ("one-modality", {}, r"'modality': needs at least 2 modalities.*model_vs_readers"),
    ("one-positive", {}, r"'truth': needs at least two diseased and two non-diseased cases; got 1 diseased"),
    (None, {"cov": "delongg"}, r"'cov': must be one of 'jackknife', 'delong', 'bootstrap'.*'delong'\?"),
    (None, {"analysis": "RRCC"}, r"'analysis': must be one of 'RRRC', 'FRRC', 'RRFC', 'all'"),
    (None, {"analysis": ["RRRC", "FRCC"]}, r"'analysis': must be one of .*got 'FRCC'"),
    (None, {"analysis": []}, r"'analysis': names no analysis"),
    (None, {"fom": "binormal"}, r"'fom': must be one of 'wilcoxon'; got 'binormal'"),
    (None, {"confidence": 95}, r"'confidence': must be a number strictly between 0 and 1"),
    (None, {"cov": "bootstrap", "n_boot": 1}, r"'n_boot': must be an integer ≥ 2"),
    ("labels", {}, r"'truth': has non-numeric labels .*pos_label="),
])
def test_or_analysis_rejects_bad_input(vandyke, change, kwargs, message):
    data = vandyke.copy()
    if change == "missing":
        data = data.drop(index=[3, 500])
    elif change == "duplicate":
        data = pd.concat([data, data.iloc[[3]]])
    elif change == "inconsistent":
        data.loc[5, "truth"] = 1
    elif change == "non-binary":
        data.loc[5, "truth"] = 2
    elif change == "nan":
        data.loc[5, "rating"] = np.nan
    elif change == "no-reader-id":
        data.loc[5, "reader"] = np.nan
    elif change == "one-reader":
        data = data[data["reader"] == 1]
    elif change == "one-modality":
        data = data[data["modality"] == 1]
    elif change == "one-positive":
        data = data[(data["truth"] == 0) | (data["case"] == 70)]
    elif change == "labels":
        data["truth"] = np.where(data["truth"] == 1, "yes", "no")
    with pytest.raises(InputError, match="(?s)" + message):
        or_analysis(data, **kwargs)


def test_dbm_and_model_vs_readers_reject_bad_input(vandyke, hupse):
    with pytest.raises(InputError, match=r"(?s)'modality': needs at least 2 modalities"):
        dbm_analysis(vandyke[vandyke["modality"] == 1])
    with pytest.raises(InputError, match=r"(?s)'analysis': must be one of"):
        dbm_analysis(vandyke, analysis="FRCC")
    with pytest.raises(InputError,
                       match=r"'model_reader': 'CAD' is not a reader in the data; readers are 1, 2, 3"):
        model_vs_readers(hupse, model_reader="CAD")
    with pytest.raises(InputError, match=r"(?s)'model_reader': 11 is not a reader.*did you mean '1'\?"):
        model_vs_readers(hupse, model_reader=11)
    with pytest.raises(InputError, match=r"(?s)'reader': needs at least 2 readers besides the model"):
        model_vs_readers(hupse[hupse["reader"] <= 2], model_reader=1)
    with pytest.raises(InputError, match=r"(?s)'data': is missing 1 read\(s\).*\(reader, case\) \(1, 1\)"):
        model_vs_readers(hupse.iloc[1:], model_reader=1)
    two = pd.concat([hupse, hupse.assign(modality=2)])
    with pytest.raises(InputError, match=r"(?s)read more than once: \(reader, case\) \(1, 1\).*one modality"):
        model_vs_readers(two, model_reader=1)
    with pytest.raises(InputError, match=r"(?s)'data': must be a pandas DataFrame"):
        model_vs_readers(hupse.to_numpy(), model_reader=1)


def test_negative_seed_is_an_input_error(vandyke):
    with pytest.raises(InputError, match=r"'seed': must be an integer ≥ 0; got -1"):
        or_analysis(vandyke, cov="bootstrap", seed=-1)
