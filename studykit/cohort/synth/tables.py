"""The synthetic cohort's tables: manifest (Table-1 covariates, exclusions), truth and reads.

Everything here is drawn without rendering a pixel, so the latent model and the readers can
be checked in milliseconds. Random streams are keyed by (seed, stream) so that, e.g., the
latents do not change when the covariate model does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit

from studykit.vocab import INJECTION_COLUMN

from . import model
from .options import VIDEO_START_S
from .readers import simulate_reads

__all__ = ["MANIFEST_COLUMNS", "CohortTables", "allocate", "draw_tables", "stream"]

MANIFEST_COLUMNS = ("patient_id", "label", "subtype", "center", "scanner", "age", "sex", "bmi",
                    "size_cm", "symptoms", "surgery", "excluded_reason")
SCANNERS = ("ge_logiq_e9", "mindray_resona7", "philips_iu22")
#: Scanner mix per centre (probabilities in SCANNERS order).
CENTER_SCANNERS = {"center_a": (0.55, 0.0, 0.45), "center_b": (0.3, 0.7, 0.0)}
EXCLUSION_REASONS = ("poor image quality", "no CEUS", "stage >= T2b")
#: Probability of female sex per subtype (AML: female predominance; RCC: male).
FEMALE = {"typical_aml": 0.75, "atypical_aml": 0.70, "ccrcc": 0.35, "prcc": 0.25, "chrcc": 0.45}
#: Table-1 targets: age mean per class and common SD (years); the reference study's p = 0.017.
AGE_MEAN = {"benign": 53.2, "malignant": 57.6}
AGE_SD = 12.0
PHASE_TIMING = {"cortex_arrival_s": (10.0, 15.0), "medullary_delay_s": (20.0, 30.0),
                "medullary_start_s": (30.0, 45.0)}

# Stream numbers of the random generators (see :func:`stream`).
STREAM_MANIFEST, STREAM_LATENTS, STREAM_READERS, STREAM_TIMING, STREAM_PERCEPTION = 1, 2, 3, 4, 5


class CohortTables(NamedTuple):
    """The tables of a synthetic cohort, as written to CSV (rendering not needed).

    ``manifest`` has every patient (included and excluded); ``truth`` and ``reads`` the
    included ones only. ``prior`` is the subtype prior of the posteriors, shape (5,).
    """

    manifest: pd.DataFrame
    truth: pd.DataFrame
    reads: pd.DataFrame
    prior: np.ndarray


def stream(seed: int, number: int, *more: int) -> np.random.Generator:
    """An independent generator for one purpose: keyed by (seed, stream number, more…)."""
    return np.random.default_rng([int(seed), number, *map(int, more)])


def allocate(n: int) -> np.ndarray:
    """Patients per subtype for n included patients: the reference proportions rounded by
    largest remainder (exactly 45, 36, 62, 25, 13 at n = 181), shape (5,)."""
    share = np.asarray(model.REFERENCE_COUNTS, float) / sum(model.REFERENCE_COUNTS) * n
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _subtypes(n: int, n_excluded: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Subtype index and included flag of every manifest row, in patient-id order."""
    included = np.repeat(np.arange(len(model.SUBTYPES)), allocate(n))
    excluded = rng.choice(len(model.SUBTYPES), size=n_excluded, p=model.reference_prior())
    subtype = np.r_[included, excluded]
    is_included = np.r_[np.ones(n, bool), np.zeros(n_excluded, bool)]
    order = rng.permutation(subtype.size)
    return subtype[order], is_included[order]


def _matched_ages(malignant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ages whose per-class sample mean and SD equal AGE_MEAN / AGE_SD (moment-matched)."""
    age = np.empty(malignant.size)
    for flag, label in ((False, "benign"), (True, "malignant")):
        z = rng.standard_normal(int((malignant == flag).sum()))
        if z.size > 1:
            z = (z - z.mean()) / z.std(ddof=1)
        age[malignant == flag] = AGE_MEAN[label] + AGE_SD * z
    return np.clip(np.round(age), 18, 90).astype(int)


def _centers(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centre (60 % centre A) and scanner (by the centre's mix) of n patients."""
    center = np.where(rng.random(n) < 0.6, "center_a", "center_b")
    scanner = np.array([SCANNERS[rng.choice(3, p=CENTER_SCANNERS[c])] for c in center])
    return center, scanner


def _clinical(subtype: np.ndarray, included: np.ndarray, rng: np.random.Generator) -> dict:
    """Table-1 covariates of every row (columns of the manifest after ``scanner``)."""
    n = subtype.size
    names = np.asarray(model.SUBTYPES)[subtype]
    malignant = subtype >= len(model.BENIGN_SUBTYPES)
    age = rng.normal(55.0, AGE_SD, n).round().clip(18, 90).astype(int)
    age[included] = _matched_ages(malignant[included], rng)
    female = rng.random(n) < np.array([FEMALE[s] for s in names])
    bmi = rng.normal(23.0, 3.0, n).clip(16.0, 40.0).round(1)
    size = np.exp(rng.normal(np.log(4.0), 0.51, n)).clip(1.0, 10.0).round(1)
    symptoms = rng.random(n) < np.where(malignant, 0.35, 0.2)
    radical = rng.random(n) < expit(-2.3 + 2.2 * malignant + 0.55 * (size - 4.0))
    return {"age": age, "sex": np.where(female, "F", "M"), "bmi": bmi, "size_cm": size,
            "symptoms": np.where(symptoms, "yes", "no"), "surgery": np.where(radical, "radical", "partial")}


def _manifest(n: int, params: model.SynthParams, seed: int) -> pd.DataFrame:
    """Manifest of n included patients plus ``excluded_fraction``·n (at least 1) excluded."""
    rng = stream(seed, STREAM_MANIFEST)
    n_excluded = max(1, round(params.excluded_fraction * n)) if params.excluded_fraction > 0 else 0
    subtype, included = _subtypes(n, n_excluded, rng)
    total = subtype.size
    center, scanner = _centers(total, rng)
    frame = pd.DataFrame({
        "patient_id": [f"RC{i + 1:04d}" for i in range(total)],
        "label": np.where(subtype >= len(model.BENIGN_SUBTYPES), "malignant", "benign"),
        "subtype": np.asarray(model.SUBTYPES)[subtype], "center": center, "scanner": scanner,
        **_clinical(subtype, included, rng), "excluded_reason": ""})
    reasons = np.asarray(EXCLUSION_REASONS)[np.arange(n_excluded) % len(EXCLUSION_REASONS)]
    frame.loc[~included, "excluded_reason"] = reasons
    big = frame["excluded_reason"] == "stage >= T2b"
    frame.loc[big, "size_cm"] = rng.uniform(10.5, 14.0, int(big.sum())).round(1)
    if not params.timing_annotations:
        return frame[list(MANIFEST_COLUMNS)]
    frame[INJECTION_COLUMN] = np.where(included, f"{-VIDEO_START_S:g}", "")  # excluded: no video
    return frame[[*MANIFEST_COLUMNS, INJECTION_COLUMN]]


def _timing(n: int, seed: int) -> dict[str, np.ndarray]:
    """Per-patient cortical arrival and start of the medullary phase, s after injection."""
    rng = stream(seed, STREAM_TIMING)
    arrival = rng.uniform(*PHASE_TIMING["cortex_arrival_s"], n)
    medullary = np.clip(arrival + rng.uniform(*PHASE_TIMING["medullary_delay_s"], n),
                        *PHASE_TIMING["medullary_start_s"])
    return {"cortex_arrival_s": arrival.round(2), "medullary_start_s": medullary.round(2)}


def _truth(included: pd.DataFrame, params: model.SynthParams, seed: int,
           prior: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Truth table and the video-level log-odds from both modalities (what the readers perceive).

    Columns: the latent features, the phase timing, the bolus timing as the readers perceive it
    (``seen_arrival_delay_s``, ``seen_time_to_peak_s``: the video level's evidence) and the
    exact posteriors ``posterior_{frame,video,all}_{bmode,ceus,both}``.
    """
    index = included["subtype"].map({s: i for i, s in enumerate(model.SUBTYPES)}).to_numpy()
    z = model.draw_liabilities(index, params, stream(seed, STREAM_LATENTS))
    seen = model.perceive_timing(z, params, stream(seed, STREAM_PERCEPTION))
    x = model.features_from_liabilities(z, params)
    truth = included[["patient_id", "label", "subtype"]].reset_index(drop=True)
    truth[list(model.FEATURE_NAMES)] = x
    for key, value in _timing(len(truth), seed).items():
        truth[key] = value
    seen_x = model.features_from_liabilities(seen, params)
    for k in model.TEMPORAL:
        truth[f"seen_{model.FEATURE_NAMES[k]}"] = seen_x[:, k]
    for name, values in model.posteriors(z, seen, prior, params).items():
        truth[name] = values
    return truth, model.log_odds(seen, prior, params, "both", "video")


def draw_tables(patients: int, seed: int, params: model.SynthParams) -> CohortTables:
    """Manifest, truth and reads of a synthetic cohort (no images)."""
    manifest = _manifest(patients, params, seed)
    included = manifest[manifest["excluded_reason"] == ""]
    prior = allocate(patients) / patients
    truth, log_odds = _truth(included, params, seed, prior)
    reads = simulate_reads(truth["patient_id"].to_numpy(), log_odds, params,
                           stream(seed, STREAM_READERS))
    return CohortTables(manifest, truth, reads, prior)
