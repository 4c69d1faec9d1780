"""What one Ray Tune trial does on a worker, and how trials that can share one fit are grouped.

A trial trains on years < Y-1 and validates on Y-1; it returns the validation metric, the secondary
metric that breaks ties, and its CPU seconds, and never writes the run cache.

One optimisation: an ensemble's mixing weight (a model with ``MEMBERS`` and a ``mix`` hyperparameter,
e.g. ``lightgcn-ease``) changes only how the fitted members' scores are combined, so the points of a
year and seed that differ in ``mix`` alone share one fit and are scored once per ``mix``. Every member
is deterministic for its seed, so this gives exactly the numbers of fitting each point
(``tests/test_sweep.py`` checks it).
"""

from __future__ import annotations

import math
import time
from typing import Any

from explorer import contract, provenance
from explorer.errors import ExplorerError
from explorer.evaluation import evaluate
from explorer.models import Recommender, model_class
from explorer.sweep.grid import metric_of
from explorer.sweep.report import Trial, secondary_of
from explorer.training import splits_of


def score_only(model: str) -> set[str]:
    """Hyperparameters of ``model`` that change scoring only, not fitting (an ensemble's ``mix``)."""
    cls = model_class(model)
    return {"mix"} if hasattr(cls, "MEMBERS") and "mix" in cls.PARAMS else set()


def group_trials(specs: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Trial specs (year, point, seed, params) → Ray trials; points that can share a fit share one.

    Returns:
        ``{"year", "seed", "points": [...], "params": [...]}`` per Ray trial, in the specs' order.
    """
    free = score_only(model)
    groups: dict[tuple, dict[str, Any]] = {}
    for spec in specs:
        fitted = tuple(sorted((k, v) for k, v in spec["params"].items() if k not in free))
        key = (spec["year"], spec["seed"], fitted) if free else (len(groups),)
        group = groups.setdefault(key, {"year": spec["year"], "seed": spec["seed"], "points": [], "params": []})
        group["points"].append(spec["point"])
        group["params"].append(spec["params"])
    return list(groups.values())


def _measures(metrics: dict[str, Any], metric: str) -> tuple[float, float]:
    return metric_of(metrics, metric), metric_of(metrics, secondary_of(metric))


def run_trial(config: dict[str, Any], dataset: Any, model: str, metric: str, cpus: float) -> dict[str, Any]:
    """One Ray Tune trial (a group of points, see :func:`group_trials`) on validation year Y-1.

    Returns:
        Flat metrics for Tune: ``value`` (the best of the group), ``value{i}``/``secondary{i}`` per point,
        ``seconds`` (CPU), and ``failed``/``error`` for a user-level failure such as a NaN loss.
    """
    import torch

    torch.set_num_threads(max(1, int(cpus)))
    group = config["trial"]
    (split,) = splits_of(dataset, [group["year"] - 1])
    started = time.process_time()
    try:
        measured = _measure_points(dataset, split, model, group["params"], metric)
    except ExplorerError as error:  # a user-level failure (e.g. a NaN loss): reported, the sweep goes on
        return {"value": float("nan"), "failed": True, "error": str(error), "seconds": time.process_time() - started}
    outcome: dict[str, Any] = {"failed": False, "error": "", "seconds": time.process_time() - started}
    for n, (value, secondary) in enumerate(measured):
        outcome[f"value{n}"], outcome[f"secondary{n}"] = value, secondary
    outcome["value"] = max(value for value, _ in measured)
    return outcome


def fit_trial(dataset: Any, split: Any, model: str, params: dict[str, Any]) -> Recommender:
    """Fit ``model`` on ``split``'s train rows as training does (device resolved first, the contract checked),
    without what a cached run also stores (top-50 lists, explanations, its own CIs, provenance): a trial keeps
    two numbers."""
    cls = model_class(model)
    recommender = cls(device=provenance.device_kind(cls, None), **cls.params_for(split.year, params))
    contract.fit(recommender, split.train_set(dataset.friends, dataset.tagged))
    return recommender


def _measure_points(dataset: Any, split: Any, model: str, params: list[dict[str, Any]], metric: str) -> list:
    """Fit once with ``params[0]``, then score every point (a group's points differ in score-only values alone)."""
    cls = model_class(model)
    fitted = fit_trial(dataset, split, model, params[0])
    score = contract.scorer(fitted)
    measured = []
    for n, point in enumerate(params):
        if n:
            fitted.params = cls.params_for(split.year, point)
        measured.append(_measures(evaluate(score, split).metrics, metric))
    return measured


def one_line(error: BaseException) -> str:
    """The last meaningful line of a (Ray-wrapped) exception: ``Type: message``."""
    cause = getattr(error, "cause", None) or error
    text = f"{type(cause).__name__}: {cause}".strip()
    return text.splitlines()[-1] if "\n" in text else text


def trials_of(result: Any) -> list[Trial]:
    """The :class:`Trial` of each point of one Ray Tune result (its config carries the group)."""
    group = result.config["trial"]
    metrics = result.metrics or {}
    share = metrics.get("seconds")
    share = share / len(group["points"]) if isinstance(share, int | float) and math.isfinite(share) else None
    found = []
    for n, point in enumerate(group["points"]):
        trial = Trial(year=group["year"], params=dict(point), seed=group["seed"], seconds=share)
        trial.node = metrics.get("node", "")
        if result.error is not None:
            trial.status, trial.error = "failed", one_line(result.error)
        elif metrics.get("failed"):
            trial.status, trial.error = "failed", metrics.get("error", "")
        else:
            trial.value, trial.secondary = float(metrics[f"value{n}"]), float(metrics[f"secondary{n}"])
        found.append(trial)
    return found
