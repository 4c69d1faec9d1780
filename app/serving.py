"""How this server is shared: ``EXPLORER_READ_ONLY=1`` serves a lab read-only.

A read-only server lets every viewer browse every page and offers nothing that trains, sweeps, deletes
or otherwise writes to the run cache; where such a control would be, :func:`read_only_note` says in one
sentence that it is off on this server. The command line is unaffected (it is the owner's tool).
"""

from __future__ import annotations

import os

import streamlit as st

READ_ONLY_ENV = "EXPLORER_READ_ONLY"
READ_ONLY_NOTE = (
    "This server is read-only (EXPLORER_READ_ONLY is set): training, sweeps and deleting runs are off here; "
    "train with `python -m explorer train` on the machine that serves it."
)


def read_only() -> bool:
    """True when ``EXPLORER_READ_ONLY`` is set to 1, true or yes (any case)."""
    return os.environ.get(READ_ONLY_ENV, "").strip().lower() in ("1", "true", "yes")


def read_only_note() -> None:
    """The one sentence shown where training, sweeping or deleting would be offered."""
    st.info(READ_ONLY_NOTE, icon=":material/lock:")
