"""Summaries of a data set for the Overview page and the CLI: sizes, interactions per year, splits."""

from __future__ import annotations

import pandas as pd

from explorer.data import Dataset
from explorer.protocol import DEFAULT_YEARS, split_summary
from explorer.training import interactions_of, splits_of


def counts(dataset: Dataset) -> dict[str, int]:
    """Sizes of the raw tables and of the notebook's interaction table."""
    return {
        "users": int(dataset.user_artists["userID"].nunique()),
        "artists": len(dataset.artists),
        "listening pairs": len(dataset.user_artists),
        "tag assignments": len(dataset.tagged),
        "friend pairs": len(dataset.friends) // 2,
        "interactions (protocol)": len(interactions_of(dataset)),
    }


def interactions_per_year(dataset: Dataset) -> pd.DataFrame:
    """``year, interactions`` of the protocol's table."""
    per_year = interactions_of(dataset)["year"].value_counts().sort_index()
    return per_year.rename_axis("year").reset_index(name="interactions")


def splits_table(dataset: Dataset, years: tuple[int, ...] = DEFAULT_YEARS) -> pd.DataFrame:
    """One row per test year: train/test sizes, cold users, and the share of unseen artists."""
    return pd.DataFrame([split_summary(split) for split in splits_of(dataset, years)])
