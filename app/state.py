"""What every page needs: the data set (cached), shown errors instead of tracebacks."""

from __future__ import annotations

import os

import streamlit as st

from explorer.data import DATA_DIR_ENV, Dataset, load_dataset
from explorer.errors import ExplorerError


@st.cache_resource(show_spinner="Loading the data set…")
def _dataset(data_dir: str | None, environment: str | None) -> Dataset:  # noqa: ARG001 - part of the key
    return load_dataset(data_dir)


def dataset_or_stop() -> Dataset:
    """The data set, or an ``st.error`` with the one-sentence reason and a stop."""
    try:
        return _dataset(st.session_state.get("data_dir"), os.environ.get(DATA_DIR_ENV))
    except ExplorerError as error:
        st.error(str(error))
        st.stop()
