"""Metrics: which model is best each year, and is it real? A leaderboard of one metric (models × test years, the
best in bold, its group shaded by the page's one test), then every metric, charts, two models, cohorts, beyond
accuracy and training behind tabs (only the open tab runs)."""

import hashlib

import streamlit as st

from app import leaderboard, metrics_sections
from app.metrics_data import FAMILY_METRICS, TABLE_METRICS, TESTS, compare_command, comparison_of, notes, pick_runs
from app.state import page_start, runs_of, runs_or_stop
from app.text import literal
from explorer import runs
from explorer.errors import ExplorerError
from explorer.evaluation import metric_label

dataset = page_start("Metrics", "Which model is best each year, and is it real?")
table = runs_or_stop(dataset)
rows, seeded = pick_runs(table, "metrics_setting")
chosen = runs_of(rows)
keys = tuple(run.key for run in chosen)
models = list(dict.fromkeys(run.model for run in chosen))
if len(models) < 2:
    st.info("The leaderboard compares models: train a second model on the Train page.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/fitness_center:")
    st.stop()

left, right = st.columns([3, 2])
metric = left.segmented_control(
    "Metric", list(FAMILY_METRICS), default="recall@10", format_func=metric_label, key="metrics_metric", required=True
)
test = right.segmented_control(
    "Test that groups the models",
    list(TESTS),
    default="signflip",
    format_func=TESTS.get,
    key="metrics_test",
    required=True,
    help="sign-flip + Holm: a paired test per pair, Holm over the family; Tukey HSD: the randomised test for "
    "many systems at once (Carterette 2012)",
)
contents = tuple(runs.content_id(key) for key in keys)
try:
    result = comparison_of(keys, contents, test, TABLE_METRICS)
except ExplorerError as error:
    st.error(literal(error))
    st.stop()

board = leaderboard.show(result, metric)
st.caption(
    result["family"]["sentence"].replace("Decisions:", "How the groups are decided:")
    + (" Seed-dependent models show the mean of their cached seeds ± the seed SD." if seeded else "")
)
command = compare_command(rows, test)
if command:
    st.caption("The same decisions from the command line:")
    st.code(command, language="bash", wrap_lines=True)
token = hashlib.sha256(f"{sorted(contents)}{test}".encode()).hexdigest()[:16]  # the figures' cache key
view = metrics_sections.View(dataset, chosen, result, token, models=list(dict.fromkeys(board["model"])))
metrics_sections.exports(view)
for note in notes(chosen):
    st.caption(f"Note on {literal(note)}")

st.subheader("More on these runs")
tabs = st.tabs(list(metrics_sections.SECTIONS), key="metrics_tab", bind="query-params")
for tab, section in zip(tabs, metrics_sections.SECTIONS.values(), strict=True):
    if tab.open:
        with tab:
            section(view)
