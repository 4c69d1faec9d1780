"""Metrics: the notebook-style tables per model and year, with reference rows, charts, warm/cold, losses."""

import streamlit as st

from app import charts
from app.state import page_start, pick_settings, runs_of, runs_or_stop
from explorer import reports

dataset = page_start("Metrics")
table = runs_or_stop(dataset)

st.caption("One hyperparameter setting per model (the cached ones):")
chosen = runs_of(pick_settings(table, "metrics_setting"))
reference = not dataset.synthetic and st.toggle(
    "Show the notebook's published numbers as reference rows", value=True, key="metrics_reference"
)
st.markdown(
    "**Recall@K**: share of the test rows (held-out user–artist pairs) whose artist the model ranks in the user's "
    "top K. **MRR**: mean of 1/rank over the rows whose artist was seen in training, each found artist removed "
    "before the next is looked up (the notebook's *norm_ranks*)."
)


def download(frame, name: str) -> None:
    st.download_button(
        f"Download {name}.csv", frame.to_csv(index=False).encode(), f"{name}.csv", "text/csv", key=f"download_{name}"
    )


recall = reports.recall_table(chosen, reference=reference)
mrr = reports.mrr_table(chosen, reference=reference)
left, right = st.columns([3, 2])
with left:
    st.subheader("Recall@K")
    st.dataframe(
        recall,
        hide_index=True,
        key="recall_table",
        column_config={c: st.column_config.NumberColumn(format="%.4f") for c in recall if c.startswith("R@")},
    )
    download(recall, "recall")
with right:
    st.subheader("MRR")
    st.dataframe(
        mrr, hide_index=True, key="mrr_table", column_config={"MRR": st.column_config.NumberColumn(format="%.4f")}
    )
    download(mrr, "mrr")
if reference:
    st.caption(reports.NOTEBOOK_NOTE)

curve = reports.recall_curve(chosen, reference=reference)
years = sorted({run.year for run in chosen})
left, right = st.columns(2)
with left:
    k = st.select_slider("K", options=[5, 10, 25, 50, 500], value=10, key="metrics_k")
    st.plotly_chart(charts.recall_by_year(curve, k), key="recall_by_year")
with right:
    year = st.selectbox("Test year", years, index=len(years) - 1, key="metrics_year")
    st.plotly_chart(charts.recall_by_k(curve, year), key="recall_by_k")

st.subheader("Warm vs cold users")
st.markdown(
    "*Warm* users have interactions before the test year; *cold* users have none, so most models can only "
    "give them the popularity ranking (LightGCN + friends can reach them through their friends)."
)
groups = reports.groups_table(chosen)
metric = st.radio("Metric", ["R@10", "R@50", "MRR", "NDCG@10"], horizontal=True, key="warm_cold_metric")
st.plotly_chart(charts.warm_cold(groups, metric), key="warm_cold_chart")
st.dataframe(groups, hide_index=True, key="groups_table")
download(groups, "warm_cold")

st.subheader("NDCG, hit rate and catalogue coverage")
st.markdown("*Coverage@10*: share of the train artists that appear in at least one test user's top-10 list.")
quality = reports.quality_table(chosen)
st.dataframe(quality, hide_index=True, key="quality_table")
download(quality, "quality")

left, right = st.columns(2)
with left:
    losses = reports.losses_table(chosen)
    if losses.empty:
        st.info("None of the chosen runs trains in epochs (popularity and CMF have no loss curve).")
    else:
        st.plotly_chart(charts.losses(losses), key="loss_chart")
        download(losses, "losses")
with right:
    timing = reports.timing_table(chosen)
    st.plotly_chart(charts.fit_times(timing), key="fit_time_chart")
    download(timing, "timing")
for note in sorted({note for run in chosen for note in run.notes}):
    st.caption(f"Note: {note}")
