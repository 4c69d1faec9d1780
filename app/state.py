"""What the pages share: the data set, the splits, the training queue and the cached runs (all cached).

Nothing here trains or computes metrics: it finds, loads and caches what ``explorer`` produced.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app.jobs import TrainingQueue
from app.text import literal
from explorer import plugins, recommend, runs
from explorer.data import DATA_DIR_ENV, Dataset, load_dataset
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names, seed_of
from explorer.protocol import DEFAULT_YEARS, Split
from explorer.training import Run, splits_of

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "synthetic-demo"
DEMO_PARAM = "data"  # ?data=demo in the address: this session, its reloads and shared links show the demo data


@st.cache_resource(show_spinner="Loading the data set…")
def _dataset(environment: str | None) -> Dataset:  # noqa: ARG001 - LASTFM_DATA_DIR is part of the key
    return load_dataset()


@st.cache_resource(show_spinner="Writing the synthetic demo data…")
def _demo_dataset() -> Dataset:
    from explorer.synthetic import ensure_demo_dataset

    return load_dataset(ensure_demo_dataset(DEMO_DIR))


@st.cache_resource
def _load_failures() -> tuple[threading.Lock, dict[str | None, str]]:
    """This server's failed data loads by LASTFM_DATA_DIR (shared by every session), and their lock."""
    return threading.Lock(), {}


def _wants_demo() -> bool:
    if st.query_params.get(DEMO_PARAM) == "demo":
        st.session_state["demo_data_chosen"] = True
    return bool(st.session_state.get("demo_data_chosen"))


def _use_demo(wanted: bool) -> None:
    st.session_state["demo_data_chosen"] = wanted
    if wanted:
        st.query_params[DEMO_PARAM] = "demo"
    else:
        st.query_params.pop(DEMO_PARAM, None)


def dataset_or_stop() -> Dataset:
    """The data set, or an ``st.error`` with the one-sentence reason, a demo-data button, and a stop.

    The real data is loaded (and downloaded when needed) once per server. A load that failed is not
    tried again by every new session: they all show the failure and a *Try again* button. Choosing the
    demo data puts ``?data=demo`` in the address, so it holds across pages, reloads and shared links.
    """
    if _wants_demo():
        if st.query_params.get(DEMO_PARAM) != "demo":
            st.query_params[DEMO_PARAM] = "demo"  # a page switch dropped it: keep the address shareable
        return _demo_dataset()
    environment = os.environ.get(DATA_DIR_ENV)
    lock, failures = _load_failures()
    with lock:  # one session loads or downloads; the others wait and share the outcome
        message = failures.get(environment)
        if message is None:
            try:
                return _dataset(environment)
            except ExplorerError as error:
                message = failures[environment] = str(error)
    st.error(literal(message), icon=":material/error:")
    left, right = st.columns(2)
    if left.button("Use the synthetic demo data instead", key="use_demo_data", type="primary"):
        _use_demo(True)
        st.rerun()
    if right.button("Try again", key="retry_data", help="after connecting to the internet or fixing the folder"):
        with lock:
            failures.pop(environment, None)
        st.rerun()
    st.stop()


def _through_the_router() -> None:
    """Rerun through streamlit_app.py when Streamlit ran a page file directly.

    Because a ``pages/`` folder sits beside the router, a fresh server runs a deep link's page file by
    itself (Streamlit's pre-``st.navigation`` mode: raw page names, no router, no wide layout) until
    some session has called ``st.navigation``. This page then switches that mode off and reruns, so the
    router draws the page. (Streamlit 1.67 keeps the mode in ``PagesManager.uses_pages_directory``.)
    Only a session's first run reroutes: AppTest turns the mode back on before each of its runs, and a
    rerun there would drop the button click that caused it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get("_routed"):
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.session_state["_routed"] = True


def page_start(title: str, question: str | None = None) -> Dataset:
    """Every page's opening: its title and the researcher's question it answers, then the data set (or the error
    and a stop) and its banner."""
    _through_the_router()
    st.title(title)
    if question:
        st.markdown(f"#### {question}")
    dataset = dataset_or_stop()
    data_banner(dataset)
    return dataset


def runs_or_stop(dataset: Dataset, what: str = "for this data set") -> pd.DataFrame:
    """The cached runs of ``dataset``, or a note linking to Train."""
    table = cached_runs(dataset)
    if table.empty:
        no_runs_note(what)
    return table


def data_banner(dataset: Dataset) -> None:
    """A warning when the page shows the synthetic demo data (with a way back when it was a choice)."""
    if not dataset.synthetic:
        return
    chosen = bool(st.session_state.get("demo_data_chosen"))
    left, right = st.columns([5, 1]) if chosen else (st.container(), None)
    left.warning(
        f"Showing the **synthetic demo data** (not real Last.fm data) from {literal(dataset.path)}.",
        icon=":material/science:",
    )
    if right is not None and right.button("Use the real data", key="leave_demo_data"):
        _use_demo(False)
        st.rerun()


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


@st.cache_resource(show_spinner="Loading a cached run…", max_entries=1024)  # 13 models × 3 years × seeds
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
        st.error(f"{literal(error)} Delete it on the Train page, or train it again.")
        st.stop()


def cached_runs(dataset: Dataset, *, include_stale: bool = False) -> pd.DataFrame:
    """The run cache's entries for this data set (one row per run; see :func:`explorer.runs.table`).

    Only current runs unless ``include_stale``: a run made by other code (or of a model not registered
    here) is never shown as a result; the Train page lists it, marked, to delete it. Runs of models that
    are not registered now (a plugin left out of ``EXPLORER_PLUGINS``, or broken) are always left out:
    their class is needed to read them.
    """
    table = runs.table()
    keep = (table["data"] == dataset.fingerprint) & table["model"].isin(model_names())
    if not include_stale:
        keep &= table["status"] == "current"
    table = table[keep].copy()
    table["setting"] = [  # one run's label, its seed included: a list or a map shows one run
        setting_label(model, json.loads(params), year)
        for model, params, year in zip(table["model"], table["params"], table["year"], strict=True)
    ]
    return table


def plugin_warnings() -> None:
    """One warning per plugin (or plugin model) that could not be loaded; every other model works."""
    for problem in plugins.problems():
        unavailable = f"{', '.join(problem.models)} unavailable" if problem.models else "Unavailable"
        st.warning(f"{unavailable}: {literal(problem.message)}", icon=":material/extension_off:")


def setting_label(model: str, params: dict, year: int) -> str:
    """``defaults`` or the hyperparameters that differ from the model's defaults for that test year."""
    try:
        defaults = model_class(model).defaults_for(year)
    except ExplorerError:  # a plugin model not loaded in this server: every value is shown
        defaults = {}
    changed = [f"{k}={v}" for k, v in params.items() if defaults.get(k) != v]
    return ", ".join(changed) or "defaults"


def with_settings(table: pd.DataFrame) -> pd.DataFrame:
    """The cache table with ``setting`` relabelled with the seed left out (the seeds of one setting pool, as on
    Metrics and Overview; :func:`cached_runs` labels single runs) and a ``seed`` column."""
    params = [json.loads(text) for text in table["params"]]
    settings = [
        setting_label(model, _without_seed(values), year)
        for model, values, year in zip(table["model"], params, table["year"], strict=True)
    ]
    return table.assign(setting=settings, seed=pd.array([seed_of(values) for values in params], dtype="Int64"))


def _registry_position(name: str) -> int:
    """Where model ``name`` stands in the registry (unknown names after every known one)."""
    names = model_names()
    return names.index(name) if name in names else len(names)


def model_rank(names: pd.Series) -> pd.Series:
    """A sort key for a column of model names: the registry's order (unknown names last)."""
    return names.map(_registry_position)


def in_registry_order(names: Iterable[str]) -> list[str]:
    """The distinct model ``names`` in the registry's order (unknown names last)."""
    return sorted(dict.fromkeys(names), key=_registry_position)


def defaults_first(settings: Iterable[str]) -> list[str]:
    """The distinct ``settings`` in the order seen, the tuned ``defaults`` first."""
    return sorted(dict.fromkeys(settings), key=lambda setting: setting != "defaults")


def in_display_order(table: pd.DataFrame) -> pd.DataFrame:
    """Cache rows (with ``setting``) by model in the registry's order, each model's default setting first."""
    return table.sort_values(
        ["model", "setting"], key=lambda c: model_rank(c) if c.name == "model" else c != "defaults", kind="stable"
    )


def _without_seed(params: dict) -> dict:
    """``params`` without the seed (``seed``, or an ensemble member's ``gcn_seed``, …): one setting's seeds."""
    return {name: value for name, value in params.items() if name != "seed" and not name.endswith("_seed")}


def column_grid(count: int, per_row: int) -> list:
    """``count`` Streamlit columns laid out in rows of ``per_row`` (13 models side by side are unreadable)."""
    rows = [st.columns(per_row) for _ in range(0, count, per_row)]
    return [column for row in rows for column in row][:count]


def runs_of(rows: pd.DataFrame) -> list[Run]:
    """Load the runs of the given cache-table rows; unreadable ones are named in a warning and left out."""
    loaded = []
    for key in rows["key"]:
        try:
            loaded.append(load_run(key))
        except ExplorerError as error:
            st.warning(f"{literal(error)} It is left out; delete it on the Train page, or train it again.")
    if not loaded:
        no_runs_note("that can be read")
    return loaded


def no_runs_note(what: str) -> None:
    """The note shown when a page has no cached run to show, with a link to Train."""
    st.info(f"No cached run {what} yet. Train one first.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/fitness_center:")
    st.stop()


@st.cache_data(max_entries=16, show_spinner=False)
def _user_options(fingerprint: str, year: int, _split: Split) -> pd.DataFrame:  # noqa: ARG001 - the key
    return recommend.user_options(_split)


def user_options(dataset: Dataset, split: Split) -> pd.DataFrame:
    """:func:`explorer.recommend.user_options`, computed once per data set and test year."""
    return _user_options(dataset.fingerprint, split.year, split)


def address_keeping_data(**query: object) -> str:
    """A relative address (``?user=…&year=…``) that keeps this session's demo-data choice."""
    if st.session_state.get("demo_data_chosen"):
        query = {DEMO_PARAM: "demo", **query}
    return "?" + urlencode({name: str(value) for name, value in query.items()})
