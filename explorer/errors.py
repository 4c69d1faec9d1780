"""Errors a user can cause, each carrying one sentence that says what is wrong and how to fix it.

The CLI prints ``str(error)`` and exits non-zero; the pages show it with ``st.error``. Anything that is
not an :class:`ExplorerError` is a bug and keeps its traceback.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class of every error a user can cause; its message is one full sentence."""


class DataError(ExplorerError):
    """The data set is missing, cannot be downloaded, or one of its files is broken."""


class ParameterError(ExplorerError):
    """A hyperparameter, year, model name or other argument is out of bounds."""


class UnknownUserError(ExplorerError):
    """A Last.fm user id that the data set does not contain."""


class ModelFitError(ExplorerError):
    """Training diverged (a loss or a factor became NaN or infinite)."""


class CacheError(ExplorerError):
    """A cache entry is missing or cannot be read."""
