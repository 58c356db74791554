"""Synthetic renal-tumour CEUS cohort: DICOM videos, annotations, manifest, reads and truth.

Real patient data cannot ship with studykit, so :func:`synthesize` writes a raw cohort in
exactly the formats real users bring (README, "Your own data") from a documented
generative model whose Bayes-optimal accuracy is known.

Generative model
----------------
**Cohort.** n included patients (default 181) get subtypes in the reference study's
proportions, rounded by largest remainder (at n = 181 exactly 45 typical AML, 36 atypical
(fat-poor) AML, 62 ccRCC, 25 pRCC, 13 chRCC; 81 benign, 100 malignant), plus
``excluded_fraction``·n excluded patients (at least one; reasons cycle through *poor image
quality*, *no CEUS*, *stage ≥ T2b*) who have no video. Table-1 covariates: age with
per-class sample mean and SD matched to 53.2 / 57.6 ± 12 years (t-test p ≈ 0.015 at
n = 181, as the study's 0.017); sex by subtype (AML mostly female, RCC mostly male); BMI
N(23, 3) (median 23, IQR ≈ 21–25); size log-normal with median 4 cm, IQR ≈ 3–6 cm, the same
in both classes so that size carries no class information into the images; symptoms
(35 % vs 20 %); radical rather than partial nephrectomy with logit −2.3 + 2.2·malignant +
0.55·(size − 4) (p < 0.001). Two centres (60/40) and three scanners (GE LOGIQ E9, Mindray
Resona 7, Philips iU22), independent of the class.

**Latent lesion features.** Ten standardised liabilities z ~ N(μ_s, Σ) per patient, μ_s
by subtype s (table ``SUBTYPE_MEANS`` in ``synth.model``, per latent-model version), Σ with
unit variances and within-subtype couplings ±ρ (``modality_correlation``) between paired
B-mode and CEUS cues. Each liability maps monotonically to a physical feature:

======================  ======  ======  =====================================================
feature                 block   seen    meaning
======================  ======  ======  =====================================================
echogenicity_db         B-mode  frame   lesion echo level relative to renal cortex, dB
heterogeneity_db        B-mode  frame   SD of the lesion's echo texture, dB
margin_sharpness        B-mode  frame   0–1; sets the width of the lesion's edge
cystic_fraction         B-mode  frame   anechoic (cystic/necrotic) fraction of the lesion
peak_enhancement_db     CEUS    frame   lesion peak enhancement relative to the cortical peak, dB
arrival_delay_s         CEUS    video   lesion arrival after cortical arrival, s
time_to_peak_s          CEUS    video   arrival to peak, s
washout                 CEUS    frame   fraction of peak lost 30 s after the peak
rim_enhancement_db      CEUS    frame   pseudocapsule rim above the late lesion core, dB
nonenhancing_fraction   CEUS    frame   non-enhancing fraction (and enhancement heterogeneity)
======================  ======  ======  =====================================================

The subtype patterns follow the EFSUMB CEUS guidelines and the renal CEUS literature
(Bertolotto et al. 2018; Sidhu et al. 2018): typical AML is markedly hyperechoic (fat) and
homogeneous with sustained enhancement; atypical (fat-poor) AML resembles RCC on B-mode but
shows sustained, homogeneous enhancement without a rim or wash-out on CEUS; ccRCC is
heterogeneous (necrosis, cystic areas), hyper-enhancing, early and fast washing out, with a
pseudocapsule rim; pRCC is hypo-echoic and hypo-enhancing with late arrival; chRCC is
intermediate. The B-mode and CEUS cues are complementary (B-mode finds the fat, CEUS tells the
fat-poor AML from RCC), so fusion helps. In latent model v2 the class evidence sits in cues a
single frame shows at the demo's resolution (margin sharpness carries none: its edge width
is not visible in 64-px crops), and the physical effect of one liability unit is large
enough to stand out of speckle, scanner gain and anatomy.

**Bayes posterior at three evidence levels.** With Σ shared, the posterior of malignancy
given what a level shows of a block of z is exact: log-odds = logsumexp_{s malignant}(log π_s
− ½ d²_s) − logsumexp_{s benign}(…), d²_s the Mahalanobis distance to μ_s of the observed
liabilities and π_s the cohort's subtype shares. ``frame``: the static liabilities (all but
the bolus timing); ``video``: plus the timing as a reader perceives it from the video, with
independent N(0, ``timing_noise``²) errors (the observed liabilities stay Gaussian within a
subtype, covariance Σ + diag(τ²) on the timing, so this too is exact); ``all``: every
liability exactly. The features are bijective transforms of z, so these are also the
posteriors given the features. ``truth.csv`` holds the nine posteriors
``posterior_{frame,video,all}_{bmode,ceus,both}`` and the perceived timing
(``seen_arrival_delay_s``, ``seen_time_to_peak_s``). Bayes AUCs are reported twice: on the
cohort's own patients (empirical AUC of the posteriors; varies with the seed by about ±0.03
at n = 181) and for the population, by Monte-Carlo integration over 200 000 patients drawn
with a fixed seed (SE ≈ 0.001). At the defaults the population AUCs are frame 0.823
(B-mode) / 0.824 (CEUS) / 0.918 (both) — the reference study's per-frame arms reached 0.820
and 0.815 — video 0.849 / 0.931 and all latents 0.855 / 0.934 (CEUS / both).

**Readers.** See ``synth.readers``: each reader perceives the video-level log-odds (what the
whole video shows) plus group-shared and own Gaussian noise, calls malignant above a
personal threshold and scores 1–5 consistently with the call. In the population (20 000
simulated patients) the majority votes are junior sens 0.894 / spec 0.600, senior 0.952 /
0.658, ICC(2,1) of the scores 0.83 / 0.84 (reference study: 0.893 / 0.587, 0.959 / 0.629,
ICC 0.81 / 0.83); at n = 181 they vary with the seed (seed 0: 0.88 / 0.54 and 0.95 / 0.68).

**Presets.** The default (cohort format 3, ``preset="v3"``) is format 2's generator
(``preset="v2"``) plus the timing annotations a perfusion analysis needs (``SynthParams.
timing_annotations``): the manifest's ``injection_s`` and an annotations ``cortex_box`` per
annotated frame (:func:`~studykit.cohort.synth.patient.cortex_box`). ``SynthParams.named("v1")``
(``preset="v1"``) gives the first generator's
settings (cohort format 1: its latent model, rim rendering, speckle, vendor presets and
reader calibration), whose tables and lossless pixels it reproduces byte for byte.

**Images.** ``synth.anatomy`` and ``synth.render``: a convex probe's fan over body wall,
liver (with vessels), perirenal fat, kidney (cortex, medullary pyramids, sinus) and the
lesion (lobulated outline, margin, texture, cystic areas); B-mode as the Rayleigh envelope
of a tissue-fixed complex scatterer field convolved with an axial/lateral Gaussian PSF
(Burckhardt 1978; Wagner et al. 1983), depth attenuation with TGC, electronic noise, gain
and log compression; CEUS as microbubble speckle whose power follows gamma-variate bolus
time–intensity curves (Madsen 1992; Strouthos et al. 2010) per compartment over a
suppressed tissue background; respiratory motion across frames; scanner-dependent PSF,
gain, dynamic range, noise and smoothing. Frames run from 4 s before injection to 88 s
after it at a reduced frame rate; annotated frames are those of the cortical phase (from
``selection_delay_s`` = 6 s after the cortical arrival at 10–15 s, once the lesion has
enhanced, up to the medullary phase, 30–45 s) and the first 30 s of the medullary phase.

References
----------
Bertolotto M, Bucci S, Valentino M, et al. (2018). Contrast-enhanced ultrasound for
characterizing renal masses. Eur J Radiol 105:41–48. doi:10.1016/j.ejrad.2018.05.015
Sidhu PS, Cantisani V, Dietrich CF, et al. (2018). The EFSUMB guidelines and
recommendations for the clinical practice of contrast-enhanced ultrasound (CEUS) in
non-hepatic applications: update 2017 (long version). Ultraschall Med 39:e2–e44.
doi:10.1055/a-0586-1107
Madsen MT (1992). A simplified formulation of the gamma variate function. Phys Med Biol
37:1597–1600. doi:10.1088/0031-9155/37/7/010
Strouthos C, Lampaskis M, Sboros V, McNeilly A, Averkiou M (2010). Indicator dilution
models for the quantification of microvascular blood flow with bolus administration of
ultrasound contrast agents. IEEE Trans Ultrason Ferroelectr Freq Control 57:1296–1310.
doi:10.1109/TUFFC.2010.1550
Burckhardt CB (1978). Speckle in ultrasound B-mode scans. IEEE Trans Sonics Ultrason
25:1–6. doi:10.1109/T-SU.1978.30978
Wagner RF, Smith SW, Sandrik JM, Lopez H (1983). Statistics of speckle in ultrasound
B-scans. IEEE Trans Sonics Ultrason 30:156–163. doi:10.1109/T-SU.1983.31404
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 86:420–428. doi:10.1037/0033-2909.86.2.420

Examples
--------
>>> from studykit.cohort.synth import draw_cohort
>>> cohort = draw_cohort(patients=181, seed=0)
>>> cohort.manifest["subtype"][cohort.manifest["excluded_reason"] == ""].value_counts().to_dict()
{'ccrcc': 62, 'typical_aml': 45, 'atypical_aml': 36, 'prcc': 25, 'chrcc': 13}
"""

from .generate import BayesAUC, SynthSummary, draw_cohort, population_bayes_auc, synthesize
from .model import FEATURE_NAMES, SUBTYPES, SynthParams
from .patient import RenderedPatient, frame_times, phases, render_patient
from .readers import ReaderGroupSummary
from .tables import CohortTables

__all__ = [
    "FEATURE_NAMES",
    "SUBTYPES",
    "BayesAUC",
    "CohortTables",
    "ReaderGroupSummary",
    "RenderedPatient",
    "SynthParams",
    "SynthSummary",
    "draw_cohort",
    "frame_times",
    "phases",
    "population_bayes_auc",
    "render_patient",
    "synthesize",
]
