"""Cohort assignment on a tiny hand-built split, and per-cohort metrics with CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohorts import COHORTS, assign, cohort_metrics
from explorer.protocol import Split


def rows(pairs: list[tuple[int, int]], year: int) -> pd.DataFrame:
    users, artists = zip(*pairs, strict=True)
    return pd.DataFrame({"userID": users, "artistID": artists, "weight": 1, "timestamp": 0, "year": year})


@pytest.fixture
def split() -> Split:
    # train: user 1 has 1 artist, user 2 has 6, user 3 has 21, user 4 has 3; user 5 has none (cold)
    # artist popularity: 100 → 4 users (1, 2, 3, 4); 101..105 → user 2 and 3; the rest → one user each
    train = [(1, 100), (4, 100), (4, 300), (4, 301)]
    train += [(2, 100), *((2, a) for a in range(101, 106))]
    train += [(3, 100), *((3, a) for a in range(101, 106)), *((3, a) for a in range(200, 215))]
    test = [(u, 999) for u in (1, 2, 3, 4, 5)]
    train_rows = rows(train, 2007)
    return Split(2008, train_rows, rows(test, 2008), np.unique(train_rows["artistID"]))


def test_activity_cohorts_count_train_artists(split):
    cohorts = assign(split, pd.DataFrame({"userID": [], "friendID": []}, dtype=int))
    assert cohorts["activity"].to_dict() == {1: "light", 2: "medium", 3: "heavy", 4: "light", 5: "cold"}


def test_mainstream_terciles_of_mean_train_popularity_leave_out_cold_users(split):
    # mean popularity: user 1 → 4 (artist 100); user 2 → (4 + 5·2)/6 = 2.33; user 3 → (4 + 10 + 15)/21 = 1.38;
    # user 4 → (4 + 1 + 1)/3 = 2.0 → order 3 < 4 < 2 < 1; four users in three quantile bins of their ranks
    # (edges at ranks 2 and 3): low 3, 4; mid 2; high 1
    cohorts = assign(split, pd.DataFrame({"userID": [], "friendID": []}, dtype=int))
    assert cohorts["mainstream"].to_dict() == {1: "high", 2: "mid", 3: "low", 4: "low", 5: ""}


def test_social_cohorts_count_friends_with_train_rows(split):
    # user 5 (cold) has friends 1..4 with train rows and 77 without: few; user 1 has 6 trained friends: many
    friends = [(5, f) for f in (1, 2, 3, 4, 77)] + [(1, f) for f in (2, 3, 4, 5, 6, 7, 8)]
    friends += [(f, 2) for f in (6, 7, 8)]  # listed for 6, 7, 8 only: 2's own list is empty
    table = pd.DataFrame(friends, columns=["userID", "friendID"])
    split6 = Split(
        2008,
        pd.concat([split.train, rows([(6, 100), (7, 100), (8, 100)], 2007)], ignore_index=True),
        split.test,
        split.items,
    )
    cohorts = assign(split6, table)
    # user 1's friends with train rows: 2, 3, 4, 6, 7, 8 (5 is cold) → 6 → many
    assert cohorts["social"].to_dict() == {1: "many", 2: "none", 3: "none", 4: "none", 5: "few"}


def test_cohort_metrics_split_the_rows_and_give_cis(split):
    cohorts = assign(split, pd.DataFrame({"userID": [], "friendID": []}, dtype=int))
    ranked = pd.DataFrame(
        {
            "user": [1, 1, 2, 3, 4, 5, 5],
            "ranks": [1.0, 50.0, 3.0, np.nan, 20.0, 2.0, 9.0],
            "norm_ranks": [1.0, 49.0, 3.0, np.nan, 20.0, 2.0, 8.0],
        }
    )
    result = cohort_metrics(ranked, cohorts, resamples=500)
    assert set(result) == set(COHORTS)
    light = result["activity"]["light"]  # users 1 and 4: rows rank 1, 50, 20 → R@10 = 1/3
    assert (light["users"], light["cases"], light["mrr_cases"]) == (2, 3, 3)
    assert light["recall"]["10"] == pytest.approx(1 / 3)
    assert light["mrr"] == pytest.approx((1 + 1 / 49 + 1 / 20) / 3)
    low, high = light["ci"]["recall"]["10"]
    assert 0 <= low <= light["recall"]["10"] <= high <= 1
    cold = result["activity"]["cold"]
    assert (
        cold["recall"]["10"] == 1.0 and cold["ci"]["mrr"] == [pytest.approx((1 / 2 + 1 / 8) / 2)] * 2
    )  # one user: every draw is the same
    assert result["social"]["many"]["users"] == 0 and result["social"]["many"]["recall"]["10"] is None
    assert sum(result["mainstream"][c]["users"] for c in COHORTS["mainstream"]) == 4  # cold user left out
