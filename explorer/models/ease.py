"""EASE^R (Steck, WWW 2019) and its social counterpart.

EASE learns an item–item weight matrix in closed form: ``P = (XᵀX + λI)⁻¹``, ``B = I − P / diag(P)``
(zero diagonal). With fewer users than artists (every split here) ``P`` comes from the users × users
system through the Woodbury identity, ``P = (I − Xᵀ(XXᵀ + λI)⁻¹X) / λ``, which is exact and takes a
fraction of a second instead of inverting a 5k × 5k matrix. Only each artist's ``neighbours`` largest
weights are kept (sparse), so a cached run holds ~2 MB instead of a dense 100 MB matrix; the README shows
the validation metrics do not change.

* ``ease``: a user's scores are ``x_u B`` over their train artists ``x_u``.
* ``ease-social``: the query row adds the mean train history of the user's friends (and, weighted by
  ``second_hop``, of their friends of friends), ``q_u = x_u + friend_weight · (mean_f x_f + second_hop ·
  mean_g x_g)``, scored by ``q_u (B + direct · I)``, so a user without train
  rows but with friends gets a personal list, the social counterpart of ``lightgcn-social``. ``direct``
  lets the friends' artists themselves score, which ``B``'s zero diagonal would ignore (for the user's own
  artists the diagonal changes nothing: they are removed from the ranking).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from explorer.errors import ModelFitError
from explorer.models.base import Param, ProgressCallback
from explorer.models.itemitem import ItemItemModel, friend_matrix, interaction_matrix, second_hop, top_k_rows
from explorer.models.lightgcn import FRIENDSHIP_NOTE
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


def ease_weights(matrix: sparse.csr_matrix, reg: float) -> np.ndarray:
    """EASE's dense ``[num_items, num_items]`` weights ``B`` (zero diagonal) of a binary user × item matrix."""
    num_users, num_items = matrix.shape
    if num_users < num_items:  # Woodbury: invert users × users instead of items × items
        inverse = np.linalg.inv((matrix @ matrix.T).toarray() + reg * np.eye(num_users))  # (XXᵀ + λI)⁻¹
        left = np.asarray(matrix.T @ inverse)  # Xᵀ(XXᵀ + λI)⁻¹, [num_items, num_users]
        precision = np.asarray(matrix.T @ left.T)  # Xᵀ(XXᵀ + λI)⁻¹X (symmetric), sparse × dense: cheap
        precision *= -1.0 / reg
        precision[np.diag_indices(num_items)] += 1.0 / reg
    else:
        precision = np.linalg.inv((matrix.T @ matrix).toarray() + reg * np.eye(num_items))
    weights = precision
    weights /= -np.diag(precision).copy()[None, :]  # in place: one dense item × item array at a time
    np.fill_diagonal(weights, 0.0)
    if not np.isfinite(weights).all():
        raise ModelFitError(f"EASE's weights became non-finite with reg {reg}; raise reg and train again.")
    return weights


class EASE(ItemItemModel):
    """EASE^R on the binary user × artist train matrix."""

    name = "ease"
    description = "EASE^R: closed-form item–item linear model (Steck 2019)."
    PARAMS = {
        "reg": Param(100.0, 1e-2, 1e5, "L2 penalty λ on the item–item weights", log=True),
        "neighbours": Param(200, 1, 5000, "largest weights kept per artist (the rest are dropped)"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`:
    # explorer/models/tuned/ease.json holds every trial (`python -m explorer tuning --model ease`).
    TUNED = tuned("ease")

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        matrix = interaction_matrix(train)
        weights = top_k_rows(ease_weights(matrix, self.params["reg"]), self.params["neighbours"])
        self._set_query(train.users, self._query(train, matrix), weights)
        if progress is not None:
            progress(1, 1)

    def _query(self, train: TrainSet, matrix: sparse.csr_matrix) -> sparse.csr_matrix:  # noqa: ARG002
        return matrix


class SocialEASE(EASE):
    """EASE whose query row adds the user's friends' train history."""

    name = "ease-social"
    description = "EASE whose query adds the friends' train artists, so cold users with friends get a list."
    notes = (FRIENDSHIP_NOTE,)
    PARAMS = {
        **EASE.PARAMS,
        "friend_weight": Param(0.5, 0.0, 100.0, "weight of the friends' mean history in a user's query"),
        "direct": Param(0.0, 0.0, 100.0, "diagonal added to the weights: the friends' own artists score"),
        "second_hop": Param(0.0, 0.0, 10.0, "weight of the friends of friends' mean history, relative to friends'"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/ease-social.json holds every trial (`python -m explorer tuning --model ease-social`).
    TUNED = tuned("ease-social")

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        matrix = interaction_matrix(train)
        weights = top_k_rows(ease_weights(matrix, self.params["reg"]), self.params["neighbours"])
        user_ids, friends = friend_matrix(train)
        counts = np.asarray(friends.sum(axis=1)).ravel()
        mean_history = sparse.diags(1.0 / np.maximum(counts, 1.0)) @ friends @ matrix  # [users, items]
        own = sparse.csr_matrix(matrix[np.searchsorted(train.users, user_ids).clip(max=train.num_users - 1)])
        own = sparse.diags(np.isin(user_ids, train.users).astype(np.float64)) @ own  # zero for users without rows
        query = own + self.params["friend_weight"] * mean_history
        if self.params["second_hop"] > 0:  # friends of friends: reaches cold users whose friends are cold too
            far = second_hop(train, user_ids, friends)
            far_counts = np.asarray(far.sum(axis=1)).ravel()
            far_history = sparse.diags(1.0 / np.maximum(far_counts, 1.0)) @ far @ matrix
            query = query + self.params["friend_weight"] * self.params["second_hop"] * far_history
        weights = weights + self.params["direct"] * sparse.identity(train.num_items, dtype=np.float32, format="csr")
        self._set_query(user_ids, query, weights)
        if progress is not None:
            progress(1, 1)


MODELS = (EASE, SocialEASE)
