"""A sweep request: the grid (validated against each hyperparameter's bounds), seeds, years and metric."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.data import Dataset
from explorer.errors import ParameterError
from explorer.models import model_class
from explorer.models import seed_names as seed_names  # where sweeps and records look it up
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


def seed_params(model: str, seed: int | None) -> dict[str, int]:
    """``{name: seed}`` for each of :func:`seed_names` (nothing for ``None``)."""
    return {} if seed is None else dict.fromkeys(seed_names(model), seed)


def check_seeds(model: str, seeds: Sequence[int] | None) -> list[int | None]:
    """The seeds to run: validated ones, ``[default]``, or ``[None]`` for a model without a seed."""
    cls = model_class(model)
    names = seed_names(model)
    if not names:
        if seeds and len(set(seeds)) > 1:
            raise ParameterError(f"{model} has no seed (it is deterministic); leave --seeds out.")
        return [None]
    spec = cls.PARAMS[names[0]]
    if not seeds:
        return [spec.default]
    return list(dict.fromkeys(spec.check("seed", seed) for seed in seeds))


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
    grid: dict[str, list[int | float]] = field(default_factory=dict)  # the values tried per hyperparameter
    lines: bool = False  # one hyperparameter at a time through the year's tuned values (see points_for)

    def points_for(self, year: int) -> list[dict[str, int | float]]:
        """The swept values of each point for ``year``: the grid's product, or with ``lines`` its lines.

        With ``lines`` the points are the year's current values (the model's defaults for ``year``) and,
        for each hyperparameter of the grid, its values with every other one at the current value: a
        coordinate-wise search, one line per hyperparameter through the current choice.
        """
        if not self.lines:
            return self.points
        current = {name: model_class(self.model).defaults_for(year)[name] for name in self.grid}
        points = [current]
        for name, values in self.grid.items():
            points += [{**current, name: value} for value in values]
        return list({tuple(point.items()): point for point in points}.values())

    def trials(self) -> list[dict[str, Any]]:
        cls = model_class(self.model)
        specs = []
        for year in self.years:
            for point, seed in itertools.product(self.points_for(year), self.seeds):
                full = cls.params_for(year, {**point, **seed_params(self.model, seed)})
                specs.append({"year": year, "point": point, "seed": seed, "params": full})
        return specs


def plan(
    dataset: Dataset,
    model: str,
    years: Sequence[int],
    grid: dict[str, list[int | float]] | Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    metric: str = "mrr",
    lines: bool = False,
) -> Plan:
    """Validate a sweep request before anything starts (one-sentence ParameterError on any problem).

    Args:
        lines: Try the grid one hyperparameter at a time through each year's current values (see
            :meth:`Plan.points_for`) instead of every combination.
    """
    model_class(model)
    if isinstance(grid, dict):
        grid = [f"{name}={','.join(str(value) for value in values)}" for name, values in grid.items()]
    values = parse_grid(model, grid or [])
    years = check_sweep_years(dataset, years)
    if lines and not values:
        raise ParameterError("--lines needs a grid: give NAME=V1,V2 items to try one at a time.")
    seeds_ = check_seeds(model, seeds)
    return Plan(model, years, grid_points(values), seeds_, check_metric(metric), values, lines)
