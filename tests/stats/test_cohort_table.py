"""Tests of ``stats.cohort_table.compare_groups`` (Table 1).

Known answers: R's ``t.test(var.equal = TRUE)``, ``oneway.test``, ``wilcox.test``,
``kruskal.test``, ``chisq.test``, ``fisher.test``, ``shapiro.test`` and ``quantile`` on data
sets generated here (a fixed numpy seed and hypothesis), live where R is installed and from
the golden fixtures ``golden/table1_*.json`` everywhere; a brute-force enumeration checks
the exact r × c Fisher test; error paths are asserted by message.
"""

from __future__ import annotations

import doctest
import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import rbridge
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats import _fisher
from studykit.stats import cohort_table as ct
from studykit.stats.cohort_table import compare_groups

# ----------------------------------------------------------------------------- R reference

#: R's version of the selection rule and of every summary, on ``inputs$data``: column ``g``
#: is the group, ``num_*`` continuous and ``cat_*`` categorical variables.
R_TABLE1 = r"""
d <- inputs$data
lev <- sort(unique(as.character(d$g)), method = "radix")
g <- factor(as.character(d$g), levels = lev)
k <- nlevels(g)
alpha <- 0.05
sw <- function(x) if (length(x) < 3 || diff(range(x)) == 0) NA else shapiro.test(x)$p.value
result <- list(groups = lev, continuous = list(), categorical = list())
for (v in grep("^num_", names(d), value = TRUE)) {
  x <- d[[v]]
  xs <- split(x[!is.na(x)], g[!is.na(x)])
  swp <- unname(sapply(xs, sw))
  normal <- all(!is.na(swp) & swp >= alpha)
  desc <- lapply(xs, function(s) list(n = length(s), mean = mean(s), sd = sd(s),
    quartiles = unname(quantile(s, c(0.25, 0.5, 0.75), type = 7)), min = min(s), max = max(s)))
  if (normal && k == 2) {
    r <- t.test(x ~ g, var.equal = TRUE)
    test <- list(test = "t", statistic = unname(r$statistic), df = unname(r$parameter), p = r$p.value)
  } else if (normal) {
    r <- oneway.test(x ~ g, var.equal = TRUE)
    test <- list(test = "anova", statistic = unname(r$statistic), df = unname(r$parameter[1]),
                 df2 = unname(r$parameter[2]), p = r$p.value)
  } else if (k == 2) {
    r <- suppressWarnings(wilcox.test(x ~ g, exact = NULL, correct = TRUE))
    test <- list(test = "wilcox", statistic = unname(r$statistic), p = r$p.value, r_method = r$method)
  } else {
    r <- kruskal.test(x ~ g)
    test <- list(test = "kruskal", statistic = unname(r$statistic), df = unname(r$parameter),
                 p = r$p.value)
  }
  result$continuous[[v]] <- c(list(shapiro = swp, groups = unname(desc)), test)
}
for (v in grep("^cat_", names(d), value = TRUE)) {
  x <- d[[v]]
  if (is.character(x)) x[x == ""] <- NA
  tab <- table(x, g)
  tab <- tab[rowSums(tab) > 0, , drop = FALSE]
  e <- outer(rowSums(tab), colSums(tab)) / sum(tab)
  if (any(e < 5)) {
    test <- list(test = "fisher", p = fisher.test(tab, workspace = 2e7)$p.value)
  } else {
    r <- chisq.test(tab)
    test <- list(test = "chisq", statistic = unname(r$statistic), df = unname(r$parameter),
                 p = r$p.value, r_method = r$method)
  }
  counts <- as.data.frame(tab, stringsAsFactors = FALSE)
  result$categorical[[v]] <- c(list(level = as.character(counts$x), group = as.character(counts$g),
                                    count = counts$Freq), test)
}
"""

#: R's ``fisher.test`` on each contingency table in ``inputs`` (one CSV column per column).
R_FISHER = r"""
result <- lapply(inputs, function(t) list(p = fisher.test(as.matrix(t), workspace = 2e7)$p.value))
"""

R_METHODS = {"t": "Student t (equal variances)", "anova": "One-way ANOVA",
             "Wilcoxon rank sum exact test": "Mann–Whitney U (exact)",
             "Wilcoxon rank sum test with continuity correction":
                 "Mann–Whitney U (normal approximation, continuity correction)",
             "kruskal": "Kruskal–Wallis", "fisher": "Fisher exact",
             "Pearson's Chi-squared test with Yates' continuity correction": "Pearson chi-square (Yates)",
             "Pearson's Chi-squared test": "Pearson chi-square"}

# ----------------------------------------------------------------------------- generated data


def _sprinkle(values: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    out = values.astype(object if values.dtype.kind in "OUb" else float)
    out[rng.choice(values.size, size=count, replace=False)] = None if out.dtype == object else np.nan
    return out


SUBTYPES = ["clear", "papillary", "chromophobe"]


def _two_groups(seed: int = 15, sizes: tuple[int, int] = (38, 45)) -> pd.DataFrame:
    """Two groups below R's exact threshold: t, exact and approximate Mann–Whitney, χ², Fisher."""
    rng = np.random.default_rng(seed)
    g = np.repeat(["benign", "malignant"], sizes)
    n, mal = g.size, g == "malignant"
    return pd.DataFrame({
        "g": g,
        "num_age": _sprinkle(rng.normal(53 + 5 * mal, 10), rng, 3),
        "num_bmi": np.exp(rng.normal(3.1, 0.45, n)),
        "num_nodules": rng.geometric(0.35 + 0.1 * mal).astype(float),
        "cat_sex": _sprinkle(np.where(rng.random(n) < 0.45 + 0.15 * mal, "male", "female"), rng, 2),
        "cat_rare": np.where(rng.random(n) < 0.03 + 0.15 * mal, "yes", "no"),
        "cat_subtype": np.where(mal, rng.choice(SUBTYPES, n, p=[0.75, 0.2, 0.05]),
                                rng.choice(SUBTYPES, n, p=[0.4, 0.3, 0.3])),
        "cat_surgery": rng.choice(["none", "partial", "radical"], n, p=[0.3, 0.35, 0.35]),
        "cat_symptoms": _sprinkle(rng.random(n) < 0.4 + 0.2 * mal, rng, 4),
    })


def _three_groups(seed: int = 12) -> pd.DataFrame:
    """Three groups: ANOVA, Kruskal–Wallis, 3 × 3 χ² and a 2 × 3 Fisher."""
    rng = np.random.default_rng(seed)
    g = np.repeat(["a", "b", "c"], [30, 28, 33])
    n, shift = g.size, (g == "b") * 4.0 + (g == "c") * 2.0
    return pd.DataFrame({
        "g": g,
        "num_normal": _sprinkle(rng.normal(60 + shift, 8), rng, 2),
        "num_skewed": rng.exponential(2.0 + shift / 4),
        "num_ties": rng.integers(0, 6, n) + (g == "b"),
        "cat_grade": rng.choice(["g1", "g2", "g3"], n, p=[0.4, 0.35, 0.25]),
        "cat_rare": _sprinkle(np.where(rng.random(n) < 0.08, "yes", "no"), rng, 3),
    })


def _large_groups(seed: int = 17) -> pd.DataFrame:
    """n ≥ 50 per group: t, Mann–Whitney by normal approximation without ties, 2 × 4 Fisher."""
    rng = np.random.default_rng(seed)
    g = np.repeat(["benign", "malignant"], [64, 117])
    n, mal = g.size, g == "malignant"
    return pd.DataFrame({
        "g": g,
        "num_size": rng.lognormal(1.2 + 0.3 * mal, 0.5),
        "num_age": rng.normal(55 + 3 * mal, 11),
        "cat_subtype": rng.choice(["clear", "papillary", "chromophobe", "other"], n,
                                  p=[0.75, 0.15, 0.07, 0.03]),
        "cat_center": rng.choice(["north", "south"], n),
    })


def _tiny_groups(seed: int = 14) -> pd.DataFrame:
    """One group with n = 2 (Shapiro–Wilk impossible) and a 2 × 2 Fisher."""
    rng = np.random.default_rng(seed)
    g = np.repeat(["x", "y"], [2, 7])
    return pd.DataFrame({"g": g, "num_value": rng.normal(0, 1, 9),
                         "cat_flag": ["on", "off", "on", "on", "on", "off", "on", "on", "on"]})


GOLDEN_CASES = {"two_groups": _two_groups, "three_groups": _three_groups,
                "large_groups": _large_groups, "tiny_groups": _tiny_groups}


def _fisher_tables() -> list[np.ndarray]:
    """Contingency tables for the exact test: ties, zeros, 2 × c, r × 2, r × c, larger n."""
    fixed = [[[3, 1], [1, 3]], [[2, 5], [5, 2]], [[0, 5], [5, 0]], [[1, 9], [11, 3]],
             [[50, 1], [40, 6]], [[3, 1, 4], [2, 6, 1]], [[40, 20, 5, 2, 1], [60, 15, 3, 3, 1]],
             [[1, 2, 3], [2, 3, 1], [3, 1, 2]], [[5, 0, 2, 1], [1, 4, 0, 3], [2, 2, 6, 0]],
             [[8, 2], [1, 5], [0, 4], [3, 3]], [[60, 30, 4], [50, 20, 3], [40, 25, 2]],
             [[4, 4, 4], [4, 4, 4]], [[100, 50, 30, 20, 4, 2], [120, 40, 20, 10, 3, 1]],
             [[30, 20, 10, 5, 3, 2, 1, 1], [25, 22, 12, 6, 2, 1, 0, 2]], [[2000, 3], [2990, 7]]]
    rng = np.random.default_rng(15)
    drawn = [rng.poisson(rng.uniform(0.5, 6.0, size=shape)) for shape in [(2, 3), (3, 3), (2, 4), (4, 3)]]
    drawn = [t for t in drawn if (t.sum(0) > 0).all() and (t.sum(1) > 0).all()]
    return [np.asarray(t) for t in fixed] + drawn


def _run(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return compare_groups(data, "g", continuous=[c for c in data if c.startswith("num_")],
                          categorical=[c for c in data if c.startswith("cat_")], **kwargs)


def _check_against_r(data: pd.DataFrame, ref: dict) -> set[str]:
    """Compare ``compare_groups`` with R's answers; return the methods seen."""
    out = _run(data)
    approx = pytest.approx
    for var, r in (ref["continuous"] or {}).items():
        rows = out[(out.variable == var) & (out.group != ct.OVERALL)]
        assert [str(x) for x in rows.group] == ref["groups"]
        for (_, row), desc, sw in zip(rows.iterrows(), r["groups"], r["shapiro"]):
            assert row.n == desc["n"]
            got = [row["mean"], row.q1, row["median"], row.q3, row["min"], row["max"]]
            assert got == approx([desc["mean"], *desc["quartiles"], desc["min"], desc["max"]], rel=1e-12)
            assert row.sd == approx(desc["sd"] if desc["sd"] is not None else np.nan, rel=1e-12, nan_ok=True)
            assert row.normality_p == approx(np.nan if sw is None else sw, rel=1e-6, nan_ok=True), var
        first = rows.iloc[0]
        assert first.kind == ("mean_sd" if r["test"] in ("t", "anova") else "median_iqr"), var
        assert first.method == R_METHODS[r.get("r_method", r["test"])], var
        assert first.statistic == approx(r["statistic"], rel=1e-9), var
        assert first.p == approx(r["p"], rel=1e-6, abs=1e-300), var
        assert first.df == approx(r.get("df", np.nan), rel=1e-12, nan_ok=True)
        assert first.df2 == approx(r.get("df2", np.nan), rel=1e-12, nan_ok=True)
    for var, r in (ref["categorical"] or {}).items():
        rows = out[out.variable == var]
        for level, group, count in zip(r["level"], r["group"], r["count"]):
            hit = rows[(rows.level.map(lambda v: str(v).lower()) == level.lower())
                       & (rows.group.astype(str) == group)]
            assert hit["count"].tolist() == [count], (var, level, group)
        first = rows.iloc[0]
        assert first.method == R_METHODS[r.get("r_method", r["test"])], var
        assert first.p == approx(r["p"], rel=1e-6, abs=1e-300), var
        assert first.statistic == approx(r.get("statistic", np.nan), rel=1e-9, nan_ok=True), var
        assert first.df == approx(r.get("df", np.nan), rel=1e-12, nan_ok=True), var
    return set(out.method)


ALL_METHODS = {"Student t (equal variances)", "One-way ANOVA", "Mann–Whitney U (exact)",
               "Mann–Whitney U (normal approximation, continuity correction)", "Kruskal–Wallis",
               "Pearson chi-square (Yates)", "Pearson chi-square", "Fisher exact"}


def regenerate_golden() -> list:
    """Rewrite ``golden/table1_r.json`` and ``golden/table1_fisher.json`` from R."""
    table1 = [{"data": make()} for make in GOLDEN_CASES.values()]
    fisher = [{"table": pd.DataFrame(t, columns=[f"c{j}" for j in range(t.shape[1])])}
              for t in _fisher_tables()]
    return [rbridge.write_golden(__file__, "table1_r", R_TABLE1, ("stats",), table1),
            rbridge.write_golden(__file__, "table1_fisher", R_FISHER, ("stats",), fisher)]


# ----------------------------------------------------------------------------- known answers


def test_golden_table1_matches_r():
    golden = rbridge.load_golden(__file__, "table1_r")
    assert golden["r_code"] == R_TABLE1
    seen: set[str] = set()
    assert len(golden["cases"]) == len(GOLDEN_CASES)
    for case in golden["cases"]:
        seen |= _check_against_r(rbridge.frames_of(case["inputs"])["data"], case["result"])
    assert seen == ALL_METHODS  # every branch of the selection rule is covered


def test_golden_fisher_matches_r():
    golden = rbridge.load_golden(__file__, "table1_fisher")
    assert golden["r_code"] == R_FISHER
    for case in golden["cases"]:
        table = rbridge.frames_of(case["inputs"])["table"].to_numpy()
        assert _fisher.fisher_exact_p(table) == pytest.approx(case["result"]["table"]["p"], rel=1e-6), table


@pytest.mark.r
@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_live_r_fixed_cases(name):
    rbridge.require_r("stats")
    data = GOLDEN_CASES[name]()
    _check_against_r(data, rbridge.run_r(R_TABLE1, {"data": data}))


@pytest.mark.r
def test_live_r_fisher_tables():
    rbridge.require_r("stats")
    tables = {f"t{i:02d}": t for i, t in enumerate(_fisher_tables())}
    ref = rbridge.run_r(R_FISHER, {name: pd.DataFrame(t) for name, t in tables.items()})
    for name, t in tables.items():
        assert _fisher.fisher_exact_p(t) == pytest.approx(ref[name]["p"], rel=1e-6), t


@st.composite
def cohorts(draw) -> pd.DataFrame:
    """Random cohorts: 2–3 groups of 3–30, normal or skewed values rounded to make ties,
    2–3 levels with uneven probabilities, missing values."""
    seed = draw(st.integers(0, 2**32 - 1))
    sizes = draw(st.lists(st.integers(3, 30), min_size=2, max_size=3))
    decimals = draw(st.sampled_from([0, 1, 6]))
    skew = draw(st.booleans())
    n_levels = draw(st.integers(2, 3))
    rng = np.random.default_rng(seed)
    g = np.repeat(["a", "b", "c"][: len(sizes)], sizes)
    n = g.size
    x = rng.lognormal(1.0, 0.8, n) if skew else rng.normal(10 + (g == "b"), 2, n)
    probs = rng.dirichlet(np.ones(n_levels))
    return pd.DataFrame({"g": g, "num_x": _sprinkle(np.round(x, decimals), rng, int(rng.integers(0, 3))),
                         "num_y": rng.normal(0, 1, n) + rng.normal(0, 0.3) * (g == "a"),
                         "cat_x": _sprinkle(rng.choice(["p", "q", "r"][:n_levels], n, p=probs), rng,
                                            int(rng.integers(0, 3)))})


def _defined(data: pd.DataFrame) -> bool:
    x, cat = data.dropna(subset=["num_x"]), data.dropna(subset=["cat_x"])
    return (x.groupby("g")["num_x"].nunique() >= 2).all() and cat.g.nunique() == data.g.nunique() \
        and cat.cat_x.nunique() >= 2 and x.g.nunique() == data.g.nunique()


@pytest.mark.r
@settings(max_examples=12)
@given(cohorts())
def test_live_r_generated_cohorts(data):
    rbridge.require_r("stats")
    assume(_defined(data))
    _check_against_r(data, rbridge.run_r(R_TABLE1, {"data": data}))


# ----------------------------------------------------------------------------- Fisher kernel


def _brute_fisher(table: np.ndarray) -> float:
    """Every table with the observed margins, cell by cell (slow, obvious)."""
    rows, cols = table.sum(1), table.sum(0)

    def prob(t):
        return math.exp(sum(math.lgamma(v + 1) for v in (*rows, *cols)) - math.lgamma(rows.sum() + 1)
                        - sum(math.lgamma(v + 1) for v in t.ravel()))

    free = [range(min(rows[i], cols[j]) + 1) for i in range(rows.size - 1) for j in range(cols.size - 1)]
    observed, total = prob(table), 0.0
    for cells in itertools.product(*free):
        t = np.zeros_like(table)
        t[:-1, :-1] = np.reshape(cells, (rows.size - 1, cols.size - 1))
        t[:-1, -1] = rows[:-1] - t[:-1, :-1].sum(1)
        t[-1, :] = cols - t[:-1, :].sum(0)
        if (t >= 0).all() and t[-1].sum() == rows[-1]:
            p = prob(t)
            total += p if p <= observed * (1 + 1e-7) else 0.0
    return min(total, 1.0)


@given(st.integers(2, 3).flatmap(lambda r: st.integers(2, 3).flatmap(
    lambda c: st.lists(st.integers(0, 4), min_size=r * c, max_size=r * c).map(
        lambda v: np.reshape(v, (r, c))))))
@settings(max_examples=40)
def test_fisher_exact_matches_brute_force(table):
    assume((table.sum(0) > 0).all() and (table.sum(1) > 0).all())
    assert _fisher.fisher_exact_p(table) == pytest.approx(_brute_fisher(table), rel=1e-9)


@given(st.lists(st.integers(0, 30), min_size=4, max_size=4))
def test_fisher_2x2_matches_scipy(cells):
    table = np.reshape(cells, (2, 2))
    assume((table.sum(0) > 0).all() and (table.sum(1) > 0).all())
    assert _fisher.fisher_exact_p(table) == pytest.approx(sps.fisher_exact(table).pvalue, rel=1e-9)


def test_fisher_falls_back_to_seeded_monte_carlo(monkeypatch):
    data = _large_groups()[["g", "cat_subtype"]]
    exact = _run(data)
    monkeypatch.setattr(_fisher, "_MAX_TABLES", 10)
    first, again, other = _run(data, seed=3), _run(data, seed=3), _run(data, seed=4)
    assert first.method[0] == "Fisher exact (Monte Carlo, 100000 tables, seed 3)"
    assert first.p[0] == again.p[0] != other.p[0]
    assert first.p[0] == pytest.approx(exact.p[0], abs=0.01)


# ----------------------------------------------------------------------------- behaviour


def _renal_cohort(seed: int = 2024) -> pd.DataFrame:
    """A synthetic renal-tumour cohort shaped like the reference study's Table 1."""
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.repeat(["benign", "malignant"], [60, 121]))
    mal = label == "malignant"
    return pd.DataFrame({
        "patient_id": [f"P{i:03d}" for i in range(label.size)],
        "label": label,
        "age": np.round(rng.normal(53 + 5 * mal, 12), 1),
        "sex": np.where(rng.random(label.size) < 0.4 + 0.25 * mal, "male", "female"),
        "bmi": np.round(17 + rng.gamma(2.0, 3.0, label.size), 1),
        "size_cm": np.round(rng.lognormal(1.2 + 0.3 * mal, 0.45), 1),
        "symptoms": rng.random(label.size) < 0.2 + 0.1 * mal,
        "surgery": np.where(rng.random(label.size) < 0.75 - 0.5 * mal, "partial", "radical"),
    })


def test_renal_study_example_chooses_the_expected_tests():
    cohort = _renal_cohort()
    table = compare_groups(cohort, "label", continuous=["age", "bmi", "size_cm"],
                           categorical=["sex", "symptoms", "surgery"])
    by_var = table.drop_duplicates("variable").set_index("variable")
    assert list(by_var.index) == ["age", "sex", "bmi", "size_cm", "symptoms", "surgery"]  # data order
    assert by_var.loc["age", ["kind", "method"]].tolist() == ["mean_sd", "Student t (equal variances)"]
    for var in ("bmi", "size_cm"):
        assert by_var.loc[var, ["kind", "method"]].tolist() == [
            "median_iqr", "Mann–Whitney U (normal approximation, continuity correction)"]
    assert (by_var.loc[["sex", "symptoms", "surgery"], "method"] == "Pearson chi-square (Yates)").all()
    assert by_var.loc["surgery", "p"] < 0.001
    age = table[(table.variable == "age") & (table.group != "overall")]
    assert (age.normality_p >= 0.05).all()
    assert (table[(table.variable == "bmi") & (table.group != "overall")].normality_p < 0.05).any()
    assert age.estimate.tolist() == pytest.approx(cohort.groupby("label").age.mean().tolist(), rel=1e-12)
    assert set(table.group) == {"benign", "malignant", "overall"}


def test_columns_and_row_order():
    table = _run(_tiny_groups())
    assert list(table.columns) == [
        "estimate", "ci_low", "ci_high", "p", "statistic", "df", "method", "n", "ci_level",
        "variable", "level", "group", "kind", "sd", "q1", "q3", "count", "percent", "missing",
        "normality_p", "mean", "median", "min", "max", "df2", "note"]
    assert table[["variable", "level", "group"]].map(str).values.tolist() == [
        ["num_value", "nan", "x"], ["num_value", "nan", "y"], ["num_value", "nan", "overall"],
        ["cat_flag", "off", "x"], ["cat_flag", "off", "y"], ["cat_flag", "off", "overall"],
        ["cat_flag", "on", "x"], ["cat_flag", "on", "y"], ["cat_flag", "on", "overall"]]
    assert (table.ci_level == 0.95).all()


def test_small_group_is_taken_as_non_normal_and_said_so():
    table = _run(_tiny_groups())
    value = table[table.variable == "num_value"]
    assert value.kind.unique().tolist() == ["median_iqr"]
    assert value.method.iloc[0] == "Mann–Whitney U (exact)"
    assert np.isnan(value.normality_p.iloc[0]) and not np.isnan(value.normality_p.iloc[1])
    assert value.note.iloc[0] == "Shapiro–Wilk impossible in group 'x' (n = 2 < 3): taken as non-normal"
    flag = table[table.variable == "cat_flag"]
    assert flag.note.iloc[0] == "expected count < 5 in 3 of 4 cells"


def test_summaries_missing_and_intervals():
    data = pd.DataFrame({"g": list("aaaaabbbbb"),
                         "num_v": [1.0, 2.0, np.nan, 4.0, 8.0, 3.0, 5.0, 5.5, 6.0, None],
                         "cat_c": ["u", "v", None, "u", "u", "v", "v", np.nan, "u", "v"]})
    table = _run(data, confidence=0.9)
    a = table[(table.variable == "num_v") & (table.group == "a")].iloc[0]
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert (a.n, a.missing) == (4, 1)
    assert [a["mean"], a.sd, a.q1, a["median"], a.q3] == pytest.approx(
        [x.mean(), x.std(ddof=1), 1.75, 3.0, 5.0], rel=1e-12)
    if a.kind == "mean_sd":
        half = sps.t.ppf(0.95, 3) * x.std(ddof=1) / 2
        assert [a.ci_low, a.ci_high] == pytest.approx([x.mean() - half, x.mean() + half], rel=1e-12)
    overall = table[(table.variable == "num_v") & (table.group == "overall")].iloc[0]
    assert (overall.n, overall.missing) == (8, 2)
    u_a = table[(table.variable == "cat_c") & (table.level == "u") & (table.group == "a")].iloc[0]
    assert (u_a["count"], u_a.n, u_a.missing, u_a.percent) == (3, 4, 1, 75.0)
    ci = sps.binomtest(3, 4).proportion_ci(0.9, method="wilson")
    assert [u_a.ci_low, u_a.ci_high] == pytest.approx([ci.low, ci.high], rel=1e-12)
    assert (table.ci_level == 0.9).all()


def test_mean_interval_for_normal_groups():
    data = _two_groups()[["g", "num_age"]]
    row = _run(data).iloc[0]
    assert row.kind == "mean_sd"
    x = data.num_age[data.g == "benign"].dropna().to_numpy(float)
    res = sps.ttest_1samp(x, 0).confidence_interval(0.95)
    assert [row.ci_low, row.ci_high] == pytest.approx([res.low, res.high], rel=1e-12)
    median_row = _run(_two_groups()[["g", "num_bmi"]]).iloc[0]
    assert median_row.kind == "median_iqr" and np.isnan(median_row.ci_low)


def test_bool_and_categorical_variables_and_categorical_group():
    rng = np.random.default_rng(5)
    n = 80
    data = pd.DataFrame({
        "g": pd.Categorical(rng.choice(["malignant", "benign"], n), categories=["malignant", "benign"]),
        "smoker": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "stage": pd.Categorical(rng.choice(["III", "I", "II"], n), categories=["I", "II", "III", "IV"]),
        "age": rng.normal(50, 10, n)})
    data.loc[[3, 7], "smoker"] = pd.NA
    table = compare_groups(data, "g", continuous=["age"], categorical=["smoker", "stage"])
    assert table.group.unique().tolist() == ["malignant", "benign", "overall"]
    smoker = table[table.variable == "smoker"]
    assert smoker.level.unique().tolist() == [False, True]
    assert smoker[smoker.group == "overall"].missing.tolist() == [2, 2]
    stage = table[table.variable == "stage"]
    assert stage.level.unique().tolist() == ["I", "II", "III", "IV"]
    assert (stage[stage.level == "IV"]["count"] == 0).all()
    counts = pd.crosstab(data.stage, data.g).loc[["I", "II", "III"], ["malignant", "benign"]].to_numpy()
    assert stage.p.iloc[0] == pytest.approx(sps.chi2_contingency(counts).pvalue, rel=1e-12)
    age = table[table.variable == "age"]
    a, b = (data.age[data.g == g] for g in ("malignant", "benign"))
    assert age.statistic.iloc[0] == pytest.approx(sps.ttest_ind(a, b).statistic, rel=1e-12)  # category order


def test_three_groups_and_overall_false():
    table = _run(_three_groups(), overall=False)
    assert table.group.unique().tolist() == ["a", "b", "c"]
    assert table[table.variable == "num_normal"].df2.iloc[0] == 91 - 2 - 3


def test_sorted_group_order_and_mixed_level_types():
    data = pd.DataFrame({"g": [2, 1, 2, 1, 2, 1], "cat_m": ["x", 1, "x", 2.5, None, "x"]})
    table = compare_groups(data, "g", categorical=["cat_m"])
    assert table.group.unique().tolist() == [1, 2, "overall"]
    assert table.level.unique().tolist() == [2.5, 1, "x"]  # mixed types: by type name, then text


# ----------------------------------------------------------------------------- undefined tests


def test_all_missing_variable_warns_and_returns_nan():
    data = pd.DataFrame({"g": list("aabb"), "num_v": [np.nan] * 4})
    with pytest.warns(UndefinedStatisticWarning, match="group 'a' has no non-missing value of 'num_v'"):
        table = _run(data)
    assert table.p.isna().all() and table.statistic.isna().all()
    assert table.note.iloc[0].endswith("test undefined: group 'a' has no non-missing value of 'num_v'")


def test_zero_variance_in_every_group_warns():
    data = pd.DataFrame({"g": list("aaabbb"), "num_v": [1, 1, 1, 2, 2, 2]})
    with pytest.warns(UndefinedStatisticWarning, match="'num_v' has zero variance in every group"):
        table = _run(data)
    assert table.p.isna().all()
    assert table.estimate.tolist() == [1.0, 2.0, 1.5]


def test_single_level_and_empty_group_categorical_warn():
    with pytest.warns(UndefinedStatisticWarning, match="'cat_c' has 1 observed level"):
        table = _run(pd.DataFrame({"g": list("aabb"), "cat_c": ["u"] * 4}))
    assert table.p.isna().all() and table.method.iloc[0] == "Pearson chi-square"
    with pytest.warns(UndefinedStatisticWarning, match="group 'b' has no non-missing value of 'cat_c'"):
        _run(pd.DataFrame({"g": list("aabb"), "cat_c": ["u", "v", None, None]}))


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame({"label": ["benign", "malignant"] * 3, "age": [50.0, 61, 47, 58, 52, 66],
                         "sex": ["female", "male"] * 3})


def _raises(match: str, data: pd.DataFrame, group: str = "label", **kwargs):
    with pytest.raises(InputError, match=match):
        compare_groups(data, group, **kwargs)


def test_unknown_columns_suggest_close_names(cohort):
    _raises(r"'group': column 'lable' is not in data\.\n  hint: did you mean 'label'\?", cohort, "lable",
            continuous=["age"])
    _raises(r"'continuous': column 'agee' is not in data\.\n  hint: did you mean 'age'\?", cohort,
            continuous=["agee"])
    _raises(r"'categorical': column 'gender' is not in data\.\n  hint: columns are: label, age, sex\.",
            cohort, categorical=["gender"])
    _raises(r"'data': must be a pandas DataFrame; got dict", cohort.to_dict(), continuous=["age"])


def test_variable_lists_are_checked(cohort):
    _raises(r"'categorical': column 'age' is listed as both continuous and categorical\.\n"
            r"  hint: list it under one of them only\.", cohort, continuous=["age"], categorical=["age"])
    _raises(r"'continuous': lists column 'age' twice\.", cohort, continuous=["age", "age"])
    _raises(r"'categorical': lists 'label', the group column\.", cohort, categorical=["label"])
    _raises(r"'continuous': no variables to summarise\.\n  hint: name columns with continuous=", cohort)


def test_non_numeric_continuous_names_positions(cohort):
    cohort["age"] = [50.0, "unknown", 47, "n/a", 52, None]
    _raises(r"'continuous': column 'age' must be numeric; it holds 2 values \(positions 1, 3\) that are "
            r"not numbers, e.g\. 'unknown'\.\n  hint: convert 'age' to numbers \(pd\.to_numeric\), or "
            r"list it under categorical=\.", cohort, continuous=["age"])
    _raises(r"'continuous': column 'sex' must be numeric; it holds 6 values \(positions 0, 1, 2, 3, 4, …\)",
            cohort, continuous=["sex"])
    cohort["flag"] = [True, False] * 3
    _raises(r"'continuous': column 'flag' is boolean, not continuous\.", cohort, continuous=["flag"])
    cohort["age"] = [50.0, np.inf, 47, 58, 52, 66]
    _raises(r"'continuous': column 'age' holds 1 value \(position 1\) that are infinite\.", cohort,
            continuous=["age"])


def test_group_column_is_checked(cohort):
    one = cohort.assign(label="benign")
    _raises(r"'group': column 'label' must hold at least two groups to compare; got 1: 'benign'\.\n"
            r"  hint: pass the column that splits the cohort", one, continuous=["age"])
    missing = cohort.assign(label=["benign", None, "malignant", "benign", np.nan, "malignant"])
    _raises(r"'group': column 'label' has 2 values \(positions 1, 4\) that are missing\.\n"
            r"  hint: every patient needs a group", missing, continuous=["age"])
    empty = cohort.assign(label=pd.Categorical(cohort.label, categories=["benign", "malignant", "other"]))
    _raises(r"'group': group 'other' of column 'label' has no rows\.\n"
            r"  hint: drop unused categories with \.cat\.remove_unused_categories\(\)\.", empty,
            continuous=["age"])
    named = cohort.assign(label=["overall", "malignant"] * 3)
    _raises(r"'group': column 'label' has a group named 'overall', the name of the pooled rows\.\n"
            r"  hint: rename that group, or pass overall=False\.", named, continuous=["age"])
    assert compare_groups(named, "label", continuous=["age"], overall=False).shape[0] == 2


def test_options_are_checked(cohort):
    _raises(r"'normality_alpha': must be a number strictly between 0 and 1; got 5", cohort,
            continuous=["age"], normality_alpha=5)
    _raises(r"'confidence': must be a number strictly between 0 and 1; got 95", cohort,
            continuous=["age"], confidence=95)
    _raises(r"'seed': must be an integer ≥ 0; got -1", cohort, continuous=["age"], seed=-1)


def test_docstring_example_runs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        failures, tried = doctest.testmod(ct)
    assert tried > 0 and failures == 0
