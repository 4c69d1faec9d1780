"""The arrays explanations are made of (:class:`Reasons`), and the sources of a linear model's scores.

:class:`Reasons` holds many users' explained lists as plain arrays (what a run store keeps); the helpers
build each user's *sources* (an artist of their own, or of a friend, with its coefficient in the model's
query) for a chunk of users at once, from the split's interaction matrix and friendship graph.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from explorer.models import Recommender
from explorer.models.itemitem import friend_matrix, interaction_matrix, second_hop
from explorer.protocol import Split, TrainSet

OWN, FRIEND, FRIEND_OF_FRIEND = 0, 1, 2  # hops of a source: the user's own artist, a friend's, a friend of a friend's


class Context:
    """What explanations read besides the model: the split and its friendship graph (built once, lazily)."""

    def __init__(self, split: Split, friends: object = None) -> None:
        self.split = split
        self._friends = friends

    @functools.cached_property
    def train(self) -> TrainSet:
        return self.split.train_set(self._friends)

    @functools.cached_property
    def interactions(self) -> sparse.csr_matrix:
        return interaction_matrix(self.train)

    @functools.cached_property
    def friendships(self) -> tuple[np.ndarray, sparse.csr_matrix]:
        return friend_matrix(self.train)

    @functools.cached_property
    def second_hop(self) -> sparse.csr_matrix:
        user_ids, friends = self.friendships
        return second_hop(self.train, user_ids, friends)

    def train_rows(self, users: np.ndarray) -> np.ndarray:
        """Each user's row in ``train.users`` (-1 for a user without train rows)."""
        return rows_in(self.train.users, users)

    def friend_rows(self, users: np.ndarray) -> np.ndarray:
        """Each user's row in the friendship matrices (-1 for a user with neither train rows nor friends)."""
        return rows_in(self.friendships[0], users)


def rows_in(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each id's position in ``sorted_ids``, -1 where it is absent."""
    if not len(sorted_ids):
        return np.full(len(ids), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[at] == ids, at, -1)


@dataclass
class Reasons:
    """Explanations of many users' lists: ``[users, n]`` per list position, ``[users, n, r]`` per reason.

    Attributes:
        kind: The model's explanation kind (``decomposition``, ``friends``, ``similarity``, ``ensemble``,
            ``popularity``); users with ``known`` False get the popularity fallback whatever the kind.
        users: ``[U]`` user ids. ``items``: ``[U, n]`` recommended artist ids (-1 pads a short list).
        known: ``[U]`` True where the model ranks the user personally.
        score: ``[U, n]`` the model's score of each item (NaN at pads). ``rest``: ``[U, n]`` what the reasons
            shown leave out (decomposition, friends: score − Σ contributions; similarity: the sum of the
            other history artists' similarities; ensemble: score − Σ member shares).
        artist, friend: ``[U, n, r]`` the reason's artist id and friend id (-1 where none).
        hops: ``[U, n, r]`` 0: the user's own artist, 1: a friend's, 2: a friend of a friend's (-1 none).
        contribution: ``[U, n, r]`` (NaN where there is no reason); best first.
        member: ``[U, n, r]`` index into ``members`` of the ensemble member giving the reason (-1 otherwise).
        members, member_kinds: ensemble members' model names and explanation kinds (empty otherwise).
        shares: ``[U, n, len(members)]`` each member's share of the score (ensembles).
        mix: the members' weights.
    """

    kind: str
    users: np.ndarray
    items: np.ndarray
    known: np.ndarray
    score: np.ndarray
    rest: np.ndarray
    artist: np.ndarray
    friend: np.ndarray
    hops: np.ndarray
    contribution: np.ndarray
    member: np.ndarray
    members: tuple[str, ...] = ()
    member_kinds: tuple[str, ...] = ()
    shares: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 0)))
    mix: tuple[float, ...] = ()

    @classmethod
    def empty(cls, kind: str, users: np.ndarray, items: np.ndarray, per_item: int) -> Reasons:
        shape = (*items.shape, per_item)
        return cls(
            kind=kind,
            users=np.asarray(users, dtype=np.int64),
            items=np.asarray(items, dtype=np.int64),
            known=np.zeros(len(users), dtype=bool),
            score=np.full(items.shape, np.nan),
            rest=np.full(items.shape, np.nan),
            artist=np.full(shape, -1, dtype=np.int64),
            friend=np.full(shape, -1, dtype=np.int64),
            hops=np.full(shape, -1, dtype=np.int8),
            contribution=np.full(shape, np.nan),
            member=np.full(shape, -1, dtype=np.int8),
            shares=np.zeros((*items.shape, 0)),
        )

    @property
    def per_item(self) -> int:
        """Reasons kept per artist (per member for an ensemble)."""
        return self.artist.shape[2] // max(len(self.members), 1)

    ARRAYS = (
        "users",
        "items",
        "known",
        "score",
        "rest",
        "artist",
        "friend",
        "hops",
        "contribution",
        "member",
        "shares",
    )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no pickle) for the run store; :meth:`from_arrays` reads them back."""
        return {
            **{name: getattr(self, name) for name in self.ARRAYS},
            "kind": np.array(self.kind),
            "members": np.array(self.members, dtype=str),
            "member_kinds": np.array(self.member_kinds, dtype=str),
            "mix": np.array(self.mix, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Reasons:
        return cls(
            kind=str(arrays["kind"]),
            **{name: arrays[name] for name in cls.ARRAYS},
            members=tuple(str(m) for m in arrays["members"]),
            member_kinds=tuple(str(m) for m in arrays["member_kinds"]),
            mix=tuple(float(m) for m in arrays["mix"]),
        )


@dataclass
class Sources:
    """The sources of a chunk of users' scores: per source its user's row in the chunk, artist column,
    friend id (-1: the user's own), hops and coefficient."""

    row: np.ndarray
    artist: np.ndarray
    friend: np.ndarray
    hops: np.ndarray
    coef: np.ndarray

    FIELDS = ("row", "artist", "friend", "hops", "coef")

    @classmethod
    def concat(cls, parts: list[Sources]) -> Sources:
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.FIELDS))

    def subset(self, index: np.ndarray) -> Sources:
        return Sources(*(getattr(self, name)[index] for name in self.FIELDS))


def expand(
    rows: np.ndarray, members: np.ndarray, coef: np.ndarray, friend: np.ndarray, hops: int, by: sparse.csr_matrix
) -> Sources:
    """One source per artist of each ``members`` row of ``by`` (``[members, artists]`` CSR), coefficient × its value."""
    counts = np.diff(by.indptr)[members]
    at = np.repeat(by.indptr[members], counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return Sources(
        row=np.repeat(rows, counts),
        artist=by.indices[at].astype(np.int64),
        friend=np.repeat(friend, counts).astype(np.int64),
        hops=np.full(len(at), hops, dtype=np.int8),
        coef=np.repeat(coef, counts) * by.data[at],
    )


@dataclass
class Entries:
    """Non-zero contributions of a chunk's sources: ``value`` of source ``source`` to list position ``position``."""

    source: np.ndarray
    position: np.ndarray
    value: np.ndarray


def top_entries(entries: Entries, sources: Sources, per_item: int, users: int, n: int) -> np.ndarray:
    """``[users, n, per_item]`` indices into ``entries`` of each list position's largest values (-1: none).

    Ties go to the user's own artists first, then lower artist ids, then lower friend ids.
    """
    chosen = np.full((users, n, per_item), -1, dtype=np.int64)
    if not len(entries.source):
        return chosen
    source = entries.source
    group = sources.row[source] * n + entries.position
    order = np.lexsort((sources.friend[source], sources.artist[source], sources.hops[source], -entries.value, group))
    group = group[order]
    starts = np.r_[True, group[1:] != group[:-1]]
    rank = np.arange(len(group)) - np.maximum.accumulate(np.where(starts, np.arange(len(group)), 0))
    keep = rank < per_item
    chosen[group[keep] // n, group[keep] % n, rank[keep]] = order[keep]
    return chosen


def columns_of(model: Recommender, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of ``items`` (artist ids, -1 pads) in ``model``'s catalogue (0 where invalid), and the valid mask."""
    cols = np.minimum(np.searchsorted(model.item_ids_, np.maximum(items, 0)), len(model.item_ids_) - 1)
    valid = (items >= 0) & (model.item_ids_[cols] == items)
    return np.where(valid, cols, 0), valid


def friend_sources(context: Context, users: np.ndarray, weight: float | None, hops: int = FRIEND) -> Sources:
    """Each friend's (``hops`` 2: friend of a friend's) train artists; coefficient ``weight / their number``
    (None: 1). Rows index ``users``."""
    rows = context.friend_rows(users)
    chunk = np.flatnonzero(rows >= 0)
    matrix = context.friendships[1] if hops == FRIEND else context.second_hop
    pairs = matrix[rows[chunk]].tocoo()
    counts = np.bincount(pairs.row, minlength=len(chunk)).astype(np.float64)
    coef = np.ones(len(pairs.row)) if weight is None else weight / np.maximum(counts[pairs.row], 1.0)
    return expand(chunk[pairs.row], pairs.col, coef, context.train.users[pairs.col], hops, context.interactions)


def own_sources(context: Context, users: np.ndarray, mask: np.ndarray | None = None) -> Sources:
    """Each user's own train artists, coefficient 1 (only where ``mask``). Rows index ``users``."""
    own = context.train_rows(users)
    chunk = np.flatnonzero((own >= 0) & (True if mask is None else mask))
    return expand(chunk, own[chunk], np.ones(len(chunk)), np.full(len(chunk), -1), OWN, context.interactions)
