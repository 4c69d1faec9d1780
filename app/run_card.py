"""A run's card in the app: everything needed to re-create the run, as a table and a JSON download.

The card comes from :func:`explorer.reproduction.card` (the entry's JSON only: cheap). Data text (the data
set's path, file names) is shown in a data grid and a code block, which interpret nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from app.text import literal
from explorer import reproduction, runs
from explorer.errors import ExplorerError


def card_rows(card: dict[str, Any]) -> pd.DataFrame:
    """The card as ``field, value`` rows of text."""
    git = card["git"]
    rows = {
        "model": card["model"],
        "test year": card["year"],
        "hyperparameters": ", ".join(f"{k}={v}" for k, v in card["params"].items()) or "none",
        "seed": "none (no random state)" if card["seed"] is None else card["seed"],
        "device": card["device"],
        "data fingerprint": card["data"]["fingerprint"],
        "data folder": card["data"]["path"],
        "synthetic data": "yes" if card["data"].get("synthetic") else "no",
        "code fingerprint": f"{card['code']['fingerprint']} (over {len(card['code']['files'])} files)",
        "code files": ", ".join(card["code"]["files"]),
        "library versions": ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        "python": card["python"],
        "git commit": "not a git checkout"
        if not git
        else git["commit"] + (" (with uncommitted changes)" if git.get("dirty") else ""),
        "created": card["created"],
        "fit seconds": f"{card['fit_seconds']:.2f}" if card["fit_seconds"] is not None else "?",
        "status": card["status"] + (f": {card['stale_because']}" if card["stale"] else ""),
    }
    return pd.DataFrame({"field": list(rows), "value": [str(v) for v in rows.values()]})


def show_run_card(key: str) -> None:
    """The card of the cached run ``key``: a table, the command that re-creates it, and a JSON download."""
    try:
        card = reproduction.card(key)
    except ExplorerError as error:
        st.error(literal(error))
        return
    rows = card_rows(card)
    height = 35 * (len(rows) + 1) + 3  # every field in view, no inner scrolling
    st.dataframe(rows, hide_index=True, key=f"run_card_{key}", width="stretch", height=height)
    st.caption("The command that re-creates this run (then `runs reproduce` retrains it and compares):")
    st.code(card["command"], language="bash", wrap_lines=True)
    st.download_button(
        "Download the run card (JSON)",
        json.dumps(card, indent=1),
        file_name=f"run-{key}.json",
        mime="application/json",
        key=f"run_card_download_{key}",
        icon=":material/download:",
    )


def cached_runs_panel(table: pd.DataFrame, busy: bool, *, read_only: bool = False) -> None:
    """The Train page's cached runs (stale ones marked), deletion of selected or stale runs (not on a read-only
    server), and a run's card."""
    if table.empty:
        st.info("Nothing cached yet for this data set.")
        return
    table = table.assign(status=table["status"].where(table["status"] != "current", ""))
    shown = table[["model", "setting", "year", "recall@10", "mrr", "fit_seconds", "device", "created", "status"]]
    selection = st.dataframe(
        shown,
        hide_index=True,
        on_select="ignore" if read_only else "rerun",
        selection_mode="multi-row",
        key=f"cached_runs_table_{st.session_state.get('deletions', 0)}",  # a new table after each deletion
        column_config={
            "recall@10": st.column_config.NumberColumn(format="%.4f"),
            "mrr": st.column_config.NumberColumn(format="%.4f"),
            "fit_seconds": st.column_config.NumberColumn("fit s", format="%.2f"),
            "status": st.column_config.TextColumn(help="stale: made by other code or library versions; never shown"),
        },
    )
    if not read_only:
        _deletion(table, selection, busy)
    with st.expander("Run card: everything needed to re-create a run"):
        ordered = table.sort_values("stale", kind="stable")  # current runs first
        labels = {f"{r.model} {r.year} · {r.setting} · {r.key}": r.key for r in ordered.itertuples()}
        show_run_card(labels[st.selectbox("Run", list(labels), key="run_card_choice")])


def _deletion(table: pd.DataFrame, selection, busy: bool) -> None:
    """Buttons that delete the selected runs or every stale run."""
    picked = [row for row in selection.selection.rows if row < len(table)]
    stale = table[table["stale"]]
    left, right = st.columns(2)
    doomed = []
    if left.button(f"Delete {len(picked)} selected run(s)", disabled=not picked or busy, key="delete_runs"):
        doomed = list(table.iloc[picked]["key"])
    if right.button(
        f"Delete {len(stale)} stale run(s)",
        disabled=stale.empty or busy,
        key="delete_stale_runs",
        help="runs made by other code or library versions: never served; training again makes a current run",
    ):
        doomed = list(stale["key"])
    if doomed:
        for key in doomed:
            runs.delete(key)
        st.session_state["deletions"] = st.session_state.get("deletions", 0) + 1  # forget the old selection
        st.rerun()
