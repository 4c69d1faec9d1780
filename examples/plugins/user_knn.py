"""A plugin model: user-based nearest neighbours (user–user cosine over the train artists).

Use it with ``EXPLORER_PLUGINS=examples/plugins/user_knn.py python -m explorer train --model user-knn``.
It shows a model that is not a factor model: it scores through similar users, so it names its own learned
arrays in ``STATE`` (a sparse matrix is kept as its plain ``indptr``/``indices`` arrays), overrides
``_score_known`` and says ``has_embeddings = False``. See docs/plugins.md for the contract.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from explorer.models import Param, ProgressCallback, Recommender
from explorer.protocol import TrainSet


class UserKNN(Recommender):
    """``sim(u, v) = |I_u ∩ I_v| / (sqrt(|I_u| |I_v|) + shrink)``; a user's score for an artist is the summed
    similarity of their ``neighbours`` most similar users who have it."""

    name = "user-knn"
    description = "User–user cosine over train artists: an artist scores by the similar users who have it."
    PARAMS = {
        "neighbours": Param(50, 1, 5000, "most similar users kept per user (k)"),
        "shrink": Param(10.0, 0.0, 1000.0, "added to the cosine's denominator: damps users with few artists"),
    }
    STATE = ("neighbour_rows", "neighbour_weights", "indptr", "indices")
    has_embeddings = False
    no_embeddings_reason = "it scores through similar users and learns no user or artist vectors"

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        listened = sparse.csr_matrix(
            (np.ones(len(train.user_idx), dtype=np.float32), (train.user_idx, train.item_idx)),
            shape=(train.num_users, train.num_items),
        )
        listened.data[:] = 1.0  # binary: who has which artist
        norms = np.sqrt(np.asarray(listened.sum(axis=1)).ravel())
        similarity = (listened @ listened.T).toarray()
        similarity /= norms[:, None] * norms[None, :] + self.params["shrink"] + 1e-12
        np.fill_diagonal(similarity, 0.0)
        k = max(1, min(self.params["neighbours"], train.num_users - 1))
        rows = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        self.user_ids_ = train.users  # every user with train rows is ranked personally
        self.neighbour_rows_ = rows.astype(np.int64)
        self.neighbour_weights_ = np.take_along_axis(similarity, rows, axis=1).astype(np.float32)
        self.indptr_, self.indices_ = listened.indptr.astype(np.int64), listened.indices.astype(np.int64)
        if progress is not None:
            progress(1, 1)

    def _score_known(self, rows: np.ndarray) -> np.ndarray:
        num_users, k = self.neighbour_rows_.shape
        listened = sparse.csr_matrix(
            (np.ones(len(self.indices_), dtype=np.float32), self.indices_, self.indptr_),
            shape=(num_users, len(self.item_ids_)),
        )
        weights = sparse.csr_matrix(
            (self.neighbour_weights_[rows].ravel(), self.neighbour_rows_[rows].ravel(), np.arange(len(rows) + 1) * k),
            shape=(len(rows), num_users),
        )
        return (weights @ listened).toarray()


MODELS = (UserKNN,)
