"""What the AppTest suites share: the app, its hang guard, a page opened as a user opens it, a served cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
# A hang guard, not a speed test: a script run on a busy 2-core machine (UMAP compiling, other work) may take
# minutes; how fast the pages are is measured in benchmarks/page_cpu.py.
HANG_GUARD_S = 900


def open_page(page: str, **query: str) -> AppTest:
    """``page`` after the router's first run with ``query`` in the address (no exception on the way)."""
    at = AppTest.from_file(APP, default_timeout=HANG_GUARD_S)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def serve(monkeypatch: pytest.MonkeyPatch, data_dir: Path, cache: Path) -> None:
    """Point the app at ``data_dir`` and the run cache ``cache`` (for this test only)."""
    monkeypatch.setenv("LASTFM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache))
