"""analysis.relative_tic and tic_summary against a hand computation on a tiny curves table.

Patients (linear intensities; grid 2 s, so the grid is 0, 2, 4, 6, 8 s):

- A (g1): cortex 1, 4, 2 at 0, 4, 8 s (peak 4 → 0.25, 1, 0.5); lesion 2, 8, NaN, 4 at 0, 4, 6, 8 s
  (→ 0.5, 2, 1; the NaN is ignored, so 6 s is interpolated between 4 and 8 s: 1.5).
- B (g1): cortex 2, 2 at 1, 5 s (→ 1, 1); lesion 2, 6 at 1, 5 s (→ 1, 3): inside its span
  only 2 s (1.5) and 4 s (2.5) — never 0, 6 or 8 s (no extrapolation).
- C (g2): cortex 5, 10 at 0, 2 s (→ 0.5, 1); lesion 10, 0 at 0, 2 s (→ 1, 0), and a second
  lesion sample at 2 s of value 10 (→ 1), averaged with the first: 0.5.
- D (g2): a lesion but no cortex: relative values undefined (warns), contributes nothing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import relative_tic, tic_summary
from studykit.errors import InputError, UndefinedStatisticWarning

T1 = 12.706204736174704  # t(0.975; 1)


def _curves() -> pd.DataFrame:
    rows = []
    for pid, group, region, times, values in (
        ("A", "g1", "lesion", [0, 4, 6, 8], [2, 8, math.nan, 4]),
        ("A", "g1", "cortex", [0, 4, 8], [1, 4, 2]),
        ("B", "g1", "lesion", [1, 5], [2, 6]),
        ("B", "g1", "cortex", [1, 5], [2, 2]),
        ("C", "g2", "lesion", [0, 2, 2], [10, 0, 10]),
        ("C", "g2", "cortex", [0, 2], [5, 10]),
        ("D", "g2", "lesion", [0, 2], [1, 1]),
    ):
        rows += [{"patient_id": pid, "label": group, "region": region, "time_s": float(t),
                  "intensity": float(v), "fitted": 2.0 * v} for t, v in zip(times, values)]
    return pd.DataFrame(rows)


def test_relative_tic_divides_by_the_patients_cortex_peak() -> None:
    with pytest.warns(UndefinedStatisticWarning, match=r"1 patient\(s\).*\(D\)"):
        relative = relative_tic(_curves())
    a = relative[relative["patient_id"] == "A"]
    np.testing.assert_allclose(a["intensity"], [0.5, 2.0, math.nan, 1.0, 0.25, 1.0, 0.5])
    np.testing.assert_allclose(a["fitted"], 2 * a["intensity"])
    assert relative.loc[relative["patient_id"] == "D", "intensity"].isna().all()


def test_a_cortex_roi_that_never_enhances_like_cortex_is_left_out() -> None:
    """E's cortex peaks at 0.5 against a lesion peak of 8 (below 0.1 × 8): left out with a warning
    naming it; at min_reference 0.05 it is kept (8 / 0.5 = 16)."""
    extra = pd.DataFrame({"patient_id": "E", "label": "g1", "region": ["lesion", "cortex"], "time_s": 0.0,
                          "intensity": [8.0, 0.5], "fitted": np.nan})
    curves = pd.concat([_curves()[lambda t: t["patient_id"] != "D"], extra], ignore_index=True)
    with pytest.warns(UndefinedStatisticWarning, match=r"left out for 1 patient\(s\).*lesion's \(E\)"):
        relative = relative_tic(curves)
    assert relative.loc[relative["patient_id"] == "E", "intensity"].isna().all()
    assert relative.loc[relative["patient_id"] == "A", "intensity"].notna().sum() == 6
    kept = relative_tic(curves, min_reference=0.05)
    np.testing.assert_allclose(kept.loc[kept["patient_id"] == "E", "intensity"], [16.0, 1.0])


def test_tic_summary_matches_the_hand_computation() -> None:
    with pytest.warns(UndefinedStatisticWarning):
        summary = tic_summary(_curves(), grid_s=2.0)
    assert list(summary.columns) == ["group", "region", "time_s", "n", "mean", "sd", "ci_low", "ci_high",
                                     "ci_level"]
    g1_lesion = summary[(summary["group"] == "g1") & (summary["region"] == "lesion")]
    assert g1_lesion["time_s"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert g1_lesion["n"].tolist() == [1, 2, 2, 1, 1]  # B only inside [1, 5] s
    np.testing.assert_allclose(g1_lesion["mean"], [0.5, (1.25 + 1.5) / 2, (2.0 + 2.5) / 2, 1.5, 1.0])
    sd = 0.25 / math.sqrt(2)  # two values 0.25 and 0.5 apart: sd = |difference| / √2
    np.testing.assert_allclose(g1_lesion["sd"], [math.nan, sd, 2 * sd, math.nan, math.nan])
    half = T1 * np.array([sd, 2 * sd]) / math.sqrt(2)
    np.testing.assert_allclose(g1_lesion["ci_low"].iloc[1:3], [1.375 - half[0], 2.25 - half[1]])
    np.testing.assert_allclose(g1_lesion["ci_high"].iloc[1:3], [1.375 + half[0], 2.25 + half[1]])
    assert g1_lesion[g1_lesion["n"] < 2][["ci_low", "ci_high"]].isna().all().all()
    g1_cortex = summary[(summary["group"] == "g1") & (summary["region"] == "cortex")]
    np.testing.assert_allclose(g1_cortex["mean"], [0.25, (0.625 + 1) / 2, 1.0, 0.75, 0.5])
    g2 = summary[summary["group"] == "g2"]
    assert g2["region"].tolist() == ["lesion", "lesion", "cortex", "cortex"]  # lesion first; D absent
    assert g2["n"].tolist() == [1, 1, 1, 1] and g2["time_s"].tolist() == [0.0, 2.0, 0.0, 2.0]
    np.testing.assert_allclose(g2["mean"], [1.0, 0.5, 0.5, 1.0])  # C's repeated 2-s samples averaged
    assert (summary["ci_level"] == 0.95).all()


def test_tic_summary_groups_by_any_column_and_rejects_bad_options() -> None:
    curves = _curves()[lambda d: d["patient_id"] != "D"].assign(subtype="all")
    summary = tic_summary(curves, group="subtype", grid_s=4.0)
    assert set(summary["group"]) == {"all"}
    lesion = summary[summary["region"] == "lesion"]
    assert lesion["time_s"].tolist() == [0.0, 4.0, 8.0] and lesion["n"].tolist() == [2, 2, 1]
    with pytest.raises(InputError, match="grid_s"):
        tic_summary(curves, grid_s=0)
    with pytest.raises(InputError, match="'histology'"):
        tic_summary(curves, group="histology")
