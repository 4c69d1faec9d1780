"""Overview: where the data comes from, its size, what forward chaining tests, and which runs are cached."""

import streamlit as st

from app.state import cached_runs, model_rank, page_start, with_settings
from app.text import literal
from explorer import overview

dataset = page_start(
    "Last.fm Recommender Explorer", "What data is this, how is each model tested, and where is each answer?"
)
for target, label, icon in (
    ("pages/metrics.py", "Which model is best each year, and is it real? → Metrics", ":material/bar_chart:"),
    ("pages/compare.py", "Why does a model recommend what it does to one user? → Compare users", ":material/group:"),
    ("pages/embeddings.py", "Where is a user or an artist in a model's space? → Embeddings", ":material/scatter_plot:"),
    ("pages/train.py", "Which runs are cached, and how do I add or tune one? → Train", ":material/fitness_center:"),
):
    st.page_link(target, label=label, icon=icon)
source = "synthetic demo data" if dataset.synthetic else "Last.fm hetrec2011-lastfm-2k (GroupLens, HetRec 2011)"
st.markdown(
    f"**Data:** {source} · {literal(dataset.path)} · fingerprint `{dataset.fingerprint}`  \n"
    "Each user listened to artists (with play counts) and tagged some of them on a known day. Following the "
    "original notebook, an *interaction* is a (user, artist) pair that was both listened to and tagged, dated by "
    "its tag; models learn which artists a user will tag next."
)

columns = st.columns(6)
for column, (label, value) in zip(columns, overview.counts(dataset).items(), strict=True):
    column.metric(label, f"{value:,}")

left, right = st.columns([2, 3])
with left:
    st.subheader("Interactions per year")
    # Streamlit's own chart: the first page needs no plotly (faster first render).
    st.bar_chart(overview.interactions_per_year(dataset).astype({"year": str}), x="year", y="interactions", height=320)
with right:
    st.subheader("Forward chaining")
    st.markdown(
        "For each **test year Y** a model is trained on every interaction dated **before Y** and asked to rank, "
        "for each user active in Y, all artists seen in training (minus the user's own). Its score is how high "
        "the artists the user really tagged in Y come.  \n"
        "**Cold users** have no interaction before Y: every model that does not know them falls back to "
        "popularity. **Unseen artists** appear first in Y: no model can rank them."
    )

labels = {
    "test_year": "test year Y",
    "train_rows": "train rows (< Y)",
    "test_rows": "test rows (= Y)",
    "test_users": "test users",
    "cold_users": "cold users",
    "cold_row_share": "rows of cold users",
    "unseen_artist_share": "rows of unseen artists",
    "rankable_rows": "rankable rows",
}
shown = overview.splits_table(dataset).rename(columns=labels)[list(labels.values())]
st.dataframe(
    shown,
    hide_index=True,
    column_config={
        "rows of cold users": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "rows of unseen artists": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
    },
    key="splits_table",
)

st.subheader("Cached runs")
runs_table = cached_runs(dataset)
if runs_table.empty:
    st.info("No run is cached for this data yet: train models on the Train page (or with `python -m explorer train`).")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/fitness_center:")
else:
    runs_table = with_settings(runs_table)  # the seeds of one setting count together
    counts = runs_table.pivot_table(index=["model", "setting"], columns="year", values="key", aggfunc="count")
    counts.columns = [f"runs {year}" for year in counts.columns]
    counts = counts.fillna(0).astype(int).reset_index()
    counts = counts.sort_values("model", key=model_rank, kind="stable")
    st.dataframe(counts, hide_index=True, key="cached_runs_overview")
    st.caption("Cached runs per model, hyperparameter setting and test year (several runs: several seeds).")
