"""The Metrics page's sections behind its tabs: every metric with CIs, charts, two models, cohorts, beyond
accuracy, training. Each draws from one :class:`View` (the runs shown and their one comparison); only the open
tab runs. Figures are cached by their inputs: the runs' content ids, the test and the options chosen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from app.metrics_data import COHORT_NOTE, cohorts_of, seed_order
from app.run_card import show_run_card
from app.state import splits
from explorer import decisions, reports, runs
from explorer.cohorts import COHORTS, assign
from explorer.data import Dataset
from explorer.evaluation import metric_label
from explorer.stats import RESAMPLES
from explorer.training import Run

RECALL_COLUMNS = {f"R@{k}": f"recall@{k}" for k in (5, 10, 25, 50, 500)}
QUALITY_COLUMNS = {"NDCG@10": "ndcg@10", "NDCG@50": "ndcg@50", "HitRate@10": "hit_rate@10"}


@dataclass
class View:
    """What every section draws from."""

    dataset: Dataset
    chosen: list[Run]  # every run shown (all cached seeds of each chosen setting)
    result: dict  # their one comparison (explorer.comparison.compare)
    token: str  # identifies the runs' contents and the test: the figures' cache key
    models: list[str] = field(default_factory=list)  # best first (the leaderboard's order), else the runs' order
    years: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.models = self.models or list(dict.fromkeys(run.model for run in self.chosen))
        self.years = sorted({run.year for run in self.chosen})

    def one_seed(self) -> list[Run]:
        """One run per model and year, by the same rule as the page's seed toggle (:func:`seed_order`)."""
        chosen: dict[tuple[str, int], Run] = {}
        for run in sorted(self.chosen, key=lambda r: seed_order(r.model, r.year, r.seed)):
            chosen.setdefault((run.model, run.year), run)
        return [chosen[pair] for pair in dict.fromkeys((run.model, run.year) for run in self.chosen)]

    def reference(self) -> bool:
        """Whether to show the notebook's published rows beside ours (a toggle; real data only)."""
        return not self.dataset.synthetic and st.toggle(
            "Show the notebook's published numbers as reference rows", value=True, key="metrics_reference"
        )


def per_model_year(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model and year: several seeds of a setting averaged (numeric columns; text from the first).

    The CI columns are then written from the comparison's pooled entries (mean ± seed SD) by ``with_intervals``.
    """
    if not frame.duplicated(["model", "year"]).any():
        return frame
    numeric = [c for c in frame.columns if c not in ("model", "year") and pd.api.types.is_numeric_dtype(frame[c])]
    agg = {c: ("mean" if c in numeric else "first") for c in frame.columns if c not in ("model", "year")}
    return frame.groupby(["model", "year"], sort=False, as_index=False).agg(agg)[list(frame.columns)]


@st.cache_resource(max_entries=128, show_spinner=False)
def _figure(kind: str, token: str, options: tuple, _build: Callable) -> object:  # noqa: ARG001 - the key
    return _build()


def chart(view: View, kind: str, options: tuple, build: Callable, key: str) -> None:
    """``build()``'s figure, built once per runs' contents and options (treat it as read-only)."""
    st.plotly_chart(_figure(kind, view.token, options, build), key=key)


def downloads(frame: pd.DataFrame, name: str, caption: str = "") -> None:
    """CSV, Markdown and LaTeX of a table (with its significance marks), side by side."""
    columns = st.columns(3)
    files = [
        ("csv", lambda: frame.to_csv(index=False), "text/csv"),
        ("md", lambda: reports.to_markdown(frame), "text/markdown"),
        ("tex", lambda: reports.to_latex(frame, caption), "application/x-tex"),
    ]
    for column, (suffix, text, mime) in zip(columns, files, strict=True):
        column.download_button(f"{name}.{suffix}", text, f"{name}.{suffix}", mime, key=f"download_{name}_{suffix}")


def mark_note(view: View, baseline: str) -> str:
    return (
        f"Values with their 95% confidence interval, a bootstrap over test users ({RESAMPLES:,} resamples). "
        f"▲ / ▼ (on {', '.join(map(metric_label, view.result['metrics']))}): better / worse than **{baseline}** "
        "by the page's test (the leaderboard's family)."
    )


def tables(view: View) -> None:
    """Every metric per model and year with its CI, ▲/▼ against a chosen baseline, and their downloads."""
    baseline = st.selectbox(
        "Baseline for ▲ / ▼",
        view.models,
        index=view.models.index("popularity") if "popularity" in view.models else 0,
        key="metrics_baseline",
    )
    note = mark_note(view, baseline)
    st.caption(note)
    result, chosen, reference = view.result, view.chosen, view.reference()
    recall_rows = per_model_year(reports.recall_table(chosen, reference=reference))
    recall = reports.with_intervals(recall_rows, result, RECALL_COLUMNS, baseline)
    st.markdown(
        "**Recall@K**: share of the test rows (held-out user–artist pairs) whose artist the model ranks in the "
        "user's top K."
    )
    st.dataframe(recall, hide_index=True, key="recall_table")
    downloads(recall, "recall", note)
    mrr_rows = per_model_year(reports.mrr_table(chosen, reference=reference))
    mrr = reports.with_intervals(mrr_rows, result, {"MRR": "mrr"}, baseline)
    st.markdown(
        "**MRR**: mean of 1/rank over the rows whose artist was seen in training, each found artist removed before "
        "the next is looked up (the notebook's *norm_ranks*)."
    )
    st.dataframe(mrr, hide_index=True, key="mrr_table")
    downloads(mrr, "mrr", note)
    quality = reports.with_intervals(per_model_year(reports.quality_table(chosen)), result, QUALITY_COLUMNS, baseline)
    st.markdown("**NDCG and hit rate**")
    st.dataframe(quality, hide_index=True, key="quality_table")
    downloads(quality, "quality", note)
    st.markdown("**Warm vs cold users** (cold: no train rows; every model falls back to popularity for them)")
    groups = reports.groups_table(chosen)
    if groups.duplicated(["model", "year", "users"]).any():  # seeds: the mean of each group's numbers
        groups = groups.groupby(["model", "year", "users"], sort=False, as_index=False).mean(numeric_only=True)
    st.dataframe(groups, hide_index=True, key="groups_table")
    downloads(groups, "warm_cold")
    if reference:
        st.caption(reports.NOTEBOOK_NOTE)


def curve(view: View, reference: bool) -> pd.DataFrame:
    """Long form ``model, year, K, recall, low, high`` from the comparison (seeds pooled: their mean and its CI),
    with the notebook's published rows (no CI) when ``reference``."""
    values = reports.comparison_values(view.result)
    values = values[values["metric"].str.startswith("recall@")]
    rows = values.assign(K=values["metric"].str.removeprefix("recall@").astype(int), recall=values["value"])
    rows = rows[["model", "year", "K", "recall", "low", "high"]]
    if reference:
        rows = pd.concat([rows, reports.recall_curve([], reference=True)], ignore_index=True)
    return rows


def recall_charts(view: View) -> None:
    """Recall@K by test year and against K."""
    from app import charts

    reference = view.reference()
    shown = curve(view, reference)
    left, right = st.columns(2)
    with left:
        k = st.select_slider("K", options=[5, 10, 25, 50, 500], value=10, key="metrics_k")
        chart(view, "recall_by_year", (k, reference), lambda: charts.recall_by_year(shown, k), "recall_by_year")
    with right:
        year = st.selectbox("Test year", view.years, index=len(view.years) - 1, key="metrics_year")
        chart(view, "recall_by_k", (year, reference), lambda: charts.recall_by_k(shown, year), "recall_by_k")
    if reference:
        st.caption("Dotted: " + reports.NOTEBOOK_NOTE)


def two_models(view: View) -> None:
    """The verdict on two chosen models, from the same family as the leaderboard."""
    from app import charts

    if len(view.models) < 2:
        st.info("Train a second model to compare two.")
        return
    left, right = st.columns(2)
    first = left.selectbox("Model A", view.models, index=0, key="compare_a", help="default: the best model")
    others = [m for m in view.models if m != first]
    second = right.selectbox("Model B", others, index=0, key="compare_b", help="the difference is A − B")
    for metric in view.result["metrics"]:
        sentence = decisions.verdict_of(view.result, first, second, metric)
        (st.success if "beats" in sentence else st.info)(sentence + ".")
    st.caption(
        "From the same family and test as the leaderboard. Adjusted CI: simultaneous for that family "
        "(docs/statistics.md). Effect d_z: mean per-user contribution to the difference over its standard deviation."
    )
    rows = reports.pair_rows(view.result, first, second)
    chart(view, "pair", (first, second), lambda: charts.pair_differences(rows, first, second), "pair_chart")
    duel = reports.pairs_table(view.result, first, second)
    st.dataframe(duel, hide_index=True, key="pair_table")
    downloads(duel, "pair", f"{first} vs {second}: difference with 95% CI, adjusted CI, p and adjusted p.")


def cohorts(view: View) -> None:
    """A metric by user cohort (activity, mainstream, social) for one test year."""
    from app import charts

    st.markdown(COHORT_NOTE)
    if len(view.one_seed()) < len(view.chosen):
        st.caption("Seed-dependent models: the run of each year's default seed.")
    left, mid, right = st.columns(3)
    family = left.radio("Cohorts", list(COHORTS), horizontal=True, key="cohort_family")
    metric = mid.radio("Metric", ["R@10", "MRR", "NDCG@10"], horizontal=True, key="cohort_metric")
    year = right.selectbox("Test year", view.years, index=len(view.years) - 1, key="cohort_year")
    keys = tuple(r.key for r in view.one_seed() if r.year == year)
    table = cohorts_of(keys, tuple(map(runs.content_id, keys)), family, view.dataset)
    chart(view, "cohorts", (family, metric, year), lambda: charts.cohort_bars(table, metric, family), "cohort_chart")
    shown = reports.cohort_table(table, metric)
    st.dataframe(shown, hide_index=True, key="cohort_table")
    downloads(shown, "cohorts", f"{metric} by {family} cohort with 95% bootstrap CIs over users.")


BEYOND_NOTE = (
    "Over the top-10 lists of all test users. *coverage*: share of the train artists recommended at least once; "
    "*novelty*: mean −log2 of an artist's share of the train interactions; *arp*: mean train popularity of the "
    "recommended artists; *long_tail_share*: share outside the 20% most popular train artists; *gini*: inequality "
    "of exposure over the catalogue (1: everything goes to one artist); *diversity*: mean pairwise tag-Jaccard "
    "distance inside a list (tags dated before the test year only)."
)


def beyond(view: View) -> None:
    """Beyond-accuracy metrics of the top-10 lists, and accuracy against novelty."""
    from app import charts

    st.markdown(BEYOND_NOTE)
    table = per_model_year(reports.beyond_table(view.chosen))
    shown = reports.with_intervals(table, view.result, {"R@10": "recall@10", "MRR": "mrr"})
    config = {c: st.column_config.NumberColumn(format="%.4f") for c in reports.BEYOND_COLUMNS}
    st.dataframe(shown, hide_index=True, key="beyond_table", column_config=config)
    downloads(shown, "beyond", "Beyond-accuracy metrics of the top-10 lists, with 95% CIs over test users.")
    recall = curve(view, False)
    points = table.merge(recall[recall["K"] == 10][["model", "year", "low", "high"]], on=["model", "year"], how="left")
    points = points.dropna(subset=["novelty"])
    if not points.empty:
        chart(view, "novelty", (), lambda: charts.accuracy_vs_novelty(points), "novelty_chart")


def training(view: View) -> None:
    """Loss curves, fit times, and each run's card (everything needed to re-create it)."""
    from app import charts

    left, right = st.columns(2)
    with left:
        losses = reports.losses_table(view.one_seed())  # one curve per model and year (its default seed)
        if losses.empty:
            st.info("None of the runs shown trains in epochs (popularity and CMF have no loss curve).")
        else:
            chart(view, "losses", (), lambda: charts.losses(losses), "loss_chart")
            downloads(losses, "losses")
    with right:
        timing = reports.timing_table(view.chosen)
        chart(view, "fit_times", (), lambda: charts.fit_times(timing), "fit_time_chart")
        downloads(timing, "timing")
    st.markdown("**Run card**: everything needed to re-create a run, and the command that does it")
    labels = {
        f"{r.model} {r.year}" + (f" · seed {r.seed}" if r.seed is not None else "") + f" · {r.key}": r.key
        for r in view.chosen
    }
    show_run_card(labels[st.selectbox("Run", list(labels), key="metrics_run_card")])


def exports(view: View) -> None:
    """The tidy CSV of the comparison and the per-user results (built when clicked)."""
    left, right = st.columns(2)
    left.download_button(
        "results.csv (tidy)",
        lambda: reports.tidy(view.result).to_csv(index=False),
        "results.csv",
        "text/csv",
        key="tidy",
        help="one row per (year, model, metric): value, ci_low, ci_high, p_vs_best, group, seeds, seed_sd…",
    )
    right.download_button(
        "per_user.csv",
        lambda: reports.per_user(
            view.chosen, {year: assign(splits(view.dataset)[year], view.dataset.friends) for year in view.years}
        ).to_csv(index=False),
        "per_user.csv",
        "text/csv",
        key="per_user",
        help="one row per (model, year, seed, user): cases, hits@K, reciprocal-rank sum, cohorts",
    )


SECTIONS = {
    "All metrics": tables,
    "Charts": recall_charts,
    "Two models": two_models,
    "Cohorts": cohorts,
    "Beyond accuracy": beyond,
    "Training & run cards": training,
}
