"""Exact nearest neighbours of embedding rows (cosine or euclidean), a matrix product per block of rows.

Used by the UMAP maps (their neighbour graph, given to UMAP as ``precomputed_knn``) and wherever a
model's own space is searched (an artist's nearest neighbours, how a neighbourhood moves across years).
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 1024  # rows per similarity block in the neighbour search (1,024 × n float32)


def nearest_neighbors(vectors: np.ndarray, k: int, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` nearest neighbours of every row, itself first (as umap-learn expects).

    Args:
        vectors: ``[n, d]`` float array, ``n > k``.
        k: Neighbours per row, the row itself included.
        metric: ``"cosine"`` or ``"euclidean"``.

    Returns:
        ``(indices, distances)``, both ``[n, k]``, nearest first: int64 and float32.
    """
    data = prepared(np.asarray(vectors, dtype=np.float32), metric)
    squares = np.einsum("ij,ij->i", data, data)
    indices = np.empty((len(data), k), dtype=np.int64)
    distances = np.empty((len(data), k), dtype=np.float32)
    for start in range(0, len(data), BLOCK_ROWS):
        rows = slice(start, min(start + BLOCK_ROWS, len(data)))
        indices[rows], distances[rows] = _block_neighbors(data, squares, rows, k, metric)
    return indices, distances


def prepared(data: np.ndarray, metric: str) -> np.ndarray:
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
