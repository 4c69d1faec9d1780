"""A model's tuning record: every sweep that tuned it, and the choice all their trials make.

``sweep --record`` appends the sweep as a *round* to each of its test years in
``explorer/models/tuned/<model>.json`` (see :mod:`explorer.models.tuned`) and re-chooses the year from
every recorded trial, so a search can go on in steps (small grids around the current choice, widened
where the best sits on an edge, one parameter at a time where a joint grid is too big) without losing a
better point found earlier. Candidates are the points measured, without a failure, on every seed of the
latest round (the mean over the same seeds for all); a point is its complete hyperparameters (the
round's base values with the swept ones on top), so points from different rounds compare. The
``grid`` of a year is, per tuned hyperparameter, the values tried with every other hyperparameter at
its chosen value: the line through the choice along which it is bracketed (or not).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explorer.atomic import atomic_write
from explorer.errors import ParameterError
from explorer.models import model_class
from explorer.models.tuned import record_path
from explorer.sweep.grid import Plan, seed_names
from explorer.sweep.report import TIE_BREAK, SweepResult, Trial, best_of, secondary_of


def _key(point: dict[str, Any]) -> tuple:
    return tuple(sorted(point.items()))


def candidates(part: dict[str, Any], seeds: list[Any] | None = None) -> dict[tuple, list[Trial]]:
    """Complete point → its trials on ``seeds`` (default: the latest round's), for points measured on all."""
    seeds = part["rounds"][-1]["seeds"] if seeds is None else seeds
    latest: dict[tuple, dict[Any, Trial]] = {}
    for round_ in part["rounds"]:
        for trial in round_["trials"]:
            full = {**round_["base"], **trial["params"]}
            measured = Trial(
                year=part["validated_on"] + 1,
                params=full,
                seed=trial["seed"],
                value=trial["value"],
                status=trial["status"],
                error=trial["error"],
                secondary=trial.get("secondary"),
            )
            latest.setdefault(_key(full), {})[trial["seed"]] = measured  # a later round's repeat wins
    found = {}
    for key, by_seed in latest.items():
        if all(seed in by_seed for seed in seeds):
            found[key] = [by_seed[seed] for seed in seeds]
    return found


def tuned_names(model: str, part: dict[str, Any]) -> list[str]:
    """The hyperparameters any round of the year swept, in the model's PARAMS order."""
    swept = {name for round_ in part["rounds"] for name in round_["grid"]}
    return [name for name in model_class(model).PARAMS if name in swept]


def choose(model: str, part: dict[str, Any], seeds: list[Any] | None = None) -> dict[str, Any]:
    """The year's choice from all its rounds: ``{"chosen", "point", "validation", "grid"}``.

    ``point`` is the complete chosen hyperparameters; ``chosen`` the tuned ones (what ``TUNED`` holds);
    ``grid`` the line through the choice per tuned hyperparameter. Empty choice if nothing succeeded.
    """
    metric = part["metric"]
    seeds = part["rounds"][-1]["seeds"] if seeds is None else seeds
    pool = candidates(part, seeds)
    best = best_of([trial for trials in pool.values() for trial in trials], list(model_class(model).PARAMS))
    if best is None:
        return {"chosen": {}, "point": {}, "validation": None, "grid": {}}
    point = best["params"]
    names = tuned_names(model, part)
    grid = {}
    for name in names:
        others = {k: v for k, v in point.items() if k != name}
        line = {dict(key)[name] for key in pool if {k: v for k, v in key if k != name} == others}
        grid[name] = sorted(line)
    return {
        "chosen": {name: point[name] for name in names},
        "point": point,
        "validation": {
            "metric": metric,
            "value": best["value"],
            "secondary": {"metric": secondary_of(metric), "value": best["secondary"]},
            "seeds": seeds,
        },
        "grid": grid,
    }


def load(model: str, root: Path | None = None) -> dict[str, Any] | None:
    """``model``'s tuning record, or None when it has none."""
    path = record_path(model, root)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _round(result: SweepResult, request: Plan, year: int, command: str) -> dict[str, Any]:
    seeds = seed_names(request.model)
    base = {k: v for k, v in model_class(request.model).params_for(year).items() if k not in seeds}
    return {
        "command": command,
        "created": result.created,
        "engine_version": result.engine_version,
        "sweep_id": result.id,
        "base": base,
        "grid": request.grid,
        "seeds": request.seeds,
        "trials": [trial.as_json() for trial in result.years[year].trials],
    }


def check_record(request: Plan, fingerprint: str, root: Path | None = None) -> None:
    """Raise a one-sentence ParameterError if a sweep of ``request`` cannot join the model's record.

    A record chooses by one metric on one data set: a sweep by another metric or on other data (e.g. the
    demo data) cannot be added to it.
    """
    document = load(request.model, root)
    if document is None:
        return
    path = record_path(request.model, root)
    if document["metric"] != request.metric:
        raise ParameterError(
            f"{request.model}'s tuning record chooses by {document['metric']}; sweep with --metric "
            f"{document['metric']} or delete {path} to start a record by {request.metric}."
        )
    if document["fingerprint"] != fingerprint:
        raise ParameterError(
            f"{request.model}'s tuning record was made on other data (fingerprint {document['fingerprint'][:12]}); "
            f"sweep that data set or delete {path} to start a new record."
        )


def record_sweep(result: SweepResult, request: Plan, command: str, root: Path | None = None) -> Path:
    """Append ``result`` as a round of each of its years to ``request.model``'s record and re-choose.

    Call it in the process that planned the sweep, before the record changes (a round's base values
    are the model's defaults for the year as the trials saw them).

    Raises:
        ParameterError: the record was tuned by another metric or on other data.
    """
    model = request.model
    check_record(request, result.fingerprint, root)
    document = load(model, root) or {
        "model": model,
        "metric": result.metric,
        "secondary": secondary_of(result.metric),
        "tie_break": TIE_BREAK,
        "fingerprint": result.fingerprint,
        "years": {},
    }
    document["tie_break"] = TIE_BREAK
    path = record_path(model, root)
    for year in result.years:
        part = document["years"].setdefault(str(year), {"validated_on": year - 1, "metric": result.metric})
        part.setdefault("rounds", []).append(_round(result, request, year, command))
        choice = choose(model, part)
        part.update({name: choice[name] for name in ("chosen", "validation", "grid")})
    document["years"] = dict(sorted(document["years"].items()))
    _write(path, document)
    return path


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as stream:
        json.dump(document, stream, indent=1)
        stream.write("\n")


def command_line(args: Any, years: Sequence[int]) -> str:
    """The ``python -m explorer sweep`` command that re-runs a recorded sweep (data dir by environment)."""
    parts = ["python -m explorer sweep --model", args.model, "--years", *map(str, years)]
    if args.grid:
        parts += ["--grid", *args.grid]
    if getattr(args, "lines", False):
        parts.append("--lines")
    if args.seeds:
        parts += ["--seeds", *map(str, args.seeds)]
    parts += ["--metric", args.metric, "--record"]
    return " ".join(parts)
