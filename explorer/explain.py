"""Why a model recommends each artist of a user's list, faithful to the model's own scores.

One explanation per model kind (:mod:`explorer.explainers` computes them, for many users at once):

* ``decomposition`` (``itemknn``, ``ease``): exact. The score of artist ``j`` is the sum over the user's train
  artists ``h`` of the model's weight from ``h`` to ``j``; each item shows its largest contributions
  (``reasons``) and ``rest``, the sum of the others, so that ``sum(reasons) + rest == score``. ``rest`` also
  holds the popularity tie-break, below a millionth of the user's largest score.
* ``friends`` (``friends-pop``, ``ease-social``): exact too, over the user's own artists and each friend's
  (``friendID`` with the friend's artist as ``artistID``, ``via_friend``); ease-social adds friends of
  friends (``friend_of_friend``).
* ``similarity`` (factor models, and any plugin model with artist vectors): the user's train artists most
  similar (cosine) to the recommended artist in the model's own space. Not a decomposition; ``rest`` is
  the sum of the other history artists' similarities.
* ``ensemble`` (``lightgcn-ease``): each member's reasons (``member``) and each member's share of the score
  (``members``: ``mix`` × its standardised score), which add up to the score.
* ``popularity``: a user the model does not know (and the popularity model itself) gets the ranking by
  train listeners, said in one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from explorer.data import Dataset
from explorer.errors import UnknownUserError
from explorer.explainers import Reasons, explainer_for, reasons_of
from explorer.models import model_class
from explorer.protocol import Split
from explorer.recommend import artist_names, top_lists
from explorer.training import Run

__all__ = ["KIND_NOTES", "Explanation", "Reasons", "explain", "kind_of", "reason_ids"]

PER_ITEM = 3  # reasons shown per recommended artist (per member for an ensemble)

KIND_NOTES = {
    "decomposition": "exact decomposition: each contribution is the model's weight from one of the user's train "
    "artists to the recommended artist, and the contributions plus rest add up to the score",
    "friends": "exact decomposition over the artists of the user and of their friends (a friend's artist is "
    "marked via that friend), the contributions plus rest adding up to the score",
    "similarity": "not a decomposition: the user's train artists most similar to the recommended artist in the "
    "model's own embedding space (cosine similarity)",
    "ensemble": "the members' reasons; each member's share (its mix times its standardised score) adds up to the score",
    "popularity": "no personal reasons: artists ranked by their number of train listeners",
}


def kind_of(model: str) -> str:
    """The explanation kind of a registered model (``ParameterError`` when it cannot be explained)."""
    return explainer_for(model_class(model)).kind


def reason_ids(
    run: Run, split: Split, dataset: Dataset, users: np.ndarray, top_items: np.ndarray, per_item: int = PER_ITEM
) -> Reasons:
    """The explanations of many users' lists at once (e.g. every test user's stored top-10 list).

    Args:
        run: A (cached) run; its model is re-created from the stored state, never refitted.
        split: The run's split (its train rows and catalogue).
        dataset: The data set (its friendships, for the social models).
        users: ``[U]`` user ids.
        top_items: ``[U, n]`` their recommended artist ids (-1 pads), e.g. ``run.top_items``.
        per_item: Reasons kept per artist (per member for an ensemble).

    Returns:
        :class:`Reasons`: plain arrays (``to_arrays()``), which a run store can keep.

    Raises:
        ParameterError: the model cannot be explained (one sentence).
    """
    explainer_for(model_class(run.model))  # refuses a model that cannot be explained before re-creating it
    return reasons_of(run.recommender(), split, dataset.friends, users, top_items, per_item)


@dataclass(frozen=True)
class Explanation:
    """One user's explained list: what ``python -m explorer explain`` prints and the pages show.

    Attributes:
        model, year, user: What is explained.
        kind: The model's explanation kind (see :data:`KIND_NOTES`); ``popularity`` for a user it does not know.
        note: One sentence saying what the reasons are (or that the user gets the popularity fallback).
        items: One dict per recommended artist, as in the CLI's JSON: ``artistID, name, rank, score, kind,
            reasons, rest`` (``members`` for an ensemble).
    """

    model: str
    year: int
    user: int
    kind: str
    note: str
    items: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """``{"model", "year", "user", "note", "items": [...]}``: issue 14's object, plus the one-sentence note."""
        return {"model": self.model, "year": self.year, "user": self.user, "note": self.note, "items": self.items}

    def because(self) -> list[str]:
        """One line of text per item: its reasons with their contributions (empty for the popularity fallback)."""
        return [reasons_text(item) for item in self.items]

    def table(self) -> pd.DataFrame:
        """One row per (item, reason): ``rank, artistID, name, score, kind, reason, reason_artistID, friendID,
        contribution, member`` (items without reasons keep one row with empty reason columns)."""
        rows = []
        for item in self.items:
            base = {k: item[k] for k in ("rank", "artistID", "name", "score", "kind")}
            for reason in item["reasons"] or [{}]:
                rows.append(
                    {
                        **base,
                        "reason": reason.get("name", ""),
                        "reason_artistID": reason.get("artistID"),
                        "friendID": reason.get("friendID"),
                        "contribution": reason.get("contribution"),
                        "member": reason.get("member", ""),
                    }
                )
        return pd.DataFrame(rows)


def explain(
    run: Run,
    split: Split,
    dataset: Dataset,
    user: int,
    *,
    top: int = 10,
    per_item: int = PER_ITEM,
    stored: Reasons | None = None,
) -> Explanation:
    """Why ``run``'s model recommends each artist of ``user``'s top-``top`` list.

    The list is the evaluated one (``run.top_items``) for a test user; for any other user of the data set it
    is computed with the evaluator's rule. ``stored``: the run's stored :class:`Reasons` (of its test users'
    lists), read instead of computing when they hold this user, ``top`` artists and ``per_item`` reasons.

    Raises:
        UnknownUserError: the data set has no such user.
        ParameterError: the model cannot be explained.
    """
    user = int(user)
    if not (dataset.user_artists["userID"] == user).any() and not (dataset.friends["userID"] == user).any():
        raise UnknownUserError(
            f"There is no user {user} in the data set; pick one of its user ids (e.g. {_some_user(split)})."
        )
    if stored is not None and top <= stored.items.shape[1] and per_item == stored.per_item:
        found = np.flatnonzero(stored.users == user)
        if len(found):
            return explanation_of(stored, int(found[0]), run.model, split.year, dataset, top=top)
    items = top_lists(run, split, np.array([user]), top)[0]  # a test user's stored list, else scored
    reasons = reason_ids(run, split, dataset, np.array([user]), items[None, :], per_item)
    return explanation_of(reasons, 0, run.model, split.year, dataset)


def explanation_of(
    reasons: Reasons, row: int, model: str, year: int, dataset: Dataset, *, top: int | None = None
) -> Explanation:
    """The :class:`Explanation` of row ``row`` of a batch of :class:`Reasons` (e.g. a stored one), its first
    ``top`` artists (default all)."""
    user, known = int(reasons.users[row]), bool(reasons.known[row])
    kind = reasons.kind if known else "popularity"
    keep = reasons.items[row] >= 0
    if top is not None:
        keep[top:] = False
    ids = reasons.items[row][keep]
    reason_artists = reasons.artist[row][keep]
    names = _names(dataset, np.concatenate([ids, reason_artists.ravel()]))
    items = []
    for position, artist in enumerate(ids):
        item = {
            "artistID": int(artist),
            "name": names[int(artist)],
            "rank": position + 1,
            "score": float(reasons.score[row, position]),
            "kind": kind,
            "reasons": _reasons_json(reasons, row, position, names) if known else [],
            "rest": float(reasons.rest[row, position]),
        }
        if known and reasons.members:
            item["members"] = [
                {"model": name, "kind": member_kind, "mix": mix, "share": float(share)}
                for name, member_kind, mix, share in zip(
                    reasons.members, reasons.member_kinds, reasons.mix, reasons.shares[row, position], strict=True
                )
            ]
        items.append(item)
    through_friends = known and kind == "similarity" and bool((reasons.hops[row] == 1).any())
    note = _note(model, user, kind, known, through_friends)
    return Explanation(model=model, year=year, user=user, kind=kind, note=note, items=items)


def _reasons_json(reasons: Reasons, row: int, position: int, names: dict[int, str]) -> list[dict[str, Any]]:
    found = []
    for slot in np.flatnonzero(~np.isnan(reasons.contribution[row, position])):
        artist, friend = int(reasons.artist[row, position, slot]), int(reasons.friend[row, position, slot])
        entry: dict[str, Any] = {}
        if friend >= 0:
            entry["friendID"] = friend
        if artist >= 0:
            entry["artistID"] = artist
        entry["name"] = names[artist] if artist >= 0 else f"user {friend}"
        entry["contribution"] = float(reasons.contribution[row, position, slot])
        if friend >= 0 and artist >= 0:
            entry["via_friend"] = True
        if reasons.hops[row, position, slot] == 2:
            entry["friend_of_friend"] = True
        member = int(reasons.member[row, position, slot])
        if member >= 0:
            entry["member"], entry["mix"] = reasons.members[member], reasons.mix[member]
        found.append(entry)
    return found


def reasons_text(item: dict[str, Any]) -> str:
    """One line: ``Radiohead +0.131, user 12's Muse +0.05 · rest +0.18``; similarity: ``Radiohead 0.91``;
    ensemble: ``lightgcn-social ×0.65: Radiohead 0.91 · ease-social ×0.35: Muse +0.08``."""
    if not item["reasons"]:
        return ""
    if "members" in item:
        groups = []
        for member in item["members"]:
            mine = [reason for reason in item["reasons"] if reason.get("member") == member["model"]]
            if mine:
                groups.append(f"{member['model']} ×{member['mix']:.2g}: {_joined(mine, item, member['kind'])}")
        return " · ".join(groups)
    text = _joined(item["reasons"], item, item["kind"])
    return text if item["kind"] == "similarity" else f"{text} · rest {item['rest']:+.3g}"


def _joined(reasons: list[dict[str, Any]], item: dict[str, Any], kind: str) -> str:
    parts = []
    for reason in reasons:
        label = reason["name"]
        if reason.get("via_friend"):
            whose = f"user {reason['friendID']}" + (" (friend of a friend)" if reason.get("friend_of_friend") else "")
            label = f"{whose} listens to it" if reason["artistID"] == item["artistID"] else f"{whose}'s {label}"
        elif "artistID" not in reason:
            label = f"user {reason['friendID']}"
        value = reason["contribution"]
        parts.append(f"{label} {value:.2f}" if kind == "similarity" else f"{label} {value:+.3g}")
    return ", ".join(parts)


def _note(model: str, user: int, kind: str, known: bool, through_friends: bool = False) -> str:
    if not model_class(model).personal:
        return f"{model} ranks every user alike: the artists with the most train listeners."
    if not known:
        return (
            f"User {user} is unknown to {model} (nothing before the test year it can use), so it gets the popularity "
            "fallback: the artists with the most train listeners."
        )
    if through_friends:
        return (
            f"User {user} has no train artists and {model} places them through their friends: the friends' artists "
            "most similar to each recommended artist in the model's own space (cosine similarity; not a decomposition)."
        )
    return f"{model}: {KIND_NOTES[kind]}."


def _names(dataset: Dataset, ids: np.ndarray) -> dict[int, str]:
    ids = np.unique(ids[ids >= 0])
    table = artist_names(dataset, ids)
    return dict(zip(table["artistID"].tolist(), table["name"].tolist(), strict=True))


def _some_user(split: Split) -> int:
    return int(split.test["userID"].iloc[0]) if len(split.test) else 2


def explanations(
    reasons: Reasons, users: Sequence[int], model: str, year: int, dataset: Dataset
) -> dict[int, Explanation]:
    """:class:`Explanation` of each of ``users`` found in a batch of :class:`Reasons` (others are left out)."""
    rows = {int(u): i for i, u in enumerate(reasons.users)}
    return {int(u): explanation_of(reasons, rows[int(u)], model, year, dataset) for u in users if int(u) in rows}
