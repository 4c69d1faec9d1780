"""Embeddings: where is this user on the model's map, what sits next to an artist, how the map moves over years."""

import streamlit as st

from app import maps_view, years_view
from app.serving import read_only
from app.state import load_run_or_stop, no_runs_note, page_start, runs_or_stop, splits, user_options
from explorer.models import registry

dataset = page_start("Embedding maps")
st.markdown(
    "**Where is this user on the map, and what does the model put next to an artist?** Mark a user (their "
    "history, held-out artists and each model's list) or search an artist: everything else dims and the map "
    "zooms to the marks. **How does the model's picture change from year to year?** Switch to *Across years*."
)
table = runs_or_stop(dataset, "with embeddings (CMF, ALS, BPR or LightGCN)")
year_splits = splits(dataset)
table = table[table["year"].isin(list(year_splits))]
classes = registry()
mapped = table["model"].map(lambda name: name in classes and classes[name].has_embeddings).astype(bool)
without = [name for name in classes if name in set(table["model"]) and not classes[name].has_embeddings]
mapped_table = table[mapped.to_numpy()]
if mapped_table.empty:
    no_runs_note("with embeddings (CMF, ALS, BPR or LightGCN) for the test years 2008–2010")

views = ["One year", "Across years"]
view = st.segmented_control(
    "View", views, default=views[1] if st.query_params.get("view") == "years" else views[0], key="embedding_view"
)
if view == "Across years":
    st.query_params["view"] = "years"
    years_view.across_years(dataset, mapped_table, year_splits)
    st.stop()
st.query_params.pop("view", None)

row = maps_view.pick_run(mapped_table)
run = load_run_or_stop(row["key"])
split = year_splits[run.year]
with st.form("projection_form"):
    left, middle, right = st.columns(3)
    kind = left.radio("Points", ["both", "artists", "users"], horizontal=True, key="embedding_kind")
    n_neighbors = middle.slider(
        "n_neighbors", 5, 100, 15, key="embedding_neighbors", help="larger: more global structure"
    )
    min_dist = right.slider(
        "min_dist", 0.0, 0.99, 0.1, step=0.01, key="embedding_min_dist", help="smaller: tighter clusters"
    )
    # the map of the default settings opens by itself; the button applies other settings (a read-only server
    # draws nothing new: there it only picks among the stored maps)
    asked = st.form_submit_button("Show the map" if read_only() else "Apply these settings", key="embedding_submit")
left, right = st.columns(2)
with left:
    user = maps_view.pick_user(user_options(dataset, split)["user"].tolist(), run.year)
    year_table = table[table["year"] == run.year]
    models = maps_view.pick_lists(year_table, run.model) if user is not None else []
with right:
    found = maps_view.artist_search(dataset, run)
marks = (maps_view.user_marks(split, year_table, user, models) if user is not None else []) + found
left, right = st.columns([3, 1])
colour = left.radio("Colour by", ["top tag", "popularity", "node type"], horizontal=True, key="embedding_colour")
isolate = right.toggle("Show only what is marked", key="embedding_isolate", disabled=not marks)

coordinates = maps_view.stored_or_drawn(run, kind, n_neighbors, min_dist, asked)
if coordinates is None:
    st.stop()
key = maps_view.map_key(run, (kind, n_neighbors, min_dist))
points = maps_view.points_of(dataset, split, coordinates, key)
order = maps_view.tag_order(dataset)
st.plotly_chart(maps_view.figure(points, key, colour, marks, order, isolate and bool(marks)), key="embedding_chart")
st.caption(
    f"{len(points):,} points · {run.model} {run.year} ({row['setting']}) · UMAP n_neighbors {n_neighbors}, "
    f"min_dist {min_dist}. Hover a point for its name; drag to zoom, double-click to see the whole map."
)
maps_view.missing_note(points, marks, user)
if without:
    st.caption(
        "No map for "
        + "; ".join(f"{name}: {classes[name].no_embeddings_reason}" for name in without)
        + ". A map places learned vectors; these models have none whose geometry is the model."
    )
