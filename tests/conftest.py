"""Shared fixtures: the synthetic data set (always) and the real one (where LASTFM_DATA_DIR points)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from scipy import stats as scipy_stats

from explorer.data import Dataset, load_dataset
from explorer.synthetic import write_synthetic_dataset

REAL_DATA_DIR = os.environ.get("LASTFM_DATA_DIR", "")
has_real_data = bool(REAL_DATA_DIR) and (Path(REAL_DATA_DIR) / "user_artists.dat").is_file()
needs_real_data = pytest.mark.skipif(not has_real_data, reason="LASTFM_DATA_DIR does not point at the data set")


@contextlib.contextmanager
def _one_ray_at_a_time(factory: pytest.TempPathFactory) -> Iterator[None]:
    """A file lock shared by the xdist workers of one run (their base temp folders' parent)."""
    with FileLock(str(factory.getbasetemp().parent / "ray.lock")):
        yield


@pytest.fixture(scope="module")
def ray_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Held for a whole module whose tests start Ray (a local Ray, a two-node cluster): the suite runs on two
    xdist workers, and a second Ray on this machine must never meet the first (``ray.init()`` may join a cluster
    it finds here)."""
    with _one_ray_at_a_time(tmp_path_factory):
        yield


@pytest.fixture
def ray_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """:func:`ray_module` for one test (the browser's sweep, whose server starts and stops its own Ray)."""
    with _one_ray_at_a_time(tmp_path_factory):
        yield


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the repository's cache/ (a test may still set its own)."""
    os.environ["EXPLORER_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic data set, its most popular artists named like the awkward real ones (`*NSYNC`, `<b>x</b>`…)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("demo") / "hetrec2011-lastfm-2k", awkward_names=True)


@pytest.fixture(scope="session")
def demo_dataset(demo_dir: Path) -> Dataset:
    return load_dataset(demo_dir)


@pytest.fixture(scope="session")
def real_dataset() -> Dataset:
    if not has_real_data:
        pytest.skip("LASTFM_DATA_DIR does not point at the data set")
    return load_dataset(REAL_DATA_DIR)


def scipy_sign_flip_p(x: np.ndarray, y: np.ndarray, resamples: int = 9_999) -> float:
    """scipy's paired permutation test of ``sum(x - y)`` (the reference for the sign-flip and Tukey tests)."""
    return scipy_stats.permutation_test(
        (x, y),
        lambda a, b, axis=-1: (a - b).sum(axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        rng=np.random.default_rng(0),
    ).pvalue
