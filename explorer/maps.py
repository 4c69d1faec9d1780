"""Labels for the points of an embedding map: names, top tags and popularity of users and artists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.data import Dataset
from explorer.protocol import Split
from explorer.recommend import artist_names


def top_tags(tagged: pd.DataFrame, tags: pd.DataFrame, by: str) -> pd.Series:
    """The most used tag (name) per ``by`` (``"artistID"`` or ``"userID"``); ties go to the lower tag id."""
    counts = tagged.groupby([by, "tagID"]).size().rename("uses").reset_index()
    best = counts.sort_values([by, "uses", "tagID"], ascending=[True, False, True]).drop_duplicates(by)
    names = tags.set_index("tagID")["tagValue"]
    return pd.Series(names.reindex(best["tagID"]).fillna("?").to_numpy(), index=best[by].to_numpy(), name="top_tag")


def describe_points(dataset: Dataset, split: Split, coordinates: pd.DataFrame) -> pd.DataFrame:
    """Add ``name, top_tag, popularity`` to a projection's ``node, id, x, y`` rows.

    Tags are counted over the assignments dated before the test year (what the model could know);
    popularity is the artist's number of train interactions, or the user's number of train artists.
    """
    before = pd.Timestamp(split.year, 1, 1).value // 1_000_000
    known = dataset.tagged[dataset.tagged["timestamp"] < before]
    table = coordinates.copy()
    artists = table["node"] == "artist"
    users = ~artists
    table["name"] = ""
    table.loc[artists, "name"] = artist_names(dataset, table.loc[artists, "id"].to_numpy())["name"].to_numpy()
    table.loc[users, "name"] = [f"user {i}" for i in table.loc[users, "id"]]
    artist_tags, user_tags = top_tags(known, dataset.tags, "artistID"), top_tags(known, dataset.tags, "userID")
    table["top_tag"] = np.where(
        artists,
        artist_tags.reindex(table["id"]).fillna("(untagged)").to_numpy(),
        user_tags.reindex(table["id"]).fillna("(untagged)").to_numpy(),
    )
    artist_counts = split.train.groupby("artistID").size()
    user_counts = split.train.groupby("userID").size()
    table["popularity"] = np.where(
        artists,
        artist_counts.reindex(table["id"]).fillna(0).to_numpy(),
        user_counts.reindex(table["id"]).fillna(0).to_numpy(),
    ).astype(int)
    return table
