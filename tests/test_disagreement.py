"""Disagreement read from stored lists: A hits where B misses, overlap per cohort, identical lists merged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explorer import disagreement, recommend, runs
from explorer.errors import ParameterError
from explorer.evaluation import seen_pairs, top_k
from explorer.training import splits_of

SETTINGS = {"popularity": {}, "friends-pop": {}, "itemknn": {}, "als": {"factors": 8, "iterations": 5}}


@pytest.fixture(scope="module")
def split(demo_dataset):
    return splits_of(demo_dataset, [2010])[0]


@pytest.fixture(scope="module")
def year_runs(tmp_path_factory, demo_dataset, split):
    cache = tmp_path_factory.mktemp("disagreement-cache")
    return {model: runs.run_for(demo_dataset, split, model, params, root=cache) for model, params in SETTINGS.items()}


def test_stored_lists_are_the_lists_the_model_scores(year_runs, split):
    run = year_runs["als"]
    users = run.test_users[::7]
    scores = run.recommender().score(users)
    columns = top_k(scores, seen_pairs(split, users), 10)
    np.testing.assert_array_equal(recommend.top_lists(run, split, users, 10), split.items[columns])
    np.testing.assert_array_equal(disagreement.stored_lists(run, users), split.items[columns])


def test_a_hits_where_b_misses_sorted_by_the_difference(year_runs, split):
    a, b = year_runs["friends-pop"], year_runs["popularity"]
    table = disagreement.hits_and_misses(a, b, split, limit=None)
    assert len(table) > 0 and (table["difference"] > 0).all()
    assert (table["difference"] == table["hits_a"] - table["hits_b"]).all()
    assert table["difference"].is_monotonic_decreasing
    for run, column in ((a, "hits_a"), (b, "hits_b")):  # hits@10 as the evaluator counted them
        hits = (run.ranks["ranks"] <= 10).groupby(run.ranks["user"]).sum()
        assert (table[column].to_numpy() == hits.reindex(table["user"]).to_numpy()).all()
    assert len(disagreement.hits_and_misses(a, b, split, limit=3)) == 3
    assert disagreement.hits_and_misses(a, a, split).empty
    older = dataclasses.replace(b, year=2009)
    with pytest.raises(ParameterError, match="not 2010"):
        disagreement.hits_and_misses(a, older, split)


def test_cold_users_get_one_fallback_list_from_models_that_do_not_know_them(year_runs, split, demo_dataset):
    chosen = list(year_runs.values())
    table = disagreement.cohort_overlap(chosen, split, demo_dataset.friends)
    assert set(table["family"]) == {"activity", "social"}
    assert table[["mean_overlap", "least_overlap", "most_overlap"]].stack().between(0, 1).all()
    cold = table[(table["family"] == "activity") & (table["cohort"] == "cold")].iloc[0]
    assert cold["most_overlap"] == 1.0  # popularity, itemknn and als all fall back to popularity
    overlap = disagreement.pair_overlap(chosen, np.asarray(split.cold_users()))
    assert (overlap["popularity | itemknn"] == 1.0).all() and (overlap["popularity | als"] == 1.0).all()
