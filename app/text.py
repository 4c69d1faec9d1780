"""Data text (artist names, tags, URLs, values quoted in error messages) shown exactly as written.

The data files are untrusted: names hold Markdown (``*NSYNC``, ``Ke$ha``, ``[unknown]``), could hold
HTML, and their URLs need not be web addresses. Pages show such text in components that interpret
nothing (``st.dataframe``, ``st.text``); where a sentence of ours must carry it through Markdown
(``st.error``, ``st.caption``) it goes through :func:`literal`; in plotly figures through
:func:`plotly_literal`; and a URL becomes a link only when :func:`web_url` accepts it.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character CommonMark can escape


def literal(text: object) -> str:
    """``text`` with every Markdown-active character backslash-escaped, for Streamlit's Markdown.

    Covers CommonMark (``*_[]()<>`#!``…) and Streamlit's extensions (``$`` maths, ``:colour[…]`` and
    ``:material/…:`` directives, ``~`` strikethrough). Newlines become spaces (one line of text).
    """
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def plotly_literal(values: pd.Series | np.ndarray | list) -> np.ndarray:
    """Each value HTML-escaped: plotly draws ``<b>``, ``<a href>``, ``<br>`` in labels; entities show verbatim."""
    return np.array([plotly_text(value) for value in values], dtype=object)


def plotly_text(value: object) -> str:
    """One label for plotly, HTML-escaped (see :func:`plotly_literal`)."""
    return html.escape(str(value), quote=False)


def web_url(url: object) -> str | None:
    """``url`` when it is an absolute http(s) address with a host, else None (never a link)."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        return None
    return text


def web_urls(urls: pd.Series) -> pd.Series:
    """:func:`web_url` of each URL (None where it is not http(s)), for a ``LinkColumn``."""
    return urls.map(web_url).astype(object)
