"""The command line, run as a user runs it: ``python -m explorer …`` in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from explorer.evaluation import metrics_of
from tests.conftest import REAL_DATA_DIR, needs_real_data

ROOT = Path(__file__).resolve().parents[1]


def explorer(*args: str, cache: Path | None = None, data: str | os.PathLike | None = None):
    env = dict(os.environ)
    if cache is not None:
        env["EXPLORER_CACHE_DIR"] = str(cache)
    if data is not None:
        env["LASTFM_DATA_DIR"] = str(data)
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def assert_one_sentence_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> dict:
    """JSON output and ranks files of popularity and CMF on the real data (three years)."""
    if not REAL_DATA_DIR:
        pytest.skip("LASTFM_DATA_DIR does not point at the data set")
    cache, out = tmp_path_factory.mktemp("cli-cache"), tmp_path_factory.mktemp("cli-out")
    found = {}
    for model in ("popularity", "cmf"):
        done = explorer(
            "evaluate",
            "--model",
            model,
            "--json",
            "--ranks-out",
            str(out / f"{model}.csv"),
            cache=cache,
            data=REAL_DATA_DIR,
        )
        assert done.returncode == 0, done.stderr
        found[model] = (json.loads(done.stdout), pd.read_csv(out / f"{model}.csv"))
    return found


@needs_real_data
def test_json_has_the_notebooks_case_counts(real_runs):
    for result, _ in real_runs.values():
        assert [result["years"][y]["cases"] for y in ("2008", "2009", "2010")] == [4556, 4687, 6133]
        assert [result["years"][y]["mrr_cases"] for y in ("2008", "2009", "2010")] == [2608, 3086, 4306]
        assert set(result) >= {"model", "params", "data", "years", "fit_seconds", "eval_seconds"}
        assert set(result["years"]["2008"]["recall"]) == {"5", "10", "25", "50", "500"}


@needs_real_data
def test_json_metrics_equal_what_the_ranks_file_gives(real_runs):
    for result, ranks in real_runs.values():
        assert list(ranks.columns) == ["user", "item", "ranks", "norm_ranks", "test_year"]
        for year, rows in ranks.groupby("test_year"):
            again = metrics_of(
                rows["ranks"].to_numpy(float), rows["norm_ranks"].to_numpy(float), rows["user"].to_numpy()
            )
            stored = result["years"][str(year)]
            for key in ("recall", "hit_rate", "ndcg"):
                assert again[key] == pytest.approx(stored[key])
            assert again["mrr"] == pytest.approx(stored["mrr"])


@needs_real_data
def test_cmf_beats_popularity_on_recall_at_10_every_year(real_runs):
    cmf, popularity = real_runs["cmf"][0], real_runs["popularity"][0]
    for year in ("2008", "2009", "2010"):
        assert cmf["years"][year]["recall"]["10"] > popularity["years"][year]["recall"]["10"]


@needs_real_data
def test_tables_are_printed(tmp_path):
    done = explorer("evaluate", "--model", "popularity", "--years", "2008", cache=tmp_path, data=REAL_DATA_DIR)
    assert done.returncode == 0, done.stderr
    assert "Recall@K" in done.stdout and "MRR" in done.stdout and "4556" in done.stdout and "2608" in done.stdout
    assert "warm" in done.stdout and "cold" in done.stdout
    assert "using data at" in done.stderr


def test_missing_data_folder_is_one_sentence(tmp_path):
    done = explorer("evaluate", "--model", "popularity", "--data-dir", str(tmp_path / "nope"), cache=tmp_path)
    assert_one_sentence_error(done, "does not exist")


def test_broken_data_file_is_one_sentence(tmp_path, demo_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in demo_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "user_artists.dat").write_text("nonsense\n")
    done = explorer("evaluate", "--model", "popularity", "--data-dir", str(broken), cache=tmp_path)
    assert_one_sentence_error(done, "user_artists.dat")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--years", "1999"], "test year"),
        (["--param", "cmf.k=0"], "k must be between"),
        (["--model", "popularity", "--param", "popularity.k=5"], "popularity has no hyperparameter 'k'"),
        (["--param", "lightgcn.epochs=5"], "not among the models"),
        (["--param", "cmf.k=8", "--param", "cmf.k=9"], "twice"),
        (["--param", "cmf.k"], "MODEL.NAME=VALUE"),
        (["--param", "nope.k=1"], "no model 'nope'"),
        (["--param", "cmf.k=x"], "must be a number"),
    ],
)
def test_bad_parameters_are_one_sentence(tmp_path, demo_dir, args, word):
    model = [] if "--model" in args else ["--model", "cmf"]
    done = explorer("evaluate", *model, "--data-dir", str(demo_dir), *args, cache=tmp_path)
    assert_one_sentence_error(done, word)


def test_cuda_without_a_gpu_is_one_sentence(tmp_path, demo_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = explorer("evaluate", "--model", "lightgcn", "--device", "cuda", "--data-dir", str(demo_dir), cache=tmp_path)
    assert_one_sentence_error(done, "no GPU")


def test_unwritable_ranks_file_is_one_sentence(tmp_path, demo_dir):
    target = str(tmp_path / "no" / "such" / "dir" / "ranks.csv")
    done = explorer(
        "evaluate", "--model", "popularity", "--data-dir", str(demo_dir), "--ranks-out", target, cache=tmp_path
    )
    assert_one_sentence_error(done, "ranks file")


def test_make_demo_data_then_train_list_and_clear(tmp_path):
    demo = tmp_path / "demo"
    assert explorer("make-demo-data", str(demo)).returncode == 0
    cache = tmp_path / "cache"
    done = explorer(
        "-q", "train", "--model", "popularity", "cmf", "--param", "cmf.k=8", "--data-dir", str(demo), cache=cache
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("trained in") == 6
    assert len(list(cache.glob("*/projection-*.npz"))) == 3  # the CMF runs' maps, drawn for the app
    again = explorer(
        "-q", "train", "--model", "popularity", "cmf", "--param", "cmf.k=8", "--data-dir", str(demo), cache=cache
    )
    assert again.stdout.count("cached") == 6
    listing = explorer("runs", "list", cache=cache)
    assert listing.stdout.count("cmf") == 3 and listing.stdout.count("popularity") == 3
    assert "deleted 3" in explorer("runs", "clear", "--model", "cmf", cache=cache).stdout
    assert "deleted 3" in explorer("runs", "clear", cache=cache).stdout
    assert "no cached runs" in explorer("runs", "list", cache=cache).stdout


def test_evaluate_json_is_exactly_one_object(tmp_path, demo_dir):
    done = explorer(
        "evaluate",
        "--model",
        "cmf",
        "--param",
        "cmf.k=8",
        "--param",
        "cmf.reg=1",
        "--json",
        "--data-dir",
        str(demo_dir),
        cache=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # fails if anything else is on stdout
    assert result["model"] == "cmf" and all(params["k"] == 8 for params in result["params_by_year"].values())
    assert all(seconds >= 0 for seconds in result["fit_seconds"].values())
    assert set(result["years"]) == {"2008", "2009", "2010"}


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory, demo_dir) -> Path:
    """popularity and CMF (k=8, seeds 1 and 2) on the demo data, trained once for the compare tests."""
    cache = tmp_path_factory.mktemp("compare-cache")
    done = explorer(
        "-q",
        "train",
        "--model",
        "popularity",
        "cmf",
        "--param",
        "cmf.k=8",
        "--no-maps",
        "--data-dir",
        str(demo_dir),
        cache=cache,
    )
    assert done.returncode == 0, done.stderr
    return cache


def test_evaluate_json_has_cis_cohorts_beyond_and_seeds(demo_cache, demo_dir):
    done = explorer(
        "evaluate",
        "--model",
        "cmf",
        "--param",
        "cmf.k=8",
        "--seeds",
        "1",
        "2",
        "--json",
        "--data-dir",
        str(demo_dir),
        cache=demo_cache,
    )
    assert done.returncode == 0, done.stderr
    year = json.loads(done.stdout)["years"]["2009"]
    assert set(year["ci"]["recall"]) == {"5", "10", "25", "50", "500"} and "10" in year["ci"]["ndcg"]
    low, high = year["ci"]["mrr"]
    assert low <= year["mrr"] <= high
    assert set(year["cohorts"]) == {"activity", "mainstream", "social"}
    assert set(year["cohorts"]["activity"]) == {"cold", "light", "medium", "heavy"}
    assert set(year["cohorts"]["mainstream"]) == {"low", "mid", "high"}
    assert set(year["cohorts"]["social"]) == {"none", "few", "many"}
    light = year["cohorts"]["activity"]["light"]
    assert {"users", "cases", "recall", "mrr", "mrr_cases", "ci"} <= set(light)
    assert sum(c["cases"] for c in year["cohorts"]["activity"].values()) == year["cases"]
    assert set(year["beyond"]) == {"coverage", "novelty", "arp", "long_tail_share", "gini", "diversity"}
    assert year["beyond"]["coverage"] == pytest.approx(year["coverage"]["10"])
    seeds = year["seeds"]
    assert len(seeds["values"]["recall@10"]) == 2 and len(seeds["values"]["mrr"]) == 2
    assert seeds["mean"]["mrr"] == pytest.approx(sum(seeds["values"]["mrr"]) / 2)
    assert seeds["mean"]["recall@10"] == pytest.approx(year["recall"]["10"])
    assert seeds["sd"]["mrr"] >= 0


def test_compare_json_is_one_object_of_the_issue_shape(demo_cache, demo_dir):
    done = explorer(
        "compare",
        "--models",
        "cmf",
        "popularity",
        "--param",
        "cmf.k=8",
        "--years",
        "2009",
        "2010",
        "--metrics",
        "recall@10",
        "mrr",
        "ndcg@10",
        "--resamples",
        "2000",
        "--json",
        "--data-dir",
        str(demo_dir),
        cache=demo_cache,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["metrics"] == ["recall@10", "mrr", "ndcg@10"] and result["resamples"] == 2000
    assert result["confidence"] == 0.95 and result["test"] == "signflip" and "sign-flip" in result["test_name"]
    assert set(result["years"]) == {"2009", "2010"}
    block = result["years"]["2010"]
    entry = block["models"]["cmf"]["recall@10"]
    assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]
    assert len(block["pairs"]) == 3
    pair = block["pairs"][0]
    assert (pair["a"], pair["b"]) == ("cmf", "popularity")
    assert pair["diff"] == pytest.approx(entry["value"] - block["models"]["popularity"]["recall@10"]["value"])
    assert 2 / (pair["patterns"] + 1) <= pair["p"] <= pair["p_adjusted"] <= 1
    assert isinstance(pair["p_is_bound"], bool) and len(pair["ci_adjusted"]) == 2
    assert len(result["verdicts"]) == 3 and all("cmf" in v and "popularity" in v for v in result["verdicts"])
    assert result["family"]["tests"] == 2 * 3 and result["years"]["2010"]["missing"] == []


def test_compare_reads_the_cache_and_prints_tables_and_verdicts(demo_cache, demo_dir):
    args = ["--models", "popularity", "cmf", "--param", "cmf.k=8", "--data-dir", str(demo_dir)]
    done = explorer("compare", *args, cache=demo_cache)
    assert done.returncode == 0, done.stderr
    assert "Recall@10" in done.stdout and "Holm p" in done.stdout and "Verdicts" in done.stdout
    assert "trained" not in done.stderr.lower()
    tidy = explorer("compare", *args, "--csv", cache=demo_cache)
    rows = pd.read_csv(io.StringIO(tidy.stdout))
    assert {"year", "model", "metric", "value", "ci_low", "ci_high", "p_vs_best", "group"} <= set(rows.columns)
    assert len(rows) == 3 * 2 * 2 and rows["value"].dtype == float  # years × models × metrics
    tukey = explorer("compare", *args, "--test", "tukey", "--json", cache=demo_cache)
    assert json.loads(tukey.stdout)["test"] == "tukey"


def test_compare_help_fits_on_one_screen():
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "compare", "--help"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) <= 40 and "--param" in done.stdout
    listing = explorer("train", "--param", "list")
    assert listing.returncode == 0 and "ease.reg" in listing.stdout and "lightgcn.epochs" in listing.stdout


def test_evaluate_writes_per_user_results_with_cohorts(demo_cache, demo_dir, tmp_path):
    target = tmp_path / "users.csv"
    args = ["--model", "cmf", "--param", "cmf.k=8", "--per-user-out", str(target), "--json", "--data-dir"]
    done = explorer("evaluate", *args, str(demo_dir), cache=demo_cache)
    assert done.returncode == 0, done.stderr
    rows, metrics = pd.read_csv(target), json.loads(done.stdout)["years"]
    assert {"user", "year", "cases", "hits@10", "rr_sum", "activity", "mainstream", "social"} <= set(rows.columns)
    for year, part in rows.groupby("year"):
        assert part["hits@10"].sum() / part["cases"].sum() == pytest.approx(metrics[str(year)]["recall"]["10"])
        assert part["rr_sum"].sum() / part["rr_cases"].sum() == pytest.approx(metrics[str(year)]["mrr"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--models", "cmf", "--metrics", "mrr"], ["at least two"]),
        (["--models", "cmf", "cmf"], ["at least two"]),
        (["--models", "cmf", "popularity", "--metrics", "precision@10"], ["no metric", "recall@K"]),
        (["--models", "cmf", "popularity", "--metrics", "recall@0"], ["whole number"]),
        (["--models", "cmf", "popularity", "--resamples", "5"], ["--resamples"]),
        (["--models", "cmf", "popularity", "--seeds", "1", "--param", "cmf.seed=2"], ["--seeds"]),
    ],
)
def test_compare_errors_are_one_sentence(tmp_path, demo_dir, args, words):
    done = explorer("compare", *args, "--data-dir", str(demo_dir), cache=tmp_path)
    assert_one_sentence_error(done, *words)


def test_a_seedless_model_says_it_does_not_depend_on_a_seed(demo_cache, demo_dir):
    done = explorer(
        "evaluate",
        "--model",
        "popularity",
        "--seeds",
        "1",
        "2",
        "--years",
        "2010",
        "--json",
        "--data-dir",
        str(demo_dir),
        cache=demo_cache,
    )
    assert done.returncode == 0, done.stderr
    seeds = json.loads(done.stdout)["years"]["2010"]["seeds"]
    assert seeds["depends_on_seed"] is False and "does not depend on a seed" in seeds["note"]
    assert len(seeds["values"]["mrr"]) == 1


def test_seeds_reach_an_ensembles_members(tmp_path, demo_dir):
    """lightgcn-ease has no ``seed`` of its own: ``--seeds`` sets its members' (``gcn_seed``), one run each."""
    args = ["--model", "lightgcn-ease", "--param", "lightgcn-ease.gcn_epochs=2", "--years", "2010", "--seeds", "0", "1"]
    done = explorer("evaluate", *args, "--json", "--data-dir", str(demo_dir), cache=tmp_path)
    assert done.returncode == 0, done.stderr
    seeds = json.loads(done.stdout)["years"]["2010"]["seeds"]
    assert seeds["depends_on_seed"] is True and seeds["seeds"] == [0, 1] and len(seeds["values"]["mrr"]) == 2
    listed = json.loads(explorer("runs", "list", "--json", cache=tmp_path).stdout)
    assert sorted((run["seed"], run["params"]["gcn_seed"]) for run in listed) == [(0, 0), (1, 1)]
