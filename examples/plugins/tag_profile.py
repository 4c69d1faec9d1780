"""A plugin model: each user's tag profile against each artist's tags, in a small latent space.

Use it with ``EXPLORER_PLUGINS=examples/plugins/tag_profile.py python -m explorer train --model tag-profile``.
It shows a factor model: ``_fit`` ends in ``_set_factors(users, user_vectors, artist_vectors)`` and the
base class does the rest (scores are their dot products, the vectors are its state and the Embeddings page
maps them). It reads side information from the train set: ``train.item_tags``, the tag assignments on train
artists dated before the test year. See docs/plugins.md for the contract.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

from explorer.models import Param, ProgressCallback, Recommender
from explorer.protocol import TrainSet


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class TagProfile(Recommender):
    """Artists as TF-IDF vectors of their tags, users as the listening-weighted sum of their artists' vectors,
    both projected on the artist × tag matrix's top ``dim`` singular vectors; score = cosine."""

    name = "tag-profile"
    description = "Cosine between a user's tag profile and each artist's tags (TF-IDF, truncated SVD)."
    PARAMS = {
        "dim": Param(32, 2, 256, "latent dimensions kept of the artist × tag matrix (truncated SVD)"),
        "idf": Param(1.0, 0.0, 3.0, "exponent of the inverse document frequency: 0 weighs every tag alike"),
    }

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        rows, tag_ids = train.item_tags[:, 0], train.item_tags[:, 1]
        tags, columns = np.unique(tag_ids, return_inverse=True)
        counts = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, columns)), shape=(train.num_items, max(len(tags), 1))
        ).log1p()
        spread = np.maximum(np.asarray((counts > 0).sum(axis=0)).ravel(), 1)
        idf = np.log1p(train.num_items / spread) ** self.params["idf"]
        artists = sparse.csr_matrix(counts.multiply(idf[None, :]))
        listens = sparse.csr_matrix(
            (np.log1p(train.weights), (train.user_idx, train.item_idx)), shape=(train.num_users, train.num_items)
        )
        dim = min(self.params["dim"], min(artists.shape) - 1)
        if dim < 1 or artists.nnz == 0:  # too few tags for a latent space: every artist alike
            basis = np.zeros((artists.shape[1], 1))
        else:
            basis = svds(artists, k=dim, random_state=0)[2].T  # tags × dim, deterministic
        artist_vectors = _unit_rows(np.asarray(artists @ basis))
        user_vectors = _unit_rows(np.asarray(listens @ artist_vectors))
        self._set_factors(train.users, user_vectors, artist_vectors)
        if progress is not None:
            progress(1, 1)


MODELS = (TagProfile,)
