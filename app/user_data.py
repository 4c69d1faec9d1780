"""What Compare users and the map read about one test user, looked up in the runs' stores and cached.

Every function here reads what a run stored when it was trained (:mod:`explorer.lookups`: the top-50 list
of each test user, its hit flags, the known-user mask, and the explanations of each top-10 list) and is
cached by the runs' content ids (:func:`explorer.runs.content_id`): a retrained run refreshes, and no
page visit re-scores a user. Only a list longer than the stored explanations (more than 10 artists) is
explained on demand, for that one user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from explorer import disagreement, explain, recommend, runs
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.explainers import STORED_LENGTH, stored_reasons
from explorer.models import model_class
from explorer.protocol import Split
from explorer.training import Run

FALLBACK = disagreement.FALLBACK
BECAUSE = {  # the "because …" column's header per explanation kind
    "decomposition": "because you listen to …",
    "similarity": "because you listen to …",
    "friends": "because you or your friends listen to …",
    "ensemble": "because (each member's reasons)",
    "popularity": "because it is popular",
    "unexplained": "because …",
}


def content_ids(chosen: Sequence[Run]) -> tuple[str, ...]:
    """The runs' content ids (they change whenever an entry is retrained): the cache key of what derives from them."""
    return tuple(runs.content_id(run.key) for run in chosen)


@dataclass(frozen=True)
class ModelList:
    """One model's list for one user, as Compare users shows it.

    Attributes:
        model: The model's name. ``kind``: its explanation kind for this user (``popularity`` when it does not
            know them). ``note``: one sentence saying what the reasons are.
        known: Whether the model ranks the user personally. ``hits``: held-out artists in the list.
        rows: ``#, hit, artistID, name, url, because`` (one row per listed artist, best first).
    """

    model: str
    kind: str
    note: str
    known: bool
    hits: int
    rows: pd.DataFrame


def _stored_row(run: Run, user: int) -> int:
    users = run.lookups["test_users"]
    row = int(np.searchsorted(users, user))
    if row >= len(users) or users[row] != user:
        raise KeyError(user)
    return row


def _explained(run: Run, split: Split, dataset: Dataset, user: int, ids: np.ndarray) -> explain.Explanation:
    """The explanation of the user's list: stored for the first 10 artists, computed (this user only) beyond; a
    model that cannot be explained (a plugin without vectors) gets none, its one sentence as the note."""
    try:
        if len(ids) <= STORED_LENGTH:
            stored = stored_reasons(run.lookups)
            return explain.explain(run, split, dataset, user, top=max(len(ids), 1), stored=stored)
        reasons = explain.reason_ids(run, split, dataset, np.array([user]), ids[None, :])
    except ExplorerError as error:
        return explain.Explanation(run.model, split.year, user, "unexplained", str(error), [])
    return explain.explanation_of(reasons, 0, run.model, split.year, dataset)


def because(explanation: explain.Explanation, n: int) -> list[str]:
    """The "because …" text of each listed artist; for the popularity ranking, its number of train listeners."""
    if explanation.kind == "popularity":
        return [f"{item['score']:,.0f} train listeners" for item in explanation.items[:n]] + [""] * (
            n - len(explanation.items)
        )
    return (explanation.because() + [""] * n)[:n]


@st.cache_data(max_entries=64, show_spinner=False)
def _model_lists(  # noqa: PLR0913
    ids: tuple[str, ...],  # noqa: ARG001 - the key
    year: int,  # noqa: ARG001 - the key
    user: int,
    n: int,
    _runs: list[Run],
    _split: Split,
    _dataset: Dataset,
) -> list[ModelList]:
    found = []
    for run in _runs:
        row = _stored_row(run, user)
        top, hits = run.lookups["top_items"][row, :n], run.lookups["hits"][row, :n]
        keep = top >= 0
        top, hits = top[keep], hits[keep]
        known = bool(run.lookups["known"][row]) and model_class(run.model).personal
        explanation = _explained(run, _split, _dataset, user, top)
        named = recommend.artist_names(_dataset, top)
        rows = pd.DataFrame(
            {
                "#": np.arange(1, len(top) + 1),
                "hit": np.where(hits, "✓ hit", ""),
                "artistID": top,
                "name": named["name"].to_numpy(),
                "url": named["url"].to_numpy(),
                "because": because(explanation, len(top)),
            }
        )
        found.append(ModelList(run.model, explanation.kind, explanation.note, known, int(hits.sum()), rows))
    return found


def model_lists(dataset: Dataset, split: Split, chosen: Sequence[Run], user: int, n: int) -> list[ModelList]:
    """Each run's top-``n`` list for a test user, with hit flags and the "because …" text (n ≤ 50)."""
    return _model_lists(content_ids(chosen), split.year, int(user), int(n), list(chosen), split, dataset)


def merged(lists: Sequence[ModelList]) -> list[tuple[list[ModelList], str]]:
    """Lists that are the very same artists in the same order, merged: ``(group, label)``, largest group first.

    ``label`` is :data:`explorer.disagreement.FALLBACK` for the popularity ranking (the popularity model's list,
    or the list of a model that does not know the user), else empty.
    """
    groups: dict[tuple[int, ...], list[ModelList]] = {}
    for item in lists:
        groups.setdefault(tuple(item.rows["artistID"].tolist()), []).append(item)
    found = []
    for group in groups.values():
        fallback = any(not item.known for item in group)
        found.append((group, FALLBACK if fallback else ""))
    return sorted(found, key=lambda pair: -len(pair[0]))


@st.cache_data(max_entries=32, show_spinner=False)
def _held_out_ranks(ids: tuple[str, ...], year: int, user: int, _runs: list[Run]) -> pd.DataFrame:  # noqa: ARG001
    return recommend.held_out_ranks(_runs, user)


def held_out_ranks(held: pd.DataFrame, split: Split, chosen: Sequence[Run], user: int) -> pd.DataFrame:
    """``name`` and one rank column per model for each held-out artist (NaN where no model can rank it).

    ``held`` is the user's :func:`explorer.recommend.held_out` table, which the page has already read.
    """
    ranks = _held_out_ranks(content_ids(chosen), split.year, int(user), list(chosen))
    table = held[["artistID", "name"]].merge(ranks, on="artistID", how="left").drop(columns="artistID")
    return table.astype({run.model: float for run in chosen if run.model in table})


@st.cache_data(max_entries=32, show_spinner=False)
def _hits_and_misses(ids: tuple[str, ...], year: int, _a: Run, _b: Run, _split: Split) -> pd.DataFrame:  # noqa: ARG001
    return disagreement.hits_and_misses(_a, _b, _split, limit=None)


def hits_and_misses(run_a: Run, run_b: Run, split: Split) -> pd.DataFrame:
    """:func:`explorer.disagreement.hits_and_misses` of every test user (stored lists), once per pair of runs."""
    return _hits_and_misses(content_ids([run_a, run_b]), split.year, run_a, run_b, split)


@st.cache_data(max_entries=16, show_spinner=False)
def _cohort_overlap(ids: tuple, year: int, _runs: list[Run], _split: Split, _dataset: Dataset) -> pd.DataFrame:  # noqa: ARG001
    return disagreement.cohort_overlap(_runs, _split, _dataset.friends)


def cohort_overlap(dataset: Dataset, split: Split, chosen: Sequence[Run]) -> pd.DataFrame:
    """:func:`explorer.disagreement.cohort_overlap` of the runs (stored lists), once per runs and year."""
    return _cohort_overlap(content_ids(chosen), split.year, list(chosen), split, dataset)
