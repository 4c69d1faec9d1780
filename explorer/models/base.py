"""The one protocol every model follows, so the CLI, the evaluator, the cache and the app treat them alike.

Every model here is a factor model: after ``fit`` it holds user vectors for the users it knows and
item vectors for the train artists, and scores are their dot products. Users it has never seen get
the popularity ranking (train interaction counts), the notebook's rule, applied in :meth:`score`
and nowhere else. The learned state is plain arrays, so a cached run is re-created without the
library that trained it (:meth:`Recommender.from_state`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from explorer.errors import ParameterError
from explorer.protocol import TrainSet


class ProgressCallback(Protocol):
    """Called as ``progress(step, total, **metrics)`` during long work (e.g. once per epoch)."""

    def __call__(self, step: int, total: int, **metrics: float) -> None: ...


@dataclass(frozen=True)
class Param:
    """A hyperparameter: its default, its validated bounds and a line of help."""

    default: int | float
    low: int | float
    high: int | float
    help: str
    log: bool = False  # sweep / slider on a log scale (learning rates, penalties)

    @property
    def kind(self) -> type:
        return int if isinstance(self.default, int) else float

    def check(self, name: str, value: Any) -> int | float:
        """Return ``value`` as this parameter's type, or raise a one-sentence ParameterError."""
        try:
            number = self.kind(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be a number, got {value!r}.") from None
        if self.kind is int and number != float(value):
            raise ParameterError(f"{name} must be a whole number, got {value!r}.")
        if not self.low <= number <= self.high:
            raise ParameterError(f"{name} must be between {self.low} and {self.high}, got {value!r}.")
        return number


class Recommender(ABC):
    """Base of all models: hyperparameters in ``__init__``, all work in ``fit``, state in ``*_``.

    Subclasses declare ``name``, ``PARAMS`` and implement :meth:`_fit`, which sets
    ``user_ids_`` (sorted ids of the users it can score), ``user_factors_`` and ``item_factors_``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}
    # Hyperparameters chosen for a test year by validation on its last train year (see benchmarks/).
    TUNED: ClassVar[dict[int, dict[str, int | float]]] = {}
    notes: ClassVar[tuple[str, ...]] = ()  # facts a reader of its results must know

    def __init__(self, device: str | None = None, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ParameterError(
                f"{self.name} has no hyperparameter {unknown[0]}; its hyperparameters are "
                f"{', '.join(self.PARAMS) or 'none'}."
            )
        self.params = {key: spec.check(key, params.get(key, spec.default)) for key, spec in self.PARAMS.items()}
        self.device = device

    @classmethod
    def defaults_for(cls, year: int | None = None) -> dict[str, int | float]:
        """The default hyperparameters, with the values tuned for test year ``year`` where there are some."""
        return {**{name: spec.default for name, spec in cls.PARAMS.items()}, **cls.TUNED.get(year, {})}

    @classmethod
    def params_for(cls, year: int | None = None, overrides: dict[str, Any] | None = None) -> dict[str, int | float]:
        """Complete, validated hyperparameters: the defaults for ``year`` with ``overrides`` on top.

        Raises:
            ParameterError: an override is unknown or out of bounds (one sentence).
        """
        return cls(**{**cls.defaults_for(year), **(overrides or {})}).params

    def fit(self, train: TrainSet, progress: ProgressCallback | None = None) -> Self:
        """Learn from the train set; returns ``self``."""
        self.item_ids_ = train.items
        self.popularity_ = train.item_counts().astype(np.float32)
        self.losses_: list[float] = []
        self._fit(train, progress)
        return self

    @abstractmethod
    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        """Set ``user_ids_``, ``user_factors_`` ``[num_known, dim]`` and ``item_factors_`` ``[num_items, dim]``."""

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores ``[len(users), num_items]`` over the train artists (``item_ids_`` order).

        Users the model has never seen get the popularity scores.
        """
        users = np.asarray(users, dtype=np.int64)
        scores = np.tile(self.popularity_, (len(users), 1))
        rows = np.searchsorted(self.user_ids_, users)
        known = rows < len(self.user_ids_)
        known[known] = self.user_ids_[rows[known]] == users[known]
        if known.any():
            scores[known] = self.user_factors_[rows[known]] @ self.item_factors_.T
        return scores

    def knows(self, users: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``users`` get a personal (non-popularity) ranking."""
        return np.isin(np.asarray(users, dtype=np.int64), self.user_ids_)

    def state(self) -> dict[str, np.ndarray]:
        """The learned arrays (what the run cache stores as ``embeddings.npz``)."""
        return {
            "user_ids": self.user_ids_,
            "user_factors": self.user_factors_,
            "item_ids": self.item_ids_,
            "item_factors": self.item_factors_,
            "popularity": self.popularity_,
            "losses": np.asarray(self.losses_, dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], params: dict[str, Any]) -> Recommender:
        """A fitted model re-created from :meth:`state` (no training, no framework import)."""
        model = cls(**params)
        model.user_ids_ = state["user_ids"]
        model.user_factors_ = state["user_factors"]
        model.item_ids_ = state["item_ids"]
        model.item_factors_ = state["item_factors"]
        model.popularity_ = state["popularity"]
        model.losses_ = state["losses"].tolist()
        return model

    def _set_factors(self, user_ids: np.ndarray, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_ids_ = np.asarray(user_ids, dtype=np.int64)
        self.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
