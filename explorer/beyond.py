"""Beyond-accuracy metrics of the top-10 lists of all test users of one model and year.

* ``coverage``: share of the catalogue (train artists) that appears in at least one list;
* ``novelty``: mean self-information of the recommended artists, ``-log2`` of the artist's share of the
  train interactions;
* ``arp``: average recommendation popularity, the mean over lists of the mean train interaction count of
  the list's artists;
* ``long_tail_share``: share of the recommended artists outside the 20% most popular train artists;
* ``gini``: Gini coefficient of how often each catalogue artist is recommended (0: all equally, 1: one);
* ``diversity``: mean over lists of the mean pairwise tag-Jaccard distance of the list's artists, from the
  tag assignments dated before the test year only (pairs where neither artist has a tag are left out).

Lists are ``[num_users, 10]`` artist ids, padded with -1 where a user had fewer artists left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HEAD_SHARE = 0.2  # the "short head": this share of the most popular train artists


def gini(exposure: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0 when all are equal or all zero)."""
    x = np.sort(np.asarray(exposure, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


def head_items(items: np.ndarray, counts: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """The ``ceil(share · n)`` most popular artists (ties by lower id first)."""
    order = np.lexsort((items, -counts))
    return items[order[: int(np.ceil(share * len(items)))]]


def tags_before(tagged: pd.DataFrame, year: int) -> pd.DataFrame:
    """Distinct ``artistID, tagID`` pairs of tag assignments dated before 1 January of ``year`` (UTC)."""
    cutoff = pd.Timestamp(year=year, month=1, day=1, tz="UTC").value // 1_000_000  # ms, as the data
    early = tagged[tagged["timestamp"] < cutoff]
    return early[["artistID", "tagID"]].drop_duplicates().reset_index(drop=True)


def list_diversity(lists: np.ndarray, artist_tags: pd.DataFrame) -> float:
    """Mean over lists of the mean pairwise tag-Jaccard distance inside the list.

    Args:
        lists: ``[num_users, k]`` artist ids, -1 for padding.
        artist_tags: ``artistID, tagID`` pairs (each artist's tag set).
    """
    from scipy import sparse  # imported here: the CLI's compare never needs it

    if lists.size == 0:
        return 0.0
    artists = np.unique(lists[lists >= 0])
    tags = artist_tags[artist_tags["artistID"].isin(artists)]
    tag_ids, tag_cols = np.unique(tags["tagID"].to_numpy(), return_inverse=True)
    rows = np.searchsorted(artists, tags["artistID"].to_numpy())
    matrix = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, tag_cols)), shape=(len(artists), max(len(tag_ids), 1))
    )  # binary: pairs are distinct
    gram = (matrix @ matrix.T).toarray()  # shared tags of every two recommended artists
    sizes = np.diag(gram)
    first, second = np.triu_indices(lists.shape[1], k=1)
    left, right = lists[:, first], lists[:, second]  # [num_users, pairs]
    valid = (left >= 0) & (right >= 0)
    li = np.searchsorted(artists, np.where(valid, left, artists[0]))
    ri = np.searchsorted(artists, np.where(valid, right, artists[0]))
    shared = gram[li, ri]
    union = sizes[li] + sizes[ri] - shared
    counted = valid & (union > 0)
    distance = np.where(counted, 1.0 - shared / np.where(union > 0, union, 1.0), 0.0)
    pairs = counted.sum(axis=1)
    per_list = distance.sum(axis=1)[pairs > 0] / pairs[pairs > 0]
    return float(per_list.mean()) if len(per_list) else 0.0


def beyond_metrics(
    lists: np.ndarray, items: np.ndarray, counts: np.ndarray, artist_tags: pd.DataFrame
) -> dict[str, float]:
    """All beyond-accuracy metrics of one model and year.

    Args:
        lists: ``[num_users, k]`` recommended artist ids (-1 padding).
        items: Sorted catalogue artist ids (the train artists).
        counts: Train interactions per catalogue artist (same order as ``items``).
        artist_tags: ``artistID, tagID`` assignments dated before the test year (:func:`tags_before`).
    """
    lists = np.asarray(lists, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    shown = lists[lists >= 0]
    if len(shown) == 0 or len(items) == 0:
        return dict.fromkeys(("coverage", "novelty", "arp", "long_tail_share", "gini", "diversity"), 0.0)
    columns = np.searchsorted(items, shown)
    share = counts[columns] / counts.sum()
    valid = lists >= 0
    list_pop = np.zeros(lists.shape)
    list_pop[valid] = counts[np.searchsorted(items, lists[valid])]
    lengths = valid.sum(axis=1)
    arp = (list_pop.sum(axis=1)[lengths > 0] / lengths[lengths > 0]).mean()
    exposure = np.bincount(columns, minlength=len(items))
    return {
        "coverage": float((exposure > 0).mean()),
        "novelty": float(-np.log2(np.where(share > 0, share, 1.0 / counts.sum())).mean()),
        "arp": float(arp),
        "long_tail_share": float((~np.isin(shown, head_items(items, counts))).mean()),
        "gini": gini(exposure),
        "diversity": list_diversity(lists, artist_tags),
    }
