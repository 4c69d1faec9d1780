"""Ranks, norm_ranks and metrics of the notebook's protocol, vectorised over all test users.

For each test row (a held-out artist of a test user, in timestamp order):

* ``ranks``: 1-based position of the artist in the user's full ranking of the train artists, after
  removing the artists the user already has in train; empty (NaN) if the artist is not in train.
* ``norm_ranks``: the same, but each found test artist is removed from the list before the next one
  is looked up (so it is the rank minus the number of earlier found artists ranked above it).

Ties in scores are broken by artist id (lower id first), the order of a stable sort.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.errors import ParameterError
from explorer.protocol import Split

RECALL_KS: tuple[int, ...] = (5, 10, 25, 50, 500)
NDCG_KS: tuple[int, ...] = (10, 50)
COVERAGE_K = 10
ROWS_PER_CHUNK = 1024  # test rows compared against their user's scores at a time
MAX_CUTOFF = 10_000  # largest K a metric name may ask for
METRIC_KINDS = {"recall": "Recall", "hit_rate": "HitRate", "ndcg": "NDCG", "mrr": "MRR"}


def compute_ranks(
    scores: np.ndarray,
    seen: tuple[np.ndarray, np.ndarray],
    test_rows: np.ndarray,
    test_cols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks and norm_ranks of the test rows.

    Args:
        scores: ``[num_users, num_items]`` scores; higher ranks first.
        seen: ``(rows, cols)`` of the (user, item) pairs to remove from the ranking (train artists).
        test_rows: Per test row, the user's row in ``scores``; rows of a user must be contiguous and
            in the order they are looked up (timestamp order).
        test_cols: Per test row, the artist's column in ``scores``, or -1 when it is not ranked.

    Returns:
        ``(ranks, norm_ranks)``, float arrays of shape ``[num_test_rows]`` with NaN where unranked.
    """
    masked = np.array(scores, dtype=np.float64, copy=True)
    masked[seen] = -np.inf
    ranks = np.full(len(test_rows), np.nan)
    found = np.flatnonzero(test_cols >= 0)
    columns = np.arange(masked.shape[1])
    for start in range(0, len(found), ROWS_PER_CHUNK):
        chunk = found[start : start + ROWS_PER_CHUNK]
        rows, cols = test_rows[chunk], test_cols[chunk]
        user_scores = masked[rows]
        own = user_scores[np.arange(len(chunk)), cols][:, None]
        above = (user_scores > own) | ((user_scores == own) & (columns[None, :] < cols[:, None]))
        ranks[chunk] = above.sum(axis=1) + 1
    return ranks, _norm_ranks(ranks, test_rows)


def _norm_ranks(ranks: np.ndarray, test_rows: np.ndarray) -> np.ndarray:
    """Each rank minus the number of earlier rows of the same user with a smaller rank."""
    if len(ranks) == 0:
        return ranks.copy()
    starts = np.r_[0, np.flatnonzero(np.diff(test_rows)) + 1]
    lengths = np.diff(np.r_[starts, len(ranks)])
    group = np.repeat(np.arange(len(starts)), lengths)
    position = np.arange(len(ranks)) - starts[group]
    padded = np.full((len(starts), lengths.max()), np.inf)
    padded[group, position] = np.where(np.isnan(ranks), np.inf, ranks)
    earlier = np.tril(np.ones((padded.shape[1], padded.shape[1]), dtype=bool), k=-1)
    below = (padded[:, None, :] < padded[:, :, None]) & earlier[None, :, :]  # [group, row, earlier]
    return ranks - below.sum(axis=2)[group, position]


def top_k(scores: np.ndarray, seen: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """Columns of each user's ``k`` best items, best first, train artists removed. ``[num_users, k]``.

    Ties are broken by column, as in :func:`compute_ranks`; where a user has fewer than ``k`` items
    left, the list is padded with -1.
    """
    masked = np.array(scores, dtype=np.float64, copy=True)
    masked[seen] = -np.inf
    num_users, num_items = masked.shape
    k = min(k, num_items)
    if k == 0 or num_users == 0:
        return np.empty((num_users, k), dtype=np.int64)
    kth = -np.partition(-masked, k - 1, axis=1)[:, k - 1 : k]  # each user's k-th best score
    above = masked > kth
    tied = masked == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))  # ties: lowest columns first
    cols = np.nonzero(chosen)[1].reshape(num_users, k)
    values = np.take_along_axis(masked, cols, axis=1)
    order = np.lexsort((cols, -values), axis=1)
    best = np.take_along_axis(cols, order, axis=1)
    return np.where(np.take_along_axis(values, order, axis=1) == -np.inf, -1, best)


def _rates(values: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    filled = np.where(np.isnan(values), np.inf, values)
    return {str(k): float((filled <= k).mean()) if len(values) else 0.0 for k in ks}


def _user_ndcg(ranks: np.ndarray, group: np.ndarray, num_users: int, k: int) -> np.ndarray:
    """Per user (``group`` indexes them), DCG@k / ideal DCG@k; every test row of a user counts as relevant."""
    gains = np.where(ranks <= k, 1.0 / np.log2(np.nan_to_num(ranks, nan=1.0) + 1.0), 0.0)
    dcg = np.bincount(group, weights=gains, minlength=num_users)
    relevant = np.minimum(np.bincount(group, minlength=num_users), k)
    ideal_prefix = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]
    return dcg / np.where(relevant > 0, ideal_prefix[relevant], 1.0)


def ndcg(ranks: np.ndarray, users: np.ndarray, k: int) -> float:
    """Mean over users of DCG@k / ideal DCG@k; every test row of a user counts as relevant.

    Args:
        ranks: Per test row, its rank (NaN if unranked).
        users: Per test row, its user (any labels).
        k: Cut-off.
    """
    if len(ranks) == 0:
        return 0.0
    labels, group = np.unique(users, return_inverse=True)
    return float(_user_ndcg(ranks, group, len(labels), k).mean())


def parse_metric(name: str) -> tuple[str, int | None]:
    """``recall@K``, ``hit_rate@K``, ``ndcg@K`` or ``mrr`` → ``(kind, K)`` (K is None for MRR).

    Raises:
        ParameterError: an unknown name or a K that is not a whole number between 1 and 10,000.
    """
    kind, _, cutoff = name.strip().lower().partition("@")
    if kind not in METRIC_KINDS:
        raise ParameterError(f"There is no metric {name!r}; use recall@K, mrr, ndcg@K or hit_rate@K (e.g. recall@10).")
    if kind == "mrr":
        if cutoff:
            raise ParameterError(f"MRR takes no cut-off; write mrr instead of {name!r}.")
        return kind, None
    if not cutoff.isdigit() or not 1 <= int(cutoff) <= MAX_CUTOFF:
        raise ParameterError(f"The K of {name!r} must be a whole number between 1 and {MAX_CUTOFF:,}, e.g. {kind}@10.")
    return kind, int(cutoff)


def metric_label(name: str) -> str:
    """The name a table shows: ``recall@10`` → ``Recall@10``, ``mrr`` → ``MRR``."""
    kind, cutoff = parse_metric(name)
    return METRIC_KINDS[kind] + (f"@{cutoff}" if cutoff is not None else "")


def user_contributions(ranked: pd.DataFrame, metrics: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each test user's numerator and denominator of each metric, so that a metric is ``num.sum() / den.sum()``.

    The row-weighted metrics of the notebook stay row-weighted: Recall@K and HitRate@K count hits over
    the user's test rows, MRR sums 1/norm_rank over the user's rows that have one. NDCG@K is a mean over
    users, so its numerator is the user's NDCG and its denominator 1. Resampling users with these two
    arrays moves a user's rows together.

    Args:
        ranked: The ranks table (``user, ranks, norm_ranks`` per test row).
        metrics: Metric names (see :func:`parse_metric`).

    Returns:
        ``(users, num, den)``: sorted user ids ``[n]``, and ``[n, len(metrics)]`` float arrays.
    """
    users, group = np.unique(ranked["user"].to_numpy(), return_inverse=True)
    ranks = ranked["ranks"].to_numpy(dtype=np.float64)
    norm_ranks = ranked["norm_ranks"].to_numpy(dtype=np.float64)
    rows = np.bincount(group, minlength=len(users)).astype(np.float64)
    num = np.zeros((len(users), len(metrics)))
    den = np.ones((len(users), len(metrics)))
    for column, name in enumerate(metrics):
        kind, k = parse_metric(name)
        if kind in ("recall", "hit_rate"):
            values = ranks if kind == "recall" else norm_ranks
            num[:, column] = np.bincount(group, weights=np.nan_to_num(values, nan=np.inf) <= k, minlength=len(users))
            den[:, column] = rows
        elif kind == "mrr":
            has_rank = ~np.isnan(norm_ranks)
            reciprocal = np.where(has_rank, 1.0 / np.where(has_rank, norm_ranks, 1.0), 0.0)
            num[:, column] = np.bincount(group, weights=reciprocal, minlength=len(users))
            den[:, column] = np.bincount(group, weights=has_rank, minlength=len(users))
        else:
            num[:, column] = _user_ndcg(ranks, group, len(users), k)
    return users, num, den


def metrics_of(ranks: np.ndarray, norm_ranks: np.ndarray, users: np.ndarray) -> dict:
    """Recall@K (on ranks), HitRate@K (on norm_ranks), MRR (over rows with a norm_rank) and NDCG@K."""
    has_rank = ~np.isnan(norm_ranks)
    return {
        "cases": len(ranks),
        "recall": _rates(ranks, RECALL_KS),
        "hit_rate": _rates(norm_ranks, RECALL_KS),
        "mrr": float((1.0 / norm_ranks[has_rank]).mean()) if has_rank.any() else 0.0,
        "mrr_cases": int(has_rank.sum()),
        "ndcg": {str(k): ndcg(ranks, users, k) for k in NDCG_KS},
    }


def summarise(ranked: pd.DataFrame, top_lists: np.ndarray, num_items: int) -> dict:
    """All metrics of one year from its ranks table (see :func:`evaluate`) and its top-10 lists."""
    result = metrics_of(ranked["ranks"].to_numpy(), ranked["norm_ranks"].to_numpy(), ranked["user"].to_numpy())
    for name, rows in (("warm", ~ranked["cold"]), ("cold", ranked["cold"])):
        part = ranked[rows.to_numpy()]
        result[name] = metrics_of(part["ranks"].to_numpy(), part["norm_ranks"].to_numpy(), part["user"].to_numpy())
    covered = len(np.setdiff1d(np.unique(top_lists), [-1]))
    result["coverage"] = {str(COVERAGE_K): covered / num_items if num_items else 0.0}
    return result


@dataclass(frozen=True)
class Evaluation:
    """One model's evaluation on one split.

    Attributes:
        ranks: ``user, item, ranks, norm_ranks, test_year, cold`` per test row (notebook order).
        metrics: The dictionary of :func:`summarise`.
        top_items: ``[num_test_users, list_length]`` artist ids of each test user's top list (-1 padding).
        test_users: Sorted ids of the test users (rows of ``top_items``).
    """

    ranks: pd.DataFrame
    metrics: dict
    top_items: np.ndarray
    test_users: np.ndarray


def seen_pairs(split: Split, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of each of ``users``' train artists: rows index the sorted ``users``, cols ``split.items``."""
    train_users = split.train["userID"].to_numpy()
    keep = np.isin(train_users, users)
    return (
        np.searchsorted(users, train_users[keep]),
        np.searchsorted(split.items, split.train["artistID"].to_numpy()[keep]),
    )


def evaluate(score: Callable[[np.ndarray], np.ndarray], split: Split, list_length: int = COVERAGE_K) -> Evaluation:
    """Evaluate a scoring function on a split, all test users at once.

    Args:
        score: Maps user ids ``[n]`` to scores ``[n, len(split.items)]`` over the split's catalogue
            (a fitted model's ``score``).
        split: The forward-chaining split.
        list_length: Length of the top lists returned (at least the coverage cut-off, 10); the first 10
            columns are the top-10 lists, whatever the length.
    """
    test = split.test
    users = np.unique(test["userID"].to_numpy())
    scores = score(users)
    seen = seen_pairs(split, users)
    test_rows = np.searchsorted(users, test["userID"].to_numpy())
    artists = test["artistID"].to_numpy()
    cols = np.searchsorted(split.items, artists)
    known = cols < len(split.items)
    known[known] = split.items[cols[known]] == artists[known]
    ranks, norm_ranks = compute_ranks(scores, seen, test_rows, np.where(known, cols, -1))
    ranked = pd.DataFrame(
        {
            "user": test["userID"].to_numpy(),
            "item": artists,
            "ranks": ranks,
            "norm_ranks": norm_ranks,
            "test_year": split.year,
            "cold": np.isin(test["userID"].to_numpy(), split.cold_users()),
        }
    )
    top = top_k(scores, seen, max(list_length, COVERAGE_K))
    return Evaluation(
        ranks=ranked,
        metrics=summarise(ranked, top[:, :COVERAGE_K], len(split.items)),
        top_items=np.where(top >= 0, split.items[np.maximum(top, 0)], -1) if len(split.items) else top,
        test_users=users,
    )
