"""What pages need that depends on one run only, computed when the run is trained and stored with it.

Per test user (rows in the order of ``test_users``, the sorted ids), :data:`ARRAYS` names each array and
the function that computes it from a :class:`Inputs`:

* ``top_items`` ``[users, TOP_N]``: the user's top-:data:`TOP_N` artist ids, best first (-1 padding), train
  artists removed; the top-10 lists are its first ten columns;
* ``hits`` ``[users, TOP_N]``: whether that artist is one of the user's held-out (test) artists;
* ``known`` ``[users]``: whether the model ranks the user personally (:meth:`Recommender.knows`; the others
  get the popularity ranking);
* ``num``, ``den`` ``[users, len(metrics)]``: the user's numerator and denominator of each metric of
  :data:`METRICS` (= :data:`explorer.comparison.CI_METRICS`; :func:`explorer.evaluation.user_contributions`),
  so statistics never re-read the ranks; ``metrics`` names the columns.

Another per-user array is one more line in :data:`ARRAYS`. When the data set's friendships are given,
the explanation of each top-10 list is stored too (``reasons_*`` arrays, see
:func:`explorer.explainers.reason_arrays`; none for a model that cannot be explained), so the Compare
users page reads why each model recommends each artist instead of computing it.

Besides these arrays the run stores its own bootstrap CIs (:func:`intervals`, small, in ``metrics.json``):
10,000 user resamples, seed 0, the percentile interval, computed by :mod:`explorer.stats` as
:func:`explorer.summaries.metric_intervals` does.

Stored as one ``.npz`` (:func:`save`, :func:`load`): no pickle, ``allow_pickle=False`` on load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explorer.evaluation import NDCG_KS, RECALL_KS, Evaluation, parse_metric, user_contributions
from explorer.models.base import Recommender
from explorer.protocol import Split

TOP_N = 50  # length of each stored list
INTERVAL_RESAMPLES = 10_000
INTERVAL_SEED = 0


# The metrics whose per-user sums and CIs a run stores: every metric the tables show with a CI, the list
# :data:`explorer.comparison.CI_METRICS` names (a test keeps the two equal). Spelled out here rather than
# imported: comparison's imports (the statistics store, the cache) would put most of the package in every
# run's code fingerprint, and only this list's value, not comparison's code, shapes the stored numbers.
METRICS = (
    *(f"recall@{k}" for k in RECALL_KS),
    "mrr",
    *(f"ndcg@{k}" for k in NDCG_KS),
    *(f"hit_rate@{k}" for k in RECALL_KS),
)


def metric_names() -> list[str]:
    """:data:`METRICS` as a list."""
    return list(METRICS)


@dataclass
class Inputs:
    """What the lookups of one run are computed from: the fitted model, its split, its evaluation."""

    recommender: Recommender
    split: Split
    evaluation: Evaluation  # with TOP_N-long lists (``evaluate(..., list_length=TOP_N)``)
    friends: pd.DataFrame | None = None  # the data set's friendships: the explanations need them

    @property
    def users(self) -> np.ndarray:
        return self.evaluation.test_users

    @functools.cached_property
    def contributions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users, num, den)`` of :func:`metric_names` (see :func:`explorer.evaluation.user_contributions`)."""
        return user_contributions(self.evaluation.ranks, metric_names())


def _hits(inputs: Inputs) -> np.ndarray:
    """``[users, TOP_N]``: is the listed artist one of the user's held-out artists."""
    top, users = inputs.evaluation.top_items, inputs.users
    test = inputs.split.test
    width = int(max(top.max(initial=0), test["artistID"].max() if len(test) else 0)) + 1
    held_out = np.searchsorted(users, test["userID"].to_numpy()) * width + test["artistID"].to_numpy()
    listed = np.arange(len(users))[:, None] * width + np.maximum(top, 0)
    return np.isin(listed, held_out) & (top >= 0)


ARRAYS: dict[str, Callable[[Inputs], np.ndarray]] = {
    "test_users": lambda inputs: inputs.users,
    "top_items": lambda inputs: inputs.evaluation.top_items,
    "hits": _hits,
    "known": lambda inputs: inputs.recommender.knows(inputs.users),
    "num": lambda inputs: inputs.contributions[1],
    "den": lambda inputs: inputs.contributions[2],
    "metrics": lambda _: np.asarray(metric_names(), dtype=str),
}


def compute(
    recommender: Recommender, split: Split, evaluation: Evaluation, friends: pd.DataFrame | None = None
) -> dict[str, np.ndarray]:
    """Every array of :data:`ARRAYS` for one fitted model and its evaluation on ``split``, and (when
    ``friends`` is given) the explanations of its top-10 lists.

    Raises:
        ValueError: ``evaluation``'s lists are shorter than :data:`TOP_N` where the catalogue is not.
    """
    if evaluation.top_items.shape[1] < min(TOP_N, len(split.items)):
        raise ValueError(f"the evaluation's lists must be {TOP_N} long; evaluate with list_length={TOP_N}")
    inputs = Inputs(recommender, split, evaluation, friends)
    arrays = {name: np.asarray(make(inputs)) for name, make in ARRAYS.items()}
    if friends is not None:
        from explorer import explainers  # it imports the models it explains; the registry does not need it

        arrays.update(explainers.reason_arrays(recommender, split, friends, inputs.users, evaluation.top_items))
    return arrays


def nest(names: list[str], values: list[Any]) -> dict[str, Any]:
    """``{"recall": {"10": v}, "mrr": v, …}``: flat metric names and values, nested like a run's metrics."""
    nested: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        kind, k = parse_metric(name)
        if k is None:
            nested[kind] = value
        else:
            nested.setdefault(kind, {})[str(k)] = value
    return nested


def intervals(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's own bootstrap CIs of its stored metrics, from its per-user sums.

    Returns:
        ``{"confidence", "resamples", "seed", "method", "ci": {"recall": {K: [lo, hi]}, "mrr": [lo, hi], …}}``.
    """
    from explorer import stats

    names = [str(name) for name in arrays["metrics"]]
    draws = stats.bootstrap_ratios(arrays["num"], arrays["den"], INTERVAL_RESAMPLES, INTERVAL_SEED)
    bounds = stats.percentile_intervals(draws, stats.CONFIDENCE)
    return {
        "confidence": stats.CONFIDENCE,
        "resamples": INTERVAL_RESAMPLES,
        "seed": INTERVAL_SEED,
        "method": "percentile bootstrap over test users",
        "ci": nest(names, bounds.tolist()),
    }


def save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as one uncompressed ``.npz`` (no object arrays)."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise ValueError(f"lookup {name} is an object array; store numbers or strings only")
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load(path: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`save` wrote (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}
