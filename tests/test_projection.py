"""UMAP maps of embeddings: coordinates, cluster structure, the stored maps (round trip, corruption, lock)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from explorer import projection, runs
from explorer.errors import CacheError, ParameterError
from explorer.training import splits_of, train_and_evaluate


def two_blobs(per_blob: int = 60, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well-separated Gaussian blobs (in angle too, for the cosine metric) and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, dim))
    centres[0, 0] = centres[1, 1] = 10.0
    labels = np.repeat([0, 1], per_blob)
    return (centres[labels] + rng.normal(size=(2 * per_blob, dim))).astype(np.float32), labels


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    vectors, labels = two_blobs()
    calls = []
    coords = projection.project(vectors, progress=lambda step, total, **m: calls.append((step, total, m)))
    return vectors, labels, coords, calls


@pytest.fixture(scope="module")
def cache(tmp_path_factory, demo_dataset) -> tuple:
    """A run cache with a CMF run (k=8) and a popularity run on the demo data: ``(root, cmf_key, pop_key)``."""
    root = tmp_path_factory.mktemp("projection-cache")
    (split,) = splits_of(demo_dataset, [2009])
    cmf = runs.save(train_and_evaluate(demo_dataset, split, "cmf", {"k": 8}), root)
    popularity = runs.save(train_and_evaluate(demo_dataset, split, "popularity"), root)
    runs.save(train_and_evaluate(demo_dataset, split, "ease"), root)
    return root, cmf.name, popularity.name


@pytest.fixture(scope="module")
def stored(cache) -> tuple[pd.DataFrame, list]:
    """The default map of the CMF run, computed once with the real UMAP."""
    root, key, _ = cache
    calls = []
    frame = projection.projection_for(key, root=root, progress=lambda step, total, **m: calls.append((step, total)))
    return frame, calls


def copy_run(source, key: str, root) -> None:
    """Copies the run ``key`` (without any stored map) from the cache ``source`` into ``root``."""
    (root / key).mkdir()
    for name in (*runs.FILES, runs.MANIFEST):
        (root / key / name).write_bytes((source / key / name).read_bytes())


@pytest.fixture
def fake_umap(monkeypatch) -> list:
    """Replaces the projection by a cheap stand-in; returns the list of its calls."""
    calls = []

    def fake(vectors, **kwargs):
        calls.append(len(vectors))
        time.sleep(0.2)  # long enough for a second thread to arrive while this one computes
        return np.arange(2 * len(vectors), dtype=np.float32).reshape(-1, 2)

    monkeypatch.setattr(projection, "project", fake)
    return calls


def test_coordinates_are_finite_points_in_the_plane(blobs):
    vectors, _, coords, _ = blobs
    assert coords.shape == (len(vectors), 2) and coords.dtype == np.float32
    assert np.isfinite(coords).all()
    assert coords.std(axis=0).min() > 0


def test_clusters_stay_separated(blobs):
    _, labels, coords, _ = blobs
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).mean() > 0.9


def test_the_same_vectors_give_the_same_map(blobs):
    vectors, _, coords, _ = blobs
    assert np.array_equal(projection.project(vectors), coords)


def test_progress_reports_start_and_end(blobs):
    *_, calls = blobs
    steps = [(step, total) for step, total, _ in calls]
    assert steps[0] == (0, 3) and steps[-1] == (3, 3)
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)
    assert calls[-1][2]["seconds"] > 0


def test_fewer_points_than_neighbours_still_map():
    vectors, _ = two_blobs(per_blob=5)  # 10 points, n_neighbors 15 is lowered to 9
    coords = projection.project(vectors, n_neighbors=15)
    assert coords.shape == (10, 2) and np.isfinite(coords).all()


def test_tiny_inputs_are_laid_out_by_pca():
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    coords = projection.project(vectors)
    assert coords.shape == (4, 2) and np.isfinite(coords).all()
    assert np.array_equal(coords, projection.project(vectors))


def test_neighbours_are_exact_and_start_with_the_point_itself():
    vectors, _ = two_blobs()
    indices, distances = projection.nearest_neighbors(vectors, 5, "euclidean")
    brute = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    assert np.array_equal(indices[:, 0], np.arange(len(vectors))) and np.all(distances[:, 0] == 0)
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :5], atol=1e-4)
    _, cosine = projection.nearest_neighbors(vectors, 5, "cosine")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(cosine[:, 1:], np.sort(1 - unit @ unit.T, axis=1)[:, 1:5], atol=1e-5)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_neighbors": 1}, "n_neighbors must be between 2 and 200"),
        ({"n_neighbors": 201}, "n_neighbors must be between 2 and 200"),
        ({"n_neighbors": 2.5}, "n_neighbors must be a whole number"),
        ({"min_dist": -0.1}, "min_dist must be between"),
        ({"min_dist": 1.0}, "min_dist must be between"),
        ({"min_dist": float("nan")}, "min_dist must be between"),
        ({"metric": "manhattan"}, "metric must be one of"),
    ],
)
def test_bad_settings_are_refused(arguments, message):
    with pytest.raises(ParameterError, match=message):
        projection.project(np.ones((20, 3)), **arguments)


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.ones((2, 3)), "at least 3 points"),
        (np.ones((5, 0)), "at least one column"),
        (np.ones(5), "2-D array"),
        (np.array([[1.0, np.nan]] * 5), "NaN or infinite"),
    ],
)
def test_bad_vectors_are_refused(vectors, message):
    with pytest.raises(ParameterError, match=message):
        projection.project(vectors)


def test_a_run_map_has_every_user_and_artist(cache, stored):
    root, key, _ = cache
    frame, calls = stored
    state = runs.load(key, root).state
    assert list(frame.columns) == ["node", "id", "x", "y"]
    users, artists = frame[frame["node"] == "user"], frame[frame["node"] == "artist"]
    assert np.array_equal(users["id"], state["user_ids"]) and np.array_equal(artists["id"], state["item_ids"])
    assert len(frame) == len(users) + len(artists)
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)


def test_a_stored_map_is_read_back_without_umap(cache, stored, monkeypatch):
    root, key, _ = cache
    frame, _ = stored

    def refuse(*args, **kwargs):
        raise AssertionError("the map should have come from the run's folder")

    monkeypatch.setattr(projection, "project", refuse)
    calls = []
    again = projection.projection_for(key, root=root, progress=lambda step, total, **m: calls.append((step, total)))
    pd.testing.assert_frame_equal(again, frame)
    pd.testing.assert_frame_equal(projection.cached_projection(key, root=root), frame)
    assert calls == [(3, 3)]
    stored_files = [p.name for p in (root / key).iterdir() if p.name.startswith("projection-")]
    assert stored_files == [projection.projection_name("both", 15, 0.1)]
    assert not [p for p in (root / key).iterdir() if p.suffix == ".tmp"]
    runs.load(key, root)  # the run itself still passes its checksums


def test_each_setting_has_its_own_map(tmp_path, cache, stored, fake_umap):
    source, key, _ = cache
    copy_run(source, key, tmp_path)
    assert projection.cached_projection(key, kind="artists", root=tmp_path) is None
    artists = projection.projection_for(key, kind="artists", root=tmp_path)
    assert set(artists["node"]) == {"artist"} and fake_umap == [len(artists)]
    users = projection.projection_for(key, kind="users", n_neighbors=30, min_dist=0.5, root=tmp_path)
    assert set(users["node"]) == {"user"} and len(fake_umap) == 2
    assert len(stored[0]) == len(artists) + len(users)
    names = {projection.projection_name(k, n, d) for k in projection.KINDS for n in (15, 16) for d in (0.1, 0.2)}
    assert len(names) == 12


def test_a_corrupted_map_is_computed_again(tmp_path, cache, fake_umap, caplog):
    source, key, _ = cache
    root = tmp_path
    copy_run(source, key, root)
    first = projection.projection_for(key, kind="artists", root=root)
    path = root / key / projection.projection_name("artists", 15, 0.1)
    path.write_bytes(path.read_bytes()[:100])
    assert projection.cached_projection(key, kind="artists", root=root) is None
    with caplog.at_level("WARNING"):
        again = projection.projection_for(key, kind="artists", root=root)
    pd.testing.assert_frame_equal(again, first)
    assert len(fake_umap) == 2 and any("unreadable" in r.message for r in caplog.records)
    path.write_bytes(b"not a zip file at all")
    projection.projection_for(key, kind="artists", root=root)
    assert len(fake_umap) == 3
    pd.testing.assert_frame_equal(projection.cached_projection(key, kind="artists", root=root), first)


def test_two_simultaneous_requests_compute_once(tmp_path, cache, fake_umap):
    source, key, _ = cache
    copy_run(source, key, tmp_path)
    frames = []
    threads = [
        threading.Thread(target=lambda: frames.append(projection.projection_for(key, kind="users", root=tmp_path)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake_umap) == 1 and len(frames) == 2
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_precompute_stores_the_default_map(tmp_path, cache, fake_umap):
    source, key, _ = cache
    copy_run(source, key, tmp_path)
    projection.precompute(key, tmp_path)
    assert projection.cached_projection(key, root=tmp_path) is not None and len(fake_umap) == 1


def test_bad_requests_are_refused(cache):
    root, key, popularity = cache
    with pytest.raises(ParameterError, match="kind must be one of"):
        projection.projection_for(key, kind="tags", root=root)
    with pytest.raises(ParameterError, match="n_neighbors must be between"):
        projection.projection_for(key, n_neighbors=500, root=root)
    with pytest.raises(ParameterError, match="no embeddings to map"):
        projection.projection_for(popularity, root=root)
    with pytest.raises(CacheError, match="no cached run"):
        projection.projection_for("0" * 24, root=root)
    with pytest.raises(CacheError, match="no cached run"):
        projection.projection_for("../elsewhere", root=root)
    assert not [p for p in (root / popularity).iterdir() if p.name.startswith("projection-")]


def test_a_model_without_vectors_has_no_map_and_says_why(cache):
    root = cache[0]
    (ease,) = [row.key for row in runs.table(root).itertuples() if row.model == "ease"]
    with pytest.raises(ParameterError, match="no embeddings to map .*artist-to-artist weights"):
        projection.projection_for(ease, root=root)
