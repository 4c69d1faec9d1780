"""One user's view of the runs: history, held-out artists, top-N lists, explanations, disagreement.

The top-N lists use the evaluator's own rule (:func:`explorer.evaluation.top_k`: train artists
removed, ties broken by artist id), so a list shown in the app is exactly what was evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.data import Dataset
from explorer.errors import UnknownUserError
from explorer.evaluation import seen_pairs, top_k
from explorer.models import model_class
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


def check_user(split: Split, user: int) -> None:
    """Raise :class:`UnknownUserError` when ``user`` has no test rows in ``split``."""
    if not (split.test["userID"] == user).any():
        raise UnknownUserError(f"User {user} has no held-out artists in {split.year}; pick a user from the list.")


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


def recommendations(dataset: Dataset, split: Split, run: Run, user: int, n: int = 10) -> pd.DataFrame:
    """The user's top-n list: ``rank, artistID, name, url, score, hit`` (hit = a held-out artist)."""
    check_user(split, user)
    scores = run.recommender().score(np.array([user]))
    ids = _top_ids(scores, split, np.array([user]), n)[0]
    ids = ids[ids >= 0]
    table = artist_names(dataset, ids)
    table.insert(0, "rank", np.arange(1, len(ids) + 1))
    table["score"] = scores[0][np.searchsorted(split.items, ids)]
    table["hit"] = np.isin(ids, split.test.loc[split.test["userID"] == user, "artistID"].to_numpy())
    return table


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


def because(run: Run, split: Split, user: int, artist_ids: Sequence[int], per_artist: int = 2) -> dict[int, list[int]]:
    """For each recommended artist, the user's train artists nearest to it in embedding space (cosine).

    Empty when the run has no artist embeddings or the user has no train artists.
    """
    mine = split.train.loc[split.train["userID"] == user, "artistID"].to_numpy()
    if not model_class(run.model).has_embeddings or len(mine) == 0:
        return {}
    factors = run.state["item_factors"]
    normed = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    history = normed[np.searchsorted(split.items, mine)]
    wanted = np.asarray(artist_ids, dtype=np.int64)
    similarity = normed[np.searchsorted(split.items, wanted)] @ history.T  # [recommended, history]
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :per_artist]
    return {int(artist): mine[row].tolist() for artist, row in zip(wanted, nearest, strict=True)}


def disagreement(runs: Sequence[Run], split: Split, n: int = 10, limit: int = 20) -> pd.DataFrame:
    """Test users on whose top-n lists the runs agree least: ``user, mean_overlap, hits_<model>…``.

    The mean pairwise Jaccard overlap of the runs' top-n lists, lowest first; ties broken by more
    held-out hits in any list. Needs at least two runs of ``split``'s year. Lists up to the stored length
    (10) are read from the runs, not re-scored (see :mod:`explorer.disagreement` for "A hits, B misses").
    """
    users = np.sort(split.test["userID"].unique())
    lists = {run.model: top_lists(run, split, users, n) for run in runs}
    if len(lists) < 2:
        return pd.DataFrame(columns=["user", "mean_overlap"])
    span = int(max(split.test["artistID"].max(), split.items.max())) + 1
    held = split.test["userID"].to_numpy() * span + split.test["artistID"].to_numpy()
    table = pd.DataFrame({"user": users})
    pairs = list(itertools.combinations(lists, 2))
    jaccard = np.zeros(len(users))
    for a, b in pairs:
        left, right = lists[a], lists[b]
        common = ((left[:, :, None] == right[:, None, :]) & (left[:, :, None] >= 0)).any(axis=2).sum(axis=1)
        union = (left >= 0).sum(axis=1) + (right >= 0).sum(axis=1) - common
        jaccard += np.divide(common, union, out=np.ones(len(users)), where=union > 0)
    table["mean_overlap"] = jaccard / len(pairs)
    for name, ids in lists.items():
        table[f"hits_{name}"] = np.isin(np.where(ids >= 0, users[:, None] * span + ids, -1), held).sum(axis=1)
    hits = table.filter(like="hits_").max(axis=1)
    return (
        table.assign(_hits=hits)
        .sort_values(["mean_overlap", "_hits"], ascending=[True, False])
        .drop(columns="_hits")
        .head(limit)
        .reset_index(drop=True)
    )
