"""Popularity: every user gets the train artists ordered by their number of train interactions."""

from __future__ import annotations

import numpy as np

from explorer.models.base import ProgressCallback, Recommender
from explorer.protocol import TrainSet


class Popularity(Recommender):
    """Ranks artists by train interaction counts; knows no user personally."""

    name = "popularity"
    description = "Train interaction counts: the baseline every model must beat."
    STATE = ()
    personal = False
    has_embeddings = False
    no_embeddings_reason = "it ranks every user alike by train interaction counts and learns no vectors"

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:  # noqa: ARG002 - fit() reads it
        self.user_ids_ = np.empty(0, dtype=np.int64)  # knows nobody: every user gets popularity in score()
        if progress is not None:
            progress(1, 1)

    def _score_known(self, rows: np.ndarray) -> np.ndarray:  # never called: no user is known
        return np.tile(self.popularity_, (len(rows), 1))


MODELS = (Popularity,)
