"""How a model's picture of the catalogue moves across the test years (issue 14, "aligned maps").

* :func:`aligned_maps`: the model's artist vectors (optionally its user vectors too) of each test year laid
  out together with AlignedUMAP (:mod:`explorer.aligned_layout`), the same artist (user) id linked between
  consecutive years, so that a position means the same in every year. Computed once and stored beside the
  runs in ``<cache>/.drift/``, keyed by the runs' contents (:func:`explorer.runs.content_id`): a retrained
  run gets a new map. Written atomically under a file lock; unreadable files are recomputed.
* :func:`neighbour_overlap` / :func:`most_moved`: how much each artist's neighbourhood changed between
  consecutive years, measured in the model's **own** space, not on the map: the share of its ``k`` nearest
  neighbours (cosine) that it keeps. Both years' searches are restricted to the artists present in both
  years, so that an artist new in the later year cannot push an old neighbour out. Stored the same way.
* :func:`neighbours_by_year`: an artist's nearest neighbours in each year's space.

Only the runs of the model's default setting for each year are used (what ``train`` and the app make).
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from explorer import runs
from explorer.aligned_layout import EPOCHS, aligned_layout
from explorer.atomic import atomic_write
from explorer.data import Dataset
from explorer.errors import ParameterError
from explorer.models import ProgressCallback, model_class
from explorer.neighbours import nearest_neighbors
from explorer.protocol import DEFAULT_YEARS
from explorer.recommend import artist_names
from explorer.similar import artist_vectors, nearest_artists

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
FOLDER = ".drift"
METHOD = "AlignedUMAP"
DEFAULT_K = 10
MEASURE = (
    "share of an artist's {k} nearest neighbours (cosine, in the model's own space) kept from one year to the next, "
    "both searches among the artists present in both years"
)


@dataclass(frozen=True)
class AlignedMaps:
    """Aligned 2-D maps of one model's test years.

    Attributes:
        model, years: What is mapped.
        points: ``year, node ("artist" or "user"), id, x, y``; one row per artist (user) per year it exists in.
    """

    model: str
    years: tuple[int, ...]
    points: pd.DataFrame

    def of_year(self, year: int) -> pd.DataFrame:
        """The points of one year: ``node, id, x, y``."""
        return self.points[self.points["year"] == year].drop(columns="year").reset_index(drop=True)

    def path(self, artist_id: int) -> pd.DataFrame:
        """Where the artist sits in each year it exists in: ``year, x, y`` (empty if in none)."""
        rows = self.points[(self.points["node"] == "artist") & (self.points["id"] == artist_id)]
        return rows[["year", "x", "y"]].reset_index(drop=True)

    def artist_counts(self) -> dict[int, int]:
        """Artists per year."""
        artists = self.points[self.points["node"] == "artist"]
        return {year: int((artists["year"] == year).sum()) for year in self.years}

    def shared_artists(self) -> np.ndarray:
        """Sorted ids of the artists present in every year."""
        artists = self.points[self.points["node"] == "artist"]
        counts = artists.groupby("id").size()
        return np.sort(counts.index[counts.to_numpy() == len(self.years)].to_numpy())


def year_keys(
    dataset: Dataset, model: str, years: Sequence[int] = DEFAULT_YEARS, root: Path | None = None
) -> dict[int, str]:
    """The cache keys of ``model``'s default-setting runs for ``years`` (sorted).

    Raises:
        ParameterError: the model has no artist vectors, fewer than two years are given, or a year has no
            cached run (the sentence says how to train it).
    """
    cls = model_class(model)
    if not cls.has_embeddings:
        raise ParameterError(
            f"{model} has no artist vectors to follow across years ({cls.no_embeddings_reason}); "
            "pick a factor model such as lightgcn-social."
        )
    chosen = sorted({int(y) for y in years})
    if len(chosen) < 2:
        raise ParameterError("Following a model across years needs at least two test years, e.g. 2008 2009 2010.")
    root = root or runs.cache_dir()
    keys = {year: runs.run_key(model, cls.params_for(year), year, dataset.fingerprint) for year in chosen}
    missing = [str(year) for year, key in keys.items() if not (root / key / runs.MANIFEST).is_file()]
    if missing:
        listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        raise ParameterError(
            f"{model} has no cached run for {listed} with its default setting; train "
            f"{'it' if len(missing) == 1 else 'them'} with `python -m explorer train --model {model} "
            f"--years {' '.join(missing)}`."
        )
    return keys


def aligned_maps(
    dataset: Dataset,
    model: str,
    *,
    years: Sequence[int] = DEFAULT_YEARS,
    users: bool = False,
    root: Path | None = None,
    progress: ProgressCallback | None = None,
) -> AlignedMaps:
    """The aligned maps of ``model``'s years: stored, or computed now (with progress) and stored.

    Args:
        dataset: The data set the runs were trained on.
        model: A model with artist vectors.
        years: Test years (their default-setting runs must be cached).
        users: Also map the user vectors (users and artists in one space per year).
        root: Cache folder (default :func:`explorer.runs.cache_dir`).
        progress: ``progress(step, total, **metrics)``; a stored map reports its last step at once.

    Raises:
        ParameterError: see :func:`year_keys`.
    """
    keys = year_keys(dataset, model, years, root)
    path = _path(keys, root, kind="aligned", users=bool(users), epochs=EPOCHS)
    arrays = _stored(path, lambda: _compute_maps(keys, bool(users), root, progress), progress)
    return _maps(model, tuple(keys), arrays)


def cached_aligned_maps(
    dataset: Dataset, model: str, *, years: Sequence[int] = DEFAULT_YEARS, users: bool = False, root: Path | None = None
) -> AlignedMaps | None:
    """The stored aligned maps, or None when they must be computed (a page shows a button then)."""
    keys = year_keys(dataset, model, years, root)
    arrays = _read(_path(keys, root, kind="aligned", users=bool(users), epochs=EPOCHS))
    return None if arrays is None else _maps(model, tuple(keys), arrays)


def neighbour_overlap(
    dataset: Dataset, model: str, *, k: int = DEFAULT_K, years: Sequence[int] = DEFAULT_YEARS, root: Path | None = None
) -> pd.DataFrame:
    """Per artist, the share of its ``k`` nearest neighbours kept between consecutive years (see :data:`MEASURE`).

    Returns:
        ``artistID, listeners`` (train listeners in the last year, 0 if absent) and one column per pair of
        consecutive years (``"2008-2009"``…) in [0, 1], NaN where the artist is missing from either year;
        one row per artist present in at least two consecutive years.
    """
    if not 1 <= k <= 200:
        raise ParameterError(f"k must be between 1 and 200, got {k}.")
    keys = year_keys(dataset, model, years, root)
    arrays = _stored(_path(keys, root, kind="overlap", k=int(k)), lambda: _compute_overlap(keys, int(k), root), None)
    return _overlap_table(keys, arrays)


def _overlap_table(keys: dict[int, str], arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    table = pd.DataFrame({"artistID": arrays["ids"], "listeners": arrays["listeners"]})
    for column, name in enumerate(pair_names(tuple(keys))):
        table[name] = arrays["overlap"][:, column]
    return table


def pair_names(years: Sequence[int]) -> list[str]:
    return [f"{a}-{b}" for a, b in zip(years[:-1], years[1:], strict=True)]


def most_moved(
    dataset: Dataset,
    model: str,
    *,
    k: int = DEFAULT_K,
    top: int = 20,
    min_listeners: int = 0,
    years: Sequence[int] = DEFAULT_YEARS,
    root: Path | None = None,
) -> pd.DataFrame:
    """The artists present in every year whose neighbourhood changed most: ``artistID, name, listeners,
    <pair>…, mean_overlap``, lowest mean overlap first; ties go to the more listened artist, then the lower id.

    ``min_listeners`` keeps only artists with at least that many train listeners in the last year: a rarely
    heard artist's vector rests on a few users, so its neighbourhood changes by chance more often.
    """
    table = neighbour_overlap(dataset, model, k=k, years=years, root=root)
    return _most_moved(dataset, table, years, top, min_listeners)


def _most_moved(
    dataset: Dataset, table: pd.DataFrame, years: Sequence[int], top: int, min_listeners: int
) -> pd.DataFrame:
    pairs = pair_names(sorted({int(y) for y in years}))
    table = table[table["listeners"] >= min_listeners].dropna(subset=pairs)
    table = table.assign(mean_overlap=table[pairs].mean(axis=1))
    table = table.sort_values(["mean_overlap", "listeners", "artistID"], ascending=[True, False, True]).head(top)
    named = artist_names(dataset, table["artistID"].to_numpy())
    return table.assign(name=named["name"].to_numpy())[
        ["artistID", "name", "listeners", *pairs, "mean_overlap"]
    ].reset_index(drop=True)


def stored_most_moved(
    dataset: Dataset,
    model: str,
    *,
    k: int = DEFAULT_K,
    top: int = 20,
    min_listeners: int = 0,
    years: Sequence[int] = DEFAULT_YEARS,
    root: Path | None = None,
) -> pd.DataFrame | None:
    """:func:`most_moved` when the neighbour overlap with this ``k`` is stored, else None (never computes: a page
    offers a button then, like :func:`cached_aligned_maps`).

    Raises:
        ParameterError: see :func:`year_keys`.
    """
    keys = year_keys(dataset, model, years, root)
    arrays = _read(_path(keys, root, kind="overlap", k=int(k)))
    return None if arrays is None else _most_moved(dataset, _overlap_table(keys, arrays), years, top, min_listeners)


def neighbours_by_year(
    dataset: Dataset,
    model: str,
    artist_id: int,
    *,
    k: int = DEFAULT_K,
    years: Sequence[int] = DEFAULT_YEARS,
    root: Path | None = None,
) -> pd.DataFrame:
    """The artist's ``k`` nearest neighbours in each year it exists in: ``year, rank, artistID, name, similarity``."""
    frames = []
    for year, key in year_keys(dataset, model, years, root).items():
        run = runs.load(key, root)
        if artist_id in run.state["item_ids"]:
            frames.append(nearest_artists(run, int(artist_id), k).assign(year=year))
    if not frames:
        return pd.DataFrame(columns=["year", "rank", "artistID", "name", "similarity"])
    table = pd.concat(frames, ignore_index=True)
    table["name"] = artist_names(dataset, table["artistID"].to_numpy())["name"].to_numpy()
    return table[["year", "rank", "artistID", "name", "similarity"]]


def _compute_maps(
    keys: dict[int, str], users: bool, root: Path | None, progress: ProgressCallback | None
) -> dict[str, np.ndarray]:
    parts = []  # per year: (is_user, id, vectors)
    for key in keys.values():
        run = runs.load(key, root)
        ids, vectors = artist_vectors(run)
        is_user, node_ids = np.zeros(len(ids), dtype=bool), ids
        if users:
            is_user = np.r_[np.ones(len(run.state["user_ids"]), dtype=bool), is_user]
            node_ids = np.r_[run.state["user_ids"], ids]
            vectors = np.vstack([run.state["user_factors"], vectors])
        parts.append((is_user, np.asarray(node_ids, dtype=np.int64), vectors))
    codes = [ids * 2 + flags for flags, ids, _ in parts]  # one code per (kind, id): a user and an artist never meet
    relations = []
    for left, right in zip(codes[:-1], codes[1:], strict=True):
        _, at_left, at_right = np.intersect1d(left, right, assume_unique=True, return_indices=True)
        relations.append(np.stack([at_left, at_right], axis=1))
    layouts = aligned_layout([vectors for _, _, vectors in parts], relations, progress=progress)
    return {
        "year": np.concatenate([np.full(len(p[1]), year, dtype=np.int64) for year, p in zip(keys, parts, strict=True)]),
        "is_user": np.concatenate([p[0] for p in parts]),
        "id": np.concatenate([p[1] for p in parts]),
        "xy": np.concatenate(layouts).astype(np.float32),
    }


def _compute_overlap(keys: dict[int, str], k: int, root: Path | None) -> dict[str, np.ndarray]:
    loaded = [runs.load(key, root) for key in keys.values()]
    spaces = [artist_vectors(run) for run in loaded]
    measured = []  # per pair of consecutive years: (shared artist ids, share of neighbours kept)
    for (left_ids, left), (right_ids, right) in zip(spaces[:-1], spaces[1:], strict=True):
        shared, at_left, at_right = np.intersect1d(left_ids, right_ids, assume_unique=True, return_indices=True)
        if len(shared) <= k:
            raise ParameterError(f"Only {len(shared)} artists are in two consecutive years; k must be smaller.")
        before, _ = nearest_neighbors(left[at_left], k + 1, "cosine")
        after, _ = nearest_neighbors(right[at_right], k + 1, "cosine")
        kept = (before[:, 1:, None] == after[:, None, 1:]).any(axis=2).sum(axis=1) / k  # itself is first: dropped
        measured.append((shared, kept))
    ids = np.unique(np.concatenate([shared for shared, _ in measured]))
    overlap = np.full((len(ids), len(measured)), np.nan)
    for column, (shared, kept) in enumerate(measured):
        overlap[np.searchsorted(ids, shared), column] = kept
    last_ids, last = loaded[-1].state["item_ids"], loaded[-1].state["popularity"]
    at = np.minimum(np.searchsorted(last_ids, ids), len(last_ids) - 1)
    return {"ids": ids, "overlap": overlap, "listeners": np.where(last_ids[at] == ids, last[at], 0).astype(np.int64)}


def _maps(model: str, years: tuple[int, ...], arrays: dict[str, np.ndarray]) -> AlignedMaps:
    points = pd.DataFrame(
        {
            "year": arrays["year"],
            "node": np.where(arrays["is_user"], "user", "artist"),
            "id": arrays["id"],
            "x": arrays["xy"][:, 0],
            "y": arrays["xy"][:, 1],
        }
    )
    return AlignedMaps(model=model, years=years, points=points)


def _path(keys: dict[int, str], root: Path | None, **settings: object) -> Path:
    """``<cache>/.drift/<kind>-<hash>.npz``: a hash of the runs' contents and the settings, never user text."""
    contents = {str(year): runs.content_id(key, root) for year, key in keys.items()}
    text = json.dumps({"runs": contents, **settings, "format": FORMAT_VERSION}, sort_keys=True)
    folder = (root or runs.cache_dir()) / FOLDER
    folder.mkdir(exist_ok=True)
    return folder / f"{settings['kind']}-{hashlib.sha256(text.encode()).hexdigest()[:20]}.npz"


def _stored(
    path: Path, compute: Callable[[], dict[str, np.ndarray]], progress: ProgressCallback | None
) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, or ``compute()``'s, stored atomically; computed once across processes."""
    found = _read(path)
    if found is None:
        with FileLock(str(path.parent / f".{path.stem}.lock")):
            found = _read(path)  # another process may have computed it while we waited
            if found is None:
                found = compute()
                _write(path, found)
                return found
    if progress is not None:
        progress(1, 1, seconds=0.0)
    return found


def _read(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        logger.warning("The stored %s is unreadable (%s); computing it again.", path.name, error)
        return None


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path, binary=True, durable=True, mode=0o644) as handle:
        np.savez(handle, **arrays)
