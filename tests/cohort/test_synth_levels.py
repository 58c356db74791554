"""Synthetic cohort v2: evidence levels, their exact ceilings, the presets, and the per-frame cues
measured from rendered pixels."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pydicom
import pytest
from scipy import stats as sps

from studykit.cohort import synth
from studykit.cohort.synth import model

LEVELS_MODALITIES = [(lv, m) for lv in model.LEVELS for m in model.MODALITIES]


# ------------------------------------------------------------------ exact ceilings

def _two_subtype_prior(benign: int, malignant: int) -> np.ndarray:
    prior = np.zeros(len(model.SUBTYPES))
    prior[[benign, malignant]] = 0.5
    return prior


@pytest.mark.parametrize(("level", "modality"), LEVELS_MODALITIES)
def test_two_gaussian_ceiling_closed_form_matches_monte_carlo(level, modality):
    """One benign and one malignant subtype: the exact posterior is linear (LDA) and its AUC is
    Φ(Δ/√2), Δ² the Mahalanobis distance of the means under the observed covariance."""
    params = model.SynthParams()
    benign, malignant = 1, 2  # atypical AML vs ccRCC
    prior = _two_subtype_prior(benign, malignant)
    cols = model.evidence_columns(level, modality)
    sigma = model.covariance(params)
    if level == "video":
        sigma[model.TEMPORAL, model.TEMPORAL] += params.timing_noise ** 2
    means = model.subtype_means(params)
    delta = (means[malignant] - means[benign])[cols]
    closed = sps.norm.cdf(np.sqrt(delta @ np.linalg.solve(sigma[np.ix_(cols, cols)], delta)) / np.sqrt(2.0))
    rng = np.random.default_rng(7)
    n = 100_000
    subtype = np.where(rng.random(n) < 0.5, benign, malignant)
    z = model.draw_liabilities(subtype, params, rng)
    seen = model.perceive_timing(z, params, rng)
    score = model.log_odds(seen if level == "video" else z, prior, params, modality, level)
    assert model.auc(subtype == malignant, score) == pytest.approx(closed, abs=0.006)


def test_posteriors_are_calibrated_at_every_level():
    """Monte Carlo: among simulated patients with posterior in a bin, the malignant share equals
    the bin's mean posterior (what 'exact posterior' means), at each level of both blocks."""
    params, prior = model.SynthParams(), model.reference_prior()
    rng = np.random.default_rng(11)
    subtype = rng.choice(len(model.SUBTYPES), size=200_000, p=prior)
    z = model.draw_liabilities(subtype, params, rng)
    post = model.posteriors(z, model.perceive_timing(z, params, rng), prior, params)
    y = subtype >= len(model.BENIGN_SUBTYPES)
    for name in ("posterior_frame_ceus", "posterior_video_both", "posterior_all_both"):
        bins = np.minimum((post[name] * 10).astype(int), 9)
        frame = pd.DataFrame({"bin": bins, "p": post[name], "y": y}).groupby("bin").agg(
            p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
        frame = frame[frame["n"] > 2000]
        np.testing.assert_allclose(frame["y"], frame["p"], atol=0.02)


def test_population_ceilings_hit_the_reference_study_and_order_by_level():
    auc = synth.population_bayes_auc()
    assert auc.frame_bmode == pytest.approx(0.82, abs=0.015)
    assert auc.frame_ceus == pytest.approx(0.82, abs=0.015)
    assert auc.frame_both >= 0.90
    for block in ("ceus", "both"):
        frame, video, every = (getattr(auc, f"{lv}_{block}") for lv in model.LEVELS)
        assert frame < video < every
    assert auc.frame_bmode == auc.video_bmode == auc.all_bmode  # B-mode has no temporal cue
    no_timing_noise = synth.population_bayes_auc(timing_noise=0.0)
    assert no_timing_noise.video_both == pytest.approx(no_timing_noise.all_both, abs=1e-12)


def test_truth_has_nine_posteriors_and_readers_see_the_video_level():
    tables = synth.draw_cohort(patients=181, seed=0)
    truth = tables.truth
    names = [f"posterior_{lv}_{m}" for lv, m in LEVELS_MODALITIES]
    assert [c for c in truth.columns if c.startswith("posterior_")] == names
    np.testing.assert_array_equal(truth["posterior_frame_bmode"], truth["posterior_all_bmode"])
    # The readers' evidence is the video-level posterior: their panel's majority vote agrees
    # better with it than with the static (frame) posterior.
    senior = tables.reads[tables.reads["group"] == "senior"].groupby("patient_id")["call"].agg(
        lambda c: (c == "malignant").sum() >= 2)
    frame = truth.set_index("patient_id")
    video_auc = model.auc(senior.reindex(frame.index).to_numpy(), frame["posterior_video_both"].to_numpy())
    assert video_auc > 0.8


# ------------------------------------------------------------------ presets

def test_v1_preset_reproduces_the_first_generator(tmp_path):
    """Hashes of the tiny cohort written by the format-1 generator (commit 4613e2b)."""
    out = synth.synthesize(tmp_path / "v1", tiny=True, preset="v1")
    expected = {"manifest": "10563433b60b53a749470a14a9b2368a605b0bfd74996f57c5e089ab25aa53e9",
                "reads": "d28a2db5b7aaae4e8b3018deb44063da35f23ce8478615efb844d88d99d3c6f2",
                "annotations": "b98777d2471f83ecb1c4c94763c7963cb1b70f40d2ab3bb1fbd01b1fe5e10e22"}
    for name, digest in expected.items():
        assert hashlib.sha256((out.out_dir / f"{name}.csv").read_bytes()).hexdigest() == digest, name
    pixels = hashlib.sha256()
    for path in sorted(out.videos.iterdir()):
        ds = pydicom.dcmread(path)
        if "JPEG" not in ds.file_meta.TransferSyntaxUID.name:  # lossless: decoder-independent
            pixels.update(np.ascontiguousarray(ds.pixel_array).tobytes())
    assert pixels.hexdigest() == "ca4ed1d6ddc32c565e290a7dc4d36d9e530f49d5e7288c21112bcb31514896ea"
    truth = pd.read_csv(out.truth)
    assert truth["posterior_all_both"].head(3).round(12).tolist() == [0.908311466851, 0.137512574396,
                                                                      0.627922304312]
    assert out.bayes_auc_population.all_both == pytest.approx(0.915, abs=0.002)


def test_unknown_preset_is_an_input_error(tmp_path):
    from studykit.errors import InputError

    with pytest.raises(InputError, match=r"'preset': unknown synthetic-cohort preset 'v9'"):
        synth.synthesize(tmp_path / "x", tiny=True, preset="v9")
    assert synth.SynthParams.named("v1", junior_noise=1.0).junior_noise == 1.0
    with pytest.raises(InputError, match=r"(?s)'latent_model': unknown latent model 'v9'.*known latent "
                                         r"models: v1, v2"):
        synth.synthesize(tmp_path / "y", tiny=True, latent_model="v9")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_latent_model_alone_changes_only_the_latent_model():
    """``latent_model="v1"`` swaps the means and scales but keeps v2's other settings;
    ``preset="v1"`` brings the whole first generator."""
    only = synth.draw_cohort(patients=40, seed=0, latent_model="v1")
    whole = synth.draw_cohort(patients=40, seed=0, preset="v1")
    assert not only.reads.equals(whole.reads)  # v2 reader calibration kept
    np.testing.assert_array_equal(only.truth["posterior_all_both"], whole.truth["posterior_all_both"])
    # v2's timing noise kept: the video level differs from all latents; v1 has none
    assert not np.allclose(only.truth["posterior_video_both"], only.truth["posterior_all_both"])
    np.testing.assert_array_equal(whole.truth["posterior_video_both"], whole.truth["posterior_all_both"])


# ------------------------------------------------------------------ per-frame cues in pixels

def _radial_means(image: np.ndarray, box: tuple[int, ...], radii: tuple[float, float]) -> float:
    """Mean of ``image`` between two radii given as fractions of the box's half size."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 / 1.08
    r = np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) / half
    return float(image[(r >= radii[0]) & (r < radii[1])].mean())


@pytest.fixture(scope="module")
def rendered() -> pd.DataFrame:
    return measure_cues()


def measure_cues() -> pd.DataFrame:
    """Pixel measurements of 40 patients of a 181-patient cohort (96 × 112 panels, 12 frames)."""
    tables = synth.draw_cohort(patients=181, seed=0)
    truth = tables.truth.groupby("subtype").head(8).reset_index(drop=True)
    rows = []
    for row in truth.to_dict("records"):
        r = synth.render_patient(row["patient_id"], patients=181, seed=0, frames=12, size=(96, 112))
        for phase in ("cortical", "medullary"):
            ann = r.annotations[r.annotations["phase"] == phase]
            for frame, key in ((f, k) for f in ann.itertuples() for k in ("bmode_box", "ceus_box")):
                box = tuple(int(v) for v in getattr(frame, key).split(","))
                image = r.video[frame.frame].astype(float)
                rows.append({**row, "phase": phase, "panel": key[:-4],
                             "core": _radial_means(image, box, (0.0, 0.5)),
                             "rim": _radial_means(image, box, (0.8, 1.0)),
                             "around": _radial_means(image, box, (1.15, 1.6))})
    return pd.DataFrame(rows)


def test_late_rim_contrast_follows_the_rim_latent(rendered):
    """Medullary CEUS frames: rim − core brightness rises with rim_enhancement_db − the core's
    wash-out, and a strong rim is brighter than the core (never darker, as in v1 early frames)."""
    late = rendered[(rendered["panel"] == "ceus") & (rendered["phase"] == "medullary")]
    per_patient = late.groupby("patient_id").agg(contrast=("rim", "mean"), core=("core", "mean"),
                                                 rim_db=("rim_enhancement_db", "first"))
    per_patient["contrast"] -= per_patient["core"]
    rho = sps.spearmanr(per_patient["rim_db"], per_patient["contrast"]).statistic
    assert rho > 0.3
    strong = per_patient[per_patient["rim_db"] > per_patient["rim_db"].quantile(0.75)]
    assert (strong["contrast"] > 0).mean() >= 0.7


def test_enhancement_wash_out_and_echogenicity_show_in_single_frames(rendered):
    """Per patient, from pixels (brightness 0–255): cortical CEUS core brightness follows the peak
    enhancement, medullary lesion-minus-surround falls with the wash-out, B-mode lesion-minus-
    surround rises with the echogenicity; the fat-poor AML's enhancement is sustained in the
    medullary phase while the RCCs fade towards (ccRCC below) their surroundings."""
    def per_patient(panel: str, phase: str) -> pd.DataFrame:
        part = rendered[(rendered["panel"] == panel) & (rendered["phase"] == phase)]
        frame = part.groupby("patient_id").mean(numeric_only=True)
        return frame.assign(contrast=frame["core"] - frame["around"])

    early, late, bmode = per_patient("ceus", "cortical"), per_patient("ceus", "medullary"), \
        per_patient("bmode", "cortical")
    assert sps.spearmanr(early["peak_enhancement_db"], early["core"]).statistic > 0.6
    assert sps.spearmanr(late["washout"], late["contrast"]).statistic < -0.4
    assert sps.spearmanr(bmode["echogenicity_db"], bmode["contrast"]).statistic > 0.5
    part = rendered[(rendered["panel"] == "ceus") & (rendered["phase"] == "medullary")]
    by_subtype = (part["core"] - part["around"]).groupby(part["subtype"]).mean()
    assert by_subtype["atypical_aml"] > max(by_subtype["ccrcc"], by_subtype["prcc"]) + 20
