"""Speed of the statistics engine (issue 2, §4). Run: ``python benchmarks/bench_stats.py``.

1. Paired DeLong test from raw arrays, n = 10^6 cases, two scores, through the public
   ``stats.delong_test`` (validation included). Baselines timed in the same run on the same
   data: scikit-learn's ``roc_auc_score`` on ONE score (target: ratio ≤ 2) and, when R with
   pROC is installed, pROC's ``roc()`` × 2 + ``roc.test(method = "delong")`` timed inside R
   (data loading excluded; target: studykit ≥ 3 × faster).
2. Bootstrap CI of one AUC, 2000 replicates, n = 10^4: wall time and its ratio to one
   DeLong AUC on the same data.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import best_time, machine
from sklearn.metrics import roc_auc_score

from studykit import stats

R_TIMING = r"""
suppressPackageStartupMessages(library(pROC))
d <- read.csv("{csv}")
t <- system.time({{
  ra <- roc(d$y, d$a, direction = "<", levels = c(0, 1), quiet = TRUE)
  rb <- roc(d$y, d$b, direction = "<", levels = c(0, 1), quiet = TRUE)
  tt <- roc.test(ra, rb, method = "delong", paired = TRUE)
}})[["elapsed"]]
cat(sprintf("%.6f %.12f\n", t, tt$statistic))
"""


def delong_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    a = rng.normal(size=n) + 1.0 * y
    b = 0.5 * a + rng.normal(size=n) + 0.5 * y
    return y, a, b


def proc_seconds(y, a, b) -> tuple[float, float] | None:
    """pROC wall time (best of 2) and its z statistic, or None without R/pROC."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        pd.DataFrame({"y": y.astype(int), "a": a, "b": b}).to_csv(csv, index=False, float_format="%.17g")
        runs = []
        for _ in range(2):
            out = subprocess.run(["Rscript", "-e", R_TIMING.format(csv=csv)], capture_output=True,
                                 text=True, timeout=900, check=False)
            if out.returncode != 0:
                print("pROC timing failed:", out.stderr.strip()[-300:], file=sys.stderr)
                return None
            seconds, z = map(float, out.stdout.split())
            runs.append((seconds, z))
        return min(runs)


def bench_delong(n: int = 1_000_000) -> None:
    y, a, b = delong_data(n)
    ours = best_time(lambda: stats.delong_test(y, a, b))
    sklearn = best_time(lambda: roc_auc_score(y, a))
    print(f"paired DeLong, n = {n:,}, 2 scores: studykit {ours * 1e3:.0f} ms; "
          f"sklearn roc_auc_score (1 score) {sklearn * 1e3:.0f} ms; "
          f"ratio {ours / sklearn:.2f} (target <= 2)")
    proc = proc_seconds(y, a, b)
    if proc is None:
        print("pROC: not measured (Rscript with pROC not installed)")
        return
    z = stats.delong_test(y, a, b)["statistic"].item()
    print(f"pROC roc() x2 + roc.test(): {proc[0] * 1e3:.0f} ms; studykit is {proc[0] / ours:.1f}x faster "
          f"(target >= 3); z agrees: studykit {z:.9f}, pROC {proc[1]:.9f}")


def bench_bootstrap(n: int = 10_000, n_boot: int = 2000) -> None:
    rng = np.random.default_rng(1)
    y, s = stats.simulate.binormal_sample(n // 2, n - n // 2, 0.8, rng)
    boot = best_time(lambda: stats.roc_auc(y, s, method="bootstrap", n_boot=n_boot), repeat=3)
    one = best_time(lambda: stats.roc_auc(y, s), repeat=20)
    print(f"bootstrap BCa CI, {n_boot} replicates, n = {n:,}: {boot * 1e3:.0f} ms; one DeLong AUC "
          f"{one * 1e3:.2f} ms; ratio {boot / one:.0f} (= {boot / one / n_boot:.2f} AUC-equivalents "
          "per replicate)")


if __name__ == "__main__":
    print(f"machine: {machine()}")
    bench_delong()
    bench_bootstrap()
