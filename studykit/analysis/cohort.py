"""Table 1 (the cohort by label), Table 2 (histology: patients and images per subtype) and the
STARD flow counts of a manifest.

Methods
-------
Table 1: ``stats.compare_groups`` on the included patients (no ``excluded_reason``), by label,
over the protocol's continuous and categorical columns: Shapiro–Wilk per group → Student t
(mean ± SD) or Mann–Whitney U (median [IQR]); categorical → chi-square, or Fisher's exact test
when an expected count is below 5. The test used is named on every row.

Table 2: counts of included patients and of their images per (label, subtype), with label
totals and a grand total. Images come from the pair-store index when given (every selected
frame pair), else from the distinct ``image_id`` of predictions (the test images).

Mean time–intensity curves (the TIC figure's data): each patient's lesion and cortex curves
(``cohort.perfusion.perfusion_fits``' ``curves``) divided by the patient's highest observed
cortex intensity (:func:`relative_tic`: enhancement relative to the reference parenchyma's
peak, as quantitative CEUS reports a lesion against the renal cortex), interpolated linearly
onto a common time grid within the patient's own observed span (never extrapolated), then
per group, region and grid time the number of patients, mean, SD and Student-t interval of
the mean (:func:`tic_summary`).

Flow counts: records, exclusions by reason, inclusions, reference-standard classes and, when
given, the index test's calls per class (:class:`~studykit.vocab.FlowCounts`, drawn by
``studykit.report.flow_figure``; Cohen JF et al. (2016), STARD 2015, BMJ Open 6:e012799,
doi:10.1136/bmjopen-2016-012799).

References
----------
Shapiro SS, Wilk MB (1965). Biometrika 52:591–611. doi:10.1093/biomet/52.3-4.591
Mann HB, Whitney DR (1947). Ann Math Stat 18:50–60. doi:10.1214/aoms/1177730491
Fisher RA (1922). J R Stat Soc 85:87–94. doi:10.2307/2340521
Dietrich CF et al. (2012). An EFSUMB introduction into dynamic contrast-enhanced ultrasound
(DCE-US) for quantification of tumour perfusion. Ultraschall Med 33:344–351.
doi:10.1055/s-0032-1313026
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from studykit import stats
from studykit.analysis._common import binary_label, order_columns
from studykit.analysis._study import AnalysisOptions
from studykit.errors import InputError, UndefinedStatisticWarning
from studykit.stats import columns as C
from studykit.vocab import (
    EXCLUDED_REASON,
    GROUP,
    IMAGE,
    LABEL,
    PATIENT,
    FlowCounts,
    exclusion_reasons,
    require_columns,
    require_table_columns,
)

__all__ = ["PERFUSION_PARAMETERS", "TIC_REFERENCE", "TIC_REGIONS", "flow_counts", "histology_table",
           "included_patients", "perfusion_by_class", "relative_tic", "table1_cohort", "tic_summary"]

SUBTYPE, ALL = "subtype", "all"
#: Default columns of ``cohort.perfusion.perfusion_table`` compared by :func:`perfusion_by_class`.
PERFUSION_PARAMETERS = ("rel_pe_db", "lesion_time_to_peak_s", "lesion_rise_time_s", "lesion_mtt_s",
                        "lesion_washout_30s", "rel_wiauc", "rel_wir")
STATUS = "status"
#: The curves' regions, in drawing order, and the reference region the TICs are scaled by.
TIC_REGIONS, TIC_REFERENCE = ("lesion", "cortex"), "cortex"
_TIC_SUMMARY = (GROUP, "region", "time_s", C.N, C.MEAN, C.SD, C.CI_LOW, C.CI_HIGH, C.CI_LEVEL)
LABEL_NAMES = {0: "benign", 1: "malignant"}


def included_patients(manifest: pd.DataFrame, *, options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Manifest rows without an exclusion reason (:func:`studykit.vocab.exclusion_reasons`: the
    rule the study's :class:`~studykit.cohort.Cohort` decides with), ``label`` as "benign" / "malignant"."""
    options = options or AnalysisOptions()
    require_columns(manifest, (PATIENT, LABEL), table="manifest")
    out = manifest[(exclusion_reasons(manifest) == "").to_numpy()].copy()
    labels = binary_label(out[LABEL], pos_label=options.pos_label, field="manifest.label")
    out[LABEL] = labels.map(LABEL_NAMES)
    return out.reset_index(drop=True)


def table1_cohort(manifest: pd.DataFrame, *, options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Table 1: clinical characteristics of the included patients by label.

    Parameters
    ----------
    manifest : DataFrame
        One row per patient: ``patient_id, label``, the covariates, optional ``excluded_reason``.
    options : AnalysisOptions
        ``continuous`` and ``categorical`` column names, ``confidence``, ``seed``.

    Returns
    -------
    ``stats.compare_groups``'s table (one row per variable, level and group, ``overall``
    rows included) with ``unit`` ("patient") and ``metric`` (the summary kind: mean_sd,
    median_iqr, count_percent) added.
    """
    options = options or AnalysisOptions()
    data = included_patients(manifest, options=options)
    if not options.continuous and not options.categorical:
        raise InputError("names no covariate for Table 1.", field="continuous",
                         hint="list the manifest's clinical columns as continuous or categorical.")
    require_columns(data, [*options.continuous, *options.categorical], table="manifest")
    data[LABEL] = pd.Categorical(data[LABEL], categories=list(LABEL_NAMES.values()))
    table = stats.compare_groups(data, LABEL, continuous=list(options.continuous),
                                 categorical=list(options.categorical), confidence=options.confidence,
                                 seed=options.seed)
    table[C.UNIT], table[C.METRIC] = "patient", table["kind"]
    return order_columns(table, [C.UNIT, C.METRIC])


def perfusion_by_class(perfusion: pd.DataFrame, *, parameters: tuple[str, ...] = PERFUSION_PARAMETERS,
                       options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Table 1 of perfusion parameters by label, with every patient's fit status counted.

    Parameters
    ----------
    perfusion : DataFrame
        ``cohort.perfusion.perfusion_table``'s: ``patient_id, label, status`` and the
        parameter columns.
    parameters : the continuous columns compared (:data:`PERFUSION_PARAMETERS` by default).

    Returns
    -------
    ``stats.compare_groups``'s table with ``unit`` ("patient") and ``metric`` added: the
    ``status`` rows (count_percent of ``ok`` / ``poor fit`` / ``failed``) over all patients,
    then the parameters over the patients whose fit is ``ok`` (the same tests as Table 1:
    Shapiro–Wilk → Student t or Mann–Whitney U). When a class has no ``ok`` fit, only the
    status rows, with an :class:`~studykit.errors.UndefinedStatisticWarning` naming the class.
    """
    options = options or AnalysisOptions()
    require_columns(perfusion, (PATIENT, LABEL, STATUS, *parameters), table="perfusion")
    data = perfusion.copy()
    labels = binary_label(data[LABEL], pos_label=options.pos_label, field="perfusion.label")
    data[LABEL] = pd.Categorical(labels.map(LABEL_NAMES), categories=list(LABEL_NAMES.values()))
    data[STATUS] = pd.Categorical(data[STATUS], categories=["ok", "poor fit", "failed"])
    statuses = stats.compare_groups(data[[LABEL, STATUS]], LABEL, categorical=[STATUS],
                                    confidence=options.confidence, seed=options.seed)
    fitted = data[data[STATUS] == "ok"]
    ok = fitted[LABEL].value_counts()
    if (ok == 0).any():  # the statuses alone: a class without an ok fit has no parameters to compare
        missing = ", ".join(str(g) for g in ok.index[ok == 0])
        warnings.warn(f"perfusion parameters not compared: no patient of class {missing} has an ok fit "
                      "(the status rows count every patient).", UndefinedStatisticWarning, stacklevel=2)
        table = statuses
    else:
        values = stats.compare_groups(fitted[[LABEL, *parameters]], LABEL, continuous=list(parameters),
                                      confidence=options.confidence, seed=options.seed)
        table = pd.concat([statuses, values], ignore_index=True)
    table[C.UNIT], table[C.METRIC] = "patient", table["kind"]
    return order_columns(table, [C.UNIT, C.METRIC])


def relative_tic(curves: pd.DataFrame, *, id_column: str = PATIENT,
                 min_reference: float = 0.1) -> pd.DataFrame:
    """``curves`` with ``intensity`` (and ``fitted``, when present) divided by each patient's
    highest observed cortex intensity, so the cortex peaks at 1.

    ``curves``: ``cohort.perfusion.perfusion_fits``' (``patient_id, region, time_s, intensity``
    at least; linear intensities). The scale is relative to the reference region's peak, as
    quantitative CEUS reports a lesion's enhancement against the parenchyma (Dietrich et al.
    2012); no baseline is subtracted. A patient without a positive finite cortex intensity, or
    whose cortex peak is below ``min_reference`` times the lesion's (a reference ROI that never
    enhances like cortex — e.g. placed automatically beside a lesion that fills the kidney —
    10 dB by default, beyond any lesion's hyper-enhancement), has NaN values (warns, naming
    them, :class:`~studykit.errors.UndefinedStatisticWarning`).
    """
    require_table_columns(curves, "curves", [id_column, "region", "time_s", "intensity"])
    data = curves.copy()
    values = data["intensity"].astype(float)
    reference = values.where(data["region"] == TIC_REFERENCE)
    peak = reference.groupby(data[id_column], sort=False).transform("max")
    others = values.where(data["region"] != TIC_REFERENCE)
    lesion = others.groupby(data[id_column], sort=False).transform("max")
    undefined = data.loc[~(peak > 0), id_column].unique()
    if len(undefined):
        warnings.warn(f"relative TIC undefined for {len(undefined)} patient(s) without a positive cortex "
                      f"intensity ({', '.join(map(str, undefined[:5]))}): their values are NaN.",
                      UndefinedStatisticWarning, stacklevel=2)
    faint = (peak > 0) & (peak < min_reference * lesion)
    if faint.any():
        names = data.loc[faint, id_column].unique()
        warnings.warn(f"relative TIC left out for {len(names)} patient(s) whose cortex ROI peaks below "
                      f"{min_reference:g} × the lesion's ({', '.join(map(str, names[:5]))}): check their "
                      "cortex_box.", UndefinedStatisticWarning, stacklevel=2)
        peak = peak.where(~faint)
    for column in ("intensity", "fitted"):
        if column in data.columns:
            data[column] = data[column].astype(float) / peak.where(peak > 0)
    return data


def tic_summary(curves: pd.DataFrame, *, group: str = LABEL, grid_s: float = 2.0, confidence: float = 0.95,
                id_column: str = PATIENT) -> pd.DataFrame:
    """Mean relative time–intensity curve per group and region, with its confidence band.

    Parameters
    ----------
    curves : DataFrame
        ``cohort.perfusion.perfusion_fits``' ``curves``: ``patient_id``, the ``group`` column,
        ``region`` (``lesion`` / ``cortex``), ``time_s`` (s since injection) and ``intensity``
        (linear); rows with a missing time or intensity are ignored.
    group : the column whose values are the groups (``label``, ``subtype`` …).
    grid_s : spacing of the common time grid, s (its points are the multiples of ``grid_s``).
    confidence : level of the interval of the mean.

    Returns
    -------
    DataFrame
        ``group, region, time_s, n, mean, sd, ci_low, ci_high, ci_level``: groups sorted,
        lesion before cortex, times ascending; ``n`` the patients observed around that time;
        ``sd`` and the limits NaN where ``n < 2``.

    Notes
    -----
    Each patient's curves are scaled by :func:`relative_tic` (cortex peak = 1), samples at one
    time averaged, and interpolated linearly onto the grid points inside the patient's own
    observed span ``[t_min, t_max]`` of that region only: no extrapolation, so ``n`` falls
    where curves end. Per grid time: mean, SD (ddof = 1) and ``mean ± t(1 − α/2; n − 1)·sd/√n``
    (:func:`studykit.stats.mean_interval`), a pointwise band, not a simultaneous one.
    """
    require_table_columns(curves, "curves", [id_column, group, "region", "time_s", "intensity"])
    if not (isinstance(grid_s, (int, float)) and np.isfinite(grid_s) and grid_s > 0):
        raise InputError(f"must be a positive number of seconds; got {grid_s!r}.", field="grid_s",
                         hint="pass grid_s=2.0, for example.")
    data = relative_tic(curves[[id_column, group, "region", "time_s", "intensity"]], id_column=id_column)
    data["time_s"] = data["time_s"].astype(float)
    data = data[np.isfinite(data["time_s"]) & np.isfinite(data["intensity"])]
    if data.empty:
        return pd.DataFrame(columns=list(_TIC_SUMMARY))
    samples = _on_grid(data, grid_s, group, id_column)
    keys = [GROUP, "region", "time_s"]
    table = samples.groupby(keys, observed=True)["value"].agg(n="count", mean="mean", sd="std").reset_index()
    low, high = stats.mean_interval(table[C.MEAN], table[C.SD], table[C.N], confidence=confidence)
    table[C.CI_LOW], table[C.CI_HIGH], table[C.CI_LEVEL] = low, high, confidence
    table[C.SD] = table[C.SD].where(table[C.N] >= 2)
    table = table.sort_values(keys, kind="stable", ignore_index=True)
    table["region"] = table["region"].astype(str)
    return table[list(_TIC_SUMMARY)]


def _grid(times: np.ndarray, step: float) -> np.ndarray:
    """The multiples of ``step`` from the earliest to the latest time (1e-9 steps of slack)."""
    first, last = np.ceil(times.min() / step - 1e-9), np.floor(times.max() / step + 1e-9)
    return np.round(np.arange(first, last + 1) * step, 9)


def _on_grid(data: pd.DataFrame, step: float, group: str, id_column: str) -> pd.DataFrame:
    """Each patient's curve of each region interpolated at the grid points inside its span."""
    grid, slack, parts = _grid(data["time_s"].to_numpy(), step), 1e-9 * step, []
    for (_, name, region), part in data.groupby([id_column, group, "region"], sort=False, dropna=False):
        curve = part.groupby("time_s")["intensity"].mean()  # sorted; repeated times averaged
        t, y = curve.index.to_numpy(float), curve.to_numpy(float)
        inside = grid[(grid >= t[0] - slack) & (grid <= t[-1] + slack)]
        parts.append(pd.DataFrame({GROUP: name, "region": region, "time_s": inside,
                                   "value": np.interp(inside, t, y)}))
    samples = pd.concat(parts, ignore_index=True)
    regions = [*TIC_REGIONS, *sorted(set(samples["region"]) - set(TIC_REGIONS))]
    samples["region"] = pd.Categorical(samples["region"], categories=regions)
    return samples


def histology_table(manifest: pd.DataFrame, predictions: pd.DataFrame | None = None,
                    index: pd.DataFrame | None = None, *,
                    options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Table 2: patients and images per histological subtype, by label, with totals.

    Parameters
    ----------
    manifest : DataFrame
        ``patient_id, label, subtype`` (and optional ``excluded_reason``).
    predictions : DataFrame, optional
        Used for image counts (distinct ``image_id`` per patient) when ``index`` is absent.
    index : DataFrame, optional
        The pair-store index (``image_id, patient_id``, …): image counts of every stored frame.

    Returns
    -------
    DataFrame, one row per (label, subtype, metric): ``estimate`` (the count), ``ci_low,
    ci_high, p`` (NaN), ``method`` ("count"), ``n`` (the count), ``ci_level`` (NaN),
    ``unit`` (patient | image), ``metric`` (patients | images), ``label`` (benign, malignant,
    all), ``subtype`` (``all`` on total rows), ``percent`` (of the label's total; of the grand
    total on label rows), ``image_source`` (index | predictions | none).
    """
    data = included_patients(manifest, options=options)
    require_columns(data, (SUBTYPE,), table="manifest")
    images, source = _image_counts(data, predictions, index)
    data["images"] = data[PATIENT].map(images).fillna(0).astype(int) if source != "none" else np.nan
    rows = []
    for label, part in [*data.groupby(LABEL, sort=True), (ALL, data)]:
        subtypes = [] if label == ALL else list(part.groupby(SUBTYPE, sort=True))
        for subtype, cell in [*subtypes, (ALL, part)]:
            whole = part if subtype != ALL else data
            rows += [_count_row(unit, metric, count, total, label, subtype, source)
                     for unit, metric, count, total in (
                         ("patient", "patients", len(cell), len(whole)),
                         ("image", "images", cell["images"].sum(), whole["images"].sum()))]
    return pd.DataFrame(rows)


def _count_row(unit, metric, count, total, label, subtype, source) -> dict:
    return {C.ESTIMATE: float(count), C.CI_LOW: np.nan, C.CI_HIGH: np.nan, C.P: np.nan, C.METHOD: "count",
            C.N: count, C.CI_LEVEL: np.nan, C.UNIT: unit, C.METRIC: metric, LABEL: label, SUBTYPE: subtype,
            "percent": 100.0 * count / total if total else np.nan, "image_source": source}


def _image_counts(data: pd.DataFrame, predictions: pd.DataFrame | None,
                  index: pd.DataFrame | None) -> tuple[pd.Series, str]:
    """Images per patient from the index, else from predictions' distinct image ids."""
    for name, table in (("index", index), ("predictions", predictions)):
        if table is not None:
            require_columns(table, (IMAGE, PATIENT), table=name)
            images = table.dropna(subset=[IMAGE]).drop_duplicates([PATIENT, IMAGE])  # not a perfusion arm's
            return images.groupby(PATIENT).size(), name
    return pd.Series(dtype=int), "none"


def flow_counts(
    manifest: pd.DataFrame,
    *,
    label: str = LABEL,
    pos_label: object = "malignant",
    negative_name: str = "benign",
    positive_name: str = "malignant",
    excluded: str = EXCLUDED_REASON,
    id_column: str = PATIENT,
    index_test: Mapping[str, int] | pd.Series | None = None,
) -> FlowCounts:
    """Count records, exclusions by reason, inclusions and classes from a manifest.

    Parameters
    ----------
    manifest : DataFrame
        One row per record. A non-empty ``excluded`` cell excludes the record with that
        reason; the column may be absent (nothing excluded).
    label, pos_label : the reference-standard column and its positive value (1 and
        ``True`` count as positive too).
    index_test : mapping or Series, optional
        Patient id → index-test call (1 positive, 0 negative) of the included patients;
        patients without a call are counted as ``missing``.
    """
    need = [label] + ([id_column] if index_test is not None else [])
    missing = [c for c in need if c not in manifest.columns]
    if missing:
        raise InputError(
            f"manifest lacks column(s) {missing} needed for the flow diagram; "
            f"it has {', '.join(map(str, manifest.columns))}",
            field=missing[0],
        )
    reason = exclusion_reasons(manifest, excluded)
    out = reason != ""
    kept = manifest[~out.to_numpy()]
    is_pos = kept[label].isin([pos_label, 1, True]) | (kept[label].astype(str) == str(pos_label))
    counts = FlowCounts(
        records=len(manifest),
        excluded=reason[out].value_counts(sort=True).to_dict(),
        included=len(kept),
        reference={negative_name: int((~is_pos).sum()), positive_name: int(is_pos.sum())},
    )
    if index_test is not None:
        calls = pd.Series(index_test) if not isinstance(index_test, pd.Series) else index_test
        call = kept[id_column].map(calls)
        for name, mask in ((negative_name, ~is_pos), (positive_name, is_pos)):
            c = call[mask.to_numpy()]
            counts.index_test[name] = {"positive": int((c == 1).sum()), "negative": int((c == 0).sum())}
            if c.isna().any():
                counts.index_test[name]["missing"] = int(c.isna().sum())
    return counts
