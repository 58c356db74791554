"""Simulated radiologists: calls and 1–5 scores from the latent posterior, plus their summary.

Reader r of group g perceives the evidence of patient p as

    e_rp = ℓ_p + u_gp + ε_rp,   u_gp ~ N(0, τ_g²),  ε_rp ~ N(0, σ_g²),

where ℓ_p is the exact posterior log-odds of malignancy from both modalities' latents,
u_gp the perception noise the group shares and ε_rp the reader's own. The reader calls
*malignant* when e_rp > t_r, with t_r = t_g + δ_r and δ_r ~ N(0, ζ²) (``reader_threshold_sd``),
rates its confidence of malignancy 1–5 by cutting e_rp − t_r + η_rp (η ~ N(0, ``score_noise``²),
the noise of putting a confidence into words) at step·(−1.5, −0.5, 0.5, 1.5). The score is
kept consistent with the call: a malignant call scores 3–5, a benign call 1–3 (3 =
indeterminate, called either way).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .model import SynthParams

__all__ = ["GROUPS", "ReaderGroupSummary", "icc2_1", "simulate_reads", "summarize_reads"]

GROUPS = ("junior", "senior")
READERS_PER_GROUP = 3
_CUTS = np.array([-1.5, -0.5, 0.5, 1.5])


class ReaderGroupSummary(NamedTuple):
    """A reader group's majority-vote accuracy and within-group agreement.

    ``sensitivity`` and ``specificity`` are of the group's majority vote (2 of 3 calls)
    on the included patients; ``icc`` is ICC(2,1) (two-way random effects, absolute
    agreement, single rater; Shrout & Fleiss 1979) of the 1–5 scores.
    """

    group: str
    sensitivity: float
    specificity: float
    icc: float


def _group_params(params: SynthParams, group: str) -> tuple[float, float, float]:
    """(shared noise τ, own noise σ, mean threshold t) of a reader group."""
    return (getattr(params, f"{group}_shared_noise"), getattr(params, f"{group}_noise"),
            getattr(params, f"{group}_threshold"))


def simulate_reads(patient_ids: np.ndarray, log_odds: np.ndarray, params: SynthParams,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Long reads table ``reader_id, group, patient_id, call, score`` (6 × n rows).

    Parameters
    ----------
    patient_ids : array of str, shape (n,)
    log_odds : array of float, shape (n,)
        Exact posterior log-odds of malignancy from both modalities.
    """
    frames = []
    for group in GROUPS:
        shared_sd, own_sd, threshold = _group_params(params, group)
        shared = rng.standard_normal(log_odds.size) * shared_sd
        offsets = rng.standard_normal(READERS_PER_GROUP) * params.reader_threshold_sd
        own = rng.standard_normal((READERS_PER_GROUP, log_odds.size)) * own_sd
        evidence = log_odds[None, :] + shared[None, :] + own - (threshold + offsets)[:, None]
        rating = evidence + rng.standard_normal(evidence.shape) * params.score_noise
        score = 1 + (rating[..., None] > params.score_step * _CUTS).sum(axis=-1)
        score = np.where(evidence > 0, np.maximum(score, 3), np.minimum(score, 3))
        for r in range(READERS_PER_GROUP):
            frames.append(pd.DataFrame({
                "reader_id": f"{group}_{r + 1}", "group": group, "patient_id": patient_ids,
                "call": np.where(evidence[r] > 0, "malignant", "benign"), "score": score[r]}))
    return pd.concat(frames, ignore_index=True)


def icc2_1(x: np.ndarray) -> float:
    """ICC(2,1) of an (n targets × k raters) table: two-way random, absolute, single rater.

    ICC(2,1) = (MSR − MSE) / (MSR + (k − 1)·MSE + k·(MSC − MSE)/n) (Shrout & Fleiss 1979).
    """
    x = np.asarray(x, float)
    n, k = x.shape
    grand = x.mean()
    ssr = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ssc = n * ((x.mean(axis=0) - grand) ** 2).sum()
    sse = ((x - grand) ** 2).sum() - ssr - ssc
    msr, msc, mse = ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1))
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denom) if denom > 0 else float("nan")


def summarize_reads(reads: pd.DataFrame, malignant: pd.Series) -> tuple[ReaderGroupSummary, ...]:
    """Majority-vote sensitivity/specificity and ICC(2,1) of the scores, per group.

    Parameters
    ----------
    reads : DataFrame
        As returned by :func:`simulate_reads`.
    malignant : Series of bool
        Truth, indexed by patient id.
    """
    out = []
    for group in GROUPS:
        part = reads[reads["group"] == group]
        calls = part.pivot(index="patient_id", columns="reader_id", values="call") == "malignant"
        vote = calls.sum(axis=1) * 2 > calls.shape[1]
        y = malignant.reindex(vote.index).to_numpy(bool)
        sens = float(vote[y].mean()) if y.any() else float("nan")
        spec = float((~vote[~y]).mean()) if (~y).any() else float("nan")
        scores = part.pivot(index="patient_id", columns="reader_id", values="score").to_numpy()
        out.append(ReaderGroupSummary(group, sens, spec, icc2_1(scores)))
    return tuple(out)
