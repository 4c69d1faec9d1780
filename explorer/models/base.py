"""The one protocol every model follows, so the CLI, the evaluator, the cache and the app treat them alike.

After ``fit`` a model knows some users (``user_ids_``) and scores every train artist for them through
one hook, :meth:`Recommender._score_known`. Users it does not know get the popularity ranking (train
interaction counts), the notebook's rule, applied in :meth:`Recommender.score` and nowhere else.

* Factor models (CMF, ALS, BPR, LightGCN), the default: user vectors @ artist vectors, set by
  :meth:`Recommender._set_factors`.
* Other models (item–item, social, ensembles) override ``_score_known``, name their learned arrays in
  ``STATE`` and say ``has_embeddings = False``.

The learned state is plain arrays, so a cached run is re-created without the library that trained it
(:meth:`Recommender.from_state`).
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

    Subclasses declare ``name`` and ``PARAMS`` and implement :meth:`_fit`, which sets ``user_ids_`` (the
    sorted ids of the users it ranks personally) and the arrays named in ``STATE`` (attributes
    ``<name>_``). By default a model is a factor model (``STATE`` = user and item factors, scores their
    dot products); a model that scores otherwise overrides ``STATE``, :meth:`_score_known` and
    ``has_embeddings``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}
    # Hyperparameters chosen for a test year by validation on its last train year; the built-in models read
    # theirs from their tuning record (explorer/models/tuned/, `python -m explorer tuning`).
    TUNED: ClassVar[dict[int, dict[str, int | float]]] = {}
    notes: ClassVar[tuple[str, ...]] = ()  # facts a reader of its results must know
    # learned arrays of this model, besides user_ids/item_ids/popularity/losses
    STATE: ClassVar[tuple[str, ...]] = ("user_factors", "item_factors")
    # True when the model ranks (some) users personally; False for models that rank everybody alike.
    personal: ClassVar[bool] = True
    # True when ``state()`` holds ``user_factors``/``item_factors`` whose geometry is the model (a map of
    # them means something); item–item and social models score without such vectors.
    has_embeddings: ClassVar[bool] = True
    no_embeddings_reason: ClassVar[str] = "it learns no user or artist vectors"

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
        """Set ``user_ids_`` and the arrays named in ``STATE``."""

    def _score_known(self, rows: np.ndarray) -> np.ndarray:
        """Scores ``[len(rows), num_items]`` of the known users at positions ``rows`` of ``user_ids_``.

        The default is a factor model's: ``user_factors_[rows] @ item_factors_.T``.
        """
        return self.user_factors_[rows] @ self.item_factors_.T

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores ``[len(users), num_items]`` over the train artists (``item_ids_`` order).

        Users the model does not know get the popularity scores (the one place this rule lives). Float64,
        so that tie-breaks finer than float32 survive (see ``itemitem.py``).
        """
        users = np.asarray(users, dtype=np.int64)
        scores = np.tile(self.popularity_.astype(np.float64), (len(users), 1))
        rows = np.searchsorted(self.user_ids_, users)
        known = rows < len(self.user_ids_)
        known[known] = self.user_ids_[rows[known]] == users[known]
        if known.any():
            scores[known] = self._score_known(rows[known])
        return scores

    def knows(self, users: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``users`` get a personal (non-popularity) ranking."""
        return np.isin(np.asarray(users, dtype=np.int64), self.user_ids_)

    def state(self) -> dict[str, np.ndarray]:
        """The learned arrays (what the run cache stores as ``embeddings.npz``)."""
        return {
            "user_ids": self.user_ids_,
            "item_ids": self.item_ids_,
            "popularity": self.popularity_,
            "losses": np.asarray(self.losses_, dtype=np.float64),
            **{key: getattr(self, f"{key}_") for key in self.STATE},
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], params: dict[str, Any]) -> Recommender:
        """A fitted model re-created from :meth:`state` (no training, no framework import)."""
        model = cls(**params)
        model.user_ids_ = state["user_ids"]
        model.item_ids_ = state["item_ids"]
        model.popularity_ = state["popularity"]
        model.losses_ = state["losses"].tolist()
        for key in cls.STATE:
            setattr(model, f"{key}_", state[key])
        return model

    def _set_factors(self, user_ids: np.ndarray, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_ids_ = np.asarray(user_ids, dtype=np.int64)
        self.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
