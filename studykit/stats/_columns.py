"""Column names of every result DataFrame, defined once (STYLE.md, convention 1).

Leading columns of a result row, in order: ``estimate, ci_low, ci_high, p``, then
``statistic, df, se, method, n, ci_level``, then identifying columns (``metric``,
``arm``, ``group``, ``unit`` …) and method-specific extras.
"""

from __future__ import annotations

ESTIMATE = "estimate"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
P = "p"
P_ADJUSTED = "p_adjusted"
STATISTIC = "statistic"
DF = "df"
SE = "se"
METHOD = "method"
N = "n"
CI_LEVEL = "ci_level"

METRIC = "metric"
ARM = "arm"
GROUP = "group"
UNIT = "unit"
#: What an analysis table's ``arm`` is: a model arm, a reader group, or (decision curve) a
#: reference strategy — the column and its values.
ARM_KIND = "arm_kind"
KIND_MODEL, KIND_READERS, KIND_REFERENCE = "model", "readers", "reference"

N_POS = "n_pos"
N_NEG = "n_neg"
N_CLUSTERS = "n_clusters"
NUMERATOR = "numerator"
DENOMINATOR = "denominator"

# agreement (ICC, Fleiss' kappa)
FORM = "form"
DESCRIPTION = "description"
DF1 = "df1"
DF2 = "df2"  # also the denominator df of the cohort table's ANOVA F
N_RATERS = "n_raters"
N_CATEGORIES = "n_categories"
SE_NULL = "se_null"
AGREEMENT_OBSERVED = "agreement_observed"
AGREEMENT_CHANCE = "agreement_chance"

# cohort table (Table 1)
VARIABLE = "variable"
LEVEL = "level"
KIND = "kind"
SD = "sd"
Q1 = "q1"
Q3 = "q3"
COUNT = "count"
PERCENT = "percent"
MISSING = "missing"
NORMALITY_P = "normality_p"
MEAN = "mean"
MEDIAN = "median"
MIN = "min"
MAX = "max"
NOTE = "note"

#: The result columns every statistic puts first, in this order.
LEADING = (ESTIMATE, CI_LOW, CI_HIGH, P)
#: The inference columns that follow the leading ones where they apply.
INFERENCE = (STATISTIC, DF, SE, METHOD, N, CI_LEVEL)

# decision curve (net benefit; stats.decision_curve)
MODEL = "model"
THRESHOLD = "threshold"
TP_RATE = "tp_rate"
FP_RATE = "fp_rate"
NET_BENEFIT_MINUS_ALL = "net_benefit_minus_all"
NET_BENEFIT_MINUS_ALL_CI_LOW = "net_benefit_minus_all_ci_low"
NET_BENEFIT_MINUS_ALL_CI_HIGH = "net_benefit_minus_all_ci_high"
NET_INTERVENTIONS_AVOIDED = "net_interventions_avoided_per_100"
#: The ``model`` of a decision curve's reference-strategy rows (treat everyone, treat no one).
TREAT_ALL = "treat_all"
TREAT_NONE = "treat_none"
