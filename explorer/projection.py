"""2-D maps of a run's learned embeddings (UMAP from umap-learn), cached inside the run's folder.

* :func:`project` turns vectors into ``[n, 2]`` coordinates with ``umap.UMAP``, set up to be fast on a
  small machine (choices measured on the 2010 LightGCN run, 6,884 points of 64 numbers, 2 cores):

  - the 15 nearest neighbours are computed here, exactly (a matrix product per block of rows, under a
    second), and given to UMAP as ``precomputed_knn``: UMAP skips pynndescent, whose compilation is
    most of a first fit, and its neighbour graph is exact instead of approximate;
  - the layout starts from the PCA of the vectors (see :func:`_initial_layout`), not the spectral
    layout: milliseconds instead of about 3.5 s, and the map keeps more of the global structure;
  - 200 epochs, umap-learn's own choice above 10,000 points (it would run 500 here): 2.5 times less
    work for 1 point less of neighbourhood preservation (0.54 vs 0.55);
  - a fixed ``random_state``: the same vectors give the same map, in every process. umap-learn then
    optimises the layout on one thread: on two idle cores a map takes 3.4 s instead of 2.5 s with two
    threads (which were slower than one while the cores were busy), and two threads are not
    reproducible (they race on shared coordinates);
  - numba keeps umap-learn's compiled functions on disk (see :func:`_keep_compiled_code`), so only
    the very first process pays their compilation (about 4.5 s).

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
import os
import re
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from explorer import runs
from explorer.errors import CacheError, ParameterError
from explorer.models import ProgressCallback, model_class

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
KINDS = ("artists", "users", "both")
METRICS = ("cosine", "euclidean")
DEFAULT_KIND = "both"
DEFAULT_NEIGHBORS = 15
DEFAULT_MIN_DIST = 0.1
NEIGHBOR_BOUNDS = (2, 200)
MIN_DIST_BOUNDS = (0.0, 0.99)
MIN_POINTS = 3
PCA_BELOW = 5  # fewer points than this are laid out by PCA alone: too few for a neighbour graph
EPOCHS = 200  # see the module docstring
SEED = 42  # reproducible maps; umap-learn then optimises on one thread
BLOCK_ROWS = 1024  # rows per similarity block in the neighbour search (1,024 × n float32)
STEPS = 3


def project(
    vectors: np.ndarray,
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    min_dist: float = DEFAULT_MIN_DIST,
    metric: str = "cosine",
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Project vectors to the plane with UMAP.

    Exact neighbours, a PCA start, 200 epochs and a fixed seed (see the module docstring): the same
    vectors always give the same map. ``n_neighbors`` is lowered to ``n - 1`` when there are no more
    points than that, and fewer than 5 points are laid out by PCA alone (no UMAP). Under the cosine
    metric a zero vector is at distance 1 from every other vector.

    Args:
        vectors: ``[n, d]`` finite numbers, ``n >= 3`` and ``d >= 1``.
        n_neighbors: Size of the neighbourhood UMAP preserves (2–200): small shows local detail,
            large the global structure.
        min_dist: How tightly points may be packed in the map (0.0–0.99).
        metric: ``"cosine"`` (the default; the angle between factor vectors) or ``"euclidean"``.
        progress: Called as ``progress(step, total, **metrics)``: ``0/3`` at the start, ``1/3`` when the
            neighbours are found, ``2/3`` when UMAP starts, ``3/3`` at the end (with ``seconds``).

    Returns:
        ``[n, 2]`` float32 coordinates, row ``i`` for ``vectors[i]``.

    Raises:
        ParameterError: an argument is out of bounds or the vectors are not a finite 2-D array.
    """
    started = time.perf_counter()
    data = _checked_vectors(vectors)
    _check_settings(n_neighbors, min_dist, metric)
    _report(progress, 0)
    if len(data) < PCA_BELOW:
        coords = _pca(_prepared(data, metric))
    else:
        k = min(int(n_neighbors), len(data) - 1)
        indices, distances = nearest_neighbors(data, k, metric)
        _report(progress, 1)
        coords = _umap(data, indices, distances, min_dist=float(min_dist), metric=metric, progress=progress)
    _report(progress, STEPS, seconds=time.perf_counter() - started)
    return coords


def nearest_neighbors(vectors: np.ndarray, k: int, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` nearest neighbours of every row, itself first (as umap-learn expects).

    Args:
        vectors: ``[n, d]`` float array, ``n > k``.
        k: Neighbours per row, the row itself included.
        metric: ``"cosine"`` or ``"euclidean"``.

    Returns:
        ``(indices, distances)``, both ``[n, k]``, nearest first: int64 and float32.
    """
    data = _prepared(np.asarray(vectors, dtype=np.float32), metric)
    squares = np.einsum("ij,ij->i", data, data)
    indices = np.empty((len(data), k), dtype=np.int64)
    distances = np.empty((len(data), k), dtype=np.float32)
    for start in range(0, len(data), BLOCK_ROWS):
        rows = slice(start, min(start + BLOCK_ROWS, len(data)))
        indices[rows], distances[rows] = _block_neighbors(data, squares, rows, k, metric)
    return indices, distances


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
    _report(progress, STEPS, seconds=0.0)
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


# --- checks -------------------------------------------------------------------------------------------


def _checked_vectors(vectors: np.ndarray) -> np.ndarray:
    try:
        data = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise ParameterError("The vectors to map must be numbers.") from None
    if data.ndim != 2 or data.shape[1] == 0:
        raise ParameterError(f"The vectors to map must be a 2-D array with at least one column, got {data.shape}.")
    if len(data) < MIN_POINTS:
        raise ParameterError(f"A map needs at least {MIN_POINTS} points, got {len(data)}.")
    if not np.isfinite(data).all():
        raise ParameterError("The vectors to map contain NaN or infinite values.")
    return data


def _check_settings(n_neighbors: int, min_dist: float, metric: str) -> None:
    low, high = NEIGHBOR_BOUNDS
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, int | np.integer):
        raise ParameterError(f"n_neighbors must be a whole number, got {n_neighbors!r}.")
    if not low <= n_neighbors <= high:
        raise ParameterError(f"n_neighbors must be between {low} and {high}, got {n_neighbors}.")
    low, high = MIN_DIST_BOUNDS
    if isinstance(min_dist, bool) or not isinstance(min_dist, int | float | np.number):
        raise ParameterError(f"min_dist must be a number, got {min_dist!r}.")
    if not low <= min_dist <= high:  # NaN fails this too
        raise ParameterError(f"min_dist must be between {low} and {high}, got {min_dist}.")
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}.")


def _report(progress: ProgressCallback | None, step: int, **metrics: float) -> None:
    if progress is not None:
        progress(step, STEPS, **metrics)


# --- the projection -----------------------------------------------------------------------------------


def _prepared(data: np.ndarray, metric: str) -> np.ndarray:
    """Unit rows for cosine (so cosine distance is ``1 - dot``); the rows unchanged for euclidean."""
    if metric != "cosine":
        return data
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return data / np.where(norms > 0, norms, 1.0)


def _block_neighbors(
    data: np.ndarray, squares: np.ndarray, rows: slice, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of ``data[rows]`` among all rows: ``(indices, distances)``, nearest first, self first."""
    products = data[rows] @ data.T
    # cosine: 1 - dot of unit rows; euclidean: squared distances, the square root taken after the selection
    scores = 1.0 - products if metric == "cosine" else squares[rows, None] - 2.0 * products + squares[None, :]
    np.maximum(scores, 0.0, out=scores)
    own = np.arange(rows.start, rows.stop)
    scores[own - rows.start, own] = -1.0  # itself first, even among duplicates
    chosen = np.argpartition(scores, k - 1, axis=1)[:, :k]
    chosen_scores = np.take_along_axis(scores, chosen, axis=1)
    order = np.argsort(chosen_scores, axis=1, kind="stable")
    indices = np.take_along_axis(chosen, order, axis=1)
    distances = np.maximum(np.take_along_axis(chosen_scores, order, axis=1), 0.0)
    if metric != "cosine":
        distances = np.sqrt(distances)
    return indices, distances.astype(np.float32)


def _pca(data: np.ndarray) -> np.ndarray:
    """The first two principal components (zeros where there are fewer), signs fixed: deterministic."""
    centred = data - data.mean(axis=0)
    _, singular, components = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    coords = np.zeros((len(data), 2))
    width = min(2, int((singular > 1e-12).sum()))
    for axis in range(width):
        direction = components[axis] * np.sign(components[axis][np.argmax(np.abs(components[axis]))])
        coords[:, axis] = centred @ direction
    return coords.astype(np.float32)


def _umap(
    data: np.ndarray,
    indices: np.ndarray,
    distances: np.ndarray,
    *,
    min_dist: float,
    metric: str,
    progress: ProgressCallback | None,
) -> np.ndarray:
    import umap  # here, not at the top: about 2 s (15 s the first time after installing: pynndescent compiles)

    _keep_compiled_code(umap)
    _report(progress, 2)
    reducer = umap.UMAP(
        n_neighbors=indices.shape[1],
        min_dist=min_dist,
        metric=metric,
        n_epochs=EPOCHS,
        init=_initial_layout(data, metric),
        random_state=SEED,
        precomputed_knn=(indices, distances, None),
    )
    with warnings.catch_warnings():
        # expected: "no search index, transform unavailable" (we never transform) and "n_jobs overridden
        # to 1 by setting random_state" (the price of reproducible maps)
        warnings.filterwarnings("ignore", message=".*knn_search_index.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*n_jobs value.*", category=UserWarning)
        coords = reducer.fit_transform(data)
    return np.ascontiguousarray(coords, dtype=np.float32)


def _initial_layout(data: np.ndarray, metric: str) -> np.ndarray | str:
    """PCA of the vectors as UMAP sees them (unit rows for cosine); ``"random"`` when they span no plane.

    Measured on the 2010 LightGCN run, this start keeps slightly more of each point's 15 neighbours than
    umap-learn's spectral start (0.54 vs 0.53) and much more of the global distances (Spearman 0.49 vs
    0.36 on random pairs), and takes milliseconds instead of about 3.5 s (ARPACK on 10 graph components).
    """
    start = _pca(_prepared(data, metric))
    return start if np.ptp(start, axis=0).min() > 0 else "random"


_compiled_code_kept = False


def _keep_compiled_code(umap_module: Any) -> None:
    """Let numba store umap-learn's compiled functions on disk, so that only the first process compiles.

    umap-learn compiles its graph and layout functions (numba) at the first fit of every process, about
    4.5 s, and does not ask numba to cache them. Enabling numba's own cache for the functions this module
    uses (the single-threaded layout only: its parallel twin shares the cache file's name) makes a new
    process load them in milliseconds. numba invalidates the files when umap-learn's source changes. Where
    no cache folder is writable, the functions are simply compiled as before.
    """
    global _compiled_code_kept
    if _compiled_code_kept:
        return
    _compiled_code_kept = True
    try:
        for dispatcher in (
            umap_module.umap_.smooth_knn_dist,
            umap_module.umap_.compute_membership_strengths,
            umap_module.layouts._nb_optimize_layout_euclidean_single_epoch,
            umap_module.layouts.clip,
        ):
            if not dispatcher.signatures:  # not compiled yet in this process
                dispatcher.enable_caching()
    except (AttributeError, RuntimeError, OSError) as error:  # another umap-learn, or no writable cache folder
        logger.info("umap-learn's compiled code is not kept on disk (%s).", error)


# --- the stored maps ----------------------------------------------------------------------------------

Points = tuple[np.ndarray, np.ndarray, np.ndarray]  # (is_user [n] bool, id [n] int64, xy [n, 2] float32)


def _locate(key: str, kind: str, n_neighbors: int, min_dist: float, root: Path | None) -> tuple[Path, Path]:
    """The run's folder and the path of its map with these settings (checked)."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    _check_settings(n_neighbors, min_dist, "cosine")
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
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, is_user=is_user, id=ids, xy=xy)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(scratch, 0o644)  # like the run's other files (mkstemp makes it private)
        os.replace(scratch, path)
    except OSError as error:  # e.g. the run was deleted meanwhile: the map is still returned
        Path(scratch).unlink(missing_ok=True)
        logger.warning("Could not store the map %s (%s).", path.name, error)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _frame(is_user: np.ndarray, ids: np.ndarray, xy: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"node": np.where(is_user, "user", "artist"), "id": ids, "x": xy[:, 0], "y": xy[:, 1]},
    )
