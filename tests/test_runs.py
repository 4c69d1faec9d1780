"""The run cache: round trip, atomic writes, the cross-process lock, corruption → rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer import runs
from explorer.errors import CacheError
from explorer.training import splits_of, train_and_evaluate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cmf_run(demo_dataset):
    (split,) = splits_of(demo_dataset, [2009])
    return train_and_evaluate(demo_dataset, split, "cmf", {"k": 8})


def test_round_trip_keeps_everything(tmp_path, cmf_run):
    folder = runs.save(cmf_run, tmp_path)
    loaded = runs.load(folder.name, tmp_path)
    assert loaded.from_cache and not cmf_run.from_cache
    assert loaded.metrics == cmf_run.metrics
    assert loaded.params == cmf_run.params and loaded.year == cmf_run.year
    pd.testing.assert_frame_equal(loaded.ranks, cmf_run.ranks)
    for name, array in cmf_run.state.items():
        assert np.array_equal(loaded.state[name], array)
    users = np.unique(cmf_run.ranks["user"])
    assert np.array_equal(loaded.recommender().score(users), cmf_run.recommender().score(users))
    assert {p.name for p in folder.iterdir()} == {*runs.FILES, runs.MANIFEST}


def test_each_test_users_top_10_list_is_stored_with_the_run(tmp_path, cmf_run, demo_dataset):
    loaded = runs.load(runs.save(cmf_run, tmp_path).name, tmp_path)
    assert np.array_equal(loaded.test_users, np.unique(cmf_run.ranks["user"]))
    assert loaded.top_items.shape == (len(loaded.test_users), 10)
    assert np.array_equal(loaded.top_items, cmf_run.top_items)
    (split,) = splits_of(demo_dataset, [2009])
    train_pairs = set(map(tuple, split.train[["userID", "artistID"]].to_numpy().tolist()))
    listed = {(int(u), int(i)) for u, row in zip(loaded.test_users, loaded.top_items, strict=True) for i in row}
    assert listed and not listed & train_pairs  # a user's train artists are never recommended back
    assert set(loaded.metrics["beyond"]) == {"coverage", "novelty", "arp", "long_tail_share", "gini", "diversity"}
    assert loaded.metrics["beyond"]["coverage"] == loaded.metrics["coverage"]["10"]


def test_key_depends_on_every_part():
    base = runs.run_key("cmf", {"k": 8}, 2009, "abc")
    assert base != runs.run_key("cmf", {"k": 9}, 2009, "abc")
    assert base != runs.run_key("cmf", {"k": 8}, 2010, "abc")
    assert base != runs.run_key("cmf", {"k": 8}, 2009, "abd")
    assert base != runs.run_key("popularity", {"k": 8}, 2009, "abc")
    assert all(c in "0123456789abcdef" for c in base)


KILLED_WRITE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from explorer import runs
    from explorer.data import load_dataset
    from explorer.training import splits_of, train_and_evaluate
    dataset = load_dataset(sys.argv[1])
    (split,) = splits_of(dataset, [2009])
    run = train_and_evaluate(dataset, split, "popularity")
    def die(*args, **kwargs):
        os._exit(9)  # the process dies in the middle of writing the entry
    np.savez = die
    runs.save(run, runs.Path(sys.argv[2]))
    """
)


def test_write_killed_midway_leaves_nothing_readable(tmp_path, demo_dir, demo_dataset):
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(demo_dir), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 9, done.stderr
    assert list(runs.entries(tmp_path)) == []
    key = runs.run_key("popularity", {}, 2009, demo_dataset.fingerprint)
    with pytest.raises(CacheError, match="no cached run"):
        runs.load(key, tmp_path)
    (split,) = splits_of(demo_dataset, [2009])
    run = runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    assert not run.from_cache and runs.load(key, tmp_path).metrics == run.metrics


TRAIN_ONCE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from explorer import runs
    from explorer.data import load_dataset
    from explorer.training import splits_of, train_and_evaluate
    dataset = load_dataset(sys.argv[1])
    (split,) = splits_of(dataset, [2009])
    log = Path(sys.argv[3])
    def train():
        with open(log, "a") as handle:
            handle.write("trained\\n")
        time.sleep(2)  # long enough for the other process to arrive while this one trains
        return train_and_evaluate(dataset, split, "cmf", {"k": 8, "reg": 1.0, "alpha": 1.0})
    run = runs.obtain("cmf", {"k": 8, "reg": 1.0, "alpha": 1.0, "iterations": 10, "seed": 1}, 2009,
                      dataset.fingerprint, train, root=Path(sys.argv[2]))
    print(json.dumps({"cached": run.from_cache, "recall": run.metrics["recall"]}))
    """
)


def test_two_processes_asking_for_one_entry_train_once(tmp_path, demo_dir):
    log = tmp_path / "log.txt"
    cache = tmp_path / "cache"
    cache.mkdir()
    command = [sys.executable, "-c", TRAIN_ONCE, str(demo_dir), str(cache), str(log)]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in (first, second)]
    assert log.read_text().count("trained") == 1
    assert sorted(o["cached"] for o in outputs) == [False, True]
    assert outputs[0]["recall"] == outputs[1]["recall"]


def test_corrupted_entry_is_reported_once_and_rebuilt(tmp_path, demo_dataset, caplog):
    (split,) = splits_of(demo_dataset, [2009])
    first = runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    data = (folder / "embeddings.npz").read_bytes()
    (folder / "embeddings.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError, match="corrupted"):
        runs.load(folder.name, tmp_path)
    with caplog.at_level("WARNING"):
        rebuilt = runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    assert not rebuilt.from_cache
    assert rebuilt.metrics == first.metrics
    assert sum("corrupted" in r.message for r in caplog.records) == 1
    assert runs.run_for(demo_dataset, split, "popularity", root=tmp_path).from_cache


def test_no_cache_retrains_and_replaces(tmp_path, demo_dataset):
    (split,) = splits_of(demo_dataset, [2009])
    runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    again = runs.run_for(demo_dataset, split, "popularity", root=tmp_path, use_cache=False)
    assert not again.from_cache
    assert len(list(runs.entries(tmp_path))) == 1


def test_table_and_clear(tmp_path, demo_dataset):
    for year in (2009, 2010):
        (split,) = splits_of(demo_dataset, [year])
        runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    listing = runs.table(tmp_path)
    assert sorted(listing["year"]) == [2009, 2010] and set(listing["model"]) == {"popularity"}
    assert runs.clear(tmp_path) == 2
    assert runs.table(tmp_path).empty


def test_no_pickle_in_an_entry(tmp_path, cmf_run):
    folder = runs.save(cmf_run, tmp_path)
    with np.load(folder / "embeddings.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    assert not any(p.suffix in {".pkl", ".pickle", ".pt"} for p in folder.iterdir())


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert runs.cache_dir() == tmp_path / "elsewhere" and (tmp_path / "elsewhere").is_dir()
    assert os.environ[runs.CACHE_DIR_ENV].endswith("elsewhere")


def test_each_test_users_top_50_hits_known_and_sums_are_stored(tmp_path, cmf_run, demo_dataset):
    from explorer import comparison
    from explorer.evaluation import user_contributions

    loaded = runs.load(runs.save(cmf_run, tmp_path).name, tmp_path)
    stored = loaded.lookups
    users = loaded.test_users
    assert stored["top_items"].shape == (len(users), 50)
    assert np.array_equal(stored["top_items"][:, :10], loaded.top_items)  # the top-10 is the top-50's head
    (split,) = splits_of(demo_dataset, [2009])
    held_out = set(map(tuple, split.test[["userID", "artistID"]].to_numpy().tolist()))
    expected = [[(int(u), int(i)) in held_out for i in row] for u, row in zip(users, stored["top_items"], strict=True)]
    assert np.array_equal(stored["hits"], np.array(expected)) and stored["hits"].any()
    assert np.array_equal(stored["known"], loaded.recommender().knows(users)) and not stored["known"].all()
    assert list(stored["metrics"]) == comparison.CI_METRICS  # the metrics the tables show with a CI
    _, num, den = user_contributions(cmf_run.ranks, comparison.CI_METRICS)
    assert np.array_equal(stored["num"], num) and np.array_equal(stored["den"], den)
    recall = comparison.CI_METRICS.index("recall@10")
    assert stored["num"][:, recall].sum() / stored["den"][:, recall].sum() == pytest.approx(
        loaded.metrics["recall"]["10"]
    )


def test_the_runs_own_cis_are_stored_and_equal_the_bootstrap_of_its_ranks(tmp_path, cmf_run):
    from explorer import summaries

    loaded = runs.load(runs.save(cmf_run, tmp_path).name, tmp_path)
    assert loaded.intervals["ci"] == summaries.metric_intervals([cmf_run])
    assert loaded.intervals["resamples"] == 10_000 and loaded.intervals["seed"] == 0
    low, high = loaded.intervals["ci"]["recall"]["10"]
    assert low < loaded.metrics["recall"]["10"] < high


def test_metrics_and_cis_load_without_parsing_ranks_or_embeddings(tmp_path, cmf_run, monkeypatch):
    key = runs.save(cmf_run, tmp_path).name

    def forbidden(*args, **kwargs):
        raise AssertionError("a heavy file was parsed")

    monkeypatch.setattr(pd, "read_parquet", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    loaded = runs.load(key, tmp_path)
    assert loaded.metrics == cmf_run.metrics and loaded.intervals == cmf_run.intervals
    assert loaded.key == key == cmf_run.key and loaded.device == "cpu"
    listed = runs.table(tmp_path)
    assert list(listed["key"]) == [key]
    monkeypatch.undo()
    pd.testing.assert_frame_equal(loaded.ranks, cmf_run.ranks)  # read on first access, then kept
    assert np.array_equal(loaded.top_items, cmf_run.top_items)


def test_a_heavy_file_corrupted_in_place_is_caught_when_read_and_rebuilt(tmp_path, demo_dataset):
    (split,) = splits_of(demo_dataset, [2009])
    first = runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    path = tmp_path / first.key / "ranks.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="corrupted"):
        _ = runs.load(first.key, tmp_path).ranks
    rebuilt = runs.run_for(demo_dataset, split, "popularity", root=tmp_path)
    assert not rebuilt.from_cache and rebuilt.metrics == first.metrics


def test_the_index_parses_each_entry_once_and_sees_other_processes_changes(tmp_path, cmf_run, monkeypatch):
    from explorer import run_index

    key = runs.save(cmf_run, tmp_path).name
    old = os.stat(tmp_path).st_mtime - 60
    os.utime(tmp_path, (old, old))  # a folder last changed a minute ago: its listing can be trusted
    assert list(runs.table(tmp_path)["key"]) == [key]
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(run_index.json, "loads", lambda text: parsed.append(1) or real_loads(text))
    for _ in range(3):
        assert list(runs.table(tmp_path)["key"]) == [key]
    assert parsed == []  # served from the index
    subprocess.run(
        [sys.executable, "-c", f"from explorer import runs; runs.delete({key!r}, runs.Path({str(tmp_path)!r}))"],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    assert runs.table(tmp_path).empty  # another process deleted it
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    runs.save(cmf_run, elsewhere.mkdir() or elsewhere)
    add = (
        "import os, shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2] + '/.tmp-add'); "
        "os.rename(sys.argv[2] + '/.tmp-add', sys.argv[2] + '/' + sys.argv[3])"
    )
    subprocess.run([sys.executable, "-c", add, str(elsewhere / key), str(tmp_path), key], check=True, timeout=120)
    assert list(runs.table(tmp_path)["key"]) == [key]  # another process added it
