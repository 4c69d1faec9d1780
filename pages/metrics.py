"""Metrics: tables per model and year with 95% CIs and significance marks, a two-model comparison with its
verdict, cohorts, beyond-accuracy metrics, charts with error bars, losses and timings."""

import json

import pandas as pd
import streamlit as st

from app import charts
from app.state import load_run, page_start, pick_settings, runs_of, runs_or_stop, splits
from app.text import literal
from explorer import comparison, reports, runs
from explorer.cohorts import COHORTS, assign, cohort_metrics
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.evaluation import metric_label
from explorer.stats import RESAMPLES

TABLE_METRICS = (*comparison.CI_METRICS,)
FAMILY_METRICS = ("recall@10", "mrr", "ndcg@10")  # the page's one family: every pair × these × the years
RECALL_COLUMNS = {f"R@{k}": f"recall@{k}" for k in (5, 10, 25, 50, 500)}
QUALITY_COLUMNS = {"NDCG@10": "ndcg@10", "NDCG@50": "ndcg@50", "HitRate@10": "hit_rate@10"}


@st.cache_data(show_spinner="Computing confidence intervals and paired tests…", max_entries=32)
def comparison_of(keys: tuple[str, ...], contents: tuple[str, ...]) -> dict:  # noqa: ARG001 - contents: the key
    """explorer.comparison.compare of the runs ``keys``: every pair × FAMILY_METRICS × years (one family), values
    and CIs of TABLE_METRICS; cached per runs' contents (a retrained run is a new key)."""
    found: dict = {}
    for key in keys:
        run = load_run(key)
        found.setdefault(run.model, []).append(run)
    return comparison.compare(found, FAMILY_METRICS, values=TABLE_METRICS)


@st.cache_data(show_spinner="Computing cohort metrics…", max_entries=32)
def cohorts_of(keys: tuple[str, ...], contents: tuple[str, ...], family: str, _dataset: Dataset) -> pd.DataFrame:  # noqa: ARG001
    """Cohort metrics with CIs of the runs ``keys`` (long form, see explorer.reports.cohort_rows); ``contents``
    (the runs' content ids, which name the data set too) key the cache, so a retrained run is recomputed."""
    rows = []
    for key in keys:
        run = load_run(key)
        groups = cohort_metrics(run.ranks, assign(splits(_dataset)[run.year], _dataset.friends), families=(family,))
        rows.append((run.model, run.year, groups))
    return reports.cohort_rows(rows)


def downloads(frame: pd.DataFrame, name: str, caption: str = "") -> None:
    """CSV, Markdown and LaTeX of a table (with its significance marks), side by side."""
    columns = st.columns(3)
    files = [
        ("csv", frame.to_csv(index=False), "text/csv"),
        ("md", reports.to_markdown(frame), "text/markdown"),
        ("tex", reports.to_latex(frame, caption), "application/x-tex"),
    ]
    for column, (suffix, text, mime) in zip(columns, files, strict=False):
        column.download_button(
            f"{name}.{suffix}", text.encode(), f"{name}.{suffix}", mime, key=f"download_{name}_{suffix}"
        )


dataset = page_start("Metrics")
table = runs_or_stop(dataset)

st.caption("One hyperparameter setting per model (the cached ones):")
chosen = runs_of(pick_settings(table, "metrics_setting"))
keys = tuple(runs.run_key(r.model, r.params, r.year, r.data["fingerprint"]) for r in chosen)
seed_keys = tuple(  # every cached seed of each chosen setting
    key
    for key, model, year, params in zip(table["key"], table["model"], table["year"], table["params"], strict=True)
    if any(
        (r.model, r.year) == (model, year)
        and comparison.without_seed(r.params) == comparison.without_seed(json.loads(params))
        for r in chosen
    )
)
if len(seed_keys) > len(keys) and st.toggle(
    "Average over the cached seeds of each setting (mean ± seed SD beside the CI)", value=True, key="metrics_seeds"
):
    keys = seed_keys
models = list(dict.fromkeys(run.model for run in chosen))
left, right = st.columns([2, 3])
baseline = left.selectbox(
    "Baseline for the significance marks",
    models,
    index=models.index("popularity") if "popularity" in models else 0,
    key="metrics_baseline",
)
reference = not dataset.synthetic and right.toggle(
    "Show the notebook's published numbers as reference rows", value=True, key="metrics_reference"
)
try:
    result = comparison_of(keys, tuple(runs.content_id(key) for key in keys))
except ExplorerError as error:
    st.error(literal(error))
    st.stop()
MARK_NOTE = (
    f"Values are shown with their 95% confidence interval, a bootstrap over test users ({RESAMPLES:,} resamples). "
    f"▲ / ▼ (on {', '.join(map(metric_label, FAMILY_METRICS))}): better / worse than **{baseline}**. "
    + result["family"]["sentence"].replace("Decisions:", "The marks and the two-model verdict use one family:")
)
st.markdown(
    "**Recall@K**: share of the test rows (held-out user–artist pairs) whose artist the model ranks in the user's "
    "top K. **MRR**: mean of 1/rank over the rows whose artist was seen in training, each found artist removed "
    "before the next is looked up (the notebook's *norm_ranks*)."
)

recall = reports.with_intervals(reports.recall_table(chosen, reference=reference), result, RECALL_COLUMNS, baseline)
mrr = reports.with_intervals(reports.mrr_table(chosen, reference=reference), result, {"MRR": "mrr"}, baseline)
st.subheader("Recall@K")
st.dataframe(recall, hide_index=True, key="recall_table")
downloads(recall, "recall", MARK_NOTE)
st.subheader("MRR")
st.dataframe(mrr, hide_index=True, key="mrr_table")
downloads(mrr, "mrr", MARK_NOTE)
st.caption(MARK_NOTE)
tidy = reports.tidy(result)  # one row per (year, model, metric): the export a researcher can load
left, right = st.columns(2)
left.download_button("results.csv (tidy)", tidy.to_csv(index=False).encode(), "results.csv", "text/csv", key="tidy")
right.download_button(  # built on click: per (model, year, user) hits@K, reciprocal-rank sums and cohorts
    "per_user.csv",
    lambda: (
        reports.per_user(chosen, {r.year: assign(splits(dataset)[r.year], dataset.friends) for r in chosen})
        .to_csv(index=False)
        .encode()
    ),
    "per_user.csv",
    "text/csv",
    key="per_user",
)
if reference:
    st.caption(reports.NOTEBOOK_NOTE)

curve = reports.curve_with_intervals(reports.recall_curve(chosen, reference=reference), result)
years = sorted({run.year for run in chosen})
left, right = st.columns(2)
with left:
    k = st.select_slider("K", options=[5, 10, 25, 50, 500], value=10, key="metrics_k")
    st.plotly_chart(charts.recall_by_year(curve, k), key="recall_by_year")
with right:
    year = st.selectbox("Test year", years, index=len(years) - 1, key="metrics_year")
    st.plotly_chart(charts.recall_by_k(curve, year), key="recall_by_k")

st.subheader("Compare two models")
if len(models) < 2:
    st.info("Train a second model to compare two.")
else:
    left, right = st.columns(2)
    first = left.selectbox("Model A", models, index=len(models) - 1, key="compare_a")
    second = right.selectbox(
        "Model B", [m for m in models if m != first], index=0, key="compare_b", help="the difference is A − B"
    )
    for sentence in (comparison.verdict_of(result, first, second, metric) for metric in FAMILY_METRICS):
        (st.success if "beats" in sentence else st.info)(sentence + ".")
    st.caption(
        "From the same family as the marks above. Adjusted CI: simultaneous for that family (docs/statistics.md). "
        "Effect d_z: mean per-user contribution to the difference over its standard deviation."
    )
    rows = reports.pair_rows(result, first, second)
    st.plotly_chart(charts.pair_differences(rows, first, second), key="pair_chart")
    duel_table = reports.pairs_table(result, first, second)
    st.dataframe(duel_table, hide_index=True, key="pair_table")
    downloads(duel_table, "pair", f"{first} vs {second}: difference with 95% CI, adjusted CI, p and adjusted p.")

st.subheader("Cohorts")
st.markdown(
    "*activity*: train artists of the user (cold 0, light 1–5, medium 6–20, heavy > 20); *mainstream*: terciles "
    "of the mean train popularity of the user's artists (cold users left out); *social*: friends with train rows "
    "(none, few 1–5, many > 5)."
)
left, mid, right = st.columns(3)
family = left.radio("Cohorts", list(COHORTS), horizontal=True, key="cohort_family")
cohort_metric = mid.radio("Metric", ["R@10", "MRR", "NDCG@10"], horizontal=True, key="cohort_metric")
cohort_year = right.selectbox("Test year", years, index=len(years) - 1, key="cohort_year")
year_keys = tuple(
    runs.run_key(r.model, r.params, r.year, r.data["fingerprint"]) for r in chosen if r.year == cohort_year
)
cohort_table = cohorts_of(year_keys, tuple(map(runs.content_id, year_keys)), family, dataset)
st.plotly_chart(charts.cohort_bars(cohort_table, cohort_metric, family), key="cohort_chart")
shown_cohorts = reports.cohort_table(cohort_table, cohort_metric)
st.dataframe(shown_cohorts, hide_index=True, key="cohort_table")
downloads(shown_cohorts, "cohorts", f"{cohort_metric} by {family} cohort with 95% bootstrap CIs over users.")

st.subheader("Warm vs cold users")
groups = reports.groups_table(chosen)
st.dataframe(groups, hide_index=True, key="groups_table")
downloads(groups, "warm_cold")

st.subheader("Beyond accuracy")
st.markdown(
    "Over the top-10 lists of all test users. *coverage*: share of the train artists recommended at least once; "
    "*novelty*: mean −log2 of an artist's share of the train interactions; *arp*: mean train popularity of the "
    "recommended artists; *long_tail_share*: share outside the 20% most popular train artists; *gini*: inequality "
    "of exposure over the catalogue (1: everything goes to one artist); *diversity*: mean pairwise tag-Jaccard "
    "distance inside a list (tags dated before the test year only)."
)
beyond = reports.beyond_table(chosen)
beyond_shown = reports.with_intervals(beyond, result, {"R@10": "recall@10", "MRR": "mrr"}, baseline)
st.dataframe(
    beyond_shown,
    hide_index=True,
    key="beyond_table",
    column_config={c: st.column_config.NumberColumn(format="%.4f") for c in reports.BEYOND_COLUMNS},
)
downloads(beyond_shown, "beyond", "Beyond-accuracy metrics of the top-10 lists. " + MARK_NOTE)
scatter = beyond.merge(
    curve[curve["K"] == 10][["model", "year", "low", "high"]], on=["model", "year"], how="left"
).dropna(subset=["novelty"])
if not scatter.empty:
    st.plotly_chart(charts.accuracy_vs_novelty(scatter), key="novelty_chart")

st.subheader("NDCG and hit rate")
quality = reports.with_intervals(reports.quality_table(chosen), result, QUALITY_COLUMNS, baseline)
st.dataframe(quality, hide_index=True, key="quality_table")
downloads(quality, "quality", MARK_NOTE)

left, right = st.columns(2)
with left:
    losses = reports.losses_table(chosen)
    if losses.empty:
        st.info("None of the chosen runs trains in epochs (popularity and CMF have no loss curve).")
    else:
        st.plotly_chart(charts.losses(losses), key="loss_chart")
        downloads(losses, "losses")
with right:
    timing = reports.timing_table(chosen)
    st.plotly_chart(charts.fit_times(timing), key="fit_time_chart")
    downloads(timing, "timing")
for note in sorted({note for run in chosen for note in run.notes}):
    st.caption(f"Note: {note}")
st.caption(f"Metrics compared: {', '.join(metric_label(m) for m in TABLE_METRICS)}.")
