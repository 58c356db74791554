"""Each arm's patient-level AUC next to the Bayes ceiling of the synthetic cohort.

The synthetic cohort's generator writes, per included patient, the exact Bayes posterior
probability of malignancy at three **evidence levels** and for three **modalities**
(``truth.csv``, columns ``posterior_{level}_{modality}``, :data:`POSTERIORS`):

- ``frame``: what one annotated frame shows (the static latents: B-mode echo features, CEUS
  enhancement relative to cortex, wash-out, rim, non-enhancing areas);
- ``video``: the frame evidence plus the bolus timing (arrival, time to peak) as a reader
  perceives it from the whole video, i.e. observed with timing noise;
- ``all``: every latent, exactly — the absolute ceiling.

Modalities are ``bmode``, ``ceus`` and ``both``. B-mode has no temporal latents, so its
three levels coincide (all nine columns are written, for uniformity). No classifier whose
input shows only a given evidence can beat the AUC of that evidence's posterior on average,
so the gap arm − ceiling measures what the arm leaves on the table.

Methods
-------
AUCs of the nine posteriors and of each arm on the same (common) patients, DeLong CIs
(``stats.roc_auc``; a reader group's AUC is that of its majority-vote call, or of its panel
score with ``reader_rating="score"``); the gap by the paired DeLong test of the arm against its
matching posterior (``stats.delong_test``).

Matching: ``options.ceiling_match[arm]`` when given (one of :data:`POSTERIORS`); otherwise an
arm is held to the evidence its input shows. **Model arms** (B-mode-Net, CEUS-Net, MUF-Net)
classify single frames and average them per patient, so they get the ``frame`` level, with
the modality guessed from the name — like B-mode (and not CEUS): ``posterior_frame_bmode``,
like CEUS (and not B-mode): ``posterior_frame_ceus``, else ``posterior_frame_both``.
**Reader arms** read the whole video of both modalities, so they get ``posterior_video_both``.
Holding a per-frame arm to the video or all-latent ceiling would charge it for timing
evidence it never sees; holding readers to the frame ceiling would let them "beat" the ceiling.
The ``all`` level is reported for reference and matched only explicitly.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837–845. doi:10.2307/2531595
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from studykit import stats
from studykit.analysis._common import (
    ARM_KIND,
    MODEL,
    READERS,
    Arm,
    check_option,
    concat,
    listed,
    order_columns,
    restrict,
)
from studykit.analysis._study import AnalysisOptions, prepare
from studykit.errors import InputError
from studykit.stats import columns as C
from studykit.vocab import ARM, CALL, LABEL, PATIENT, PATIENT_UNIT, SCORE, require_columns

__all__ = ["LEVELS", "MODALITIES", "POSTERIORS", "ceiling_table", "matching_posterior", "posterior_column"]

#: Evidence levels of the posteriors, narrowest first: one frame, the whole video, every latent.
LEVELS = ("frame", "video", "all")
#: Modalities of the posteriors.
MODALITIES = ("bmode", "ceus", "both")
CEILING, LEVEL, MODALITY = "ceiling", "level", "modality"
_KINDS = (MODEL, READERS)


def posterior_column(level: str, modality: str) -> str:
    """Name of the ``truth.csv`` column of the posterior at ``level`` from ``modality``.

    >>> posterior_column("video", "both")
    'posterior_video_both'
    """
    check_option("level", level, LEVELS)
    check_option("modality", modality, MODALITIES)
    return f"posterior_{level}_{modality}"


#: The nine posterior columns of ``truth.csv``, level-major (frame, video, all).
POSTERIORS = tuple(posterior_column(level, modality) for level in LEVELS for modality in MODALITIES)
_PARTS = {posterior_column(level, modality): (level, modality) for level in LEVELS for modality in MODALITIES}
_READER_POSTERIOR = posterior_column("video", "both")


def matching_posterior(arm: str, match: Mapping[str, str] | None = None, *, kind: str) -> str:
    """The posterior column an arm is measured against.

    Parameters
    ----------
    arm : str
        The arm's name.
    match : mapping, optional
        Explicit arm → posterior column (one of :data:`POSTERIORS`); wins when it names ``arm``.
    kind : {"model", "readers"}
        The arm's kind. A model arm (per-frame classifier) gets the ``frame`` level with the
        modality guessed from its name (B-mode-like → bmode, CEUS-like → ceus, else both); a
        reader arm gets ``posterior_video_both``.
    """
    if match and arm in match:
        return check_option(f"ceiling_match[{arm!r}]", match[arm], POSTERIORS)
    if check_option("kind", kind, _KINDS) == READERS:
        return _READER_POSTERIOR
    key = re.sub(r"[^a-z]", "", arm.lower())
    bmode, ceus = "bmode" in key, "ceus" in key
    modality = ("bmode" if bmode else "ceus") if bmode != ceus else "both"
    return posterior_column("frame", modality)


def ceiling_table(predictions: pd.DataFrame, reads: pd.DataFrame | None, truth: pd.DataFrame,
                  manifest: pd.DataFrame | None = None, *,
                  options: AnalysisOptions | None = None) -> pd.DataFrame:
    """Arms' AUCs, the Bayes-ceiling AUCs and each arm's paired gap to its matching ceiling.

    Returns
    -------
    DataFrame: ``metric = "auc_ceiling"`` rows, one per posterior column (``arm`` = the
    column's name, ``arm_kind = "ceiling"``, ``level`` and ``modality`` its parts),
    ``metric = "auc"`` rows per arm, and ``metric = "auc_minus_ceiling"`` rows per arm
    (``estimate`` = AUC_arm − AUC_ceiling with the DeLong CI, ``p``, ``statistic`` z, ``se``);
    ``method, n, ci_level, arm, arm_kind, unit`` ("patient"), ``ceiling`` (the matching
    posterior column) and ``level`` (its evidence level).

    Raises
    ------
    InputError
        ``truth`` lacks ``patient_id``, a posterior column (a cohort written by an older
        generator) or an analysed patient; ``options.ceiling_match`` names an unknown column.
    """
    options = options or AnalysisOptions()
    study = prepare(predictions, reads, manifest, options)
    post = _posteriors(truth, study.patients)
    y = study.labels.loc[study.patients].to_numpy()
    frames = [stats.roc_auc(y, post[name].to_numpy(float), confidence=options.confidence)
              .assign(**{ARM: name, ARM_KIND: "ceiling", CEILING: name, LEVEL: _PARTS[name][0],
                         MODALITY: _PARTS[name][1], C.METRIC: "auc_ceiling"})
              for name in POSTERIORS]
    for arm in study.arms:
        frames += _arm_rows(arm, post, study.patients, options)
    table = concat(frames)
    table[C.UNIT] = PATIENT_UNIT
    return order_columns(table, [ARM, ARM_KIND, C.UNIT, C.METRIC, CEILING, LEVEL, MODALITY])


def _posteriors(truth: pd.DataFrame, patients: list) -> pd.DataFrame:
    """The truth table's posterior columns for ``patients`` (indexed by patient, in order)."""
    require_columns(truth, (PATIENT,), table="truth")
    absent = [name for name in POSTERIORS if name not in truth.columns]
    if absent:
        raise InputError(f"lacks the posterior column(s) {listed(absent, show=len(absent))} "
                         f"(columns: {', '.join(map(str, truth.columns))}).", field="truth",
                         hint="this truth.csv comes from an older synthetic generator; regenerate the "
                              "synthetic cohort (run `studykit synth` into a new folder, or delete the "
                              "cached cohort folder so that it is written again).")
    post = truth.drop_duplicates(PATIENT).set_index(PATIENT)
    missing = [p for p in patients if p not in post.index]
    if missing:
        raise InputError(f"lacks {len(missing)} analysed patient(s): {listed(missing)}.", field="truth",
                         hint="truth.csv must come from the same synthetic cohort.")
    return post.loc[patients]


def _arm_rows(arm: Arm, post: pd.DataFrame, patients: list, options: AnalysisOptions) -> list[pd.DataFrame]:
    data = restrict(arm, patients)
    y = data[LABEL].to_numpy()
    use_call = arm.kind == READERS and (options.reader_rating == "call" or not arm.has_score)
    score = data[CALL if use_call else SCORE].to_numpy(float)
    ceiling = matching_posterior(arm.name, options.ceiling_match, kind=arm.kind)
    ids = {ARM: arm.name, ARM_KIND: arm.kind, CEILING: ceiling, LEVEL: _PARTS[ceiling][0]}
    auc = stats.roc_auc(y, score, confidence=options.confidence).assign(**ids, metric="auc")
    gap = stats.delong_test(y, score, post[ceiling].to_numpy(float), confidence=options.confidence)
    gap = gap.rename(columns={"auc_a": "auc_arm", "auc_b": "auc_ceiling"})
    return [auc, gap.assign(**ids, metric="auc_minus_ceiling")]
