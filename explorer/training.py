"""Fit one model on one forward-chaining split, evaluate it, and time both: a :class:`Run`.

A run also carries what made it (:mod:`explorer.provenance`: the code's fingerprint, the device kind, the
library versions, the git commit) and what pages look up per test user (:mod:`explorer.lookups`), all
computed here, when it is trained. A run read from the cache loads its heavy parts (``ranks``, ``state``,
``lookups``, ``test_users``, ``top_items``) on first access only (:meth:`Run.deferred`), so a page that
lists runs and reads their metrics and CIs never parses a ranks table.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explorer import contract, lookups, provenance
from explorer.beyond import beyond_metrics, tags_before
from explorer.data import Dataset
from explorer.evaluation import COVERAGE_K, evaluate
from explorer.models import ProgressCallback, Recommender, model_class, seed_of
from explorer.protocol import DEFAULT_YEARS, Split, build_interactions, check_years, forward_chaining_split

logger = logging.getLogger(__name__)

HEAVY = ("ranks", "state", "lookups", "test_users", "top_items")  # read from the cache on first access


@dataclass
class Run:
    """One trained and evaluated model for one test year, as the cache stores it.

    Attributes:
        model: Registered model name.
        params: Validated hyperparameters.
        year: Test year.
        data: ``{"path", "fingerprint", "synthetic"}`` of the data set.
        metrics: See :func:`explorer.evaluation.summarise`.
        ranks: ``user, item, ranks, norm_ranks, test_year, cold`` per test row.
        state: The model's learned arrays (see :meth:`Recommender.state`).
        fit_seconds, eval_seconds: Wall times of fitting and evaluating.
        device: The device kind it was trained on (``cpu`` or ``cuda``), resolved before training.
        versions: Python's and the key libraries' versions (:func:`explorer.provenance.library_versions`).
        notes: Facts a reader of the results must know (e.g. the friendship snapshot's date).
        created: ISO time of training.
        from_cache: True when loaded from the run cache instead of trained now.
        test_users: Sorted ids of the test users.
        top_items: ``[len(test_users), 10]`` artist ids of each test user's top-10 list (-1 padding).
        code: ``{"fingerprint", "files"}`` of the code that made it (:func:`explorer.provenance.code_identity`).
        git: ``{"commit", "dirty"}`` of the checkout, or None outside a git repository.
        intervals: The run's own bootstrap CIs of its metrics (:func:`explorer.lookups.intervals`).
        lookups: Per test user arrays (:data:`explorer.lookups.ARRAYS`: top-50 lists, hits, known, sums).
    """

    model: str
    params: dict[str, Any]
    year: int
    data: dict[str, Any]
    metrics: dict[str, Any]
    ranks: pd.DataFrame
    state: dict[str, np.ndarray]
    fit_seconds: float
    eval_seconds: float
    device: str
    versions: dict[str, str]
    notes: list[str] = field(default_factory=list)
    created: str = ""
    from_cache: bool = False
    test_users: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    top_items: np.ndarray = field(default_factory=lambda: np.empty((0, 10), dtype=np.int64))
    code: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] | None = None
    intervals: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def deferred(cls, load: Callable[[str], Any], **light: Any) -> Run:
        """A run whose :data:`HEAVY` attributes are read by ``load(name)`` on first access (then kept)."""
        run = cls.__new__(cls)
        run.__dict__.update(light)
        run.__dict__["_load"] = load
        return run

    def __getattr__(self, name: str) -> Any:  # only reached when the attribute is not set yet
        load = self.__dict__.get("_load")
        if name in HEAVY and load is not None:
            value = self.__dict__[name] = load(name)
            return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def key(self) -> str:
        """The run's cache key: the hash of its identity (:func:`explorer.provenance.identity`)."""
        return provenance.identity_key(self.identity())

    def identity(self) -> dict[str, Any]:
        fingerprint = self.data.get("fingerprint", "")
        code = self.code.get("fingerprint", "")
        return provenance.identity(self.model, self.params, self.year, fingerprint, code, self.device, self.versions)

    @property
    def seed(self) -> int | None:
        return seed_of(self.params)

    @property
    def losses(self) -> list[float]:
        return self.state["losses"].tolist()

    def recommender(self) -> Recommender:
        """The fitted model, re-created from the stored arrays."""
        return model_class(self.model).from_state(self.state, self.params)


def library_versions() -> dict[str, str]:
    """See :func:`explorer.provenance.library_versions`."""
    return dict(provenance.library_versions())


def train_and_evaluate(
    dataset: Dataset,
    split: Split,
    model: str,
    params: dict[str, Any] | None = None,
    *,
    device: str | None = None,
    progress: ProgressCallback | None = None,
) -> Run:
    """Fit ``model`` on ``split``'s train rows and evaluate it on its test rows.

    ``params`` override the model's defaults for the split's test year (see ``Recommender.defaults_for``).
    The device is resolved before training (:func:`explorer.provenance.device_kind`) and given to the model.
    """
    cls = model_class(model)
    kind = provenance.device_kind(cls, device)
    recommender = cls(device=kind, **cls.params_for(split.year, params))
    started = time.perf_counter()
    contract.fit(recommender, split.train_set(dataset.friends, dataset.tagged), progress)  # checked: one sentence
    fitted = time.perf_counter()
    result = evaluate(contract.scorer(recommender), split, list_length=lookups.TOP_N)
    metrics = {**result.metrics, "beyond": beyond_of(result.top_items[:, :COVERAGE_K], split, dataset)}
    per_user = lookups.compute(recommender, split, result, dataset.friends)
    evaluated = time.perf_counter()
    used = getattr(recommender, "device_used_", kind)
    if used != kind:
        logger.warning("%s was given the device %s but reports training on %s.", model, kind, used)
    return Run(
        model=model,
        params=recommender.params,
        year=split.year,
        data={"path": str(dataset.path), "fingerprint": dataset.fingerprint, "synthetic": dataset.synthetic},
        metrics=metrics,
        ranks=result.ranks,
        state=recommender.state(),
        fit_seconds=fitted - started,
        eval_seconds=evaluated - fitted,
        device=kind,
        versions=library_versions(),
        notes=list(recommender.notes),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        test_users=result.test_users,
        top_items=result.top_items[:, :COVERAGE_K],
        code=provenance.code_identity(cls),
        git=provenance.git_state(),
        intervals=lookups.intervals(per_user),
        lookups=per_user,
    )


def beyond_of(top_items: np.ndarray, split: Split, dataset: Dataset) -> dict[str, float]:
    """Beyond-accuracy metrics of top-10 lists on ``split`` (tags dated before its test year only)."""
    counts = split.train_set().item_counts()
    return beyond_metrics(top_items, split.items, counts, tags_before(dataset.tagged, split.year))


_interactions: dict[str, pd.DataFrame] = {}


def interactions_of(dataset: Dataset) -> pd.DataFrame:
    """The notebook's interaction table of ``dataset`` (built once per process and data set)."""
    if dataset.fingerprint not in _interactions:
        _interactions[dataset.fingerprint] = build_interactions(dataset.tagged, dataset.user_artists)
    return _interactions[dataset.fingerprint]


def splits_of(dataset: Dataset, years: list[int] | tuple[int, ...] = DEFAULT_YEARS) -> list[Split]:
    """Validated forward-chaining splits of ``dataset`` for ``years``."""
    table = interactions_of(dataset)
    return [forward_chaining_split(table, year) for year in check_years(years, table)]
