"""friends-pop: the simplest social model.

A user's score for an artist is the number of their friends (with train rows) who have it in train;
ties, and every artist no friend has, are ordered by popularity. A user none of whose friends has train
rows gets the popularity ranking. It is what ``lightgcn-social`` and ``ease-social`` must beat to show
they learn more from friendships than "your friends listen to this".
"""

from __future__ import annotations

from explorer.models.base import ProgressCallback
from explorer.models.itemitem import ItemItemModel, friend_matrix, interaction_matrix
from explorer.models.lightgcn import FRIENDSHIP_NOTE
from explorer.protocol import TrainSet


class FriendsPopularity(ItemItemModel):
    """Artists ranked by how many of the user's friends have them, then by popularity."""

    name = "friends-pop"
    description = "Artists by how many of the user's friends have them in train, then popularity."
    notes = (FRIENDSHIP_NOTE,)

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        user_ids, friends = friend_matrix(train)
        self._set_query(user_ids, friends @ interaction_matrix(train), None)
        if progress is not None:
            progress(1, 1)


MODELS = (FriendsPopularity,)
