"""The statistics on the real data: all 13 models, Recall@10 and MRR, 2008–2010, one family of 468 tests.

Training 39 runs does not fit the suite's budget, so this test reads a real-data run cache named by
``EXPLORER_REAL_CACHE`` (fill one with ``EXPLORER_CACHE_DIR=DIR python -m explorer train --model <all 13>
--no-maps``) and is skipped without one. It writes nothing there: its statistics go to a scratch store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer import comparison, runs
from explorer.models import model_class, model_names
from explorer.pair_store import PairStore

REAL_CACHE = os.environ.get("EXPLORER_REAL_CACHE", "")


@pytest.fixture(scope="module")
def default_runs(real_dataset) -> dict:
    if not REAL_CACHE or not Path(REAL_CACHE).is_dir():
        pytest.skip("EXPLORER_REAL_CACHE does not name a real-data run cache")
    root = Path(REAL_CACHE)
    found: dict = {}
    for model in model_names():
        for year in (2008, 2009, 2010):
            key = runs.run_key(model, model_class(model).params_for(year), year, real_dataset.fingerprint)
            if not (root / key).is_dir():
                pytest.skip(f"EXPLORER_REAL_CACHE lacks {model} {year} at its default setting; train it first")
            found.setdefault(model, []).append(runs.load(key, root))
    return found


@pytest.fixture(scope="module")
def family(default_runs, tmp_path_factory) -> dict:
    store = PairStore(tmp_path_factory.mktemp("stats"))
    return comparison.compare(default_runs, ["recall@10", "mrr"], store=store)


def test_no_adjusted_interval_contradicts_its_holm_p_outside_the_band(family):
    pairs = [pair for block in family["years"].values() for pair in block["pairs"]]
    assert family["family"]["tests"] == len(pairs) == 78 * 2 * 3
    contradictions = [
        pair
        for pair in pairs
        if (pair["ci_adjusted"][0] > 0 or pair["ci_adjusted"][1] < 0) != (pair["p_adjusted"] < 0.05)
    ]
    assert all(pair["band"] for pair in contradictions), [p for p in contradictions if not p["band"]]
    assert family["family"]["in_band"] < len(pairs) / 5  # a band that held everything would check nothing


def test_no_p_below_what_the_test_resolves(family):
    for block in family["years"].values():
        for pair in block["pairs"]:
            floor = 2 / (pair["patterns"] + 1)
            assert pair["p"] >= floor - 1e-15
            assert pair["p_is_bound"] == (abs(pair["p"] - floor) < 1e-15)
            assert 10_000 <= pair["patterns"] <= 200_000
