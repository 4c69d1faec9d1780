"""The Embeddings page's one-year view: which run to map (its default setting first), the stored map (or one
drawn on request, with progress), a user's lists and an artist's neighbours marked on it.

Nothing is computed on page load: a map that is not stored is drawn only when asked (on a read-only server
the page says which command stores it). Points, tags and figures are cached by the run's content id and
the map's settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import map_charts
from app.address import query_choice, query_models
from app.serving import read_only
from app.state import defaults_first, in_display_order, in_registry_order, runs_of
from app.text import literal
from explorer import maps, projection, recommend, runs, similar
from explorer.data import Dataset
from explorer.disagreement import stored_lists
from explorer.errors import ExplorerError
from explorer.protocol import Split
from explorer.training import Run

TAGS_COLOURED = len(map_charts.TAG_PALETTE)
MAX_MARKED = 4  # models whose top-10 lists a map marks at once (each its own mark colour)


@st.cache_resource(max_entries=4, show_spinner=False)
def _tag_order(fingerprint: str, _dataset: Dataset) -> tuple[str, ...]:  # noqa: ARG001 - the key
    counts = maps.top_tags(_dataset.tagged, _dataset.tags, "artistID").value_counts()
    return tuple(counts.index[:TAGS_COLOURED])


def tag_order(dataset: Dataset) -> tuple[str, ...]:
    """The data set's most common artist top tags (over all years): each keeps its colour on every map."""
    return _tag_order(dataset.fingerprint, dataset)


def pick_run(table: pd.DataFrame) -> pd.Series:
    """Model, test year and setting of the run to map; the model's default setting first (not a swept one)."""
    models = in_registry_order(table["model"])
    left, middle, right = st.columns([2, 1, 2])
    model = left.selectbox(
        "Model", models, index=query_choice("model", models, "lightgcn-social"), key="embedding_model"
    )
    rows = table[table["model"] == model]
    years = sorted(set(rows["year"]))
    year = middle.selectbox("Test year", years, index=query_choice("year", years, years[-1]), key="embedding_year")
    rows = rows[rows["year"] == year]
    settings = defaults_first(rows["setting"])
    setting = right.selectbox(
        "Setting", settings, key=f"embedding_setting_{model}_{year}", help="hyperparameters of the cached runs"
    )
    st.query_params.update({"model": model, "year": str(year)})
    return rows[rows["setting"] == setting].iloc[-1]


def stored_or_drawn(run: Run, kind: str, n_neighbors: int, min_dist: float, asked: bool) -> pd.DataFrame | None:
    """The map with these settings: stored, or drawn now when ``asked`` (or on this button); None (after a note)."""
    settings = {"kind": kind, "n_neighbors": n_neighbors, "min_dist": min_dist}
    try:
        found = projection.cached_projection(run.key, **settings)
    except ExplorerError as error:
        st.error(literal(error))
        return None
    if found is not None:
        return found
    if read_only():
        st.info(
            "This map is not stored and this server is read-only. Training stores each run's default map "
            f"(`python -m explorer train --model {literal(run.model)} --years {run.year}`); other settings can be "
            "drawn on a server that is not read-only."
        )
        return None
    note = st.empty()
    if not asked:
        with note.container():
            st.info(
                f"This map is not stored yet: drawing it takes about 5 s for {len(run.state['item_ids']):,} artists "
                "(the first map after a server start takes longer while UMAP compiles)."
            )
            asked = st.button("Draw this map", key="embedding_draw", type="primary")
        if not asked:
            return None
    note.empty()
    bar = st.progress(0.0, text="Projecting with UMAP…")
    try:
        found = projection.projection_for(
            run.key,
            **settings,
            progress=lambda step, total, **_: bar.progress(step / max(total, 1), text=f"Projecting… {step}/{total}"),
        )
    except ExplorerError as error:
        st.error(literal(error))
        return None
    finally:
        bar.empty()
    return found


def map_key(run: Run, settings: tuple) -> tuple:
    """What one map is: the run's content (a retrained run is a new map) and the UMAP settings."""
    return (runs.content_id(run.key), settings)


@st.cache_resource(max_entries=16, show_spinner=False)
def _points(key: tuple, year: int, _coordinates: pd.DataFrame, _dataset: Dataset, _split: Split):  # noqa: ARG001
    return maps.describe_points(_dataset, _split, _coordinates)


def points_of(dataset: Dataset, split: Split, coordinates: pd.DataFrame, key: tuple) -> pd.DataFrame:
    """The map's points with names, top tags and popularity (cached by :func:`map_key`)."""
    return _points(key, split.year, coordinates, dataset, split)


@st.cache_resource(max_entries=32, show_spinner=False)
def _figure(key: tuple, _points: pd.DataFrame, colour: str, marks: tuple, order: tuple, isolate: bool) -> go.Figure:  # noqa: ARG001
    return map_charts.embedding_map(_points, colour, marks, tag_order=order, isolate=isolate)


def figure(points: pd.DataFrame, key: tuple, colour: str, marks: Sequence, order: tuple, isolate: bool) -> go.Figure:
    """:func:`app.map_charts.embedding_map`, built once per map (:func:`map_key`), colouring, marks and isolation
    (treat as read-only)."""
    return _figure(key, points, colour, tuple(marks), order, isolate)


def pick_user(users: Sequence[int], year: int) -> int | None:
    """The user to mark (``?user=`` in the address by default; a warning when it names nobody of this year)."""
    wanted = st.query_params.get("user")
    if wanted is not None and not (wanted.isdigit() and int(wanted) in users):
        st.warning(
            f"The address names user {literal(repr(wanted))}, who has no held-out artists in {year}; pick one below."
        )
        wanted = None
    user = st.selectbox(
        "Mark a user: their history, held-out artists and lists",
        [None, *users],
        index=list(users).index(int(wanted)) + 1 if wanted else 0,
        key="embedding_user",
        format_func=lambda u: "nobody" if u is None else f"user {u}",
    )
    if user is None:
        st.query_params.pop("user", None)
    else:
        st.query_params["user"] = str(user)
    return user


def pick_lists(year_table: pd.DataFrame, model: str) -> list[str]:
    """Which models' lists to mark (default: ``?models=`` in the address, else the mapped model)."""
    models = in_registry_order(year_table["model"])
    chosen = st.multiselect(
        "Mark these models' top-10 lists",
        models,
        default=query_models(models, MAX_MARKED) or [model],
        key="embedding_lists",
        max_selections=MAX_MARKED,
    )
    if chosen:
        st.query_params["models"] = ",".join(chosen)
    return chosen


def user_marks(split: Split, year_table: pd.DataFrame, user: int, models: Sequence[str]) -> list:
    """The user's marks: history, held-out artists and each chosen model's stored top-10 list (default setting)."""
    rows = year_table[year_table["model"].isin(models)]
    rows = in_display_order(rows).drop_duplicates("model")
    tops = {run.model: stored_lists(run, [user])[0] for run in runs_of(rows)}  # the evaluated top-10 (-1 pads)
    lists = {model: top[top >= 0] for model, top in tops.items()}
    history = split.train.loc[split.train["userID"] == user, "artistID"].to_numpy()
    held = split.test.loc[split.test["userID"] == user, "artistID"].to_numpy()
    return map_charts.user_marks(user, history, held, {m: lists[m] for m in models if m in lists})


def artist_search(dataset: Dataset, run: Run, key: str = "embedding_search") -> list:
    """Find an artist by name; its 10 nearest neighbours in the run's own space (a table, and marks for the map)."""
    text = st.text_input("Find an artist by name", key=key, placeholder="e.g. Radiohead")
    if not text.strip():
        return []
    found = similar.find_artists(dataset, text, among=run.state["item_ids"])
    if found.empty:
        st.info(f"No artist of this map's catalogue ({run.year}) has {literal(repr(text))} in its name.")
        return []
    names = dict(zip(found["artistID"], found["name"], strict=True))
    artist = st.selectbox(f"{len(found)} match(es)", list(names), format_func=names.get, key=f"{key}_pick")
    try:
        near = similar.nearest_artists(run, int(artist), 10)
    except ExplorerError as error:
        st.error(literal(error))
        return []
    near["name"] = recommend.artist_names(dataset, near["artistID"].to_numpy())["name"].to_numpy()
    st.dataframe(
        near[["rank", "name", "similarity"]],
        hide_index=True,
        key="embedding_neighbours_table",
        alt="nearest neighbours",
        height=250,
        column_config={"similarity": st.column_config.NumberColumn("cosine similarity", format="%.3f")},
    )
    st.caption(f"The {len(near)} artists nearest to it in {run.model}'s own space (its artist vectors, not the map).")
    return map_charts.artist_marks(int(artist), names[artist], near["artistID"].to_numpy())


def missing_note(points: pd.DataFrame, marks: Sequence, user: int | None) -> None:
    """Say what is marked but cannot be drawn (a user without a vector, artists outside the catalogue)."""
    if user is not None and not ((points["node"] == "user") & (points["id"] == user)).any():
        st.caption(f"User {user} has no place on this map (no vector: a cold user, or a map of artists only).")
    listed = np.unique(np.concatenate([np.asarray(m.ids) for m in marks if m.node == "artist"] or [np.empty(0)]))
    absent = np.setdiff1d(listed, points.loc[points["node"] == "artist", "id"].to_numpy())
    if len(absent):
        st.caption(
            f"{len(absent)} marked artist(s) have no place on this map: nobody listened to them before the test year "
            "(held-out artists new that year), so the model has no vector for them."
        )
