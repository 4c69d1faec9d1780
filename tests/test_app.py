"""The Streamlit app on the synthetic data, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def demo_env(monkeypatch, demo_dir):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))


def test_overview_shows_counts_and_splits(demo_env):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [m.label for m in at.metric][:2] == ["users", "artists"]
    assert len(at.dataframe) == 1


def test_missing_data_is_an_error_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(tmp_path / "missing"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "does not exist" in at.error[0].value
