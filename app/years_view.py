"""The Embeddings page's *Across years* view: one model's aligned maps of the test years side by side, an
artist followed across them (its path and its nearest neighbours in each year's own space), and the artists
whose neighbourhood moved most (:mod:`explorer.drift`, the measure named on the page).

The aligned maps are computed only on an explicit button, with progress (never on page load); a read-only
server says which command computes them instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from app import map_charts
from app.address import query_choice
from app.maps_view import tag_order
from app.serving import read_only
from app.state import in_registry_order
from app.text import literal
from explorer import drift, maps, recommend, runs, similar
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.protocol import Split

K = drift.DEFAULT_K  # the neighbours compared per artist: what `python -m explorer drift` stores


def _ids(keys: dict[int, str]) -> tuple[str, ...]:
    return tuple(runs.content_id(key) for key in keys.values())


class _NotStored(Exception):
    """Nothing stored yet: raised inside a cached function so that Streamlit keeps no answer (it caches values,
    never exceptions), and the next rerun looks again (after the button, or `python -m explorer drift`)."""


def _stored(found: object) -> object:
    if found is None:
        raise _NotStored
    return found


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_aligned(ids: tuple[str, ...], model: str, _dataset: Dataset) -> drift.AlignedMaps:  # noqa: ARG001
    return _stored(drift.cached_aligned_maps(_dataset, model))


def _aligned(ids: tuple[str, ...], model: str, dataset: Dataset) -> drift.AlignedMaps | None:
    """The model's stored aligned maps (cached once found), or None while none are stored."""
    try:
        return _cached_aligned(ids, model, dataset)
    except _NotStored:
        return None


@st.cache_resource(max_entries=12, show_spinner=False)
def _year_points(ids: tuple[str, ...], year: int, _maps: drift.AlignedMaps, _dataset: Dataset, _split: Split):  # noqa: ARG001
    return maps.describe_points(_dataset, _split, _maps.of_year(year))


@st.cache_data(max_entries=16, show_spinner=False)
def _cached_moved(ids: tuple[str, ...], model: str, min_listeners: int, _dataset: Dataset) -> pd.DataFrame:  # noqa: ARG001
    return _stored(drift.stored_most_moved(_dataset, model, k=K, top=20, min_listeners=min_listeners))


def _moved(ids: tuple[str, ...], model: str, min_listeners: int, dataset: Dataset) -> pd.DataFrame | None:
    """The stored most-moved table (cached once found), or None while no neighbour overlap is stored."""
    try:
        return _cached_moved(ids, model, min_listeners, dataset)
    except _NotStored:
        return None


@st.cache_data(max_entries=32, show_spinner=False)
def _neighbours(ids: tuple[str, ...], model: str, artist: int, _dataset: Dataset) -> pd.DataFrame:  # noqa: ARG001
    return drift.neighbours_by_year(_dataset, model, artist, k=K)


@st.cache_resource(max_entries=16, show_spinner=False)
def _figure(ids: tuple[str, ...], artist: int | None, _by_year: dict, _order: tuple, _path, _marks):  # noqa: ARG001
    return map_charts.years_map(_by_year, _order, _path, _marks)


def compute(dataset: Dataset, model: str) -> bool:
    """The button that computes the aligned maps and the neighbour overlap (with progress); True once done."""
    if read_only():
        st.info(
            f"The aligned maps of {literal(model)} are not computed yet, and this server is read-only: compute them "
            f"on its machine with `python -m explorer drift --model {literal(model)}`, then reload this page."
        )
        return False
    st.info(
        f"The aligned maps of {literal(model)} are not computed yet: AlignedUMAP over its three years takes about a "
        f"minute on 2 cores (the same as `python -m explorer drift --model {literal(model)}`), once; they are stored."
    )
    if not st.button("Compute the aligned maps", key="years_compute", type="primary"):
        return False
    bar = st.progress(0.0, text="Aligning the years' maps…")
    try:
        drift.aligned_maps(
            dataset,
            model,
            progress=lambda step, total, **_: bar.progress(step / max(total, 1), text=f"Aligning… {step}/{total}"),
        )
        bar.progress(1.0, text="Comparing each artist's neighbours between the years…")
        drift.neighbour_overlap(dataset, model, k=K)
    except ExplorerError as error:
        st.error(literal(error))
        return False
    finally:
        bar.empty()
    return True


def follow(dataset: Dataset, shared: np.ndarray, moved: pd.DataFrame | None) -> int | None:
    """The artist to follow: found by name (among the artists of every year), or one of the most moved."""
    left, right = st.columns([1, 2])
    text = left.text_input("Follow an artist (search by name)", key="years_search", placeholder="e.g. Madonna")
    if text.strip():
        found = similar.find_artists(dataset, text, among=shared)
        if found.empty:
            right.info(f"No artist present in every year has {literal(repr(text))} in its name.")
            return None
    elif moved is not None and not moved.empty:
        found = moved[["artistID", "name"]]
    else:
        return None
    names = dict(zip(found["artistID"].tolist(), found["name"].tolist(), strict=True))
    options = [None, *names]
    if st.session_state.get("years_follow") not in options:
        st.session_state.pop("years_follow", None)
    return right.selectbox(
        "Artist",
        options,
        key="years_follow",
        format_func=lambda a: "nobody (pick one, or a row of the table below)" if a is None else names[a],
    )


def _pick_moved(moved: pd.DataFrame) -> None:
    """A row picked in the most-moved table becomes the followed artist (callback, before the next run)."""
    rows = st.session_state["years_moved"].selection.rows
    if rows:
        st.session_state["years_search"] = ""
        st.session_state["years_follow"] = int(moved["artistID"].iloc[rows[0]])


def across_years(dataset: Dataset, table: pd.DataFrame, year_splits: dict[int, Split]) -> None:
    """The whole view: model, aligned maps (or the button), the followed artist, the most-moved table."""
    models = in_registry_order(table["model"])
    model = st.selectbox("Model", models, index=query_choice("model", models, "lightgcn-social"), key="years_model")
    try:
        keys = drift.year_keys(dataset, model)
    except ExplorerError as error:
        st.info(literal(error))
        return
    ids = _ids(keys)
    aligned = _aligned(ids, model, dataset)
    if aligned is None:
        if not compute(dataset, model):
            return
        aligned = _aligned(ids, model, dataset)
    minimum = int(st.session_state.get("years_min_listeners", 5))
    moved = _moved(ids, model, minimum, dataset)
    shared = aligned.shared_artists()
    artist = follow(dataset, shared, moved)
    by_year = {year: _year_points(ids, year, aligned, dataset, year_splits[year]) for year in aligned.years}
    path, marks, near = None, {}, None
    if artist is not None:
        path = aligned.path(artist)
        near = _neighbours(ids, model, artist, dataset)
        name = recommend.artist_names(dataset, [artist])["name"].iloc[0]
        for year in aligned.years:
            ids_near = near.loc[near["year"] == year, "artistID"].to_numpy()
            marks[year] = map_charts.artist_marks(artist, name, ids_near, named=False)  # the table names them
    st.plotly_chart(_figure(ids, artist, by_year, tag_order(dataset), path, marks), key="years_chart")
    counts = aligned.artist_counts()
    st.caption(
        f"{literal(model)}'s artist vectors of {', '.join(map(str, aligned.years))} laid out together with "
        f"{drift.METHOD}: the same artist is linked between consecutive years, so a place means the same in every "
        f"panel. Artists per year: {', '.join(f'{y} {n:,}' for y, n in counts.items())}; in every year "
        f"{len(shared):,}. Colours: each artist's most used tag before the year."
    )
    if near is not None:
        neighbours_table(near, aligned.years)
    moved_table(moved, aligned.years)


def neighbours_table(near: pd.DataFrame, years: Sequence[int]) -> None:
    """The followed artist's nearest neighbours in each year's own space, one column per year."""
    shown = pd.DataFrame({"rank": range(1, K + 1)})
    for year in years:
        rows = near[near["year"] == year].sort_values("rank")
        text = [f"{n} ({s:.2f})" for n, s in zip(rows["name"], rows["similarity"], strict=True)]
        shown[str(year)] = pd.Series(text, dtype=object).reindex(range(K)).to_numpy()
    st.markdown(f"**Its {K} nearest neighbours in each year** (cosine similarity in the model's own space)")
    st.dataframe(shown, hide_index=True, key="years_neighbours", alt="neighbours by year")


def moved_table(moved: pd.DataFrame | None, years: Sequence[int]) -> None:
    """The artists whose neighbourhood changed most, with the measure said in words; a row click follows one."""
    st.subheader("Moved most")
    st.caption(
        f"Measure: the {drift.MEASURE.format(k=K)}. 1 = the same neighbours, 0 = none kept; lowest mean first. "
        "Pick a row to follow the artist on the maps."
    )
    st.slider(
        "Only artists with at least this many train listeners (rarely heard artists move by chance)",
        0,
        50,
        5,
        key="years_min_listeners",
    )
    if moved is None:
        st.info("The neighbour overlap is not computed yet: `python -m explorer drift --model …` computes it.")
        return
    pairs = drift.pair_names(list(years))
    st.dataframe(
        moved[["name", "listeners", *pairs, "mean_overlap"]],
        hide_index=True,
        key="years_moved",
        alt="moved most",
        on_select=lambda: _pick_moved(moved),
        selection_mode="single-row",
        column_config={name: st.column_config.NumberColumn(format="%.2f") for name in [*pairs, "mean_overlap"]},
    )
