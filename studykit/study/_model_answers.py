"""Checklist answers about the data, the models, their training and their evaluation (CLAIM's
items): each a function of :class:`~studykit.study._run_files.RunFiles` returning an
:class:`~studykit.report.Entry`, or None when the run's files do not answer the item.

The model facts come from the arm specs recorded in ``protocol.lock.yaml`` (as run, overrides
applied), the data facts from the pair store's index and ``cohort/splits.json``.
"""

from __future__ import annotations

import pandas as pd

from studykit.protocol.arms import ArmSpec
from studykit.report import Entry
from studykit.study._run_files import RunFiles, counts, in_lock, where

SPECS = "arm_specs"


def perfusion_text(spec: ArmSpec) -> str:
    """A perfusion arm in words: its TIC features and the logistic regression."""
    p = spec.perfusion
    groups = {"parameters": f"the fitted {p.model} bolus parameters of lesion and cortex and their ratios",
              "curve": f"the lesion's intensity in dB every {p.grid_s:g} s to {p.grid_end_s:g} s after "
                       "injection",
              "relative_curve": f"lesion − cortex in dB every {p.grid_s:g} s to {p.grid_end_s:g} s",
              "heterogeneity": "the lesion's intensity SD in dB and its share of dark (non-enhancing) "
                               f"pixels, averaged from {p.heterogeneity_from_s:g} s after injection",
              "rim": "the lesion's periphery against its centre in dB (rim enhancement), averaged from "
                     f"{p.heterogeneity_from_s:g} s after injection"}
    return (f"{spec.name} ({spec.title or spec.kind}): perfusion arm, no network: the CEUS video's "
            f"lesion and cortex time–intensity curves (linearised, dynamic range {p.dynamic_range_db} dB) "
            "summarised as "
            f"{'; '.join(groups[g] for g in p.features)}, missing values the training patients' medians, "
            "standardised, L2-penalised logistic regression; output one probability of malignancy per "
            "patient")


def model_text(spec: ArmSpec, aggregation: str) -> str:
    """One arm in words: kind, backbone and weights, fusion, inputs, output and patient aggregation."""
    if not spec.trains_network:
        return perfusion_text(spec)
    if spec.kind == "sequence":
        q = spec.sequence
        return (f"{spec.name} ({spec.title or spec.kind}): sequence network (temporal MUF-Net), backbone "
                f"{spec.backbone} (weights: {spec.pretrained}) per modality, {spec.fusion} fusion of each "
                f"frame's paired B-mode + CEUS crops at {spec.input_size} px, a time encoding of the "
                f"frame's seconds since injection (scale {q.time_scale_s:g} s), attention pooling over "
                f"the patient's frames (up to {q.frames} per training step, all at prediction); output "
                "one probability of malignancy per patient")
    inputs = spec.modality or "paired B-mode + CEUS"
    fusion = (f", {spec.fusion} fusion with a fused head and one auxiliary head per modality"
              if spec.kind == "mufnet" else "")
    return (f"{spec.name} ({spec.title or spec.kind}): {spec.kind} network, backbone {spec.backbone} "
            f"(weights: {spec.pretrained}){fusion}, input {inputs} crops at {spec.input_size} px; output the "
            f"probability of malignancy per image, a patient's probability the {aggregation} over its images")


# ---------------------------------------------------------------- data
def technology(run: RunFiles) -> Entry:
    """CLAIM 1: the category of technology (the title's wording is the authors')."""
    nets = [s for s in run.protocol.arm_specs if s.trains_network]
    backbones = ", ".join(sorted({s.backbone for s in nets})) or "none"
    perfusion = len(run.protocol.arm_specs) - len(nets)
    extra = (f"; logistic regression on CEUS time–intensity curves ({perfusion} perfusion arm(s))"
             if perfusion else "")
    return Entry(f"Deep learning: convolutional neural networks ({backbones}) classifying ultrasound crops"
                 f"{extra}; {len(run.protocol.arm_specs)} model arms.", in_lock(SPECS),
                 "the identification in the title or abstract.")


def data_sources(run: RunFiles) -> Entry:
    """CLAIM 7: the synthetic generator, or the raw cohort folder (its origin: the authors)."""
    if run.synthetic:
        seed = run.protocol.cohort.synthetic.seed
        return Entry(f"Synthetic cohort written by studykit.cohort.synth (seed {seed}): DICOM videos, "
                     "manifest, annotations and reader CSVs from a documented generative model.",
                     in_lock("protocol.cohort"))
    return Entry(f"Raw cohort folder {run.cohort_dir}: manifest.csv, DICOM videos, annotations.csv, reader "
                 "CSVs.", in_lock("cohort_dir, inputs_sha256"),
                 "where the data come from (institutions, archives) and whether and where they are "
                 "available.")


def preprocessing(run: RunFiles) -> Entry:
    """CLAIM 9: cropping, margin, gray levels, resizing into the store, each arm's input size."""
    d = run.protocol.design
    sizes = ", ".join(sorted({f"{s.input_size} px" for s in run.protocol.arm_specs if s.trains_network}))
    stored = "" if run.index is None else \
        f": {len(run.index)} B-mode/CEUS pairs of {run.index['patient_id'].nunique()} patients"
    return Entry(f"Each annotated frame's lesion box (annotations.csv), widened by {d.margin:g} of its "
                 f"size per side, reduced to 8-bit gray and resized to {d.crop_size} × {d.crop_size} px "
                 f"(bilinear) into the pair store{stored}; each arm resizes to its input size ({sizes}) and "
                 "normalises with its backbone's mean and SD.",
                 where(in_lock(f"protocol.design, {SPECS}"), run.store_file("store.json")))


def subsets(run: RunFiles) -> Entry | None:
    """CLAIM 10: only annotated frames, by phase (how they were chosen: the authors)."""
    if run.index is None:
        return None
    phases = f" (phases: {counts(run.index['phase'])})" if "phase" in run.index.columns else ""
    n_patients = run.index["patient_id"].nunique()
    return Entry(f"Only the annotated frames enter: {len(run.index)} images of {n_patients} patients"
                 f"{phases}; excluded patients have none.",
                 where(run.store_file("index.csv"), run.table("table2_histology")),
                 "how the frames were selected from each video.")


def deidentification(run: RunFiles) -> Entry:
    """CLAIM 11: what ingestion keeps of the DICOM files."""
    return Entry("Ingestion copies no DICOM attribute value into any output except a whitelist of "
                 "technical attributes (checked against DICOM PS3.15's Basic Application Level "
                 "Confidentiality Profile) and no file name; outputs carry only the manifest's patient ids.",
                 f"{run.store_file('store.json')}; README, De-identification",
                 "how the manifest's ids were pseudonymised, and that no text is burned into the annotated "
                 "boxes.")


def acquisition(run: RunFiles) -> Entry | None:
    """CLAIM 13: the scanners (the acquisition protocol itself: the authors)."""
    if run.index is None or "scanner" not in run.index.columns:
        return None
    scanners = counts(run.index.drop_duplicates("patient_id")["scanner"])
    return Entry(f"Scanners of the included patients: {scanners}.",
                 f"{run.store_file('index.csv')} (scanner)",
                 "the acquisition protocol (probe, contrast agent and dose, mechanical index, timing).")


def test_annotation(run: RunFiles) -> Entry:
    """CLAIM 17: one annotation format for every partition."""
    return Entry("The same for every partition: per frame a phase and a lesion box on the B-mode and the "
                 "CEUS panel (annotations.csv), read before the folds are made.",
                 run.cohort_file("annotations.csv"), "who drew the boxes, their instructions and software.")


def agreement(run: RunFiles) -> Entry | None:
    """CLAIM 18: agreement within the reader groups (the annotations' variability: the authors)."""
    icc = run.tables.get("icc")
    if icc is None:
        return None
    chosen = icc.loc[icc["chosen"].astype(bool), "form"] if "chosen" in icc.columns else pd.Series(dtype=str)
    form = chosen.iloc[0] if len(chosen) else run.protocol.analyses.icc_form
    groups = ", ".join(pd.unique(icc["arm"]).astype(str))
    kappa = "; Fleiss' kappa of the calls" if "agreement_kappa" in run.tables else ""
    return Entry(f"Agreement within each reader group ({groups}): ICC (all six Shrout–Fleiss forms, {form} "
                 f"the protocol's){kappa}.", where(run.table("icc"), run.table("agreement_kappa")),
                 "the variability of the reference-standard annotations and how discrepancies were resolved.")


def partitions(run: RunFiles) -> Entry | None:
    """CLAIM 19: how patients were assigned to the folds, and each partition's size."""
    if run.splits is None:
        return None
    d = run.protocol.design
    strata = " and ".join(["label", *d.stratify_by])
    sizes = "; ".join(f"fold {f.index}: train {len(f.train)}, inner validation {len(f.val)}, "
                      f"test {len(f.test)}" for f in run.splits.folds)
    return Entry(f"{d.folds}-fold cross-validation, patients assigned by studykit.cohort.make_splits (seed "
                 f"{d.seed}) stratified by {strata}; {d.val_fraction:.0%} of each fold's training patients "
                 f"form its inner validation split. Patients: {sizes}.",
                 where("cohort/splits.json", run.section("Design")))


def disjoint(run: RunFiles) -> Entry | None:
    """CLAIM 20: patient-level partitions, checked on ``cohort/splits.json``."""
    if run.splits is None:
        return None
    clean = all(not (set(f.train) & set(f.val) or set(f.train) & set(f.test) or set(f.val) & set(f.test))
                for f in run.splits.folds)
    tested = [p for f in run.splits.folds for p in f.test]
    ok = clean and len(tested) == len(set(tested))
    verdict = ("no patient is in two partitions of any fold and every patient is tested once" if ok else
               "A PATIENT APPEARS IN TWO PARTITIONS OR IS TESTED TWICE: the folds are not valid")
    return Entry("Patient level: all images of a patient are in one partition; checked in "
                 f"cohort/splits.json: {verdict}.", "cohort/splits.json")


# ---------------------------------------------------------------- models and training
def model(run: RunFiles) -> Entry:
    """CLAIM 22: every arm's architecture, inputs and output."""
    texts = [model_text(s, run.protocol.design.aggregation)
             + (f", dropout {s.drop_rate:g} before the head(s)" if s.trains_network else "")
             for s in run.protocol.arm_specs]
    return Entry("; ".join(texts) + ".", in_lock(SPECS))


def software(run: RunFiles) -> Entry:
    """CLAIM 23: the versions of the provenance block and the git commit."""
    versions = ", ".join(f"{k} {v}" for k, v in dict(run.provenance.get("versions", {})).items())
    commit = run.provenance.get("git_commit", "unknown")
    return Entry(f"{versions}; git commit {commit}.",
                 where("provenance.json (versions, git_commit)", run.section("Provenance")))


def initialization(run: RunFiles) -> Entry:
    """CLAIM 24: backbone weights and seed of every arm."""
    texts = [f"{s.name}: backbone weights {s.pretrained}, new layers random (seed {s.seed})"
             if s.trains_network
             else f"{s.name}: no initial weights (logistic regression by L-BFGS from zero, deterministic)"
             for s in run.protocol.arm_specs]
    return Entry("; ".join(texts) + ".", in_lock(SPECS))


def _recipe(s: ArmSpec) -> str:
    if not s.trains_network:
        c = ", ".join(f"{v:g}" for v in s.perfusion.c_values)
        return f"{s.name}: scikit-learn LogisticRegression (L2, lbfgs) for C in {c}"
    o, loss, a = s.optimizer, s.loss, s.augment
    momentum = f"momentum {o.momentum:g}, " if o.kind == "sgd" else ""
    return (f"{s.name}: {o.kind} lr {o.lr:g} ({momentum}weight decay {o.weight_decay:g}), "
            f"{s.schedule.kind} schedule, {s.epochs} epochs, batch {s.batch_size}, loss {loss.kind} (beta "
            f"{loss.beta:g}, gamma {loss.gamma:g}), sampler q {s.sampler.q:g}, augmentation rotation "
            f"±{a.rotation_deg:g}°, zoom ±{a.scale:g}, shift ±{a.translate:g}, flips {a.hflip_p:g}/"
            f"{a.vflip_p:g}, elastic {a.elastic_px:g} px, speckle {a.speckle:g}, noise {a.noise:g}")


def training(run: RunFiles) -> Entry:
    """CLAIM 25: every arm's recipe and the number of models trained."""
    n_models = len(run.protocol.arm_specs) * run.protocol.design.folds
    return Entry("; ".join(_recipe(s) for s in run.protocol.arm_specs)
                 + f". {n_models} models trained (arms × folds).",
                 where(in_lock(SPECS), "arms/<arm>/fold-<k>/history.csv"))


def selection(run: RunFiles) -> Entry:
    """CLAIM 26: which checkpoint each arm keeps, selected on which patients."""
    texts = []
    for s in run.protocol.arm_specs:
        split = ("the test fold (optimistic: the reported fold selects)" if s.optimistic else
                 "each fold's inner-validation patients")
        if not s.trains_network:
            texts.append(f"{s.name}: the C with the best {s.selection.metric} on {split} "
                         "(ties: the smaller C)")
        else:
            texts.append(f"{s.name}: the last epoch" if s.selection.metric == "last" else
                         f"{s.name}: the epoch with the best {s.selection.metric} on {split}")
    return Entry("; ".join(texts) + ".",
                 where(in_lock(f"{SPECS}[].selection"), "arms/<arm>/fold-<k>/done.json"))


def ensembling(run: RunFiles) -> Entry:
    """CLAIM 27: none; one model per patient, its images aggregated."""
    video = (" (a perfusion or sequence arm's: one probability from the patient's video or frames)"
             if any(s.predicts_patients for s in run.protocol.arm_specs) else "")
    return Entry("None: each fold's model predicts only its own test patients; a patient's probability is "
                 f"the {run.protocol.design.aggregation} of its images' probabilities from that one "
                 f"model{video}.",
                 where(in_lock("protocol.design.aggregation"), "predictions.csv"))


# ---------------------------------------------------------------- evaluation
def metrics(run: RunFiles) -> Entry | None:
    """CLAIM 28: the metrics the tables report, and the units of analysis."""
    if "table3_performance" not in run.tables:
        return None
    found = ["AUC, accuracy, sensitivity, specificity, PPV, NPV"]
    if "calibration" in run.tables:
        found.append("Brier score and reliability (calibration)")
    if "decision_curve" in run.tables:
        found.append("net benefit (decision curve)")
    units = ", ".join(run.protocol.analyses.units)
    return Entry("; ".join(found) + f"; unit: {units} (patient primary).",
                 where(run.table("table3_performance"), run.table("calibration"),
                       run.table("decision_curve")))


def explainability(run: RunFiles) -> Entry | None:
    """CLAIM 31: the Grad-CAM figure and a sequence arm's attention over time (their validation:
    the authors)."""
    gradcam, attention = run.figure("gradcam"), run.figure("attention")
    found, places = [], []
    if gradcam is not None:
        found.append("Grad-CAM (Selvaraju et al. 2017) of the first MUF-Net arm's B-mode and CEUS branches "
                     "on test images")
        places += [gradcam, "arms/<arm>/fold-<k>/gradcam.npz"]
    if attention is not None:
        found.append("the first sequence arm's per-frame attention weights against time since injection, "
                     "per class, on test patients")
        places += [attention, "arms/<arm>/fold-<k>/attention.csv"]
    if not found:
        return None
    return Entry("; ".join(found) + ".", where(*places), "how the maps were validated.")


def internal(run: RunFiles) -> Entry:
    """CLAIM 32: out-of-fold evaluation by patient-grouped cross-validation."""
    return Entry(f"{run.protocol.design.folds}-fold patient-grouped cross-validation: every patient is "
                 "tested once, by the model of the fold that did not train on them; the tables pool the "
                 "out-of-fold predictions.",
                 where("cohort/splits.json", "predictions.csv", run.table("folds")))


def external(run: RunFiles) -> Entry:
    """CLAIM 33: a run has no external test set."""
    return Entry("None in this run: all evaluation is internal cross-validation.", "cohort/splits.json")


def partition_performance(run: RunFiles) -> Entry | None:
    """CLAIM 37: pooled test folds and each test fold (training partitions: the authors)."""
    if "table3_performance" not in run.tables:
        return None
    folds = "; per test fold: AUC with its CI" if "folds" in run.tables else ""
    return Entry(f"Pooled test folds: Table 3 with CIs{folds}.",
                 where(run.table("table3_performance"), run.table("folds")),
                 "performance on the training and validation partitions if reported (each epoch's validation "
                 "metrics are in arms/<arm>/fold-<k>/history.csv).")


def availability(run: RunFiles) -> Entry:
    """CLAIM 43: what the run holds (the availability statement: the authors)."""
    version = dict(run.provenance.get("versions", {})).get("studykit", "unknown")
    commit = run.provenance.get("git_commit", "unknown")
    return Entry(f"Software: studykit {version} (git commit {commit}); trained checkpoints "
                 "arms/<arm>/fold-<k>/checkpoint-best.pt; predictions.csv.",
                 where("provenance.json", "arms/"),
                 "the availability statement and licences for code, models and data.")
