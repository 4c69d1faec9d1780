"""The notebook's interaction table and its forward-chaining splits (pure functions).

See ``shared/data/README.md``: one row per (user, artist) pair that the user both listened to and
tagged, dated by the tag assignment of the pair's smallest tag id; for test year Y, train = rows
dated before Y and test = rows dated in Y.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.errors import ParameterError

DEFAULT_YEARS: tuple[int, ...] = (2008, 2009, 2010)
MIN_YEAR_EXCLUSIVE = 2000  # rows dated 2000 or earlier are dropped (a few are dated 1956-1979)


def build_interactions(tagged: pd.DataFrame, user_artists: pd.DataFrame) -> pd.DataFrame:
    """The notebook's interaction table.

    Args:
        tagged: ``userID, artistID, tagID, timestamp`` (ms, UTC) tag assignments.
        user_artists: ``userID, artistID, weight`` listening counts.

    Returns:
        ``userID, artistID, tagID, weight, timestamp, year`` sorted by (userID, artistID), one row per
        pair: the earliest timestamp of each (user, artist, tag), joined with the listening counts,
        the row of the pair's smallest tagID kept, rows of year <= 2000 dropped.
    """
    keys = ["userID", "artistID", "tagID"]
    earliest = tagged.groupby(keys, as_index=False, sort=True)["timestamp"].min()
    joined = earliest.merge(user_artists, on=["userID", "artistID"], how="inner")
    first = joined.sort_values(keys, kind="stable").drop_duplicates(["userID", "artistID"], keep="first")
    first = first.assign(year=pd.to_datetime(first["timestamp"], unit="ms").dt.year.astype(np.int64))
    first = first[first["year"] > MIN_YEAR_EXCLUSIVE]
    return first[["userID", "artistID", "tagID", "weight", "timestamp", "year"]].reset_index(drop=True)


@dataclass(frozen=True)
class TrainSet:
    """What a model is fitted on: the train interactions as indices, plus side information.

    Attributes:
        users: Sorted ids of the users with train rows; ``user_idx`` indexes it.
        items: Sorted ids of the artists seen in train (the catalogue every model ranks).
        user_idx: Per train interaction, its user's row in ``users``. Shape ``[num_interactions]``.
        item_idx: Per train interaction, its artist's row in ``items``. Shape ``[num_interactions]``.
        weights: Per train interaction, the listening count.
        friends: ``[num_pairs, 2]`` user-id pairs of the friendship snapshot (both directions).
        item_tags: ``[num_assignments, 2]`` (artist row in ``items``, tag id) of every tag assignment on a
            train artist dated before the test year (any user; never the test year itself).
    """

    users: np.ndarray
    items: np.ndarray
    user_idx: np.ndarray
    item_idx: np.ndarray
    weights: np.ndarray
    friends: np.ndarray
    item_tags: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    def item_counts(self) -> np.ndarray:
        """Train interactions per catalogue item (the popularity ranking's scores)."""
        return np.bincount(self.item_idx, minlength=self.num_items)


@dataclass(frozen=True)
class Split:
    """One forward-chaining split: train on years < ``year``, test on ``year``.

    Attributes:
        year: The test year.
        train: Interaction rows dated before ``year``.
        test: Interaction rows dated in ``year``, ordered by user, then timestamp (stable).
        items: Sorted artist ids seen in train: the catalogue that is ranked.
    """

    year: int
    train: pd.DataFrame
    test: pd.DataFrame
    items: np.ndarray

    def train_set(self, friends: pd.DataFrame | None = None, tagged: pd.DataFrame | None = None) -> TrainSet:
        """The split's train rows as a :class:`TrainSet` (with the friendship pairs and tag assignments, if given).

        Args:
            friends: ``userID, friendID`` pairs.
            tagged: ``userID, artistID, tagID, timestamp`` tag assignments; only those dated before the
                test year (and after 2000, like the interactions) on train artists are kept.
        """
        users, user_idx = np.unique(self.train["userID"].to_numpy(), return_inverse=True)
        pairs = (
            np.empty((0, 2), dtype=np.int64)
            if friends is None
            else friends[["userID", "friendID"]].to_numpy(dtype=np.int64)
        )
        return TrainSet(
            users=users,
            items=self.items,
            user_idx=user_idx.astype(np.int64),
            item_idx=np.searchsorted(self.items, self.train["artistID"].to_numpy()).astype(np.int64),
            weights=self.train["weight"].to_numpy(dtype=np.float64),
            friends=pairs,
            item_tags=self.item_tags(tagged),
        )

    def item_tags(self, tagged: pd.DataFrame | None) -> np.ndarray:
        """``[n, 2]`` (artist row in ``items``, tag id) of the assignments dated in (2000, year) on train artists."""
        if tagged is None or not len(tagged) or not len(self.items):
            return np.empty((0, 2), dtype=np.int64)
        year = pd.to_datetime(tagged["timestamp"].to_numpy(), unit="ms").year.to_numpy()
        artists = tagged["artistID"].to_numpy()
        rows = np.minimum(np.searchsorted(self.items, artists), len(self.items) - 1)
        keep = (year > MIN_YEAR_EXCLUSIVE) & (year < self.year) & (self.items[rows] == artists)
        return np.stack([rows[keep], tagged["tagID"].to_numpy()[keep]], axis=1).astype(np.int64)

    def cold_users(self) -> np.ndarray:
        """Sorted ids of test users with no train rows."""
        return np.setdiff1d(self.test["userID"].unique(), self.train["userID"].unique())


def check_years(years: Iterable[int], interactions: pd.DataFrame) -> list[int]:
    """Validate test years: each must have test rows and earlier train rows.

    Raises:
        ParameterError: naming the first year that cannot be a test year.
    """
    chosen = sorted({int(year) for year in years})
    if not chosen:
        raise ParameterError("No test year was given; pick at least one, e.g. 2008 2009 2010.")
    present = set(interactions["year"].unique().tolist())
    first = min(present)
    for year in chosen:
        if year not in present or year <= first:
            usable = ", ".join(str(y) for y in sorted(present) if y > first)
            raise ParameterError(f"{year} cannot be a test year of this data set; choose from {usable}.")
    return chosen


def forward_chaining_split(interactions: pd.DataFrame, year: int) -> Split:
    """The split for test year ``year`` (train: years < ``year``; test: ``year``)."""
    train = interactions[interactions["year"] < year].reset_index(drop=True)
    test = interactions[interactions["year"] == year]
    test = test.sort_values(["userID", "timestamp"], kind="stable").reset_index(drop=True)
    return Split(year=year, train=train, test=test, items=np.unique(train["artistID"].to_numpy()))


def split_summary(split: Split) -> dict[str, float | int]:
    """Sizes of one split and the shares that bound what any model can reach."""
    cold = np.isin(split.test["userID"].to_numpy(), split.cold_users())
    unseen = ~np.isin(split.test["artistID"].to_numpy(), split.items)
    return {
        "test_year": split.year,
        "train_rows": len(split.train),
        "train_users": int(split.train["userID"].nunique()),
        "train_artists": len(split.items),
        "test_rows": len(split.test),
        "test_users": int(split.test["userID"].nunique()),
        "cold_users": len(split.cold_users()),
        "cold_row_share": float(cold.mean()) if len(cold) else 0.0,
        "unseen_artist_share": float(unseen.mean()) if len(unseen) else 0.0,
        "rankable_rows": int((~unseen).sum()),
    }
