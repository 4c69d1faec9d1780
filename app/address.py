"""What the address (``?year=…&user=…&models=…``) asks the pages for, read with a one-sentence warning for a value
that makes no sense here; the pages then write their choices back, so a shared link opens the same view."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.text import literal


def query_int(name: str) -> int | None:
    """An integer query parameter, or None (with a warning) when it is not a whole number."""
    text = st.query_params.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        st.warning(f"The address has {name}={literal(repr(text))}, which is not a number; showing the default instead.")
        return None


def query_models(available: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` distinct models named in ``?models=a,b`` that are available here (a warning names the
    others)."""
    text = st.query_params.get("models")
    if not text:
        return []
    named = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in named if name not in available]
    if unknown:
        st.warning(f"The address names {literal(', '.join(unknown))}, with no cached run here; left out of the focus.")
    return [name for name in dict.fromkeys(named) if name in available][:limit]


def query_choice(name: str, options: Sequence, default: object) -> int:
    """The index in ``options`` of the address's ``?name=`` value (compared as text), else of ``default``."""
    wanted = st.query_params.get(name)
    texts = [str(option) for option in options]
    if wanted in texts:
        return texts.index(wanted)
    return texts.index(str(default)) if str(default) in texts else len(options) - 1
