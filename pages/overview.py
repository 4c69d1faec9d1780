"""Overview: where the data comes from, its size, and what forward chaining tests."""

import streamlit as st

from app.state import dataset_or_stop
from explorer import overview

st.title("Last.fm Recommender Explorer")
dataset = dataset_or_stop()
st.caption(f"Data: {dataset.label} · fingerprint `{dataset.fingerprint}`")

columns = st.columns(6)
for column, (label, value) in zip(columns, overview.counts(dataset).items(), strict=True):
    column.metric(label, f"{value:,}")

st.subheader("Interactions per year")
st.bar_chart(overview.interactions_per_year(dataset), x="year", y="interactions")

st.subheader("Forward chaining: train on years before Y, test on year Y")
st.dataframe(overview.splits_table(dataset), hide_index=True)
