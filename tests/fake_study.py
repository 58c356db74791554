"""A realistic fake study for the report tests and the README figures.

181 patients (100 malignant, 81 benign), three model arms with binormal patient scores of
population AUC 0.82 / 0.815 / 0.877 (``studykit.stats.simulate``), two reader groups of
three readers at about the paper's operating points, and the result tables built from
them with ``studykit.stats`` as the analysis layer would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from studykit import stats
from studykit.stats.simulate import binormal_sample

ARMS = {"bmode_net": 0.82, "ceus_net": 0.815, "muf_net": 0.877}
ARM_LABELS = {
    "bmode_net": "B-mode-Net",
    "ceus_net": "CEUS-Net",
    "muf_net": "MUF-Net",
    "junior": "Junior radiologists",
    "senior": "Senior radiologists",
}
#: group → (sensitivity, specificity) of its readers.
READERS = {"junior": (0.89, 0.59), "senior": (0.95, 0.63)}


def patient_scores(seed: int = 0) -> pd.DataFrame:
    """``arm, patient_id, label, prob_malignant``: one row per patient and model arm."""
    rng = np.random.default_rng(seed)
    frames = []
    for arm, auc in ARMS.items():
        y, s = binormal_sample(100, 81, auc, rng)
        frames.append(
            pd.DataFrame(
                {
                    "arm": arm,
                    "patient_id": [f"P{i:03d}" for i in range(181)],
                    "label": y.astype(int),
                    "prob_malignant": expit(1.2 * s - 0.8),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def reads(seed: int = 1) -> pd.DataFrame:
    """``reader_id, group, patient_id, call``: three readers per group."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(100, int), np.zeros(81, int)]
    rows = []
    for group, (sens, spec) in READERS.items():
        for k in range(3):
            p_pos = np.where(y == 1, sens + rng.normal(0, 0.02), 1 - spec + rng.normal(0, 0.03))
            call = (rng.random(y.size) < p_pos).astype(int)
            rows.append(
                pd.DataFrame(
                    {
                        "reader_id": f"{group[0].upper()}{k + 1}",
                        "group": group,
                        "patient_id": [f"P{i:03d}" for i in range(181)],
                        "call": call,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def truth() -> pd.DataFrame:
    """``patient_id, label``."""
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(181)],
            "label": np.r_[np.ones(100, int), np.zeros(81, int)],
        }
    )


def table3(scores: pd.DataFrame, reads_: pd.DataFrame) -> pd.DataFrame:
    """Table 3 in the analysis layer's shape: arm, unit, metric + stats columns."""
    keep = ["auc", "accuracy", "sensitivity", "specificity", "ppv", "npv"]
    frames = []
    for arm, part in scores.groupby("arm", sort=False):
        auc = stats.roc_auc(part["label"], part["prob_malignant"])
        dm = stats.diagnostic_metrics(part["label"], (part["prob_malignant"] >= 0.5).astype(int))
        frames += [auc.assign(arm=arm), dm[dm["metric"].isin(keep)].assign(arm=arm)]
    votes = majority(reads_)
    y = truth().set_index("patient_id")["label"]
    for group, part in votes.groupby("group", sort=False):
        yy = y.loc[part["patient_id"]].to_numpy()
        auc = stats.binary_call_auc(yy, part["call"].to_numpy())
        dm = stats.diagnostic_metrics(yy, part["call"].to_numpy())
        frames += [auc.assign(arm=group, metric="auc"), dm[dm["metric"].isin(keep)].assign(arm=group)]
    return pd.concat(frames, ignore_index=True).assign(unit="patient")


def majority(reads_: pd.DataFrame) -> pd.DataFrame:
    """Majority vote per group: ``group, patient_id, call``."""
    out = []
    for group, part in reads_.groupby("group", sort=False):
        mv = stats.majority_vote(part, targets="patient_id", raters="reader_id", calls="call")
        out.append(mv[["patient_id", "call"]].assign(group=group))
    return pd.concat(out, ignore_index=True)


def comparisons(scores: pd.DataFrame) -> pd.DataFrame:
    """DeLong comparisons of every pair of model arms, Holm-adjusted."""
    wide = scores.pivot(index="patient_id", columns="arm", values="prob_malignant")
    y = scores.drop_duplicates("patient_id").set_index("patient_id").loc[wide.index, "label"]
    res = stats.compare_aucs(y.to_numpy(), {a: wide[a].to_numpy() for a in ARMS})
    return res.assign(metric="auc", unit="patient")


def decision_curve(scores: pd.DataFrame, reads_: pd.DataFrame, *, thresholds=None,
                   n_boot: int = 200) -> pd.DataFrame:
    """The decision-curve table: every model arm's probability and each group's majority call."""
    wide = scores.pivot(index="patient_id", columns="arm", values="prob_malignant")
    y = truth().set_index("patient_id").loc[wide.index, "label"].to_numpy()
    votes = majority(reads_).pivot(index="patient_id", columns="group", values="call").loc[wide.index]
    probs = {a: wide[a].to_numpy() for a in ARMS} | {g: votes[g].to_numpy(float) for g in READERS}
    table = stats.decision_curve(y, probs, thresholds=thresholds, n_boot=n_boot)
    table = table.rename(columns={"model": "arm"})
    kinds = {a: "model" for a in ARMS} | {g: "readers" for g in READERS}
    return table.assign(arm_kind=table["arm"].map(kinds).fillna("reference"), unit="patient")


def icc_table(reads_: pd.DataFrame) -> pd.DataFrame:
    """ICC of each reader group (all six forms)."""
    out = []
    for group, part in reads_.groupby("group", sort=False):
        out.append(
            stats.icc(part, targets="patient_id", raters="reader_id", ratings="call").assign(group=group)
        )
    return pd.concat(out, ignore_index=True)


def manifest(seed: int = 2) -> pd.DataFrame:
    """A manifest with excluded records: 181 included of 230."""
    rng = np.random.default_rng(seed)
    reasons = (
        ["renal pelvis cancer or rare malignancy"] * 17
        + ["no US/CEUS"] * 14
        + ["poor image quality"] * 11
        + ["pathologic stage \u2265 T2b"] * 7
    )
    inc = truth().assign(excluded_reason=np.nan)
    inc["label"] = np.where(inc["label"] == 1, "malignant", "benign")
    exc = pd.DataFrame(
        {
            "patient_id": [f"X{i:03d}" for i in range(len(reasons))],
            "label": rng.choice(["benign", "malignant"], len(reasons)),
            "excluded_reason": reasons,
        }
    )
    return pd.concat([inc, exc], ignore_index=True)


def table1(seed: int = 3) -> pd.DataFrame:
    """Table 1 from ``stats.compare_groups`` on fake covariates."""
    rng = np.random.default_rng(seed)
    t = truth()
    y = t["label"].to_numpy()
    data = pd.DataFrame(
        {
            "label": np.where(y == 1, "malignant", "benign"),
            "Age (years)": rng.normal(np.where(y == 1, 58, 53), 11),
            "BMI (kg/m\u00b2)": rng.lognormal(np.log(23), 0.12, y.size),
            "Sex": rng.choice(["female", "male"], y.size),
            "Surgery": np.where(rng.random(y.size) < np.where(y == 1, 0.35, 0.75), "partial", "radical"),
        }
    )
    return stats.compare_groups(
        data,
        "label",
        continuous=["Age (years)", "BMI (kg/m\u00b2)"],
        categorical=["Sex", "Surgery"],
        overall=False,
    )


def table2() -> pd.DataFrame:
    """Histology in a tidy layout: label, subtype, unit, estimate (counts)."""
    counts = [
        ("benign", None, 81, 3659),
        ("benign", "atypical AML", 36, 1531),
        ("benign", "typical AML", 45, 2128),
        ("malignant", None, 100, 6135),
        ("malignant", "ccRCC", 62, 2964),
        ("malignant", "pRCC", 25, 2114),
        ("malignant", "chRCC", 13, 1057),
    ]
    rows = [
        {
            "estimate": float(v),
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p": np.nan,
            "label": lab,
            "subtype": sub,
            "unit": unit,
            "metric": "count",
        }
        for lab, sub, pat, img in counts
        for unit, v in (("patient", pat), ("image", img))
    ]
    return pd.DataFrame(rows)


def gradcam(n: int = 4, size: int = 96, seed: int = 4) -> dict[str, np.ndarray]:
    """A fake Grad-CAM export: speckled crops with a lesion, CAMs peaking on different parts."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out: dict[str, list] = {k: [] for k in ("bmode", "ceus", "cam_bmode", "cam_ceus")}
    labels = np.arange(n) % 2
    for i in range(n):
        cy, cx, r = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.18, 0.28)
        lesion = np.exp(-((((yy - cy) ** 2 + (xx - cx) ** 2) / r**2) ** 2))
        speckle = rng.rayleigh(0.25, (size, size))
        out["bmode"].append(np.clip(90 + 60 * speckle - 40 * lesion, 0, 255).astype(np.uint8))
        out["ceus"].append(
            np.clip(30 + 40 * speckle + 150 * lesion * (0.6 + 0.4 * labels[i]), 0, 255).astype(np.uint8)
        )
        out["cam_bmode"].append(np.exp(-((yy[::8, ::8] - cy + 0.1) ** 2 + (xx[::8, ::8] - cx) ** 2) / 0.02))
        out["cam_ceus"].append(np.exp(-((yy[::8, ::8] - cy) ** 2 + (xx[::8, ::8] - cx - 0.1) ** 2) / 0.03))
    return {
        **{k: np.stack(v) for k, v in out.items()},
        "labels": labels,
        "image_ids": np.array([f"P{i:03d}_f{10 * i:03d}" for i in range(n)]),
        "probs": np.where(labels == 1, 0.9, 0.15),
    }


def write_pilot(folder, protocol_file):
    """A finished study's folder for planning: ``protocol.lock.yaml`` of ``protocol_file`` (the
    demo protocol: arms bmode_net, ceus_net, muf_net, junior, senior), ``predictions.csv`` (one
    image per patient, fold 0) and ``reads.csv`` (the readers' calls and each group's majority
    vote) of the fake study. Returns the folder."""
    from pathlib import Path

    from studykit.protocol import load_protocol
    from studykit.study.provenance import lock_document

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    protocol = load_protocol(protocol_file)
    (folder / "protocol.lock.yaml").write_text(lock_document(protocol, {}, folder / "cohort", None))
    scores = patient_scores()
    scores.assign(fold=0, image_id=scores["patient_id"] + "_0", w_bmode=np.nan, w_ceus=np.nan,
                  threshold=0.5).to_csv(folder / "predictions.csv", index=False)
    calls = reads().assign(score=np.nan, kind="reader")
    votes = majority(calls).assign(reader_id="majority", score=np.nan, kind="majority")
    pd.concat([calls, votes], ignore_index=True).to_csv(folder / "reads.csv", index=False)
    return folder
