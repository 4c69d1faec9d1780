"""What a model must do when it trains, checked as it trains: one sentence naming the model when it does not.

The :class:`~explorer.models.base.Recommender` contract (``docs/plugins.md``) asks of ``fit``:

* ``_fit`` sets ``user_ids_``: a sorted 1-D integer array of the users it ranks personally;
* the learned state (``state()``: ``user_ids``, ``item_ids``, ``popularity``, ``losses`` and the arrays
  named in ``STATE``) is plain numeric numpy arrays, so the run cache stores it without pickle;
* ``_score_known(rows)`` returns ``[len(rows), num_items]`` scores, and every score is finite.

:func:`fit` and :func:`scorer` are what :func:`explorer.training.train_and_evaluate` calls instead of
``fit`` and ``score``: the same work, checked. A plugin model that raises inside ``fit`` becomes a
:class:`ContractError` carrying its message and naming the plugin; a built-in's unexpected exception is a
bug and keeps its traceback. Every breach is a :class:`~explorer.errors.ModelFitError` (an
:class:`~explorer.errors.ExplorerError`): the CLI exits 2 with the sentence, the app shows it, a sweep
marks only that trial failed. Cost: one pass over the score matrix (``np.isfinite``), no copies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from explorer.errors import ModelFitError
from explorer.models.base import ProgressCallback, Recommender
from explorer.plugins import label, origin
from explorer.protocol import TrainSet

PLAIN_KINDS = "biuf"  # bool, signed and unsigned integers, floats: what np.load(allow_pickle=False) reads back


class ContractError(ModelFitError):
    """A model broke the Recommender contract while training or scoring (the message names it)."""


def fit(recommender: Recommender, train: TrainSet, progress: ProgressCallback | None = None) -> None:
    """``recommender.fit(train, progress)``, then :func:`check_fitted`.

    Raises:
        ContractError: a plugin model raised inside ``fit`` (its message, the plugin named), or the fitted
            model breaks the contract.
    """
    try:
        recommender.fit(train, progress=progress)
    except ContractError:
        raise
    except Exception as error:
        source = origin(type(recommender))
        if source is None:  # a built-in: its own ExplorerError is already a sentence; anything else is a bug
            raise
        what = str(error).strip() or "(no message)"
        stop = "" if what.endswith(".") else "."
        raise ContractError(
            f"The {label(type(recommender))} failed in fit: {type(error).__name__}: {what}{stop}"
        ) from error
    check_fitted(recommender)


def check_fitted(recommender: Recommender) -> None:
    """Check ``user_ids_`` and the learned state of a fitted model.

    Raises:
        ContractError: one sentence naming the model and the attribute at fault.
    """
    what = label(type(recommender))
    users = getattr(recommender, "user_ids_", None)
    if users is None:
        raise ContractError(
            f"The {what} did not set user_ids_ in _fit; set it to the sorted ids of the users it ranks "
            "(e.g. self.user_ids_ = train.users)."
        )
    if not isinstance(users, np.ndarray) or users.ndim != 1 or users.dtype.kind not in "iu":
        raise ContractError(f"The {what} set user_ids_ to {_kind(users)}; it must be a 1-D numpy array of user ids.")
    if len(users) > 1 and not (np.diff(users) > 0).all():
        raise ContractError(f"The {what} set user_ids_ out of order; sort them (np.unique does) and keep each once.")
    for key in recommender.STATE:
        if not hasattr(recommender, f"{key}_"):
            raise ContractError(f"The {what} did not set {key}_ in _fit, though STATE names {key!r}; set it in _fit.")
    try:
        state = recommender.state()
    except AttributeError as error:
        raise ContractError(
            f"The {what} has no {error.name} after fit; override _fit, not fit (fit sets item_ids_ and popularity_)."
        ) from None
    for key, value in state.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in PLAIN_KINDS:
            raise ContractError(
                f"The {what} keeps {key}_ as {_kind(value)}; the learned state must be numeric numpy arrays "
                "(e.g. tensor.detach().cpu().numpy(), or a sparse matrix's data/indices/indptr arrays)."
            )


def scorer(recommender: Recommender) -> Callable[[np.ndarray], np.ndarray]:
    """``recommender.score``, checked: ``[len(users), num_items]`` finite scores, or a :class:`ContractError`.

    The shape of ``_score_known``'s answer is checked before :meth:`Recommender.score` stores it, so a wrong
    shape is named as such rather than as a numpy broadcasting error.
    """
    what = label(type(recommender))
    num_items = len(recommender.item_ids_)
    known = recommender._score_known

    def score_known(rows: np.ndarray) -> np.ndarray:
        scores = known(rows)
        shape = getattr(scores, "shape", None)
        if shape != (len(rows), num_items):
            raise ContractError(
                f"The {what} returned scores of shape {_shape(shape)} from _score_known for {len(rows)} users; "
                f"return one row per user and one column per train artist ({len(rows)} × {num_items})."
            )
        return scores

    recommender._score_known = score_known  # this instance only (it is discarded after evaluation)

    def score(users: np.ndarray) -> np.ndarray:
        scores = recommender.score(users)
        if getattr(scores, "shape", None) != (len(users), num_items):
            raise ContractError(
                f"The {what} returned scores of shape {_shape(getattr(scores, 'shape', None))} for {len(users)} "
                f"users; return one row per user and one column per train artist ({len(users)} × {num_items})."
            )
        finite = np.isfinite(scores)
        if not finite.all():
            bad = int((~finite.all(axis=1)).sum())
            raise ContractError(
                f"The {what} returned NaN or infinite scores for {bad} of {len(users)} users; return finite "
                "numbers (a very low finite score for an artist it must never recommend)."
            )
        return scores

    return score


def _kind(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"a numpy array of {value.dtype}" + ("" if value.ndim else " (a scalar)")
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("a builtins.", "a ")


def _shape(shape: object) -> str:
    return "none (not an array)" if shape is None else "×".join(map(str, shape)) if shape else "()"
