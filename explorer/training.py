"""Fit one model on one forward-chaining split, evaluate it, and time both: a :class:`Run`."""

from __future__ import annotations

import datetime as dt
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from explorer import contract
from explorer.beyond import beyond_metrics, tags_before
from explorer.data import Dataset
from explorer.evaluation import evaluate
from explorer.models import ProgressCallback, Recommender, model_class
from explorer.protocol import DEFAULT_YEARS, Split, build_interactions, check_years, forward_chaining_split

VERSIONED_PACKAGES = ("numpy", "pandas", "scipy", "torch", "torch-geometric", "cmfrec")


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
        device: Where it was trained (``cpu`` or ``cuda``).
        versions: Python and library versions.
        notes: Facts a reader of the results must know (e.g. the friendship snapshot's date).
        created: ISO time of training.
        from_cache: True when loaded from the run cache instead of trained now.
        test_users: Sorted ids of the test users.
        top_items: ``[len(test_users), 10]`` artist ids of each test user's top-10 list (-1 padding).
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

    @property
    def losses(self) -> list[float]:
        return self.state["losses"].tolist()

    def recommender(self) -> Recommender:
        """The fitted model, re-created from the stored arrays."""
        return model_class(self.model).from_state(self.state, self.params)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


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
    """
    cls = model_class(model)
    recommender = cls(device=device, **cls.params_for(split.year, params))
    started = time.perf_counter()
    contract.fit(recommender, split.train_set(dataset.friends, dataset.tagged), progress)  # checked: one sentence
    fitted = time.perf_counter()
    result = evaluate(contract.scorer(recommender), split)
    metrics = {**result.metrics, "beyond": beyond_of(result.top_items, split, dataset)}
    evaluated = time.perf_counter()
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
        device=getattr(recommender, "device_used_", "cpu"),
        versions=library_versions(),
        notes=list(recommender.notes),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        test_users=result.test_users,
        top_items=result.top_items,
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
