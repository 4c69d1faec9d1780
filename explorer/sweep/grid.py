"""A sweep request: the grid (validated against each hyperparameter's bounds), seeds, years and metric."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from explorer.data import Dataset
from explorer.errors import ParameterError
from explorer.models import model_class
from explorer.protocol import check_years
from explorer.training import interactions_of

METRICS_HELP = "mrr, or recall@K / ndcg@K / hit_rate@K with a K the evaluation reports (e.g. recall@10)"


def parse_grid(model: str, items: Sequence[str]) -> dict[str, list[int | float]]:
    """``["lr=0.01,0.03", "epochs=50,100"]`` → validated values per hyperparameter of ``model``.

    Raises:
        ParameterError: a malformed item, an unknown name, a repeated name, or a value out of bounds.
    """
    cls = model_class(model)
    grid: dict[str, list[int | float]] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name or not text.strip():
            raise ParameterError(f"A grid item must look like NAME=V1,V2 (e.g. lr=0.01,0.03), got {item!r}.")
        if name not in cls.PARAMS:
            raise ParameterError(
                f"{model} has no hyperparameter {name}; its hyperparameters are {', '.join(cls.PARAMS) or 'none'}."
            )
        if name == "seed":
            raise ParameterError("Give seeds with --seeds, not in the grid.")
        if name in grid:
            raise ParameterError(f"{name} appears twice in the grid; give all its values once, e.g. {name}=1,2.")
        values = [cls.PARAMS[name].check(name, value.strip()) for value in text.split(",")]
        grid[name] = list(dict.fromkeys(values))
    return grid


def grid_points(grid: dict[str, list[int | float]]) -> list[dict[str, int | float]]:
    """Every combination of the grid's values (one empty point for an empty grid)."""
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def metric_of(metrics: dict[str, Any], name: str) -> float:
    """The value of ``name`` (``mrr``, ``recall@10``, …) in a run's metrics dictionary."""
    if name == "mrr":
        return float(metrics["mrr"])
    family, _, k = name.partition("@")
    return float(metrics[family][k])


def check_metric(name: str) -> str:
    """``name`` if the evaluation reports it (checked on a sample of its keys), else a ParameterError."""
    from explorer.evaluation import NDCG_KS, RECALL_KS

    known = {"mrr"} | {f"{family}@{k}" for family in ("recall", "hit_rate") for k in RECALL_KS}
    known |= {f"ndcg@{k}" for k in NDCG_KS}
    if name not in known:
        raise ParameterError(f"There is no metric {name!r}; choose {METRICS_HELP}.")
    return name


def check_seeds(model: str, seeds: Sequence[int] | None) -> list[int | None]:
    """The seeds to run: validated ones, ``[default]``, or ``[None]`` for a model without a seed."""
    cls = model_class(model)
    if "seed" not in cls.PARAMS:
        if seeds and len(set(seeds)) > 1:
            raise ParameterError(f"{model} has no seed (it is deterministic); leave --seeds out.")
        return [None]
    if not seeds:
        return [cls.PARAMS["seed"].default]
    return list(dict.fromkeys(cls.PARAMS["seed"].check("seed", seed) for seed in seeds))


def check_sweep_years(dataset: Dataset, years: Sequence[int]) -> list[int]:
    """Test years whose validation year (Y-1) is a usable test year of the data set too."""
    table = interactions_of(dataset)
    chosen = check_years(years, table)
    for year in chosen:
        try:
            check_years([year - 1], table)
        except ParameterError:
            raise ParameterError(
                f"{year} cannot be swept: its validation year {year - 1} has no earlier train rows; "
                "choose a later test year."
            ) from None
    return chosen


@dataclass(frozen=True)
class Plan:
    """A checked sweep request: what each trial trains (complete hyperparameters)."""

    model: str
    years: list[int]
    points: list[dict[str, int | float]]
    seeds: list[int | None]
    metric: str

    def trials(self) -> list[dict[str, Any]]:
        cls = model_class(self.model)
        specs = []
        for year, point, seed in itertools.product(self.years, self.points, self.seeds):
            full = cls.params_for(year, {**point, **({} if seed is None else {"seed": seed})})
            specs.append({"year": year, "point": point, "seed": seed, "params": full})
        return specs


def plan(
    dataset: Dataset,
    model: str,
    years: Sequence[int],
    grid: dict[str, list[int | float]] | Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    metric: str = "mrr",
) -> Plan:
    """Validate a sweep request before anything starts (one-sentence ParameterError on any problem)."""
    model_class(model)
    if isinstance(grid, dict):
        grid = [f"{name}={','.join(str(value) for value in values)}" for name, values in grid.items()]
    points = grid_points(parse_grid(model, grid or []))
    return Plan(model, check_sweep_years(dataset, years), points, check_seeds(model, seeds), check_metric(metric))
