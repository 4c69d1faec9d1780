"""Train: which runs are cached, and how do I add or tune one? Train models (queued in the background, with
progress and live loss), sweep hyperparameters on validation years (with a history of past sweeps), and read
each cached run's card. A read-only server (EXPLORER_READ_ONLY=1) shows the runs, cards and sweeps only."""

import streamlit as st

from app.run_card import cached_runs_panel
from app.serving import read_only, read_only_note
from app.state import cached_runs, page_start, plugin_warnings, splits, training_queue
from app.sweep_view import sweep_form, sweep_history
from app.text import literal
from app.train_form import show_progress, train_form
from explorer.models import model_class, model_names

dataset = page_start("Train", "Which runs are cached, and how do I add or tune one?")
locked = read_only()
queue = training_queue()
year_splits = splits(dataset)

if locked:
    read_only_note()
else:
    st.markdown(
        "Runs are cached: a model already trained with the same hyperparameters, test year and data loads "
        "instantly. Training happens in the background, one run after another; you can switch pages meanwhile."
    )
    st.caption(" · ".join(f"**{literal(name)}**: {literal(model_class(name).description)}" for name in model_names()))
    plugin_warnings()  # a broken plugin: its models are missing from the form, with the reason
    train_form(dataset, queue, year_splits)
    show_progress(queue, dataset)

st.subheader("Sweep")
if not locked:
    sweep_form(dataset, queue, year_splits)
sweep_history(dataset, queue, year_splits, read_only=locked)

st.subheader("Cached runs")
cached_runs_panel(cached_runs(dataset, include_stale=True), queue.busy, read_only=locked)
