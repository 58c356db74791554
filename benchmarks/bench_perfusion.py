"""Perfusion parameter recovery on the synthetic cohort (``studykit.cohort.perfusion``).

    python benchmarks/bench_perfusion.py [--patients 40] [--frames 16 48] [--out DIR]
                                         [--figure docs/perfusion_tic.png]

For each frame count, a cohort of ``--patients`` at the demo's panel size (96 × 112) is
synthesised (its manifest's ``injection_s`` = 4 s: the videos start 4 s before the injection)
and the lesion's known TIC features (``truth.csv``: ``time_to_peak_s``,
``peak_enhancement_db``, ``washout``) are compared with the fitted ones, at two levels:

- **curves**: the generator's own noise-free lesion and cortex TICs (``render.tic`` of the
  truth's curves) sampled at the video's frame times — the error of the bolus model alone
  (the generator's curve is a gamma variate with a wash-out plateau, which neither model has);
- **videos**: the TICs extracted from the rendered videos (:func:`perfusion_table`, each
  scanner's dynamic range and gamma) — adds speckle, the imaging chain, motion and the ROIs;
  once with the annotations' ``cortex_box`` (the generator's box in the renal cortex) and
  once with the automatic cortex rule (the column removed).

``--figure`` also writes the TIC figure of ``studykit perfusion`` (mean lesion and cortex TIC
per subtype relative to the cortex peak, with 95 % bands, and three patients' fits; gamma
variate, first pass, annotated cortex) of a cohort of ``--figure-patients`` (181, the
reference study's size and subtype mix) at the last frame count to that path.

Errors are medians over the patients whose lesion and cortex fits are both ``ok`` (R² ≥ 0.8),
and over those with any fit (``ok`` or ``poor fit``): relative error of TTP (arrival to
peak) and of PE (lesion / cortex peak, linear), and the absolute error of the 30-s wash-out
fraction (its relative error is undefined for the sustained lesions whose wash-out is ≈ 0).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

from studykit.analysis import perfusion_by_class
from studykit.cohort.perfusion import fit_bolus, perfusion_table
from studykit.cohort.synth import render, synthesize
from studykit.cohort.synth.patient import frame_times
from studykit.study.perfusion import perfusion_outputs

SPREAD = 0.3  # the generator's default CEUS vendor spread (SynthParams.ceus_vendor_spread)
FIRST_PASS_S = 15.0  # the first-pass window after the highest sample


def cohort(out: Path, patients: int, frames: int) -> Path:
    """The synthetic cohort (its manifest has ``injection_s``, its annotations a ``cortex_box``)."""
    folder = out / f"cohort_{patients}_{frames}"
    synthesize(folder, patients=patients, frames=frames, size=(96, 112), seed=0)
    return folder


def without_cortex_boxes(folder: Path) -> Path:
    """A copy of the cohort without the ``cortex_box`` column, where the automatic cortex rule
    places the ROI."""
    automatic = folder.with_name(f"{folder.name}_auto")
    if not automatic.exists():
        shutil.copytree(folder, automatic)
        table = pd.read_csv(automatic / "annotations.csv", dtype=str, keep_default_na=False)
        table.drop(columns="cortex_box").to_csv(automatic / "annotations.csv", index=False)
    return automatic


def curve_level(truth: pd.DataFrame, frames: int, model: str, first_pass_s: float | None) -> pd.DataFrame:
    """Fits of the generator's noise-free lesion and cortex TICs at the frame times."""
    times = frame_times(frames)[0]
    rows = []
    for pid, row in truth.iterrows():
        curves = render.compartment_curves(row.to_dict(), row["cortex_arrival_s"])
        fits = {k: fit_bolus(times, render.tic(times, curves[k]), model, baseline=0.0,
                             first_pass_s=first_pass_s) for k in ("lesion", "cortex")}
        statuses = {f.status for f in fits.values()}
        status = "failed" if "failed" in statuses else ("poor fit" if "poor fit" in statuses else "ok")
        lesion, cortex = fits["lesion"].derived, fits["cortex"].derived
        rows.append({"patient_id": pid, "status": status,
                     "lesion_time_to_peak_s": lesion.get("time_to_peak_s", np.nan),
                     "lesion_washout_30s": lesion.get("washout_30s", np.nan),
                     "rel_pe": lesion.get("pe", np.nan) / cortex.get("pe", np.nan)})
    return pd.DataFrame(rows)


def errors(fitted: pd.DataFrame, truth: pd.DataFrame, statuses: tuple[str, ...]) -> dict[str, float]:
    """Median errors over the patients whose status is in ``statuses``."""
    ok = fitted[fitted["status"].isin(statuses)].set_index("patient_id")
    t = truth.loc[ok.index]
    ttp = (ok["lesion_time_to_peak_s"] / t["time_to_peak_s"] - 1).abs()
    pe = (ok["rel_pe"] / 10 ** (t["peak_enhancement_db"] / 10) - 1).abs()
    washout = (ok["lesion_washout_30s"] - t["washout"]).abs()
    return {"n": f"{len(ok)}/{len(fitted)}", "ttp": float(ttp.median()), "pe": float(pe.median()),
            "washout": float(washout.median())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--out", type=Path, default=Path("/tmp/studykit-bench-perfusion"))
    parser.add_argument("--figure", type=Path, default=None, help="write the TIC figure (PNG) here")
    parser.add_argument("--figure-patients", type=int, default=181,
                        help="patients of the figure's cohort (181: every subtype with ≥ 10)")
    args = parser.parse_args()
    ranges = {s: render.harmonised(p, SPREAD).ceus_range_db for s, p in render.SCANNERS.items()}
    gammas = {s: render.harmonised(p, SPREAD).ceus_gamma for s, p in render.SCANNERS.items()}
    print(f"machine: {machine()}")
    print("| frames | level | model | fitted | patients | TTP median rel. error | PE median rel. error "
          "| wash-out median abs. error | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for frames in args.frames:
        folder = cohort(args.out, args.patients, frames)
        automatic = without_cortex_boxes(folder)
        truth = pd.read_csv(folder / "truth.csv").set_index("patient_id")
        sources = {"videos, annotated cortex": folder, "videos, automatic cortex": automatic}
        for model in ("gamma", "lognormal"):
            for first_pass in (None, FIRST_PASS_S):
                window = "all" if first_pass is None else f"peak + {first_pass:g} s"
                for level in ("curves", *sources):
                    start = time.perf_counter()
                    if level == "curves":
                        fitted = curve_level(truth, frames, model, first_pass)
                    else:
                        fitted = perfusion_table(sources[level], model=model, dynamic_range_db=ranges,
                                                 gamma=gammas, first_pass_s=first_pass)
                    seconds = time.perf_counter() - start
                    for statuses in (("ok",), ("ok", "poor fit")):
                        e = errors(fitted, truth, statuses)
                        print(f"| {frames} | {level} | {model} | {window} | {e['n']} {' + '.join(statuses)} "
                              f"| {e['ttp']:.1%} | {e['pe']:.1%} | {e['washout']:.3f} | {seconds:.1f} |",
                              flush=True)
        by_class(folder, ranges, gammas, frames)
    if args.figure is not None:
        folder = cohort(args.out, args.figure_patients, args.frames[-1])
        outputs = perfusion_outputs(folder, args.out / "outputs", group="subtype", model="gamma",
                                    dynamic_range_db=ranges, gamma=gammas, first_pass_s=FIRST_PASS_S)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.out / "outputs" / "tic.png", args.figure)
        statuses = outputs.table["status"].value_counts().to_dict()
        print(f"\nTIC figure ({args.figure_patients} patients, {args.frames[-1]} frames): {args.figure} "
              f"(fits {statuses}; {len(outputs.written)} files written)")
    shutil.rmtree(args.out, ignore_errors=True)


def by_class(folder: Path, ranges: dict, gammas: dict, frames: int) -> None:
    """Table 1 of the perfusion parameters by class (gamma variate, first pass) from the videos."""
    table = perfusion_table(folder, model="gamma", dynamic_range_db=ranges, gamma=gammas,
                            first_pass_s=FIRST_PASS_S)
    result = perfusion_by_class(table, parameters=("rel_pe_db", "lesion_time_to_peak_s", "lesion_rise_time_s",
                                                   "lesion_washout_30s"))
    print(f"\nperfusion parameters by class, {frames} frames (gamma variate, first pass):")
    print("| variable | level | benign | malignant | p | method |")
    print("|---|---|---|---|---|---|")
    for (variable, level), rows in result.groupby(["variable", "level"], sort=False, dropna=False):
        cells = {}
        for _, r in rows.iterrows():
            if r["kind"] == "count_percent":
                cells[r["group"]] = f"{int(r['count'])} ({r['percent']:.0f} %)"
            elif r["kind"] == "mean_sd":
                cells[r["group"]] = f"{r['mean']:.2f} ± {r['sd']:.2f} (n {int(r['n'])})"
            else:
                cells[r["group"]] = f"{r['median']:.2f} [{r['q1']:.2f}, {r['q3']:.2f}] (n {int(r['n'])})"
        level_text = "" if pd.isna(level) else level
        print(f"| {variable} | {level_text} | {cells.get('benign', '')} | {cells.get('malignant', '')} "
              f"| {rows['p'].iat[0]:.3g} | {rows['method'].iat[0]} |")


if __name__ == "__main__":
    main()
