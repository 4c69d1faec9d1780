"""Time the statistics of issue 7: one model-year bootstrap CI, and sign-flip tests, 10,000 resamples each.

Run: ``.venv/bin/python benchmarks/bench_stats.py`` (synthetic per-user arrays shaped like the real 2010 split:
about 1,300 test users, 1–20 rows each). Compares with scipy.stats.bootstrap / permutation_test on one metric.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from explorer import stats  # noqa: E402

USERS = 1_300


def timed(label: str, work, repeats: int = 3) -> None:
    best = min(_once(work) for _ in range(repeats))
    print(f"{label:<62} {best:7.3f} s")


def _once(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    rng = np.random.default_rng(0)
    den = rng.integers(1, 20, USERS).astype(float)
    num = rng.binomial(den.astype(int), 0.06).astype(float)
    other = rng.binomial(den.astype(int), 0.05).astype(float)
    many_num = np.stack([num, other] * 4, axis=1)  # 4 models × 2 metrics
    many_den = np.stack([den] * 8, axis=1)
    print(f"{USERS} users, {stats.RESAMPLES:,} resamples; best of 3")
    timed("explorer.stats: bootstrap CI of one metric", lambda: stats.ratio_interval(num, den))
    timed(
        "explorer.stats: bootstrap CIs of 8 columns (4 models × 2 metrics)",
        lambda: stats.bootstrap_ratios(many_num, many_den),
    )
    timed("explorer.stats: sign-flip p of one pair", lambda: stats.sign_flip_pvalues(num - other))
    timed(
        "explorer.stats: sign-flip p of 12 tests (6 pairs × 2 metrics)",
        lambda: stats.sign_flip_pvalues(np.stack([num - other] * 12, 1)),
    )
    timed(
        "scipy.stats.bootstrap (paired, percentile), one metric",
        lambda: scipy_stats.bootstrap(
            (num, den),
            lambda a, b, axis=-1: a.sum(axis) / b.sum(axis),
            paired=True,
            vectorized=True,
            n_resamples=stats.RESAMPLES,
            method="percentile",
            random_state=0,
        ),
        repeats=1,
    )
    timed(
        "scipy.stats.permutation_test (samples), one pair",
        lambda: scipy_stats.permutation_test(
            (num, other),
            lambda a, b, axis=-1: (a - b).sum(axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=stats.RESAMPLES,
            random_state=0,
        ),
        repeats=1,
    )


if __name__ == "__main__":
    main()
