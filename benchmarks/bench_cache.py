"""Time what a page pays to list the run cache and read 39 runs' metrics and CIs (issue 16.7).

Run: ``.venv/bin/python benchmarks/bench_cache.py [--train] [--years 2008 2009 2010]`` with
``LASTFM_DATA_DIR`` and ``EXPLORER_CACHE_DIR`` set. ``--train`` first fills the cache with one cheap run of
every model per year (one epoch or iteration where the model has them: the files a page reads are as large
as with the defaults, only their numbers differ). Then, in this process, it times:

* ``runs.table()``: the first call (after the model registry is imported, as every page does) and later
  calls (a Streamlit page calls it on every rerun);
* reading every run's metrics and CIs: ``runs.load`` of each, then its CIs: stored with the run when the
  code stores them (format 3), else computed from its ranks by ``comparison.metric_intervals``.

``EXPLORER_CODE=DIR`` runs it against another checkout's ``explorer`` (e.g. an older commit exported with
``git archive``), to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("EXPLORER_CODE") or str(Path(__file__).resolve().parents[1]))
from explorer import comparison, runs  # noqa: E402
from explorer.data import load_dataset  # noqa: E402
from explorer.models import model_class, model_names  # noqa: E402
from explorer.training import splits_of  # noqa: E402

CHEAP = {"epochs": 1, "gcn_epochs": 1, "iterations": 1}


def fill(years: list[int]) -> None:
    dataset = load_dataset()
    for split in splits_of(dataset, years):
        for model in model_names():
            params = {k: v for k, v in CHEAP.items() if k in model_class(model).PARAMS}
            started = time.perf_counter()
            runs.run_for(dataset, split, model, params)
            print(f"  {model} {split.year}: {time.perf_counter() - started:.1f} s", flush=True)


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def read_all(keys: list[str]) -> None:
    for key in keys:
        run = runs.load(key)
        stored = getattr(run, "intervals", None)
        intervals = stored["ci"] if stored else comparison.metric_intervals([run])
        assert run.metrics["recall"]["10"] >= 0 and intervals["recall"]["10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="fill the cache with cheap runs first")
    parser.add_argument("--years", nargs="+", type=int, default=[2008, 2009, 2010])
    args = parser.parse_args()
    if args.train:
        fill(args.years)
    model_names()  # the registry is imported by every page before it lists runs
    first = timed(runs.table)
    later = min(timed(runs.table) for _ in range(20))
    keys = list(runs.table()["key"])
    reading = timed(lambda: read_all(keys))
    format_version = getattr(runs, "FORMAT_VERSION", "?")
    load = os.getloadavg()[0]
    print(f"cache {runs.cache_dir()} (format {format_version}): {len(keys)} runs; load average {load:.1f}")
    print(f"runs.table() first call            {first * 1000:8.2f} ms")
    print(f"runs.table() later calls (best)    {later * 1000:8.2f} ms")
    print(f"load {len(keys)} runs' metrics and CIs     {reading * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
