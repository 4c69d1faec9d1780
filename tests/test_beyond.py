"""Each beyond-accuracy metric on a hand-built list."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from explorer.beyond import beyond_metrics, gini, head_items, list_diversity, tags_before

ITEMS = np.array([10, 20, 30, 40, 50])
COUNTS = np.array([8, 4, 2, 1, 1])  # 16 train interactions
TAGS = pd.DataFrame({"artistID": [10, 10, 20, 30, 30, 40], "tagID": [1, 2, 1, 3, 4, 3]})


def test_novelty_arp_coverage_and_long_tail_by_hand():
    lists = np.array([[10, 20], [10, 30]])
    result = beyond_metrics(lists, ITEMS, COUNTS, TAGS)
    # self-information: 10 → -log2(8/16) = 1, 20 → 2, 30 → 3; mean over the 4 entries (1 + 2 + 1 + 3) / 4
    assert result["novelty"] == pytest.approx(7 / 4)
    assert result["arp"] == pytest.approx(((8 + 4) / 2 + (8 + 2) / 2) / 2)
    assert result["coverage"] == pytest.approx(3 / 5)
    # the head is the ceil(20% of 5) = 1 most popular artist (10): 2 of 4 entries are outside it
    assert result["long_tail_share"] == pytest.approx(0.5)


def test_gini_by_hand():
    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n - 1) / n for one artist taking everything
    # exposure of the lists above over the catalogue: [2, 1, 1, 0, 0]
    assert beyond_metrics(np.array([[10, 20], [10, 30]]), ITEMS, COUNTS, TAGS)["gini"] == pytest.approx(
        gini(np.array([2, 1, 1, 0, 0]))
    )
    # sorted x = 0, 0, 1, 1, 2; weights 2i - n - 1 = -4, -2, 0, 2, 4: (0·1 + 2·1 + 4·2) = 10 over n·sum = 5·4
    assert gini(np.array([2, 1, 1, 0, 0])) == pytest.approx(0.5)


def test_diversity_is_the_mean_pairwise_tag_jaccard_distance():
    # list 1: 10 {1, 2} vs 20 {1}: J = 1/2 → distance 1/2
    # list 2: 10 {1, 2}, 30 {3, 4}, 40 {3}: distances 1, 1, 1 - 1/2 → mean 5/6
    lists = np.array([[10, 20, -1], [10, 30, 40]])
    assert list_diversity(lists, TAGS) == pytest.approx((0.5 + 5 / 6) / 2)
    # 50 has no tag: pairs with it still count against tagged artists (distance 1); a list of untagged artists
    # has no pair to count and is left out
    assert list_diversity(np.array([[10, 50], [50, 50]]), TAGS) == pytest.approx(1.0)


def test_tags_after_the_test_year_start_are_ignored():
    stamp = {year: int(pd.Timestamp(f"{year}-01-01", tz="UTC").value // 1_000_000) for year in (2008, 2009)}
    tagged = pd.DataFrame(
        {
            "userID": [1, 2, 3],
            "artistID": [10, 10, 20],
            "tagID": [1, 1, 2],
            "timestamp": [stamp[2008] - 1, stamp[2008] - 5, stamp[2009]],
        }
    )
    assert tags_before(tagged, 2009).to_dict("list") == {"artistID": [10], "tagID": [1]}
    assert tags_before(tagged, 2010)["tagID"].tolist() == [1, 2]


def test_head_ties_break_by_id_and_empty_lists_give_zeros():
    assert head_items(np.array([1, 2, 3, 4, 5, 6]), np.array([5, 5, 1, 1, 1, 9])).tolist() == [6, 1]
    result = beyond_metrics(np.full((2, 3), -1), ITEMS, COUNTS, TAGS)
    assert set(result.values()) == {0.0}
    assert not math.isnan(beyond_metrics(np.array([[10, -1]]), ITEMS, COUNTS, TAGS)["diversity"])
