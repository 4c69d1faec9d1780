from __future__ import annotations

import pandas as pd
import pytest

from explorer.errors import ParameterError
from explorer.protocol import build_interactions, check_years, forward_chaining_split, split_summary
from explorer.training import interactions_of, splits_of

MS_2009 = 1230764400000  # 2009-01-01 local midnight in Madrid, as UTC ms


def test_pair_keeps_smallest_tag_with_its_earliest_time_and_drops_old_rows():
    tagged = pd.DataFrame(
        {
            "userID": [1, 1, 1, 1, 2, 3],
            "artistID": [10, 10, 10, 11, 10, 10],
            "tagID": [5, 3, 3, 1, 1, 1],
            # pair (1,10): tag 3 earliest at +2 days; tag 5 is earlier still but not the smallest tag id
            "timestamp": [
                MS_2009 - 10**9,
                MS_2009 + 3 * 86400000,
                MS_2009 + 2 * 86400000,
                MS_2009,
                MS_2009,
                0,
            ],  # user 3's row is dated 1970: dropped
        }
    )
    user_artists = pd.DataFrame({"userID": [1, 1, 3], "artistID": [10, 11, 10], "weight": [7, 8, 9]})
    table = build_interactions(tagged, user_artists)
    assert table[["userID", "artistID", "tagID", "weight"]].values.tolist() == [[1, 10, 3, 7], [1, 11, 1, 8]]
    assert table["timestamp"].tolist() == [MS_2009 + 2 * 86400000, MS_2009]
    assert table["year"].tolist() == [2009, 2008]  # local midnight of 1 Jan 2009 is still 2008 in UTC


def test_real_data_gives_the_notebooks_counts(real_dataset):
    assert len(interactions_of(real_dataset)) == 20664
    summaries = [split_summary(s) for s in splits_of(real_dataset, [2008, 2009, 2010])]
    assert [s["test_rows"] for s in summaries] == [4556, 4687, 6133]
    assert [s["rankable_rows"] for s in summaries] == [2608, 3086, 4306]
    assert all(0.55 < s["cold_row_share"] < 0.65 for s in summaries)


def test_split_is_forward_chaining(demo_dataset):
    table = interactions_of(demo_dataset)
    split = forward_chaining_split(table, 2009)
    assert split.train["year"].max() < 2009 and (split.test["year"] == 2009).all()
    assert set(split.items) == set(split.train["artistID"])
    ordered = split.test.sort_values(["userID", "timestamp"], kind="stable")
    assert split.test.equals(ordered.reset_index(drop=True))
    train_set = split.train_set(demo_dataset.friends)
    assert (train_set.items[train_set.item_idx] == split.train["artistID"].to_numpy()).all()
    assert (train_set.users[train_set.user_idx] == split.train["userID"].to_numpy()).all()


@pytest.mark.parametrize("years", [[1999], [2005], [], [2030]])
def test_impossible_test_years_are_refused(demo_dataset, years):
    with pytest.raises(ParameterError):
        check_years(years, interactions_of(demo_dataset))
