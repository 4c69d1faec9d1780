"""2-D maps of a run's learned embeddings (see :mod:`explorer.umap_layout`), stored inside the run's folder.

* :func:`projection_for` maps a cached run's users, artists or both (jointly, in one shared space) and
  stores the result as ``projection-<hash>.npz`` in the run's folder: written atomically, read with
  ``allow_pickle=False``, recomputed when unreadable, computed once across processes (a file lock).
* :func:`cached_projection` returns a stored map without computing (None when there is none).
* :func:`precompute` computes the default map right after a run is trained.

umap-learn is imported only when a map is computed, never for a stored one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from explorer import runs
from explorer.atomic import atomic_write
from explorer.errors import CacheError, ParameterError
from explorer.models import ProgressCallback, model_class
from explorer.neighbours import nearest_neighbors
from explorer.umap_layout import DEFAULT_MIN_DIST, DEFAULT_NEIGHBORS, MIN_POINTS, STEPS, check_settings, project

__all__ = [
    "KINDS",
    "cached_projection",
    "nearest_neighbors",
    "precompute",
    "project",
    "projection_for",
    "projection_name",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
KINDS = ("artists", "users", "both")
DEFAULT_KIND = "both"


def projection_for(
    key: str,
    *,
    kind: str = DEFAULT_KIND,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    min_dist: float = DEFAULT_MIN_DIST,
    root: Path | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """The 2-D map of a cached run's embeddings: read from the run's folder, or computed now and stored.

    Args:
        key: The run's cache key (its folder name).
        kind: ``"artists"``, ``"users"`` or ``"both"`` (users and artists in one shared map).
        n_neighbors, min_dist: UMAP's settings (see :func:`project`).
        root: Cache folder (default :func:`explorer.runs.cache_dir`).
        progress: Called as ``progress(step, total, **metrics)``; a stored map reports ``3/3`` at once.

    Returns:
        One row per point: ``node`` (``"user"`` or ``"artist"``), ``id`` (the Last.fm id), ``x``, ``y``;
        users first, each group in the run's id order.

    Raises:
        ParameterError: a setting is out of bounds, or the run has no embeddings (popularity).
        CacheError: there is no such run, or it is corrupted.
    """
    folder, path = _locate(key, kind, n_neighbors, min_dist, root)
    found = _read(path)
    if found is None:
        with FileLock(str(folder / f".{path.stem}.lock")):
            found = _read(path)  # another process may have computed it while we waited
            if found is None:
                found = _compute(key, folder.parent, kind, int(n_neighbors), float(min_dist), progress)
                _write(path, found)
                return _frame(*found)
    if progress is not None:
        progress(STEPS, STEPS, seconds=0.0)
    return _frame(*found)


def cached_projection(
    key: str,
    *,
    kind: str = DEFAULT_KIND,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    min_dist: float = DEFAULT_MIN_DIST,
    root: Path | None = None,
) -> pd.DataFrame | None:
    """The stored map of :func:`projection_for` with these settings, or None when it must be computed.

    Raises:
        ParameterError: a setting is out of bounds.
        CacheError: there is no such run.
    """
    _, path = _locate(key, kind, n_neighbors, min_dist, root)
    found = _read(path)
    return None if found is None else _frame(*found)


def precompute(key: str, root: Path | None = None) -> None:
    """Compute and store the default map (both users and artists, 15 neighbours, min_dist 0.1) of a run.

    Raises:
        ParameterError: the run has no embeddings (popularity).
        CacheError: there is no such run, or it is corrupted.
    """
    projection_for(key, root=root)


def projection_name(kind: str, n_neighbors: int, min_dist: float) -> str:
    """File name of a stored map: a hash of its settings and the format version, never user text."""
    text = json.dumps(
        {
            "kind": kind,
            "n_neighbors": n_neighbors,
            "min_dist": round(min_dist, 6),
            "metric": "cosine",
            "format": FORMAT_VERSION,
        },
        sort_keys=True,
    )
    return f"projection-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


Points = tuple[np.ndarray, np.ndarray, np.ndarray]  # (is_user [n] bool, id [n] int64, xy [n, 2] float32)


def _locate(key: str, kind: str, n_neighbors: int, min_dist: float, root: Path | None) -> tuple[Path, Path]:
    """The run's folder and the path of its map with these settings (checked)."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    check_settings(n_neighbors, min_dist, "cosine")
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{1,64}", key):
        raise CacheError(f"There is no cached run {key!r}.")
    folder = (root or runs.cache_dir()) / key
    if not folder.is_dir():
        raise CacheError(f"There is no cached run {key}.")
    return folder, folder / projection_name(kind, int(n_neighbors), float(min_dist))


def _compute(
    key: str, root: Path, kind: str, n_neighbors: int, min_dist: float, progress: ProgressCallback | None
) -> Points:
    run = runs.load(key, root)
    state = run.state
    cls = model_class(run.model)
    if not cls.has_embeddings or state["item_factors"].ndim != 2 or state["item_factors"].shape[1] == 0:
        raise ParameterError(
            f"The {run.model} run {key} has no embeddings to map ({cls.no_embeddings_reason}); "
            "pick a factor model's run."
        )
    parts = []
    if kind in ("users", "both"):
        parts.append((True, state["user_ids"], state["user_factors"]))
    if kind in ("artists", "both"):
        parts.append((False, state["item_ids"], state["item_factors"]))
    is_user = np.concatenate([np.full(len(ids), flag) for flag, ids, _ in parts])
    ids = np.concatenate([np.asarray(ids, dtype=np.int64) for _, ids, _ in parts])
    vectors = np.concatenate([factors for _, _, factors in parts])
    if len(vectors) < MIN_POINTS:
        raise ParameterError(f"The {run.model} run {key} has only {len(vectors)} {kind} to map; a map needs 3.")
    xy = project(vectors, n_neighbors=n_neighbors, min_dist=min_dist, progress=progress)
    return is_user, ids, xy


def _read(path: Path) -> Points | None:
    """The stored map, or None when it is missing or unreadable (then it is recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = (arrays["is_user"], arrays["id"], arrays["xy"])
        is_user, ids, xy = found
        if not (is_user.dtype == bool and ids.dtype == np.int64 and xy.dtype == np.float32):
            raise ValueError("unexpected types")
        if not (is_user.shape == ids.shape == xy.shape[:1] and xy.shape[1:] == (2,) and np.isfinite(xy).all()):
            raise ValueError("unexpected shapes")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        logger.warning("The stored map %s is unreadable (%s); computing it again.", path.name, error)
        return None
    return found


def _write(path: Path, points: Points) -> None:
    """Store atomically: a temporary file in the same folder, flushed, then renamed over ``path``."""
    is_user, ids, xy = points
    try:
        with atomic_write(path, binary=True, durable=True, mode=0o644) as handle:  # 0o644: like the run's files
            np.savez(handle, is_user=is_user, id=ids, xy=xy)
    except OSError as error:  # e.g. the run was deleted meanwhile: the map is still returned
        logger.warning("Could not store the map %s (%s).", path.name, error)


def _frame(is_user: np.ndarray, ids: np.ndarray, xy: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"node": np.where(is_user, "user", "artist"), "id": ids, "x": xy[:, 0], "y": xy[:, 1]},
    )
