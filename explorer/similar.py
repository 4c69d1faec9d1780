"""Artists in a run's own space: the nearest neighbours of an artist (cosine), and artists found by name.

What a projector's search does (issue 16: "search an artist by name and list its nearest neighbours in the
model's own space"): the neighbours are computed on the model's artist vectors, never on the 2-D map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.data import Dataset
from explorer.errors import ParameterError
from explorer.models import model_class
from explorer.neighbours import prepared
from explorer.recommend import artist_names
from explorer.training import Run


def artist_vectors(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """``(artist ids, vectors)`` of a run whose model has embeddings.

    Raises:
        ParameterError: the model learns no artist vectors (one sentence, with the model's reason).
    """
    cls = model_class(run.model)
    factors = run.state.get("item_factors")
    if not cls.has_embeddings or factors is None or factors.ndim != 2 or factors.shape[1] == 0:
        raise ParameterError(f"{run.model} has no artist vectors to search ({cls.no_embeddings_reason}).")
    return run.state["item_ids"], factors


def nearest_artists(run: Run, artist_id: int, k: int = 10, among: np.ndarray | None = None) -> pd.DataFrame:
    """The ``k`` artists nearest to ``artist_id`` in the run's own space: ``rank, artistID, similarity`` (cosine).

    Args:
        run: A run whose model has artist vectors.
        artist_id: The artist to start from.
        k: Neighbours to list (fewer when the catalogue is smaller).
        among: Only these artist ids may be neighbours (default: the run's whole catalogue).

    Raises:
        ParameterError: no artist vectors, or the artist is not in the run's catalogue (nobody had it in train).
    """
    ids, vectors = artist_vectors(run)
    row = np.searchsorted(ids, artist_id)
    if row >= len(ids) or ids[row] != artist_id:
        raise ParameterError(
            f"Artist {artist_id} is not in the {run.year} catalogue of {run.model}: nobody listened to it before "
            f"{run.year}."
        )
    unit = prepared(np.asarray(vectors, dtype=np.float64), "cosine")
    similarity = unit @ unit[row]
    allowed = np.ones(len(ids), dtype=bool) if among is None else np.isin(ids, among)
    allowed[row] = False
    candidates = np.flatnonzero(allowed)
    order = candidates[np.lexsort((ids[candidates], -similarity[candidates]))][:k]
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "artistID": ids[order], "similarity": similarity[order]})


def find_artists(dataset: Dataset, text: str, *, among: np.ndarray | None = None, limit: int = 20) -> pd.DataFrame:
    """Artists whose name contains ``text`` (case-insensitive, as plain text): ``artistID, name``.

    Names that start with the text come first, then the others, each in name order.

    Args:
        dataset: The data set (its artist names).
        text: What to look for; blank finds nothing.
        among: Only these artist ids (e.g. a run's catalogue, or the artists of every year of a drift).
        limit: Most rows returned.
    """
    needle = text.strip().casefold()
    if not needle:
        return pd.DataFrame({"artistID": pd.Series(dtype=np.int64), "name": pd.Series(dtype=object)})
    artists = dataset.artists
    if among is not None:
        artists = artists[artists["id"].isin(among)]
    names = artists["name"].astype(str).str.casefold()
    found = artists[names.str.contains(needle, regex=False)]
    starts = found["name"].astype(str).str.casefold().str.startswith(needle)
    ordered = found.assign(_first=~starts, _name=found["name"].astype(str).str.casefold()).sort_values(
        ["_first", "_name"]
    )
    return artist_names(dataset, ordered["id"].to_numpy()[:limit])[["artistID", "name"]]
