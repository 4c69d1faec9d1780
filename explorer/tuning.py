"""How each model's hyperparameters were tuned, read from its tuning record (``python -m explorer tuning``).

Per model and test year: the grid searched (per tuned hyperparameter, the values tried with the others at
their chosen values), the chosen values, the validation metric and its value, which chosen values sit on
an edge of their grid (``at_edge``), which of those edges is a hard bound of the hyperparameter
(``hard_bound``: its ``Param`` low or high, beyond which no value exists), and every ``Param``'s bounds.
A tuning brackets its optimum when every ``at_edge`` entry is also in ``hard_bound``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explorer.models import model_class, model_names
from explorer.sweep import record as records


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def edges(value: float, grid: list[float], low: float, high: float) -> tuple[bool, bool]:
    """``(at_edge, hard)``: ``value`` is the lowest or highest of ``grid``, and every such edge is a bound."""
    at_low, at_high = _same(value, min(grid)), _same(value, max(grid))
    hard = (not at_low or _same(value, low)) and (not at_high or _same(value, high))
    return at_low or at_high, (at_low or at_high) and hard


def model_report(model: str, root: Path | None = None) -> dict[str, Any]:
    """One model's entry of :func:`report`."""
    cls = model_class(model)
    if not cls.PARAMS:
        return {"years": {}, "note": f"{model} has no hyperparameters: nothing to tune."}
    document = records.load(model, root)
    if document is None:
        return {
            "years": {},
            "note": f"{model} has no tuning record; make one with `python -m explorer sweep "
            f"--model {model} --grid … --record`.",
        }
    years = {}
    for year, part in document["years"].items():
        at_edge, hard_bound = [], []
        for name, grid in part["grid"].items():
            spec = cls.PARAMS[name]
            edge, hard = edges(part["chosen"][name], grid, spec.low, spec.high)
            if edge:
                at_edge.append(name)
            if hard:
                hard_bound.append(name)
        validation = part["validation"] or {"metric": document["metric"], "value": None}
        years[year] = {
            "grid": part["grid"],
            "chosen": part["chosen"],
            "validation": {"metric": validation["metric"], "value": validation["value"]},
            "at_edge": at_edge,
            "hard_bound": hard_bound,
            "bounds": {name: [cls.PARAMS[name].low, cls.PARAMS[name].high] for name in part["grid"]},
        }
    return {"years": years}


def report(models: Sequence[str] | None = None, root: Path | None = None) -> dict[str, Any]:
    """``{"models": {M: {"years": {Y: {"grid", "chosen", "validation", "at_edge", "hard_bound", "bounds"}}}}}``.

    A model without hyperparameters (or without a record) has no years and a ``note`` saying so.
    """
    return {"models": {model: model_report(model, root) for model in (models or model_names())}}


def open_edges(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(model, year, hyperparameter)`` chosen at a grid edge that is not a hard bound."""
    return [
        (model, year, name)
        for model, entry in document["models"].items()
        for year, part in entry["years"].items()
        for name in part["at_edge"]
        if name not in part["hard_bound"]
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def describe(document: dict[str, Any], root: Path | None = None) -> str:
    """The report as text: per model and year, each tuned value within its grid, and the open edges."""
    lines = []
    for model, entry in document["models"].items():
        lines.append(f"== {model}")
        if not entry["years"]:
            lines.append(f"   {entry['note']}")
            continue
        record = records.load(model, root) or {"years": {}}
        for year, part in entry["years"].items():
            validation = part["validation"]
            extra = record["years"].get(year, {}).get("validation") or {}
            secondary = extra.get("secondary") or {}
            seeds = [seed for seed in extra.get("seeds", []) if seed is not None]
            over = f", mean of seeds {' '.join(map(str, seeds))}" if seeds else ""
            also = f", {secondary['metric']} {secondary['value']:.4f}" if secondary.get("value") is not None else ""
            score = "none succeeded" if validation["value"] is None else f"{validation['value']:.4f}"
            lines.append(f"   {year} (validated on {int(year) - 1}): {validation['metric']} {score}{also}{over}")
            for name, grid in part["grid"].items():
                chosen = part["chosen"][name]
                values = " ".join(f"[{_number(v)}]" if v == chosen else _number(v) for v in grid)
                if name in part["hard_bound"]:
                    state = "at a hard bound"
                elif name in part["at_edge"]:
                    state = "AT A GRID EDGE"
                else:
                    state = "bracketed"
                low, high = part["bounds"][name]
                lines.append(f"     {name:<16} {values:<48} {state} (bounds {_number(low)}..{_number(high)})")
    left = open_edges(document)
    if left:
        lines.append(f"\n{len(left)} chosen value(s) on a grid edge that is not a bound: widen those grids.")
    else:
        lines.append("\nEvery chosen value is bracketed by its grid or sits on a hard bound.")
    return "\n".join(lines)
