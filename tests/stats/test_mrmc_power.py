"""MRMC power and sample size (``stats.mrmc_power``, ``stats.mrmc_sample_size``).

Known answers: RJafroc's published values for the Van Dyke and Franken pilots
(``tests/mrmc_reference.py`` says for each number which RJafroc call printed it and where);
the identity that at the pilot's own size and observed difference the non-centrality is the
pilot's F (= t²) and the ddf its Hillis ddf (OR analysis and model-vs-readers); monotonicity
in cases, readers and effect; the sample size as the inverse of the power.
"""

from __future__ import annotations

from pathlib import Path

import mrmc_reference as ref
import numpy as np
import pandas as pd
import pytest

from studykit import stats
from studykit.errors import InputError, UndefinedStatisticWarning

DATA = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mrmc"


@pytest.fixture(scope="module")
def pilots() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(DATA / f"{name}.csv") for name in ("vandyke", "franken", "hupse_cad_roc")}


@pytest.mark.parametrize("what, pilot, kwargs, expected, tol, call", ref.TESTS,
                         ids=[t[5] for t in ref.TESTS])
def test_rjafroc_published_values(pilots, what, pilot, kwargs, expected, tol, call):
    """RJafroc 2.1.3's own expected values (``tests/testthat/test-SsSampleSizeRoc.R``)."""
    if what == "power":
        got = stats.mrmc_power(pilots[pilot], **kwargs)["power"].item()
        assert got == pytest.approx(expected, abs=tol)
    elif what == "cases":
        assert stats.mrmc_sample_size(pilots[pilot], **kwargs)["cases"].item() == expected
    else:  # the power at the sample size found (Franken: Cov2 < Cov3, σ²_TR < 0 clipped)
        got = stats.mrmc_sample_size(pilots[pilot], **kwargs)["power"].item()
        assert got == pytest.approx(expected, abs=tol)


def test_rjafroc_vignette_power_and_power_table(pilots):
    """The vignette's ``SsPowerGivenJK`` output and all 98 rows of its ``SsPowerTable`` (J = 3 … 100)."""
    v = ref.VIGNETTE_POWER
    row = stats.mrmc_power(pilots["vandyke"], effect="observed", readers=v["readers"],
                           cases=v["cases"]).iloc[0]
    assert row["power"] == pytest.approx(v["power"], rel=1e-8)
    assert (round(row["ncp"], 2), round(row["ddf"], 1)) == (v["ncp"], v["ddf"])
    js = [j for j, _, _ in ref.VIGNETTE_TABLE]
    table = stats.mrmc_sample_size(pilots["vandyke"], effect="observed", readers=js, unreachable="nan",
                                   cases_max=2000)
    got = [(int(j), None if np.isnan(k) else int(k), None if np.isnan(p) else float(f"{p:.3g}"))
           for j, k, p in table[["readers", "cases", "power"]].to_numpy()]
    assert got == ref.VIGNETTE_TABLE


def test_pilot_size_reproduces_the_or_analysis(pilots):
    """At J*, K* and the observed difference: ncp = F and ddf = Hillis ddf of ``or_analysis``."""
    vd = pilots["vandyke"]
    res = stats.or_analysis(vd, analysis="all")
    plan = stats.mrmc_power(vd, effect="observed", readers=5, cases=114, analysis="all")
    plan = plan.set_index("analysis")
    tests = res.tests.set_index("analysis")
    assert plan.loc["RRRC", "ncp"] == pytest.approx(tests.loc["RRRC", "statistic"], rel=1e-12)
    assert plan.loc["RRRC", "ddf"] == pytest.approx(tests.loc["RRRC", "df"], rel=1e-12)
    # FRRC: X² with t − 1 = 1 df
    assert plan.loc["FRRC", "ncp"] == pytest.approx(tests.loc["FRRC", "statistic"], rel=1e-12)
    assert plan.loc["RRFC", "ncp"] == pytest.approx(tests.loc["RRFC", "statistic"], rel=1e-12)
    assert plan.loc["RRRC", "ncp"] == pytest.approx(4.456319, abs=5e-7)  # Iowa OR-DBM MRMC 2.51's F
    assert plan.loc["RRRC", "power"] == pytest.approx(0.5070429667558, rel=1e-9)


@pytest.mark.parametrize("analysis", ["RRRC", "FRRC", "RRFC"])
def test_model_vs_readers_pilot_size_gives_t_squared(pilots, analysis):
    """The algorithm as a reader-invariant modality: ncp = t² and df of ``model_vs_readers``."""
    cad = pilots["hupse_cad_roc"].drop(columns="modality")
    res = stats.model_vs_readers(cad, model_reader=1, analysis=analysis).iloc[0]
    plan = stats.mrmc_power(cad, effect="observed", readers=9, cases=200, model_reader=1,
                            analysis=analysis).iloc[0]
    assert plan["ncp"] == pytest.approx(res["statistic"] ** 2, rel=1e-10)
    assert plan["ddf"] == pytest.approx(res["df"], rel=1e-10)
    assert plan["pilot_effect"] == pytest.approx(res["estimate"], rel=1e-12)
    assert plan["pilot_readers"] == 9 and "var_r" in plan


def test_power_grows_with_cases_readers_and_effect(pilots):
    vd = pilots["vandyke"]
    by_cases = stats.mrmc_power(vd, effect=0.05, readers=5, cases=[20, 50, 100, 400, 2000], analysis="all")
    for _, rows in by_cases.groupby("analysis"):
        assert np.all(np.diff(rows["power"]) > 0)
        assert np.all(rows["power"] <= rows["power_max"] + 1e-12)
    by_readers = stats.mrmc_power(vd, effect=0.05, readers=[2, 4, 8, 16], cases=100, analysis="all")
    for _, rows in by_readers.groupby("analysis"):
        assert np.all(np.diff(rows["power"]) > 0)
    small, large = (stats.mrmc_power(vd, effect=e, readers=5, cases=100)["power"].item()
                    for e in (0.03, 0.06))
    assert small < large
    assert by_cases.set_index("analysis").loc["FRRC", "power_max"].eq(1.0).all()


def test_sample_size_is_the_inverse_of_power(pilots):
    fr = pilots["franken"]
    sized = stats.mrmc_sample_size(fr, effect=0.06, readers=[4, 8], power=0.85, analysis="all")
    for row in sized.itertuples():
        k = int(row.cases)
        at_k = stats.mrmc_power(fr, effect=0.06, readers=row.readers, cases=[k - 1, k],
                                analysis=row.analysis)["power"].to_numpy()
        assert at_k[0] < 0.85 <= at_k[1] and at_k[1] == pytest.approx(row.power, rel=1e-12)


def test_unreachable_power_raises_or_is_nan(pilots):
    vd = pilots["vandyke"]
    with pytest.raises(InputError, match=r"0.8 cannot be reached: the RRRC power with 3 readers tends to "
                                         r"0.528"):
        stats.mrmc_sample_size(vd, effect="observed", readers=3)
    row = stats.mrmc_sample_size(vd, effect="observed", readers=3, unreachable="nan").iloc[0]
    assert np.isnan(row["cases"]) and np.isnan(row["power"])
    assert row["power_max"] == pytest.approx(0.528, abs=1e-3)
    with pytest.raises(InputError, match="50 cases give the RRRC power with 4 readers less than that"):
        stats.mrmc_sample_size(vd, effect="observed", readers=4, cases_max=50)


@pytest.mark.parametrize("kwargs, field, message", [
    ({"effect": 0}, "effect", "strictly between 0 and 1"),
    ({"effect": "big"}, "effect", "or 'observed'"),
    ({"readers": 1}, "readers", "integer ≥ 2"),
    ({"cases": []}, "cases", "is empty"),
    ({"analysis": "RRCR"}, "analysis", "did you mean 'RRRC'"),
    ({"alpha": 1.5}, "alpha", "strictly between 0 and 1"),
])
def test_bad_arguments_name_the_field(pilots, kwargs, field, message):
    args = {"effect": 0.05, "readers": 5, "cases": 100, **kwargs}
    with pytest.raises(InputError, match=message) as err:
        stats.mrmc_power(pilots["vandyke"], **args)
    assert err.value.field == field


def test_pilot_needs_two_modalities(pilots):
    vd = pilots["vandyke"]
    three = pd.concat([vd, vd[vd["modality"] == 1].assign(modality=3)])
    with pytest.raises(InputError, match="two modalities; column 'modality' has 3") as err:
        stats.mrmc_power(three, effect=0.05, readers=5, cases=100)
    assert "keep the reads of the two modalities" in str(err.value)


def test_identical_modalities_warn_and_give_nan(pilots):
    one = pilots["vandyke"][pilots["vandyke"]["modality"] == 1]
    twin = pd.concat([one, one.assign(modality=2)])
    with pytest.warns(UndefinedStatisticWarning, match="the MRMC power is undefined"):
        res = stats.mrmc_power(twin, effect=0.05, readers=5, cases=100)
    assert np.isnan(res["power"].item())
