"""What an oracle reader gets from single frames of the synthetic cohort (issue 9 diagnosis).

    python benchmarks/bench_oracle.py [--seed 1] [--patients 181] [--frames 16] [--size 96,112]
                                      [--param NAME=VALUE ...]

For every annotated frame of a generated cohort (rendered in memory, ``render_patient(masks=True)``)
the reader knows the generator's exact compartments (lesion core, pseudocapsule rim,
non-enhancing areas, renal cortex; ``RenderedPatient.masks``) and reads the panel's pixel values
in them: CEUS core mean, SD and 10/50/90th percentiles, rim mean, the non-enhancing areas' mean
and share of the core, the cortex mean within 1 cm of the lesion's box, core − cortex and
rim − core; B-mode lesion mean, SD, 10th percentile and the surround within the same box ring.
Perfect localisation, so what it misses is what the rendering does not put into the pixels of
one frame (or puts there mixed with other cues), not a net's failure to find the lesion.

Printed, patient level (5 stratified folds, seed 0; logistic regression, standardised):

- ``ceiling``: the cohort's per-frame Bayes AUC (``truth.csv``) and ``latent_lr`` the
  regression on the exact static latents (what ~145 training patients allow a linear reader);
- ``oracle_patient``: the statistics averaged per patient and phase (cortical and medullary
  side by side); ``oracle_frame``: read one frame at a time (the frame's phase and its
  interactions given), patient score = mean frame probability — what a per-frame arm is held to;
- ``r2``: cross-validated ridge R² of each static CEUS liability from the patient-level
  statistics (how readable each cue is).

``--param`` passes SynthParams fields (e.g. ``ceus_vendor_spread=0``) to test generator
changes in seconds before training any net.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

from studykit.cohort.synth import SynthParams, draw_cohort, render_patient
from studykit.cohort.synth.model import FEATURE_NAMES, TEMPORAL, auc, liabilities_from_features
from studykit.cohort.synth.options import make_params
from studykit.cohort.tables import parse_box

CEUS_LATENTS = [FEATURE_NAMES[k] for k in range(4, 10) if k not in TEMPORAL]
B_STATIC, C_STATIC = list(range(4)), [k for k in range(4, 10) if k not in TEMPORAL]


def _stats(values: np.ndarray, prefix: str) -> dict[str, float]:
    if values.size == 0:
        return {f"{prefix}_{k}": np.nan for k in ("mean", "sd", "p10", "p50", "p90")}
    return {f"{prefix}_mean": values.mean(), f"{prefix}_sd": values.std(),
            f"{prefix}_p10": np.percentile(values, 10), f"{prefix}_p50": np.median(values),
            f"{prefix}_p90": np.percentile(values, 90)}


def frame_statistics(rendered, margin_px: int) -> list[dict]:
    """Oracle statistics of each annotated frame (CEUS ``c_*``, B-mode ``b_*``), pixel values 0–255."""
    x0, y0, x1, y1 = rendered.panel
    width = x1 - x0
    rows = []
    for ann in rendered.annotations.itertuples():
        f = int(ann.frame)
        bmode = rendered.video[f, y0:y1, x0:x1].astype(float)
        ceus = rendered.video[f, y0:y1, x1:x1 + width].astype(float)
        m = {k: v[f] > 0.5 for k, v in rendered.masks.items()}
        box = parse_box(ann.ceus_box)
        near = np.zeros_like(m["lesion"])
        near[max(box.y0 - y0 - margin_px, 0):box.y1 - y0 + margin_px,
             max(box.x0 - x1 - margin_px, 0):box.x1 - x1 + margin_px] = True
        cortex, ring = m["cortex"] & near, near & ~m["lesion"]
        core = m["core"] if m["core"].sum() >= 5 else m["lesion"]
        row = {"phase": ann.phase, **_stats(ceus[core], "c_core"), **_stats(bmode[m["lesion"]], "b_lesion")}
        row.update(c_rim=ceus[m["rim"]].mean() if m["rim"].any() else row["c_core_mean"],
                   c_nonenh=ceus[m["nonenhancing"]].mean() if m["nonenhancing"].any() else row["c_core_p10"],
                   c_nonenh_share=m["nonenhancing"].sum() / max(core.sum(), 1),
                   c_cortex=ceus[cortex].mean() if cortex.sum() >= 3 else ceus[ring].mean(),
                   b_ring=bmode[ring].mean() if ring.any() else np.nan)
        inner = (rendered.masks["rim"][f] > 0.5) & (rendered.masks["lesion"][f] > 0.95)
        soft = rendered.masks["nonenhancing"][f].sum(), rendered.masks["core"][f].sum()
        row["c_nonenh_soft"] = soft[0] / max(soft[1], 1e-6)
        row["c_rim_in"] = ceus[inner].mean() if inner.sum() >= 3 else np.nan
        enhancing = core & ~m["nonenhancing"]
        enhancing = enhancing if enhancing.sum() >= 5 else core
        row.update(c_enh_mean=ceus[enhancing].mean(), c_enh_p50=np.median(ceus[enhancing]))
        row.update(c_rel=row["c_core_mean"] - row["c_cortex"], c_rim_rel=row["c_rim"] - row["c_core_mean"],
                   c_enh_rel=row["c_enh_mean"] - row["c_cortex"], c_rim_enh=row["c_rim"] - row["c_enh_mean"],
                   c_rim_in_enh=row["c_rim_in"] - row["c_enh_mean"],
                   b_rel=row["b_lesion_mean"] - row["b_ring"])
        rows.append(row)
    return rows


def _model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))


def patient_lr(frames: pd.DataFrame, labels: pd.Series, columns: list[str], folds) -> float:
    """Pooled AUC of regression on the statistics averaged per patient and phase."""
    x = frames.groupby(["patient_id", "phase"])[columns].mean().unstack("phase")
    x.columns = [f"{a}_{b}" for a, b in x.columns]
    x = x.loc[labels.index]
    x = x.fillna(x.mean())
    scores = pd.Series(0.0, index=labels.index)
    for train, test in folds:
        model = _model().fit(x.iloc[train], labels.iloc[train])
        scores.iloc[test] = model.predict_proba(x.iloc[test])[:, 1]
    return auc(labels.to_numpy(), scores.to_numpy())


def frame_lr(frames: pd.DataFrame, labels: pd.Series, columns: list[str], folds) -> float:
    """Pooled AUC of regression fitted on frames (phase and interactions given), mean probability."""
    medullary = (frames["phase"] == "medullary").to_numpy(float)[:, None]
    values = frames[columns].to_numpy(float)
    values = np.where(np.isnan(values), np.nanmean(values, axis=0), values)
    x = np.c_[values, values * medullary, medullary]
    y = frames["patient_id"].map(labels).to_numpy()
    scores = pd.Series(0.0, index=labels.index)
    for train, test in folds:
        fit_rows = frames["patient_id"].isin(labels.index[train]).to_numpy()
        model = _model().fit(x[fit_rows], y[fit_rows])
        test_rows = frames["patient_id"].isin(labels.index[test]).to_numpy()
        p = pd.Series(model.predict_proba(x[test_rows])[:, 1], index=frames.loc[test_rows, "patient_id"])
        scores.iloc[test] = p.groupby(level=0).mean().loc[labels.index[test]].to_numpy()
    return auc(labels.to_numpy(), scores.to_numpy())


def latent_lr(truth: pd.DataFrame, labels: pd.Series, columns: list[int], params: SynthParams,
              folds) -> float:
    z = liabilities_from_features(truth[list(FEATURE_NAMES)].to_numpy(float), params)[:, columns]
    scores = np.zeros(len(labels))
    for train, test in folds:
        scores[test] = _model().fit(z[train], labels.iloc[train]).predict_proba(z[test])[:, 1]
    return auc(labels.to_numpy(), scores)


def readability(frames: pd.DataFrame, truth: pd.DataFrame, columns: list[str], params: SynthParams) -> dict:
    """Cross-validated ridge R² of each static CEUS liability from the patient-level statistics."""
    x = frames.groupby(["patient_id", "phase"])[columns].mean().unstack("phase")
    x.columns = [f"{a}_{b}" for a, b in x.columns]
    x = x.loc[truth.index]
    x = x.fillna(x.mean())
    z = pd.DataFrame(liabilities_from_features(truth[list(FEATURE_NAMES)].to_numpy(float), params),
                     index=truth.index, columns=FEATURE_NAMES)
    out = {}
    for name in CEUS_LATENTS:
        ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        predicted = cross_val_predict(ridge, x, z[name], cv=5)
        out[name] = round(float(1.0 - np.var(z[name] - predicted) / np.var(z[name])), 3)
    return out


def _param(text: str) -> tuple[str, float | str]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", type=int, default=181)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", default="96,112", help="panel height,width in pixels")
    parser.add_argument("--margin-px", type=int, default=8,
                        help="ring around the lesion box for the cortex and surround, pixels")
    parser.add_argument("--param", action="append", default=[], type=_param, help="SynthParams NAME=VALUE")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(","))
    params = dict(args.param)
    start = time.perf_counter()
    tables = draw_cohort(patients=args.patients, seed=args.seed, **params)
    synth_params = make_params(params)
    truth = tables.truth.set_index("patient_id")
    rows = []
    for pid in truth.index:
        rendered = render_patient(pid, patients=args.patients, seed=args.seed, frames=args.frames, size=size,
                                  masks=True, **params)
        rows += [{"patient_id": pid, **r} for r in frame_statistics(rendered, args.margin_px)]
    frames = pd.DataFrame(rows)
    labels = truth["label"].eq("malignant")
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(truth.index, labels))
    ceus = [c for c in frames.columns if c.startswith("c_")]
    bmode = [c for c in frames.columns if c.startswith("b_")]
    result = {"seed": args.seed, "params": params, "render_s": round(time.perf_counter() - start, 1)}
    for name, columns, latents in (("ceus", ceus, C_STATIC), ("bmode", bmode, B_STATIC),
                                   ("both", ceus + bmode, B_STATIC + C_STATIC)):
        ceiling = truth[f"posterior_frame_{name}"].to_numpy()
        result[f"ceiling_{name}"] = round(auc(labels.to_numpy(), ceiling), 3)
        result[f"latent_lr_{name}"] = round(latent_lr(truth, labels, latents, synth_params, folds), 3)
        result[f"oracle_patient_{name}"] = round(patient_lr(frames, labels, columns, folds), 3)
        result[f"oracle_frame_{name}"] = round(frame_lr(frames, labels, columns, folds), 3)
    result["r2_ceus"] = readability(frames, truth, ceus, synth_params)
    print(f"# {machine()}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
