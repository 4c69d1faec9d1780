"""Embeddings: a UMAP map of a run's learned artist and user embeddings, with one user's lists marked."""

import numpy as np
import streamlit as st

from app import map_charts
from app.state import load_run_or_stop, no_runs_note, page_start, runs_or_stop, splits
from app.text import literal
from explorer import maps, projection, recommend
from explorer.errors import ExplorerError
from explorer.models import registry

dataset = page_start("Embedding maps")
table = runs_or_stop(dataset, "with embeddings (CMF, ALS, BPR or LightGCN)")
table = table[table["year"].isin(list(splits(dataset)))]
classes = registry()
mapped = table["model"].map(lambda name: name in classes and classes[name].has_embeddings).astype(bool)
without = [name for name in classes if name in set(table["model"]) and not classes[name].has_embeddings]
if without:
    st.caption(
        "No map for "
        + "; ".join(f"{name}: {classes[name].no_embeddings_reason}" for name in without)
        + ". A map places learned vectors; these models have none whose geometry is the model."
    )
table = table[mapped.to_numpy()]
if table.empty:
    no_runs_note("with embeddings (CMF, ALS, BPR or LightGCN) for the test years 2008–2010")
st.markdown(
    "UMAP places each learned embedding (64 numbers per artist or user) on a plane so that neighbours in "
    "embedding space stay neighbours on the map. Distances between far-apart groups mean little; who sits next "
    "to whom is what the model learned."
)

labels = {row.key: f"{row.model} · {row.year} · {row.setting}" for row in table.itertuples()}
keys = list(labels)
default = next((k for k in reversed(keys) if labels[k].startswith("lightgcn-social")), keys[-1])
key = st.selectbox("Run", keys, index=keys.index(default), format_func=labels.get, key="embedding_run")
run = load_run_or_stop(key)
split = splits(dataset)[run.year]

with st.form("projection_form"):
    left, middle, right = st.columns(3)
    kind = left.radio("Points", ["both", "artists", "users"], horizontal=True, key="embedding_kind")
    n_neighbors = middle.slider(
        "n_neighbors", 5, 100, 15, key="embedding_neighbors", help="larger: more global structure"
    )
    min_dist = right.slider(
        "min_dist", 0.0, 0.99, 0.1, step=0.01, key="embedding_min_dist", help="smaller: tighter clusters"
    )
    st.form_submit_button("Draw the map", key="embedding_submit")

try:
    coordinates = projection.cached_projection(key, kind=kind, n_neighbors=n_neighbors, min_dist=min_dist)
except ExplorerError as error:
    st.error(literal(error))
    st.stop()
if coordinates is None:
    st.info(
        f"This map is not cached yet: computing it takes about 5 s for {len(run.state['item_ids']):,} artists "
        "(the first map after a server start takes longer while UMAP compiles)."
    )
    bar = st.progress(0.0, text="Projecting with UMAP…")
    try:
        coordinates = projection.projection_for(
            key,
            kind=kind,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            progress=lambda step, total, **_: bar.progress(step / max(total, 1), text=f"Projecting… {step}/{total}"),
        )
    except ExplorerError as error:
        st.error(literal(error))
        st.stop()
    bar.empty()

points = maps.describe_points(dataset, split, coordinates)
colour = st.radio("Colour by", ["top tag", "popularity", "node type"], horizontal=True, key="embedding_colour")

options = recommend.user_options(split)
known = options["user"][np.isin(options["user"], run.state["user_ids"])].tolist()
users = known or options["user"].tolist()
wanted = st.query_params.get("user")
if wanted is not None and not (wanted.isdigit() and int(wanted) in users):
    st.warning(
        f"The address names user {literal(repr(wanted))}, who has no held-out artists in {run.year}; pick one below."
    )
    wanted = None
user = st.selectbox(
    "Mark a user, their history and their recommendations",
    [None, *users],
    index=users.index(int(wanted)) + 1 if wanted else 0,
    key="embedding_user",
    format_func=lambda u: "nobody" if u is None else f"user {u}",
)
marked = {}
if user is not None:
    history = recommend.user_history(dataset, split, user)["artistID"].to_numpy()
    recommended = recommend.recommendations(dataset, split, run, user, 10)["artistID"].to_numpy()
    marked = {"user": np.array([user]), "history": history, "recommended": recommended}

st.plotly_chart(map_charts.embedding_map(points, colour, marked), key="embedding_chart")
st.caption(
    f"{len(points):,} points · {run.model} {run.year} · n_neighbors {n_neighbors}, min_dist {min_dist}. "
    "Hover a point for its name."
)
