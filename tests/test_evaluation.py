"""Metrics against hand-computed values; 1-based ranks are written in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from explorer.evaluation import compute_ranks, evaluate, metrics_of, ndcg, top_k
from explorer.protocol import Split

NO_SEEN = (np.array([], dtype=int), np.array([], dtype=int))


def test_rank_skips_seen_items_and_breaks_ties_by_column():
    scores = np.array([[0.9, 0.5, 0.5, 0.8, 0.1]])
    seen = (np.array([0]), np.array([0]))  # item 0 is in the user's train: removed from the list
    # remaining order: item3 (0.8) → 1, item1 (0.5) → 2, item2 (0.5, tie, later column) → 3, item4 → 4
    ranks, _ = compute_ranks(scores, seen, np.array([0, 0, 0]), np.array([2, 1, 4]))
    assert ranks.tolist() == [3, 2, 4]


def test_norm_ranks_remove_earlier_found_artists():
    scores = np.array([[0.1, 0.9, 0.8, 0.7, 0.6], [0.5, 0.4, 0.3, 0.2, 0.1]])
    # user 0's test artists in timestamp order: item3 (rank 3), item1 (rank 1), unranked, item2 (rank 2)
    # norm: item3 → 3; item1 → 1 (item3 ranked below it); item2 → 2 - 1 (item1 above it, already removed)
    # user 1: item4 (rank 5) → 5, item0 (rank 1) → 1
    rows = np.array([0, 0, 0, 0, 1, 1])
    cols = np.array([3, 1, -1, 2, 4, 0])
    ranks, norm = compute_ranks(scores, NO_SEEN, rows, cols)
    assert np.array_equal(ranks, [3, 1, np.nan, 2, 5, 1], equal_nan=True)
    assert np.array_equal(norm, [3, 1, np.nan, 1, 5, 1], equal_nan=True)


def test_metrics_count_unranked_rows_as_misses():
    ranks = np.array([1.0, 7.0, np.nan, 30.0])
    norm = np.array([1.0, 6.0, np.nan, 30.0])
    users = np.array([1, 1, 1, 2])
    result = metrics_of(ranks, norm, users)
    assert result["cases"] == 4 and result["mrr_cases"] == 3
    assert result["recall"]["5"] == 0.25 and result["recall"]["10"] == 0.5 and result["recall"]["50"] == 0.75
    assert result["hit_rate"]["5"] == 0.25
    assert result["mrr"] == pytest.approx((1 + 1 / 6 + 1 / 30) / 3)


def test_ndcg_by_hand():
    # user 1: relevant rows at ranks 1 and 3, plus an unranked one → DCG = 1 + 1/log2(4) = 1.5,
    # ideal (3 relevant) = 1 + 1/log2(3) + 1/log2(4); user 2: rank 2 → (1/log2(3)) / 1
    ranks = np.array([1.0, 3.0, np.nan, 2.0])
    users = np.array([1, 1, 1, 2])
    ideal = 1 + 1 / math.log2(3) + 0.5
    expected = (1.5 / ideal + 1 / math.log2(3)) / 2
    assert ndcg(ranks, users, 10) == pytest.approx(expected)
    assert ndcg(ranks, users, 1) == pytest.approx((1.0 / 1.0 + 0.0) / 2)


def test_top_k_matches_full_ranking():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(7, 40)).astype(float)  # many ties
    seen = (np.array([0, 0, 3]), np.array([5, 6, 7]))
    top = top_k(scores, seen, 10)
    for user in range(7):
        rows = np.full(40, user)
        ranks, _ = compute_ranks(scores, seen, rows, np.arange(40))
        expected = [c for c in np.argsort(ranks, kind="stable") if not ((seen[0] == user) & (seen[1] == c)).any()]
        assert top[user].tolist() == expected[:10]


def test_evaluate_on_a_tiny_split_gives_known_ranks():
    train = pd.DataFrame(
        {"userID": [1, 1, 2, 3], "artistID": [10, 20, 20, 30], "weight": 1, "timestamp": 0, "year": 2007}
    )
    test = pd.DataFrame(
        {"userID": [1, 1, 4], "artistID": [30, 99, 20], "weight": 1, "timestamp": [1, 2, 3], "year": 2008}
    )
    split = Split(year=2008, train=train, test=test, items=np.array([10, 20, 30]))

    def popularity(users):  # artist 20 has 2 train rows, 10 and 30 one each
        return np.tile([1.0, 2.0, 1.0], (len(users), 1))

    result = evaluate(popularity, split)
    # user 1 has 10 and 20 in train → list is [30]: rank 1; artist 99 unseen in train → unranked
    # user 4 is cold → list [20, 10, 30]: rank 1
    assert np.array_equal(result.ranks["ranks"].to_numpy(), [1, np.nan, 1], equal_nan=True)
    assert result.ranks["cold"].tolist() == [False, False, True]
    assert result.metrics["recall"]["5"] == pytest.approx(2 / 3)
    assert result.metrics["warm"]["cases"] == 2 and result.metrics["cold"]["cases"] == 1
    assert result.top_items[list(result.test_users).index(4)].tolist() == [20, 10, 30]
    assert result.metrics["coverage"]["10"] == 1.0
