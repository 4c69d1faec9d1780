"""Aligned UMAP layouts of related sets of vectors (umap-learn's AlignedUMAP), fast on a small machine.

Several data sets (a model's artist vectors in consecutive test years) are laid out together so that the
same point (the same artist id, linked through ``relations``) sits in the same place in every layout,
unless its neighbourhood really changed: AlignedUMAP's regularisation pulls related points together,
weighted by how much their neighbourhoods agree.

umap-learn's ``AlignedUMAP.fit`` on lightgcn-social's three years (1,972, 3,575 and 4,992 artists) did not
finish in 6 minutes of CPU (the machine was loaded): it fits a full UMAP per year (approximate neighbours,
a spectral start and 200 epochs) only to keep its graph, then computes a spectral start per year again
(ARPACK: 72 s for one year here, and it failed for lack of an eigengap), and it compiles its layout
function anew in every call. :func:`aligned_layout` runs AlignedUMAP's own parts, in its order, with the
choices :mod:`explorer.umap_layout` measured for single maps:

* each year's neighbour graph: the exact 15 nearest neighbours (:mod:`explorer.neighbours`) turned into
  UMAP's fuzzy graph by umap-learn's ``fuzzy_simplicial_set`` (what ``UMAP.fit`` does), edges weaker than
  1/epochs of the strongest dropped (what UMAP's own layout does; AlignedUMAP keeps them, never samples
  them and warns about an overflow);
* the regularisation weights: umap-learn's ``expand_relations`` and ``build_neighborhood_similarities``;
* the start: each year's PCA (unit rows, as the cosine metric sees them), scaled as AlignedUMAP scales its
  spectral start and rotated onto the previous year's by umap-learn's ``procrustes_align`` on the shared
  points;
* the layout: umap-learn's aligned epoch function, compiled once and kept on disk by numba, with progress
  after each epoch (what ``optimize_layout_aligned_euclidean`` runs). 100 epochs instead of AlignedUMAP's
  200: on those three years the layout takes 11.5 s of CPU instead of 25 s, and keeps as much of each
  artist's 15 nearest neighbours (0.62, 0.58, 0.57 per year vs 0.61, 0.58, 0.56) and aligns as well (a
  shared artist moves a median 0.10 of the typical distance between two points, both; 1.03 and 0.93 for
  maps drawn separately);
* a fixed seed: the same vectors give the same layout. The epoch function runs on one thread.

See ``benchmarks/bench_drift.py`` for the timings and the quality (neighbours kept, alignment) it prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from explorer.errors import ParameterError
from explorer.models import ProgressCallback
from explorer.neighbours import nearest_neighbors, prepared
from explorer.umap_layout import DEFAULT_MIN_DIST, DEFAULT_NEIGHBORS, SEED, _pca, checked_vectors

logger = logging.getLogger(__name__)

EPOCHS = 100  # see the module docstring
ALIGNMENT = 0.01  # AlignedUMAP's alignment_regularisation
WINDOW = 3  # AlignedUMAP's alignment_window_size
NEGATIVE_SAMPLES = 5.0  # UMAP's negative_sample_rate
SPREAD = 1.0


def aligned_layout(
    datasets: Sequence[np.ndarray],
    relations: Sequence[np.ndarray],
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    min_dist: float = DEFAULT_MIN_DIST,
    epochs: int = EPOCHS,
    progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Lay out related sets of vectors in the plane so that related points correspond (cosine metric).

    Args:
        datasets: ``[n_t, d_t]`` finite vectors per set, each ``n_t > n_neighbors``.
        relations: One ``[m, 2]`` int array per consecutive pair of sets: rows ``(i, j)`` say that point ``i``
            of set ``t`` is point ``j`` of set ``t + 1``.
        n_neighbors, min_dist: UMAP's settings.
        epochs: Layout epochs.
        progress: Called as ``progress(step, total, **metrics)``: one step per set's graph, one for the
            regularisation weights, one per epoch; the last with ``seconds``.

    Returns:
        One ``[n_t, 2]`` float32 layout per set.

    Raises:
        ParameterError: too few sets or points, or relations that do not fit the sets.
    """
    import numba
    import umap.aligned_umap as aligned
    from umap.umap_ import find_ab_params, fuzzy_simplicial_set, make_epochs_per_sample

    started = time.perf_counter()
    data = [checked_vectors(vectors) for vectors in datasets]
    if len(data) < 2 or len(relations) != len(data) - 1:
        raise ParameterError("An aligned map needs at least two sets of vectors and one relation per consecutive pair.")
    if min(len(d) for d in data) <= n_neighbors:
        raise ParameterError(f"Each set needs more than {n_neighbors} points for an aligned map.")
    links = [_checked_relation(r, len(a), len(b)) for r, a, b in zip(relations, data[:-1], data[1:], strict=True)]
    total = len(data) + 1 + epochs
    _keep_compiled_code(aligned)
    graphs = []
    for step, vectors in enumerate(data, start=1):
        indices, distances = nearest_neighbors(vectors, n_neighbors, "cosine")
        graph, _, _ = fuzzy_simplicial_set(
            vectors, n_neighbors, np.random.RandomState(SEED), "cosine", knn_indices=indices, knn_dists=distances
        )
        graph = graph.tocsr()
        graph.data[graph.data < graph.data.max() / float(epochs)] = 0.0
        graph.eliminate_zeros()
        graphs.append(graph)
        _report(progress, step, total)
    expanded = aligned.expand_relations(
        [dict(zip(r[:, 0].tolist(), r[:, 1].tolist(), strict=True)) for r in links], WINDOW
    )
    typed = {name: numba.typed.List() for name in ("indptr", "indices", "heads", "tails", "epochs")}
    for graph in graphs:
        coo = graph.tocoo()
        typed["indptr"].append(graph.indptr.astype(np.int32))
        typed["indices"].append(graph.indices.astype(np.int32))
        typed["heads"].append(coo.row.astype(np.int32))
        typed["tails"].append(coo.col.astype(np.int32))
        typed["epochs"].append(make_epochs_per_sample(coo.data, epochs).astype(np.float64))
    weights = aligned.build_neighborhood_similarities(typed["indptr"], typed["indices"], expanded)
    _report(progress, len(data) + 1, total)
    layouts = _initial_layouts(data, expanded, aligned)
    a, b = find_ab_params(SPREAD, min_dist)
    seeds = np.random.RandomState(SEED).randint(aligned.INT32_MIN, aligned.INT32_MAX, 3).astype(np.int64)
    epoch = _epoch_function()
    per_sample = typed["epochs"]
    negative = numba.typed.List([(e / NEGATIVE_SAMPLES).astype(np.float32) for e in per_sample])
    next_negative = numba.typed.List([n.copy() for n in negative])
    next_sample = numba.typed.List([e.astype(np.float32) for e in per_sample])
    for n in range(epochs):  # optimize_layout_aligned_euclidean's loop, with progress
        alpha = 1.0 - max(n - 1, 0) / float(epochs)  # the learning rate the library's loop gives epoch n
        epoch(
            *(layouts, layouts, typed["heads"], typed["tails"], per_sample, a, b, weights, expanded, seeds),
            *(1.0, ALIGNMENT, 2, True, alpha, negative, next_negative, next_sample, n),
        )
        _report(
            progress,
            len(data) + 2 + n,
            total,
            **({"seconds": time.perf_counter() - started} if n == epochs - 1 else {}),
        )
    return [np.ascontiguousarray(layout, dtype=np.float32) for layout in layouts]


def _checked_relation(relation: np.ndarray, left: int, right: int) -> np.ndarray:
    pairs = np.asarray(relation, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        raise ParameterError("Two consecutive sets share no point, so their layouts cannot be aligned.")
    if pairs.min() < 0 or pairs[:, 0].max() >= left or pairs[:, 1].max() >= right:
        raise ParameterError("A relation between two sets names a point that is not in them.")
    return pairs


def _initial_layouts(data: list[np.ndarray], expanded: np.ndarray, aligned: Any) -> Any:
    """Each set's PCA (scaled to ±10 like AlignedUMAP's start), rotated onto the previous set's on shared points."""
    import numba

    layouts = numba.typed.List()
    for index, vectors in enumerate(data):
        start = _pca(prepared(vectors, "cosine"))
        start *= np.float32(10.0 / max(float(np.abs(start).max()), 1e-12))
        if index:
            anchors = expanded[index][WINDOW - 1]  # this set's points → the previous set's
            right = np.flatnonzero(anchors[: len(vectors)] >= 0)
            if len(right) >= 2:
                pairs = np.vstack([anchors[right], right]).astype(np.int64)
                start = aligned.procrustes_align(layouts[-1], np.ascontiguousarray(start), pairs)
        layouts.append(np.ascontiguousarray(start, dtype=np.float32))
    return layouts


def _report(progress: ProgressCallback | None, step: int, total: int, **metrics: float) -> None:
    if progress is not None:
        progress(step, total, **metrics)


_epoch = None


def _epoch_function() -> Any:
    """umap-learn's aligned epoch, compiled once per process (numba keeps it on disk for the next ones)."""
    global _epoch
    if _epoch is None:
        import numba
        from umap import layouts

        _epoch = numba.njit(layouts._optimize_layout_aligned_euclidean_single_epoch, fastmath=True, cache=True)
    return _epoch


_kept = False


def _keep_compiled_code(aligned: Any) -> None:
    """Let numba keep umap-learn's compiled graph, relation and alignment functions on disk (as umap_layout does)."""
    global _kept
    if _kept:
        return
    _kept = True
    import umap

    try:
        for dispatcher in (
            aligned.build_neighborhood_similarities,
            aligned.in1d,
            aligned.procrustes_align,
            umap.umap_.smooth_knn_dist,
            umap.umap_.compute_membership_strengths,
            umap.layouts.clip,
            umap.layouts.rdist,
        ):
            if not dispatcher.signatures:
                dispatcher.enable_caching()
    except (AttributeError, RuntimeError, OSError) as error:  # another umap-learn, or no writable cache folder
        logger.info("umap-learn's compiled code is not kept on disk (%s).", error)
