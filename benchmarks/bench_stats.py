"""Time the statistics: bootstrap CIs, sign-flip tests and their extension, the Tukey HSD, and a whole family.

Run: ``.venv/bin/python benchmarks/bench_stats.py`` (synthetic per-user arrays shaped like the real 2010 split:
about 900 test users, 1–20 rows each). Compares with scipy.stats.bootstrap / permutation_test on one metric.
With ``LASTFM_DATA_DIR`` set and all 13 models at their default settings in the run cache (``python -m explorer
train --model <all 13> --no-maps``), it also times a family of 13 models × 3 years (first computed, then read
from a scratch store) and the whole ``compare`` process (4 models × 3 years × 2 metrics) three times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from explorer import multiple, stats  # noqa: E402

USERS = 900


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
        "explorer.stats: 8,000 more patterns for 40 floor tests",
        lambda: stats.extra_sign_flip_counts(np.stack([num - other] * 40, 1), 0, 4),
    )
    contributions = np.random.default_rng(1).random((1900, 13, 2)) / 1900
    timed("explorer.multiple: Tukey ranges, 13 models × 2 metrics, 1,900 users", lambda: tukey_ranges(contributions))
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


def tukey_ranges(contributions: np.ndarray) -> np.ndarray:
    return multiple.tukey_ranges(contributions, stats.RESAMPLES)


def time_family() -> None:
    """A family of all 13 models × 3 years from the run cache: computed into a scratch store, then read."""
    import tempfile

    from explorer import comparison, runs
    from explorer.data import load_dataset
    from explorer.models import model_class, model_names
    from explorer.pair_store import PairStore

    dataset = load_dataset()
    found = {}
    for model in model_names():
        for year in (2008, 2009, 2010):
            key = runs.run_key(model, model_class(model).params_for(year), year, dataset.fingerprint)
            if not (runs.cache_dir() / key).is_dir():
                print(f"(no family timing: {model} {year} is not in the run cache)")
                return
            found.setdefault(model, []).append(runs.load(key))
    with tempfile.TemporaryDirectory() as scratch:
        for metrics, test in (
            (["recall@10"], "signflip"),
            (["recall@10", "mrr"], "signflip"),
            (["recall@10"], "tukey"),
        ):
            store = PairStore(Path(scratch) / "-".join([test, *metrics]))
            label = f"family 13 models × {len(metrics)} metric(s) × 3 years, {test}"
            work = partial(comparison.compare, found, metrics, test=test, store=store)
            first = _once(work)
            stored = min(_once(work) for _ in range(3))
            print(f"{label:<62} {first:7.3f} s first, {stored:.3f} s stored")


def time_compare_process() -> None:
    command = [sys.executable, "-m", "explorer", "-q", "compare", "--json"]
    command += ["--models", "lightgcn-social", "cmf", "lightgcn", "popularity"]
    root = Path(__file__).resolve().parents[1]
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
        seconds.append(time.perf_counter() - started)
        assert done.stdout.count("\n") == 1  # one JSON object
    print(
        f"{'python -m explorer compare (4 models × 3 years × 2 metrics), whole process':<62} "
        + " / ".join(f"{s:.2f}" for s in seconds)
        + " s"
    )


if __name__ == "__main__":
    main()
    if os.environ.get("LASTFM_DATA_DIR"):
        time_family()
        time_compare_process()
