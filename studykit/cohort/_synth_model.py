"""Latent lesion model of the synthetic cohort: subtypes, features, exact Bayes posteriors.

Each patient's lesion is a vector of ten standardised *liabilities* z (four B-mode, six
CEUS) drawn from a subtype-conditional Gaussian N(μ_s, Σ) with a covariance Σ shared by
all subtypes. Each liability maps to a physical feature through a strictly monotone
transform (linear, log-linear or bounded logistic), so the features and the liabilities
carry exactly the same information. The class-conditional densities of z are Gaussian
mixtures over subtypes, and the Bayes posterior of malignancy is available in closed form
(:func:`posterior`), for either modality's block of z or for both.

See :mod:`studykit.cohort.synth` for the full description and the references.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit, logit, logsumexp
from scipy.stats import rankdata

__all__ = [
    "BENIGN_SUBTYPES",
    "FEATURES",
    "MALIGNANT_SUBTYPES",
    "REFERENCE_COUNTS",
    "SUBTYPES",
    "SynthParams",
    "auc",
    "bayes_auc_mc",
    "draw_liabilities",
    "features_from_liabilities",
    "liabilities_from_features",
    "posterior",
]

SUBTYPES = ("typical_aml", "atypical_aml", "ccrcc", "prcc", "chrcc")
BENIGN_SUBTYPES = SUBTYPES[:2]
MALIGNANT_SUBTYPES = SUBTYPES[2:]
#: Patients per subtype in the reference study (paper.md): 81 benign, 100 malignant.
REFERENCE_COUNTS = (45, 36, 62, 25, 13)


class Feature(NamedTuple):
    """One latent lesion feature: ``x = transform(loc + scale · z)`` (``kind``), its unit."""

    name: str
    modality: str  # "bmode" | "ceus"
    kind: str  # "linear": x = a; "log": x = upper·exp(a); "logistic": x = upper·expit(a)
    loc: float
    scale: float
    upper: float
    unit: str


#: The ten features, B-mode first. ``a = loc + scale·z`` with z the standardised liability.
FEATURES = (
    Feature("echogenicity_db", "bmode", "linear", 0.0, 3.0, 1.0, "dB relative to renal cortex"),
    Feature("heterogeneity_db", "bmode", "log", 0.0, 0.35, 2.5, "dB (SD of echo texture)"),
    Feature("margin_sharpness", "bmode", "logistic", 0.5, 1.0, 1.0, "0-1 (1 = sharp)"),
    Feature("cystic_fraction", "bmode", "logistic", -2.6, 0.9, 1.0, "fraction of lesion area"),
    Feature("peak_enhancement_db", "ceus", "linear", -1.0, 3.0, 1.0, "dB relative to cortical peak"),
    Feature("arrival_delay_s", "ceus", "linear", 1.5, 1.5, 1.0, "s after cortical arrival"),
    Feature("time_to_peak_s", "ceus", "log", 0.0, 0.3, 10.0, "s from arrival to peak"),
    Feature("washout", "ceus", "logistic", -0.4, 0.9, 1.0, "fraction of peak lost 30 s after peak"),
    Feature("rim_enhancement_db", "ceus", "logistic", -0.5, 1.4, 6.0, "dB above lesion core, late phase"),
    Feature("nonenhancing_fraction", "ceus", "logistic", -2.4, 0.9, 1.0, "fraction of lesion area"),
)
N_BMODE = 4
FEATURE_NAMES = tuple(f.name for f in FEATURES)
#: Within-subtype couplings (B-mode index, CEUS index, sign): the pair's correlation is
#: sign × ``modality_correlation``. Echogenic (fatty) lesions enhance less; a pseudocapsule
#: gives both a sharp margin and a rim; necrosis is both cystic and non-enhancing.
PAIRS = ((0, 4, -1.0), (2, 8, 1.0), (3, 9, 1.0))

#: Subtype means of the standardised liabilities before scaling by the separations.
#: Columns follow FEATURES; rows follow SUBTYPES.
MEANS = np.array([
    # echo   het  margin cystic | peak  arrival  ttp  washout  rim  nonenh
    [3.60, -1.20, 0.36, -1.20, -0.20, 0.22, 0.24, -0.33, -0.40, -0.33],  # typical AML
    [0.05, 0.08, 0.00, 0.10, 0.02, 0.24, 0.31, -0.47, -0.45, -0.40],  # atypical (fat-poor) AML
    [0.15, 0.25, 0.15, 0.30, 0.40, -0.18, -0.22, 0.31, 0.27, 0.31],  # ccRCC
    [-0.45, 0.00, 0.15, 0.00, -0.53, 0.36, 0.22, 0.13, 0.22, 0.09],  # pRCC
    [0.00, -0.15, 0.10, -0.15, -0.13, 0.09, 0.04, 0.18, 0.18, 0.00],  # chRCC
])


@dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic cohort's generative model (all have defaults).

    Attributes
    ----------
    bmode_separation, ceus_separation : float
        Multipliers of the subtype mean offsets of the B-mode and CEUS liabilities
        (``MEANS``). 0 makes a modality useless; larger makes it more discriminative.
        At the defaults the Bayes AUC is about 0.80 from either modality alone.
    modality_correlation : float
        Within-subtype coupling ρ in (−1, 1) between paired B-mode and CEUS liabilities:
        echogenicity with peak enhancement (−ρ: fatty lesions enhance less), margin
        sharpness with rim (+ρ: pseudocapsule), cystic with non-enhancing fraction (+ρ:
        necrosis). It changes how the two modalities' evidence overlaps; at the default
        means the fused Bayes AUC is 0.914 at ρ = 0, 0.915 at 0.3 and 0.927 at 0.6 (the
        single-modality AUCs do not depend on ρ). Use the separations to make the task
        harder or easier.
    junior_noise, senior_noise : float
        SD of each reader's own perception noise, in posterior log-odds units.
    junior_shared_noise, senior_shared_noise : float
        SD of the perception noise shared by a group's readers (what the group sees
        alike but the latents do not explain), in log-odds units.
    junior_threshold, senior_threshold : float
        The group's mean decision threshold on the perceived log-odds of malignancy
        (negative = calls malignant readily, high sensitivity).
    reader_threshold_sd : float
        SD of the readers' individual threshold offsets around their group's threshold.
    score_step : float
        Width, in log-odds units, of the 1–5 confidence score's middle categories.
    score_noise : float
        SD of the extra noise in turning perceived evidence into a 1–5 score (log-odds
        units); lowers the scores' ICC without changing the calls.
    excluded_fraction : float
        Excluded patients (no video, ``excluded_reason`` set) per included patient.
    jpeg_fraction, rle_fraction : float
        Shares of videos written JPEG Baseline (lossy) and RLE Lossless; the rest are
        uncompressed Explicit VR Little Endian.
    respiratory_motion_cm : float
        Amplitude of the kidney's respiratory motion across frames, cm.
    annotator_jitter_px : float
        SD of the annotator's box-edge jitter, pixels.
    """

    bmode_separation: float = 1.0
    ceus_separation: float = 1.0
    modality_correlation: float = 0.3
    junior_noise: float = 0.8
    senior_noise: float = 0.7
    junior_shared_noise: float = 2.5
    senior_shared_noise: float = 0.5
    junior_threshold: float = -1.9
    senior_threshold: float = -1.15
    reader_threshold_sd: float = 0.3
    score_step: float = 1.5
    score_noise: float = 2.0
    excluded_fraction: float = 0.04
    jpeg_fraction: float = 0.2
    rle_fraction: float = 0.2
    respiratory_motion_cm: float = 0.6
    annotator_jitter_px: float = 1.5


def covariance(params: SynthParams) -> np.ndarray:
    """Within-subtype covariance Σ of the ten liabilities, shape (10, 10)."""
    sigma = np.eye(len(FEATURES))
    for i, j, sign in PAIRS:
        sigma[i, j] = sigma[j, i] = sign * params.modality_correlation
    return sigma


def subtype_means(params: SynthParams) -> np.ndarray:
    """Subtype means μ_s of the liabilities, shape (5, 10), separations applied."""
    scale = np.r_[np.full(N_BMODE, params.bmode_separation),
                  np.full(len(FEATURES) - N_BMODE, params.ceus_separation)]
    return MEANS * scale


def draw_liabilities(subtype_index: np.ndarray, params: SynthParams,
                     rng: np.random.Generator) -> np.ndarray:
    """Liabilities z ~ N(μ_s, Σ) for each patient, shape (n, 10)."""
    chol = np.linalg.cholesky(covariance(params))
    noise = rng.standard_normal((subtype_index.size, len(FEATURES))) @ chol.T
    return subtype_means(params)[subtype_index] + noise


def features_from_liabilities(z: np.ndarray) -> np.ndarray:
    """Physical feature values x from liabilities z, both shape (n, 10)."""
    x = np.empty_like(z)
    for k, f in enumerate(FEATURES):
        a = f.loc + f.scale * z[:, k]
        x[:, k] = {"linear": a, "log": f.upper * np.exp(a), "logistic": f.upper * expit(a)}[f.kind]
    return x


def liabilities_from_features(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`features_from_liabilities`, shape (n, 10) → (n, 10)."""
    z = np.empty_like(x)
    for k, f in enumerate(FEATURES):
        if f.kind == "linear":
            a = x[:, k]
        elif f.kind == "log":
            a = np.log(x[:, k] / f.upper)
        else:
            a = logit(x[:, k] / f.upper)
        z[:, k] = (a - f.loc) / f.scale
    return z


def _block(modality: str) -> np.ndarray:
    """Column indices of a modality's liabilities: ``bmode``, ``ceus`` or ``both``."""
    all_cols = np.arange(len(FEATURES))
    return {"bmode": all_cols[:N_BMODE], "ceus": all_cols[N_BMODE:], "both": all_cols}[modality]


def log_odds(z: np.ndarray, prior: np.ndarray, params: SynthParams, modality: str) -> np.ndarray:
    """Exact posterior log-odds of malignancy from one modality's liabilities, shape (n,).

    Parameters
    ----------
    z : array, shape (n, 10)
        Liabilities (only the modality's columns are used).
    prior : array, shape (5,)
        Subtype prior probabilities (sum 1), in ``SUBTYPES`` order.
    modality : {"bmode", "ceus", "both"}
    """
    cols = _block(modality)
    prec = np.linalg.inv(covariance(params)[np.ix_(cols, cols)])
    diff = z[:, None, cols] - subtype_means(params)[None, :, cols]  # (n, 5, d)
    quad = np.einsum("nsd,de,nse->ns", diff, prec, diff)
    log_joint = np.log(prior)[None, :] - 0.5 * quad  # shared Σ: normalising constants cancel
    return logsumexp(log_joint[:, 2:], axis=1) - logsumexp(log_joint[:, :2], axis=1)


def posterior(z: np.ndarray, prior: np.ndarray, params: SynthParams, modality: str) -> np.ndarray:
    """Exact posterior probability of malignancy, shape (n,); see :func:`log_odds`."""
    return expit(log_odds(z, prior, params, modality))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Empirical (Mann–Whitney) AUC of ``score`` for boolean labels ``y``; ties count ½."""
    y = np.asarray(y, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def reference_prior() -> np.ndarray:
    """Subtype proportions of the reference study, shape (5,)."""
    counts = np.asarray(REFERENCE_COUNTS, float)
    return counts / counts.sum()


def bayes_auc_mc(params: SynthParams, *, n: int = 200_000, seed: int = 20_240_501) -> dict[str, float]:
    """Population Bayes-optimal AUCs by Monte-Carlo integration over the latent model.

    Draws ``n`` patients with subtypes in the reference study's proportions (multinomial),
    computes each one's exact posterior from B-mode, CEUS and both blocks of liabilities,
    and returns the empirical AUC of each (Monte-Carlo SE about 0.001 at n = 200 000).
    The fixed ``seed`` makes the figures reproducible and independent of the cohort's seed.
    """
    rng = np.random.default_rng(seed)
    prior = reference_prior()
    subtype = rng.choice(len(SUBTYPES), size=n, p=prior)
    z = draw_liabilities(subtype, params, rng)
    y = subtype >= len(BENIGN_SUBTYPES)
    return {m: auc(y, log_odds(z, prior, params, m)) for m in ("bmode", "ceus", "both")}
