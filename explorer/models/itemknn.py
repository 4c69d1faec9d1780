"""ItemKNN: item–item cosine similarity with shrinkage, each artist's top-k neighbours (Sarwar et al., 2001).

``sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink)`` over the binary train matrix, zero on the
diagonal, each artist keeping its ``neighbours`` most similar artists; a user's score for artist ``j`` is
the sum of ``sim(i, j)`` over their train artists ``i``. Users without train rows get popularity.
"""

from __future__ import annotations

import numpy as np

from explorer.models.base import Param, ProgressCallback
from explorer.models.itemitem import ItemItemModel, interaction_matrix, top_k_rows
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


class ItemKNN(ItemItemModel):
    """Item-based nearest neighbours with shrunk cosine similarity."""

    name = "itemknn"
    description = "Item–item cosine similarity with shrinkage over each artist's top-k neighbours."
    PARAMS = {
        "neighbours": Param(100, 1, 5000, "similar artists kept per artist (k)"),
        "shrink": Param(10.0, 0.0, 1000.0, "added to the cosine's denominator: damps rare co-occurrences"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/itemknn.json holds every trial (`python -m explorer tuning --model itemknn`).
    TUNED = tuned("itemknn")

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        matrix = interaction_matrix(train)
        counts = np.asarray(matrix.sum(axis=0)).ravel()
        similarity = (matrix.T @ matrix).toarray()
        norms = np.sqrt(counts)
        similarity /= norms[:, None] * norms[None, :] + self.params["shrink"] + 1e-12
        np.fill_diagonal(similarity, 0.0)
        self._set_query(train.users, matrix, top_k_rows(similarity, self.params["neighbours"]))
        if progress is not None:
            progress(1, 1)


MODELS = (ItemKNN,)
