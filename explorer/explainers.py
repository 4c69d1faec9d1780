"""The explanation of each model kind, computed for many users' lists at once (see :mod:`explorer.explain`).

An explainer turns a fitted model, the users and their recommended artists into :class:`Reasons`: for each
(user, list position) the ``per_item`` sources that contribute most to the artist's score, each with its
contribution, and ``rest``. All work is vectorised over a chunk of users (no loop over users or items).

* :class:`Linear` (item–item models, ``q_u @ W``): the score of artist ``j`` is ``Σ_s coef_s · W[h_s, j]``
  over the user's sources ``s`` = (artist ``h``, coefficient). The default sources are the stored query row
  (ItemKNN, EASE: the user's train artists, coefficient 1), an exact decomposition; the social subclasses
  split the query into the user's own artists and each friend's (``friends-pop``: each friend's artists
  with weight 1 and ``W`` the identity; ``ease-social``: own artists, friends' with ``friend_weight / |F|``,
  friends of friends' with ``friend_weight · second_hop / |G|``, its ``direct`` diagonal in ``W``).
* :class:`Similarity` (factor models): the user's train artists most similar (cosine) to the recommended
  artist in the model's own space; for a user without train artists whom the model places through friends,
  the friends' artists. Not a decomposition.
* :class:`Ensemble` (``lightgcn-ease``): each member's reasons, and each member's share of the score,
  ``mix · (s − mean) / sd`` of its per-user standardised score, which add up to the score exactly.
* :class:`Popularity`: users the model does not know (and the popularity model): no reasons.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from explorer.errors import ParameterError
from explorer.models import Recommender
from explorer.models.ease import SocialEASE
from explorer.models.friends import FriendsPopularity
from explorer.models.itemitem import ItemItemModel
from explorer.models.lightgcn_plus import SocialEnsemble
from explorer.neighbours import prepared
from explorer.protocol import Split
from explorer.reasons import (
    FRIEND_OF_FRIEND,
    OWN,
    Context,
    Entries,
    Reasons,
    Sources,
    columns_of,
    expand,
    friend_sources,
    own_sources,
    rows_in,
    top_entries,
)

CHUNK_USERS = 128  # users explained at a time (bounds the dense [users × list, artists] weight block)


class Explainer:
    """Base: the reasons of one model kind; :meth:`reasons` chunks the users and fills :class:`Reasons`."""

    kind = "popularity"

    def reasons(
        self, model: Recommender, context: Context, users: np.ndarray, items: np.ndarray, per_item: int
    ) -> Reasons:
        """The reasons of ``users``' lists ``items`` (``[U, n]`` artist ids of ``model``'s catalogue, -1 pads)."""
        result = Reasons.empty(self.kind, users, items, per_item)
        result.known = model.knows(result.users) if model.personal else np.zeros(len(users), dtype=bool)
        for start in range(0, len(users), CHUNK_USERS):
            rows = slice(start, start + CHUNK_USERS)
            cols, valid = columns_of(model, result.items[rows])
            scores = np.take_along_axis(model.score(result.users[rows]), cols, axis=1)
            result.score[rows] = np.where(valid, scores, np.nan)
            result.rest[rows] = result.score[rows]
            if result.known[rows].any():
                self._fill(model, context, result, rows, cols, valid, per_item)
        return result

    def _fill(
        self,
        model: Recommender,
        context: Context,
        result: Reasons,
        rows: slice,
        cols: np.ndarray,
        valid: np.ndarray,
        per_item: int,
    ) -> None:
        """Set the reasons and rest of ``result[rows]`` (known users only); the base gives none."""

    @staticmethod
    def _store(
        result: Reasons, rows: slice, sources: Sources, entries: Entries, chosen: np.ndarray, item_ids: np.ndarray
    ) -> None:
        some = chosen >= 0
        picked = np.maximum(chosen, 0)
        source = entries.source[picked] if len(entries.source) else np.zeros(chosen.shape, dtype=np.int64)
        result.artist[rows] = np.where(some, item_ids[sources.artist[source]] if len(sources.artist) else -1, -1)
        result.friend[rows] = np.where(some, sources.friend[source] if len(sources.friend) else -1, -1)
        result.hops[rows] = np.where(some, sources.hops[source] if len(sources.hops) else -1, -1)
        result.contribution[rows] = np.where(some, entries.value[picked] if len(entries.value) else np.nan, np.nan)


class Linear(Explainer):
    """Item–item models scoring ``q_u @ W``: an exact decomposition over the stored query row."""

    kind = "decomposition"

    def sources(self, model: ItemItemModel, context: Context, users: np.ndarray) -> Sources:  # noqa: ARG002
        """Every source of the users' scores (rows index ``users``)."""
        rows = rows_in(model.user_ids_, users)
        query = sparse.csr_matrix(
            (model.query_data_, model.query_indices_, model.query_indptr_),
            shape=(len(model.user_ids_), len(model.item_ids_)),
        )
        chunk = np.flatnonzero(rows >= 0)
        return expand(chunk, rows[chunk], np.ones(len(chunk)), np.full(len(chunk), -1), OWN, query)

    def contributions(
        self, model: ItemItemModel, context: Context, users: np.ndarray, cols: np.ndarray
    ) -> tuple[Sources, Entries]:
        """Every source of ``users`` and its non-zero contributions to the artists at ``cols`` (``[U, n]``).

        A contribution is ``coef · W[h, j]`` (``W`` the identity for friends-pop); they add up to the score
        ``q_u @ W`` of each artist, less the popularity tie-break (see :mod:`explorer.models.itemitem`).
        """
        sources = self.sources(model, context, users)
        num_items, n = len(model.item_ids_), cols.shape[1]
        if len(model.weight_indptr_):
            weights = sparse.csr_matrix(
                (model.weight_data_, model.weight_indices_, model.weight_indptr_), shape=(num_items, num_items)
            )
            block = weights.T.tocsr()[cols.ravel()].toarray()  # row u·n + t holds W[:, cols[u, t]]
        parts = []
        for position in range(n):  # a loop over the list's positions, each vectorised over every source
            if len(model.weight_indptr_):
                weight = block[sources.row * n + position, sources.artist].astype(np.float64)
            else:
                weight = (sources.artist == cols[sources.row, position]).astype(np.float64)
            found = np.flatnonzero(weight)
            parts.append((found, np.full(len(found), position), weight[found] * sources.coef[found]))
        found, position, value = (np.concatenate(p) for p in zip(*parts, strict=True))
        return sources, Entries(found.astype(np.int64), position.astype(np.int64), value)

    def _fill(self, model, context, result, rows, cols, valid, per_item) -> None:  # noqa: ANN001
        sources, entries = self.contributions(model, context, result.users[rows], cols)
        keep = (entries.value > 0) & valid[sources.row[entries.source], entries.position]
        entries = Entries(entries.source[keep], entries.position[keep], entries.value[keep])
        chosen = top_entries(entries, sources, per_item, len(result.users[rows]), cols.shape[1])
        self._store(result, rows, sources, entries, chosen, model.item_ids_)
        shown = np.nan_to_num(result.contribution[rows]).sum(axis=2)
        result.rest[rows] = result.score[rows] - shown


class FriendsLinear(Linear):
    """friends-pop: each friend (with train rows) adds 1 to each of their train artists."""

    kind = "friends"

    def sources(self, model: ItemItemModel, context: Context, users: np.ndarray) -> Sources:  # noqa: ARG002
        return friend_sources(context, users, None)


class SocialLinear(Linear):
    """ease-social: own artists (1), friends' (``friend_weight / |F|``), friends of friends'
    (``friend_weight · second_hop / |G|``), through ``W`` plus its ``direct`` diagonal."""

    kind = "friends"

    def sources(self, model: ItemItemModel, context: Context, users: np.ndarray) -> Sources:
        parts = [own_sources(context, users)]
        weight = float(model.params["friend_weight"])
        if weight > 0:
            parts.append(friend_sources(context, users, weight))
            if model.params["second_hop"] > 0:
                parts.append(friend_sources(context, users, weight * model.params["second_hop"], FRIEND_OF_FRIEND))
        return Sources.concat(parts)


class Similarity(Explainer):
    """Factor models: the user's train artists (for a user without any whom the model places through
    friends, the friends' artists) most similar to the recommended artist in the model's own space (cosine)."""

    kind = "similarity"

    def _fill(self, model, context, result, rows, cols, valid, per_item) -> None:  # noqa: ANN001
        users, known = result.users[rows], result.known[rows]
        parts = [own_sources(context, users, known)]
        placed = known & (context.train_rows(users) < 0)  # known through friends only
        if placed.any():
            friends = friend_sources(context, users, None)
            parts.append(friends.subset(np.flatnonzero(placed[friends.row])))
        sources = Sources.concat(parts)
        order = np.lexsort((sources.friend, sources.artist, sources.row))  # one per (user, artist): lowest friend
        first = np.r_[True, (np.diff(sources.row[order]) != 0) | (np.diff(sources.artist[order]) != 0)]
        sources = sources.subset(order[first])
        vectors = prepared(np.asarray(model.state()["item_factors"], dtype=np.float64), "cosine")
        values = np.einsum("sd,snd->sn", vectors[sources.artist], vectors[cols[sources.row]])
        source, position = np.nonzero(valid[sources.row])
        entries = Entries(source, position, values[source, position])
        chosen = top_entries(entries, sources, per_item, len(users), cols.shape[1])
        self._store(result, rows, sources, entries, chosen, model.item_ids_)
        total = np.zeros(cols.shape)
        np.add.at(total, (sources.row[source], position), entries.value)
        rest = total - np.nan_to_num(result.contribution[rows]).sum(axis=2)
        result.rest[rows] = np.where(known[:, None] & valid, rest, result.score[rows])


class Ensemble(Explainer):
    """lightgcn-ease: each member's reasons and its share ``mix · z`` of the score."""

    kind = "ensemble"

    def reasons(
        self, model: SocialEnsemble, context: Context, users: np.ndarray, items: np.ndarray, per_item: int
    ) -> Reasons:
        result = super().reasons(model, context, users, items, per_item)  # scores and who is known
        members = list(model.members_.values())
        result.members = tuple(member.name for member in members)
        result.mix = tuple(model.params["mix"] if p == "gcn" else 1.0 - model.params["mix"] for p in model.members_)
        parts = [explainer_for(type(member)).reasons(member, context, users, items, per_item) for member in members]
        result.member_kinds = tuple(part.kind for part in parts)
        for name in ("artist", "friend", "hops", "contribution"):
            setattr(result, name, np.concatenate([getattr(part, name) for part in parts], axis=2))
        index = np.concatenate([np.full(part.artist.shape, i, dtype=np.int8) for i, part in enumerate(parts)], axis=2)
        silent = np.asarray(result.mix)[index] == 0  # a member with mix 0 gives no reason: it adds nothing
        result.contribution[silent] = np.nan
        result.artist[silent], result.friend[silent], result.hops[silent] = -1, -1, -1
        result.member = np.where(np.isnan(result.contribution), -1, index).astype(np.int8)
        result.shares = np.full((*result.items.shape, len(members)), np.nan)
        for start in range(0, len(users), CHUNK_USERS):
            rows = slice(start, start + CHUNK_USERS)
            cols, valid = columns_of(model, result.items[rows])
            for i, (member, weight) in enumerate(zip(members, result.mix, strict=True)):
                scores = member.score(result.users[rows])  # standardised as SocialEnsemble._score_known does
                spread = scores.std(axis=1, keepdims=True)
                z = (np.take_along_axis(scores, cols, axis=1) - scores.mean(axis=1, keepdims=True)) / np.where(
                    spread > 0, spread, 1.0
                )
                result.shares[rows, :, i] = np.where(valid, weight * z, np.nan)
        result.rest = np.where(result.known[:, None], result.score - result.shares.sum(axis=2), result.score)
        return result


def explainer_for(cls: type[Recommender]) -> Explainer:
    """The explainer of a model class, chosen by what it declares.

    Raises:
        ParameterError: the model is of no kind that can be explained (one sentence).
    """
    if issubclass(cls, SocialEnsemble):
        return Ensemble()
    if issubclass(cls, SocialEASE):
        return SocialLinear()
    if issubclass(cls, FriendsPopularity):
        return FriendsLinear()
    if issubclass(cls, ItemItemModel):
        return Linear()
    if not cls.personal:
        return Explainer()
    if cls.has_embeddings:
        return Similarity()
    raise ParameterError(
        f"{cls.name} cannot be explained: it has no item–item weights, no friends and no artist vectors "
        f"({cls.no_embeddings_reason})."
    )


def reasons_of(
    model: Recommender, split: Split, friends: pd.DataFrame, users: np.ndarray, items: np.ndarray, per_item: int = 3
) -> Reasons:
    """The :class:`Reasons` of a fitted model's lists (e.g. right after training, to store them with the run).

    Args:
        model: The fitted model (``Run.recommender()`` for a cached run).
        split: Its split. ``friends``: the data set's ``userID, friendID`` pairs.
        users, items: ``[U]`` user ids and ``[U, n]`` their listed artist ids (-1 pads), e.g. a run's
            ``test_users`` and ``top_items``.
        per_item: Reasons kept per artist (per member for an ensemble).

    Raises:
        ParameterError: the model is of no kind that can be explained.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64).reshape(len(users), -1)
    return explainer_for(type(model)).reasons(model, Context(split, friends), users, items, per_item)


STORED_PREFIX = "reasons_"  # the arrays' names in a run store, e.g. reasons_artist
STORED_LENGTH = 10  # list positions explained per user when a run is stored


def reason_arrays(
    model: Recommender, split: Split, friends: pd.DataFrame, users: np.ndarray, items: np.ndarray, per_item: int = 3
) -> dict[str, np.ndarray]:
    """:func:`reasons_of` the first :data:`STORED_LENGTH` artists of each list, as plain arrays named
    ``reasons_<name>`` for a run store (no pickle needed); empty for a model that cannot be explained."""
    try:
        explainer_for(type(model))
    except ParameterError:
        return {}
    found = reasons_of(model, split, friends, users, np.asarray(items)[:, :STORED_LENGTH], per_item)
    return {f"{STORED_PREFIX}{name}": array for name, array in found.to_arrays().items()}


def stored_reasons(arrays: Mapping[str, np.ndarray]) -> Reasons | None:
    """The :class:`Reasons` kept by :func:`reason_arrays` in a run store's arrays, or None when there are none."""
    found = {name.removeprefix(STORED_PREFIX): a for name, a in arrays.items() if name.startswith(STORED_PREFIX)}
    return Reasons.from_arrays(found) if found else None
