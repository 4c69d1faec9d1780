"""Aligned maps across the test years, neighbourhood change in the model's own space, and artist search."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer import drift, runs, similar
from explorer.aligned_layout import aligned_layout
from explorer.errors import ParameterError
from explorer.neighbours import nearest_neighbors
from explorer.training import splits_of

ROOT = Path(__file__).resolve().parents[1]
MODEL = "als"  # a fast factor model; drift uses each year's default setting


@pytest.fixture(scope="module")
def drift_cache(tmp_path_factory, demo_dataset) -> Path:
    cache = tmp_path_factory.mktemp("drift-cache")
    for split in splits_of(demo_dataset, [2008, 2009, 2010]):
        runs.run_for(demo_dataset, split, MODEL, root=cache)
    return cache


@pytest.fixture(scope="module")
def maps(drift_cache, demo_dataset) -> drift.AlignedMaps:
    return drift.aligned_maps(demo_dataset, MODEL, root=drift_cache)


def test_aligned_maps_cover_every_years_catalogue_and_are_stored_once(maps, drift_cache, demo_dataset):
    for year, key in drift.year_keys(demo_dataset, MODEL, root=drift_cache).items():
        points = maps.of_year(year)
        assert sorted(points["id"]) == sorted(runs.load(key, drift_cache).state["item_ids"])
        assert np.isfinite(points[["x", "y"]].to_numpy()).all()
    stored = sorted((drift_cache / drift.FOLDER).glob("aligned-*.npz"))
    assert len(stored) == 1
    steps = []
    again = drift.aligned_maps(demo_dataset, MODEL, root=drift_cache, progress=lambda s, t, **m: steps.append((s, t)))
    assert steps == [(1, 1)]  # read, not computed
    assert again.points.equals(maps.points)
    assert drift.cached_aligned_maps(demo_dataset, MODEL, root=drift_cache).points.equals(maps.points)


def test_aligned_layout_keeps_an_unchanged_point_in_place():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 16))
    first = centres[rng.integers(0, 8, 300)] + 0.3 * rng.normal(size=(300, 16))
    extra = centres[rng.integers(0, 8, 60)] + 0.3 * rng.normal(size=(60, 16))
    second = np.vstack([extra[:30], first + 0.01 * rng.normal(size=first.shape), extra[30:]])  # reordered, plus new
    relation = np.stack([np.arange(300), np.arange(30, 330)], axis=1)
    left, right = aligned_layout([first, second], [relation], epochs=50)
    moves = np.linalg.norm(left - right[30:330], axis=1)
    spread = np.linalg.norm(right[:, None] - right[None, :], axis=2)
    assert np.median(moves) < 0.1 * np.median(spread)
    with pytest.raises(ParameterError, match="share no point"):
        aligned_layout([first, second], [np.empty((0, 2), dtype=int)])


def test_an_artist_path_follows_it_through_the_years(maps):
    artist = int(maps.of_year(maps.years[0])["id"].iloc[0])
    path = maps.path(artist)
    assert list(path["year"]) == list(maps.years)  # an artist of the first year is in the later catalogues too
    assert maps.path(-5).empty


def test_neighbour_overlap_is_measured_among_the_artists_of_both_years(drift_cache, demo_dataset):
    table = drift.neighbour_overlap(demo_dataset, MODEL, k=5, root=drift_cache)
    pairs = drift.pair_names([2008, 2009, 2010])
    values = table[pairs].to_numpy()
    assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1 and not np.isnan(values).all(axis=1).any()
    keys = drift.year_keys(demo_dataset, MODEL, root=drift_cache)
    before, after = (runs.load(keys[year], drift_cache).state for year in (2009, 2010))
    shared = np.intersect1d(before["item_ids"], after["item_ids"])
    assert table["2009-2010"].notna().sum() == len(shared)

    def neighbours(state: dict) -> np.ndarray:  # brute force, among the shared artists only
        rows = np.searchsorted(state["item_ids"], shared)
        return shared[nearest_neighbors(state["item_factors"][rows], 6, "cosine")[0][:, 1:]]

    expected = [len(set(a) & set(b)) / 5 for a, b in zip(neighbours(before), neighbours(after), strict=True)]
    got = table.set_index("artistID").loc[shared, "2009-2010"].to_numpy()
    np.testing.assert_allclose(got, expected)


def test_most_moved_lists_the_lowest_overlaps_first(drift_cache, demo_dataset):
    moved = drift.most_moved(demo_dataset, MODEL, k=5, top=8, root=drift_cache)
    assert len(moved) == 8 and list(moved.columns) == [
        "artistID",
        "name",
        "listeners",
        "2008-2009",
        "2009-2010",
        "mean_overlap",
    ]
    assert moved["mean_overlap"].is_monotonic_increasing
    everything = drift.neighbour_overlap(demo_dataset, MODEL, k=5, root=drift_cache).dropna()
    assert moved["mean_overlap"].iloc[0] == pytest.approx(everything[["2008-2009", "2009-2010"]].mean(axis=1).min())


def test_stored_most_moved_reads_but_never_computes(drift_cache, demo_dataset):
    before = sorted((drift_cache / drift.FOLDER).glob("overlap-*.npz"))
    assert drift.stored_most_moved(demo_dataset, MODEL, k=7, root=drift_cache) is None  # not computed for k=7
    assert sorted((drift_cache / drift.FOLDER).glob("overlap-*.npz")) == before  # and not computed now either
    computed = drift.most_moved(demo_dataset, MODEL, k=7, top=5, root=drift_cache)
    stored = drift.stored_most_moved(demo_dataset, MODEL, k=7, top=5, root=drift_cache)
    assert stored is not None and stored.equals(computed)


def test_neighbours_by_year_and_name_search(drift_cache, demo_dataset):
    artist = int(drift.most_moved(demo_dataset, MODEL, root=drift_cache)["artistID"].iloc[0])
    table = drift.neighbours_by_year(demo_dataset, MODEL, artist, k=4, root=drift_cache)
    assert set(table["year"]) == {2008, 2009, 2010} and (table.groupby("year").size() == 4).all()
    assert artist not in set(table["artistID"]) and table.groupby("year")["similarity"].is_monotonic_decreasing.all()
    found = similar.find_artists(demo_dataset, "nsync")
    assert found["name"].tolist()[0] == "*NSYNC"  # plain text, not a pattern
    assert similar.find_artists(demo_dataset, "[unknown]")["name"].tolist() == ["[unknown]"]
    assert similar.find_artists(demo_dataset, "   ").empty


def test_models_without_vectors_and_missing_years_are_one_sentence(drift_cache, demo_dataset):
    with pytest.raises(ParameterError, match="ease has no artist vectors"):
        drift.year_keys(demo_dataset, "ease", root=drift_cache)
    runs.run_for(demo_dataset, splits_of(demo_dataset, [2008])[0], "bpr", root=drift_cache)
    with pytest.raises(ParameterError, match=r"no cached run for 2009 and 2010 .* --model bpr --years 2009 2010`"):
        drift.year_keys(demo_dataset, "bpr", root=drift_cache)
    run = runs.load(drift.year_keys(demo_dataset, MODEL, root=drift_cache)[2010], drift_cache)
    with pytest.raises(ParameterError, match="not in the 2010 catalogue"):
        similar.nearest_artists(run, 10**9)


def test_drift_cli_prints_the_issue_object(drift_cache, demo_dir, maps):  # noqa: ARG001 - maps: stored first
    env = {**os.environ, "EXPLORER_CACHE_DIR": str(drift_cache)}

    def explorer(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "explorer", "-q", "drift", "--data-dir", str(demo_dir), *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    done = explorer("--model", MODEL, "--k", "5", "--top", "3", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"model", "years", "method", "artists", "most_moved"}
    assert result["years"] == [2008, 2009, 2010] and result["method"] == "AlignedUMAP"
    assert set(result["artists"]) == {"count", "shared_all_years"} and set(result["artists"]["count"]) == {
        "2008",
        "2009",
        "2010",
    }
    assert len(result["most_moved"]) == 3
    for row in result["most_moved"]:
        assert set(row) == {"artistID", "name", "neighbour_overlap"}
        assert set(row["neighbour_overlap"]) == {"2008-2009", "2009-2010"}
        assert all(0 <= x <= 1 for x in row["neighbour_overlap"].values())
    refused = explorer("--model", "ease")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ease has no artist vectors")


def test_a_retrained_year_gets_a_new_map(drift_cache, demo_dataset, maps, tmp_path):  # noqa: ARG001 - maps: stored first
    copy = tmp_path / "cache"
    shutil.copytree(drift_cache, copy)
    assert drift.cached_aligned_maps(demo_dataset, MODEL, root=copy) is not None
    runs.run_for(demo_dataset, splits_of(demo_dataset, [2010])[0], MODEL, root=copy, use_cache=False)
    assert drift.cached_aligned_maps(demo_dataset, MODEL, root=copy) is None  # keyed by the runs' contents
    assert drift.cached_aligned_maps(demo_dataset, MODEL, users=True, root=drift_cache) is None
