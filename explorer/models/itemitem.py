"""What the item–item and social models share: a sparse query row per user times a sparse item–item matrix.

A model of this family scores the known user ``u`` as ``q_u @ W``: ``q_u`` is a sparse row over the train
artists (the user's train artists, maybe plus their friends'), ``W`` a sparse ``[num_items, num_items]``
matrix (ItemKNN's similarities, EASE's weights) or the identity (friends-pop). Both are stored as CSR
arrays, so a cached run holds kilobytes to a few megabytes, never a dense item × item matrix, and is
re-created with numpy and scipy only. Artists tied in ``q_u @ W`` (typically the many with no evidence
at all) are ordered by popularity, the notebook's fallback, through a tie-break far below any
difference between distinct scores.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import sparse

from explorer.models.base import Recommender
from explorer.protocol import TrainSet

TIE_BREAK = 1e-6  # popularity's share of a user's largest |score|: orders ties, never distinct scores


def interaction_matrix(train: TrainSet) -> sparse.csr_matrix:
    """Binary ``[num_users, num_items]`` CSR matrix of the train interactions (float64)."""
    matrix = sparse.csr_matrix(
        (np.ones(len(train.user_idx)), (train.user_idx, train.item_idx)), shape=(train.num_users, train.num_items)
    )
    matrix.data[:] = 1.0  # a repeated pair counts once
    return matrix


def friend_matrix(train: TrainSet) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Who is a friend of whom, among the friends that have train rows.

    Returns:
        ``(user_ids, matrix)``: the sorted ids of every user with a train row or a friendship, and the
        binary ``[len(user_ids), num_users]`` matrix whose row ``u`` marks ``u``'s friends with train rows
        (columns index ``train.users``). Self-friendships are ignored.
    """
    pairs = train.friends[train.friends[:, 0] != train.friends[:, 1]] if len(train.friends) else train.friends
    user_ids = np.union1d(train.users, pairs.ravel()).astype(np.int64)
    if not len(pairs) or not train.num_users:
        return user_ids, sparse.csr_matrix((len(user_ids), train.num_users))
    column = np.minimum(np.searchsorted(train.users, pairs[:, 1]), train.num_users - 1)
    keep = train.users[column] == pairs[:, 1]
    rows = np.searchsorted(user_ids, pairs[keep, 0])
    matrix = sparse.csr_matrix((np.ones(int(keep.sum())), (rows, column[keep])), shape=(len(user_ids), train.num_users))
    matrix.data[:] = 1.0  # a pair listed twice counts once
    return user_ids, matrix


def second_hop(train: TrainSet, user_ids: np.ndarray, friends: sparse.csr_matrix) -> sparse.csr_matrix:
    """Binary ``[len(user_ids), num_users]``: the friends of friends with train rows (through any friend),
    who are neither the user nor a friend.

    Args:
        user_ids, friends: :func:`friend_matrix`'s result.
    """
    pairs = train.friends[train.friends[:, 0] != train.friends[:, 1]] if len(train.friends) else train.friends
    if not len(pairs) or not train.num_users:
        return sparse.csr_matrix(friends.shape)
    ends = np.searchsorted(user_ids, pairs)
    graph = sparse.csr_matrix((np.ones(len(pairs)), (ends[:, 0], ends[:, 1])), shape=(len(user_ids),) * 2)
    reach = (graph @ friends).tocsr()
    reach.data[:] = 1.0
    rows = np.searchsorted(user_ids, train.users)
    itself = sparse.csr_matrix((np.ones(train.num_users), (rows, np.arange(train.num_users))), shape=friends.shape)
    reach = reach - reach.multiply((friends + itself) > 0)
    reach.eliminate_zeros()
    return reach.tocsr()


def top_k_rows(weights: np.ndarray, k: int) -> sparse.csr_matrix:
    """Each row's ``k`` largest entries of a dense matrix as CSR (exact zeros dropped; float32)."""
    num_rows, num_cols = weights.shape
    k = min(k, num_cols)
    if k == 0:
        return sparse.csr_matrix((num_rows, num_cols), dtype=np.float32)
    cols = np.argpartition(-weights, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(weights, cols, axis=1)
    kept = sparse.csr_matrix(
        (values.ravel().astype(np.float32), (np.repeat(np.arange(num_rows), k), cols.ravel())),
        shape=(num_rows, num_cols),
    )
    kept.eliminate_zeros()
    kept.sort_indices()
    return kept


class ItemItemModel(Recommender):
    """Scores ``q_u @ W`` with sparse query rows ``q`` and a sparse item–item ``W`` (or the identity)."""

    has_embeddings = False
    no_embeddings_reason = "it scores through artist-to-artist weights and learns no user or artist vectors"
    STATE: ClassVar[tuple[str, ...]] = (
        "query_indptr",
        "query_indices",
        "query_data",
        "weight_indptr",
        "weight_indices",
        "weight_data",
    )

    def _set_query(self, user_ids: np.ndarray, query: sparse.spmatrix, weights: sparse.spmatrix | None) -> None:
        """Keep the users whose query row is not empty, their rows, and ``W`` (None: the identity)."""
        query = sparse.csr_matrix(query, dtype=np.float32)
        query.eliminate_zeros()
        has_row = np.diff(query.indptr) > 0
        query = query[has_row]
        query.sort_indices()
        self.user_ids_ = np.asarray(user_ids, dtype=np.int64)[has_row]
        self.query_indptr_, self.query_indices_, self.query_data_ = (
            query.indptr.astype(np.int64),
            query.indices.astype(np.int32),
            query.data,
        )
        if weights is None:
            self.weight_indptr_ = np.empty(0, dtype=np.int64)
            self.weight_indices_, self.weight_data_ = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        else:
            weights = sparse.csr_matrix(weights, dtype=np.float32)
            self.weight_indptr_ = weights.indptr.astype(np.int64)
            self.weight_indices_, self.weight_data_ = weights.indices.astype(np.int32), weights.data

    def _score_known(self, rows: np.ndarray) -> np.ndarray:
        num_items = len(self.item_ids_)
        query = sparse.csr_matrix(
            (self.query_data_, self.query_indices_, self.query_indptr_), shape=(len(self.user_ids_), num_items)
        )[rows]
        if len(self.weight_indptr_):
            weights = sparse.csr_matrix(
                (self.weight_data_, self.weight_indices_, self.weight_indptr_), shape=(num_items, num_items)
            )
            query = query @ weights
        scores = query.toarray().astype(np.float64)
        scale = np.abs(scores).max(axis=1, keepdims=True)
        scale[scale == 0] = 1.0
        popularity = self.popularity_.astype(np.float64) / (self.popularity_.max(initial=0.0) + 1.0)
        return scores + TIE_BREAK * scale * popularity[None, :]
