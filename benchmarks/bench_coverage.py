"""Coverage of the DeLong and clustered (Obuchowski) 95% CIs (issue 2, §3).

Run: ``python benchmarks/bench_coverage.py``. Prints, for 2000 replicates each:
1. binormal data, n = 100 (50 + 50), true AUC 0.70 and 0.80: DeLong coverage (target 94–96%);
2. image-level data clustered by patient (100 patients, 5–20 images each, intra-patient
   correlation 0.3 and 0.5, true AUC 0.70): clustered vs naive DeLong coverage.
The same figures are asserted by tests/stats/test_coverage.py.
"""

from __future__ import annotations

from _common import machine

from studykit.stats import simulate


def main() -> None:
    print(f"machine: {machine()}")
    for auc in (0.70, 0.80):
        row = simulate.ci_coverage(lambda rng, a=auc: simulate.binormal_sample(50, 50, a, rng), auc).iloc[0]
        print(f"binormal n=100, AUC {auc:.2f}: DeLong coverage {row['estimate']:.4f} "
              f"(Wilson 95% CI {row['ci_low']:.4f}–{row['ci_high']:.4f}), mean width {row['mean_width']:.3f}")
    for icc in (0.3, 0.5):
        table = simulate.ci_coverage(
            lambda rng, c=icc: simulate.clustered_binormal_sample(100, 0.70, rng, icc=c), 0.70)
        for _, row in table.iterrows():
            print(f"clustered (100 patients x 5-20 images, ICC {icc}), AUC 0.70: {row['method']:<22} "
                  f"coverage {row['estimate']:.4f} ({row['ci_low']:.4f}–{row['ci_high']:.4f}), "
                  f"mean width {row['mean_width']:.3f}")


if __name__ == "__main__":
    main()
