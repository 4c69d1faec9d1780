"""Popularity: every user gets the train artists ordered by their number of train interactions."""

from __future__ import annotations

import numpy as np

from explorer.models.base import ProgressCallback, Recommender
from explorer.protocol import TrainSet


class Popularity(Recommender):
    """Ranks artists by train interaction counts; knows no user personally."""

    name = "popularity"
    description = "Train interaction counts: the baseline every model must beat."

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        self._set_factors(np.empty(0, dtype=np.int64), np.empty((0, 0)), np.empty((train.num_items, 0)))
        if progress is not None:
            progress(1, 1)


MODELS = (Popularity,)
