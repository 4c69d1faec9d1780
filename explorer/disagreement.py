"""Disagreement between models you can follow, read from the runs' stored top-10 lists (never re-scored).

* :func:`hits_and_misses`: the users where model A hits and model B misses, by the difference in held-out
  artists found in their top-10 lists: the user ids to open on Compare users or the map.
* :func:`cohort_overlap`: how much the models' top-10 lists overlap (Jaccard) in each activity and social
  cohort (:mod:`explorer.cohorts`): where models agree (e.g. cold users: the popularity fallback) and where
  they differ.

Every list is ``Run.top_items`` (the evaluated top-10 of each test user), so what is shown is what was
scored.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.cohorts import COHORTS, assign
from explorer.errors import ParameterError
from explorer.protocol import Split
from explorer.training import Run

FALLBACK = "the popularity fallback"


def stored_lists(run: Run, users: np.ndarray) -> np.ndarray:
    """``[len(users), 10]`` stored top-10 artist ids of test users (-1 pads; a row of -1 for a non-test user)."""
    users = np.asarray(users, dtype=np.int64)
    rows = np.minimum(np.searchsorted(run.test_users, users), max(len(run.test_users) - 1, 0))
    found = run.test_users[rows] == users if len(run.test_users) else np.zeros(len(users), dtype=bool)
    return np.where(found[:, None], run.top_items[rows], -1)


def list_hits(split: Split, users: np.ndarray, lists: np.ndarray) -> np.ndarray:
    """Held-out artists (test rows) of each user found in their list: ``[len(users)]``."""
    span = int(max(split.test["artistID"].to_numpy().max(initial=0), lists.max(initial=0))) + 1
    held = split.test["userID"].to_numpy() * span + split.test["artistID"].to_numpy()
    codes = np.where(lists >= 0, np.asarray(users)[:, None] * span + lists, -1)
    return np.isin(codes, held).sum(axis=1)


def hits_and_misses(run_a: Run, run_b: Run, split: Split, limit: int | None = 20) -> pd.DataFrame:
    """Test users where ``run_a``'s top-10 list finds more held-out artists than ``run_b``'s, most first.

    Returns:
        ``user, hits_a, hits_b, difference, test_artists, train_artists, cold`` (``difference = hits_a −
        hits_b > 0``), by difference, then A's hits (descending), then user id; at most ``limit`` rows.

    Raises:
        ParameterError: the runs are not of ``split``'s test year.
    """
    for run in (run_a, run_b):
        if run.year != split.year:
            raise ParameterError(f"The {run.model} run is of {run.year}, not {split.year}; pick two runs of one year.")
    users = run_a.test_users
    hits_a = list_hits(split, users, stored_lists(run_a, users))
    hits_b = list_hits(split, users, stored_lists(run_b, users))
    table = pd.DataFrame({"user": users, "hits_a": hits_a, "hits_b": hits_b, "difference": hits_a - hits_b})
    table = table[table["difference"] > 0]
    test = split.test.groupby("userID").size()
    train = split.train.groupby("userID").size()
    table["test_artists"] = test.reindex(table["user"]).fillna(0).astype(int).to_numpy()
    table["train_artists"] = train.reindex(table["user"]).fillna(0).astype(int).to_numpy()
    table["cold"] = table["train_artists"] == 0
    ordered = table.sort_values(["difference", "hits_a", "user"], ascending=[False, False, True], ignore_index=True)
    return ordered if limit is None else ordered.head(limit)


def pair_overlap(runs: Sequence[Run], users: np.ndarray) -> pd.DataFrame:
    """Jaccard overlap of every pair of runs' stored top-10 lists per user: index ``user``, one column per pair
    (``"a | b"``); 1 where both lists are empty."""
    lists = {run.model: stored_lists(run, users) for run in runs}
    columns = {}
    for a, b in itertools.combinations(lists, 2):
        left, right = lists[a], lists[b]
        common = ((left[:, :, None] == right[:, None, :]) & (left[:, :, None] >= 0)).any(axis=2).sum(axis=1)
        union = (left >= 0).sum(axis=1) + (right >= 0).sum(axis=1) - common
        columns[f"{a} | {b}"] = np.divide(common, union, out=np.ones(len(users)), where=union > 0)
    return pd.DataFrame(columns, index=pd.Index(np.asarray(users), name="user"))


def cohort_overlap(
    runs: Sequence[Run], split: Split, friends: pd.DataFrame, families: Sequence[str] = ("activity", "social")
) -> pd.DataFrame:
    """How much the runs' top-10 lists overlap in each cohort of test users.

    Returns:
        ``family, cohort, users, mean_overlap, least_pair, least_overlap, most_pair, most_overlap``: the mean
        over the cohort's users and all pairs of runs of the Jaccard overlap of their lists, and the pairs
        that agree least and most in it (empty cohorts are left out).

    Raises:
        ParameterError: fewer than two runs, or runs of another year.
    """
    if len(runs) < 2:
        raise ParameterError("Comparing lists needs at least two runs of one year.")
    if any(run.year != split.year for run in runs):
        raise ParameterError(f"Every run must be of {split.year} to compare their lists.")
    labels = assign(split, friends)
    overlap = pair_overlap(runs, labels.index.to_numpy())
    rows = []
    for family in families:
        for cohort in COHORTS[family]:
            members = (labels[family] == cohort).to_numpy()
            if not members.any():
                continue
            per_pair = overlap[members].mean(axis=0)
            rows.append(
                {
                    "family": family,
                    "cohort": cohort,
                    "users": int(members.sum()),
                    "mean_overlap": float(per_pair.mean()),
                    "least_pair": per_pair.idxmin(),
                    "least_overlap": float(per_pair.min()),
                    "most_pair": per_pair.idxmax(),
                    "most_overlap": float(per_pair.max()),
                }
            )
    return pd.DataFrame(rows)
