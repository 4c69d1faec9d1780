"""One user's view of the runs: history, held-out artists, top-N lists, ranks of the held-out artists, overlap.

The top-N lists use the evaluator's own rule (:func:`explorer.evaluation.top_k`: train artists
removed, ties broken by artist id), so a list shown in the app is exactly what was evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.data import Dataset
from explorer.evaluation import seen_pairs, top_k
from explorer.protocol import Split
from explorer.training import Run


def artist_names(dataset: Dataset, ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """``artistID, name, url`` for ``ids`` (in that order); unknown ids get a placeholder name."""
    ids = np.asarray(ids, dtype=np.int64)
    known = dataset.artists["id"].to_numpy()
    order = np.argsort(known, kind="stable")  # a lookup by sorted id: no index built on every call
    at = np.minimum(np.searchsorted(known, ids, sorter=order), len(known) - 1)
    rows = order[at]
    found = known[rows] == ids
    names = dataset.artists["name"].to_numpy()[rows]
    urls = dataset.artists["url"].to_numpy()[rows]
    return pd.DataFrame(
        {
            "artistID": ids,
            "name": np.where(found, names, np.array([f"artist {i}" for i in ids], dtype=object)),
            "url": np.where(found, urls, ""),
        }
    )


def user_options(split: Split) -> pd.DataFrame:
    """The test users of a split: ``user, train_artists, test_artists, cold``, most test artists first."""
    train = split.train.groupby("userID").size()
    test = split.test.groupby("userID").size()
    table = pd.DataFrame({"test_artists": test}).join(train.rename("train_artists")).fillna(0)
    table = table.astype(int).rename_axis("user").reset_index()
    table["cold"] = table["train_artists"] == 0
    return table.sort_values(["test_artists", "user"], ascending=[False, True], ignore_index=True)


def user_history(dataset: Dataset, split: Split, user: int) -> pd.DataFrame:
    """The user's train artists: ``artistID, name, url, listens, year``, most listened first."""
    rows = split.train[split.train["userID"] == user]
    named = artist_names(dataset, rows["artistID"].to_numpy())
    named["listens"] = rows["weight"].to_numpy()
    named["year"] = rows["year"].to_numpy()
    return named.sort_values("listens", ascending=False, ignore_index=True)


def user_top_tags(dataset: Dataset, split: Split, user: int, n: int = 8) -> pd.DataFrame:
    """The tags the user assigned before the test year, most used first: ``tag, uses``."""
    before = pd.Timestamp(split.year, 1, 1).value // 1_000_000
    tagged = dataset.tagged
    mine = tagged[(tagged["userID"] == user) & (tagged["timestamp"] < before)]
    counts = mine["tagID"].value_counts().head(n)
    names = dataset.tags.set_index("tagID")["tagValue"].reindex(counts.index)
    return pd.DataFrame({"tag": names.fillna("?").to_numpy(), "uses": counts.to_numpy()})


def held_out(dataset: Dataset, split: Split, user: int) -> pd.DataFrame:
    """The user's test artists in timestamp order: ``artistID, name, url, date, rankable``."""
    rows = split.test[split.test["userID"] == user]
    named = artist_names(dataset, rows["artistID"].to_numpy())
    named["date"] = pd.to_datetime(rows["timestamp"].to_numpy(), unit="ms").date
    named["rankable"] = np.isin(rows["artistID"].to_numpy(), split.items)
    return named


def _top_ids(scores: np.ndarray, split: Split, users: np.ndarray, n: int) -> np.ndarray:
    """Artist ids ``[len(users), n]`` of the best ``n`` per row of ``scores`` (sorted ``users``; -1 pads)."""
    columns = top_k(scores, seen_pairs(split, users), n)
    return np.where(columns >= 0, split.items[np.maximum(columns, 0)], -1)


def top_lists(run: Run, split: Split, users: np.ndarray, n: int = 10) -> np.ndarray:
    """Artist ids ``[len(users), n]`` of each user's top-n list under ``run`` (-1 pads a short list).

    Test users' lists up to the stored length are read from ``run.top_items`` (the evaluated lists, no
    scoring); other lists are computed with the evaluator's rule.
    """
    users = np.asarray(users, dtype=np.int64)
    rows = np.minimum(np.searchsorted(run.test_users, users), max(len(run.test_users) - 1, 0))
    if n <= run.top_items.shape[1] and len(run.test_users) and (run.test_users[rows] == users).all():
        return run.top_items[rows, :n].copy()
    order = np.argsort(users)
    ids = _top_ids(run.recommender().score(users[order]), split, users[order], n)
    result = np.empty_like(ids)
    result[order] = ids
    return result


def held_out_ranks(runs: Sequence[Run], user: int) -> pd.DataFrame:
    """Rank of each held-out artist of ``user`` under each run: ``artistID`` + one column per model."""
    frames = []
    for run in runs:
        rows = run.ranks[run.ranks["user"] == user]
        frames.append(rows.set_index("item")["ranks"].rename(run.model))
    if not frames:
        return pd.DataFrame(columns=["artistID"])
    return pd.concat(frames, axis=1).rename_axis("artistID").reset_index()


def overlap(lists: dict[str, Sequence[int]]) -> pd.DataFrame:
    """Jaccard overlap between every pair of lists (1 = the same artists)."""
    names = list(lists)
    sets = {name: set(lists[name]) - {-1} for name in names}
    matrix = pd.DataFrame(1.0, index=names, columns=names)
    for a, b in itertools.combinations(names, 2):
        union = sets[a] | sets[b]
        matrix.loc[a, b] = matrix.loc[b, a] = len(sets[a] & sets[b]) / len(union) if union else 1.0
    return matrix
