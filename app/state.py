"""What the pages share: the data set, the splits, the training queue and the cached runs (all cached).

Nothing here trains or computes metrics: it finds, loads and caches what ``explorer`` produced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from app.jobs import TrainingQueue
from explorer import runs
from explorer.data import DATA_DIR_ENV, Dataset, load_dataset
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names
from explorer.protocol import DEFAULT_YEARS, Split
from explorer.training import Run, splits_of

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "synthetic-demo"


@st.cache_resource(show_spinner="Loading the data set…")
def _dataset(data_dir: str | None, environment: str | None) -> Dataset:  # noqa: ARG001 - part of the key
    return load_dataset(data_dir)


def _offer_demo_data() -> None:
    if st.button("Use the synthetic demo data instead", key="use_demo_data", type="primary"):
        from explorer.synthetic import write_synthetic_dataset

        if not (DEMO_DIR / "user_artists.dat").exists():
            write_synthetic_dataset(DEMO_DIR)
        st.session_state["data_dir"] = str(DEMO_DIR)
        st.rerun()


def dataset_or_stop() -> Dataset:
    """The data set, or an ``st.error`` with the one-sentence reason, a demo-data button, and a stop."""
    try:
        return _dataset(st.session_state.get("data_dir"), os.environ.get(DATA_DIR_ENV))
    except ExplorerError as error:
        st.error(str(error))
        _offer_demo_data()
        st.stop()


def page_start(title: str) -> Dataset:
    """Every page's opening: its title, then the data set (or the error and a stop) and its banner."""
    st.title(title)
    dataset = dataset_or_stop()
    data_banner(dataset)
    return dataset


def runs_or_stop(dataset: Dataset, what: str = "for this data set", *, with_embeddings: bool = False) -> pd.DataFrame:
    """The cached runs of ``dataset`` (only those with embeddings, if asked), or a note linking to Train."""
    table = cached_runs(dataset)
    if with_embeddings:
        table = table[table["model"] != "popularity"]
    if table.empty:
        no_runs_note(what)
    return table


def data_banner(dataset: Dataset) -> None:
    """A one-line caption saying which data the page shows (a warning for the synthetic demo)."""
    if dataset.synthetic:
        st.warning(
            f"Showing the **synthetic demo data** (not real Last.fm data) from `{dataset.path}`.",
            icon=":material/science:",
        )


@st.cache_resource(show_spinner=False)
def _splits(fingerprint: str, _dataset: Dataset) -> dict[int, Split]:  # noqa: ARG001 - fingerprint is the key
    return {split.year: split for split in splits_of(_dataset, DEFAULT_YEARS)}


def splits(dataset: Dataset) -> dict[int, Split]:
    """The forward-chaining splits of the test years 2008–2010, by year."""
    return _splits(dataset.fingerprint, dataset)


@st.cache_resource
def training_queue() -> TrainingQueue:
    """The one training queue of this server (shared by all sessions)."""
    return TrainingQueue()


@st.cache_resource(show_spinner="Loading a cached run…", max_entries=64)
def _load_run(key: str, cache: str, written: float) -> Run:  # noqa: ARG001 - written: a retrained entry reloads
    return runs.load(key, Path(cache))


def load_run(key: str) -> Run:
    """A cached run, loaded once per server and per write of the entry (treat it as read-only).

    Raises:
        CacheError: the entry is gone or corrupted.
    """
    cache = runs.cache_dir()
    try:
        written = (cache / key / runs.MANIFEST).stat().st_mtime
    except OSError:
        written = 0.0
    return _load_run(key, str(cache), written)


def load_run_or_stop(key: str) -> Run:
    """:func:`load_run`, or an ``st.error`` and a stop when the entry cannot be read."""
    try:
        return load_run(key)
    except ExplorerError as error:
        st.error(f"{error} Delete it on the Train page, or train it again.")
        st.stop()


def cached_runs(dataset: Dataset) -> pd.DataFrame:
    """The run cache's entries for this data set (one row per run; see :func:`explorer.runs.table`)."""
    table = runs.table()
    table = table[table["data"] == dataset.fingerprint].copy()
    table["setting"] = [
        setting_label(model, params, year)
        for model, params, year in zip(table["model"], table["params"], table["year"], strict=True)
    ]
    return table


def setting_label(model: str, params_json: str, year: int) -> str:
    """``defaults`` or the hyperparameters that differ from the model's defaults for that test year."""
    params = json.loads(params_json)
    defaults = model_class(model).defaults_for(year)
    changed = [f"{k}={v}" for k, v in params.items() if defaults.get(k) != v]
    return ", ".join(changed) or "defaults"


def pick_settings(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Let the user pick one hyperparameter setting per model; returns the matching rows of ``table``."""
    chosen = []
    models = list(dict.fromkeys(table["model"]))
    if not models:
        return table.iloc[0:0]
    columns = st.columns(len(models))
    for column, model in zip(columns, models, strict=True):
        settings = list(dict.fromkeys(table.loc[table["model"] == model, "setting"]))
        settings.sort(key=lambda s: s != "defaults")  # defaults first when present
        picked = column.selectbox(model, settings, key=f"{key}_{model}", help="hyperparameters of the cached runs")
        chosen.append(table[(table["model"] == model) & (table["setting"] == picked)])
    return pd.concat(chosen).sort_values(
        ["model", "year"], key=lambda c: c.map(model_names().index) if c.name == "model" else c
    )


def runs_of(rows: pd.DataFrame) -> list[Run]:
    """Load the runs of the given cache-table rows; unreadable ones are named in a warning and left out."""
    loaded = []
    for key in rows["key"]:
        try:
            loaded.append(load_run(key))
        except ExplorerError as error:
            st.warning(f"{error} It is left out; delete it on the Train page, or train it again.")
    if not loaded:
        no_runs_note("that can be read")
    return loaded


def no_runs_note(what: str) -> None:
    """The note shown when a page has no cached run to show, with a link to Train."""
    st.info(f"No cached run {what} yet. Train one first.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/fitness_center:")
    st.stop()
