"""Widen each model's tuning until every chosen value is bracketed: a loop of ``explorer sweep`` calls.

The one tuner is ``python -m explorer sweep`` (Ray Tune, blind: train < Y-1, validate Y-1). This script
only decides which sweep to run next. For each test year it reads the model's tuning record and, per
hyperparameter in ``LADDERS``, checks that the values just below and just above the chosen one on the
ladder were tried with every other hyperparameter at its chosen value (on the seeds asked for); the
missing ones are swept, one hyperparameter at a time (``sweep --lines --record``), and the loop repeats
until nothing is missing. A chosen value at the end of its ladder that is not the parameter's bound stops
the loop with a message: extend the ladder. Each sweep is its own process, so it starts from the record's
current choice (the model's ``TUNED``).

Run: ``LASTFM_DATA_DIR=… nice -n 10 .venv/bin/python benchmarks/tune.py MODEL [--years …] [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.models import model_class  # noqa: E402
from explorer.sweep import record  # noqa: E402
from explorer.sweep.grid import seed_names  # noqa: E402

COUNTS = [1, 2, 3, 4, 5, 6, 7, 8, 10]
FACTORS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
PENALTY = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
LOG3 = [1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0]
WEIGHT = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
NEIGHBOURS = [10, 25, 50, 100, 200, 500, 1000, 2000, 5000]
GCN = {
    "lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
    "epochs": [10, 25, 50, 100, 200, 400, 800, 1600],
    "l2": PENALTY,
    "negatives": [1, 2, 4, 8, 16],
    "num_layers": COUNTS,
}
LADDERS: dict[str, dict[str, list[float]]] = {
    "itemknn": {"neighbours": NEIGHBOURS, "shrink": [0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]},
    "ease": {"reg": LOG3, "neighbours": NEIGHBOURS},
    "ease-social": {
        "reg": LOG3,
        "neighbours": NEIGHBOURS,
        "friend_weight": WEIGHT,
        "direct": WEIGHT,
        "second_hop": [0.0, 0.1, 0.3, 1.0, 3.0, 10.0],
    },
    "cmf": {"k": FACTORS, "reg": LOG3, "alpha": LOG3},
    "cmf-tags": {"k": FACTORS, "reg": LOG3, "w_item": LOG3, "friends": [0, 1]},
    "als": {"factors": FACTORS, "reg": LOG3, "alpha": LOG3},
    "bpr": {
        "factors": FACTORS,
        "lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        "reg": PENALTY,
        "iterations": [50, 100, 200, 300, 500, 1000, 2000],
    },
    "lightgcn": GCN,
    "lightgcn-social": GCN,
    "lightgcn-tags": {**GCN, "tags": [25, 50, 100, 200, 500, 1000, 2000], "min_assignments": [1, 2, 3, 5, 10]},
    "lightgcn-ease": {"mix": [round(0.05 * n, 2) for n in range(21)]},
}


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def missing(model: str, year: int, seeds: list[int | None]) -> tuple[dict[str, list[float]], list[str]]:
    """Per hyperparameter, the ladder neighbours of its chosen value not yet tried on its line; and problems."""
    cls = model_class(model)
    part = ((record.load(model) or {"years": {}})["years"]).get(str(year))
    pool = record.candidates(part, seeds) if part else {}
    current = record.choose(model, part, seeds)["point"] if pool else {}
    current = current or {k: v for k, v in cls.params_for(year).items() if k not in seed_names(model)}
    todo, problems = {}, []
    for name, ladder in LADDERS[model].items():
        spec, value = cls.PARAMS[name], current[name]
        others = {k: v for k, v in current.items() if k != name}
        line = [dict(key)[name] for key in pool if {k: v for k, v in key if k != name} == others]
        wanted = [value]
        for step, bound in ((-1, spec.low), (1, spec.high)):
            side = [x for x in ladder if (x - value) * step > 0 and not _same(x, value) and spec.low <= x <= spec.high]
            if side:
                wanted.append(min(side, key=lambda x, value=value: abs(x - value)))
            elif not _same(value, bound) and not any((x - value) * step > 0 for x in line):
                problems.append(
                    f"{model} {year}: {name}={value:g} is at the end of its ladder, not at its bound {bound:g}"
                )
        need = [x for x in wanted if not any(_same(x, y) for y in line)]
        if need:
            todo[name] = sorted(need)
    return todo, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=sorted(LADDERS))
    parser.add_argument("--years", nargs="+", type=int, default=[2008, 2009, 2010])
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds of a seeded model (default: its default seed)")
    parser.add_argument("--rounds", type=int, default=12, help="most sweeps per year before giving up")
    args = parser.parse_args()
    seeds = list(args.seeds) if args.seeds and seed_names(args.model) else [None]
    if seeds == [None] and seed_names(args.model):
        seeds = [model_class(args.model).PARAMS[seed_names(args.model)[0]].default]
    for _ in range(args.rounds):
        work = {year: missing(args.model, year, seeds) for year in args.years}
        for _, problems in work.values():
            for problem in problems:
                print(problem, flush=True)
        todo = {year: grid for year, (grid, problems) in work.items() if grid and not problems}
        if not todo:
            done = all(not grid for grid, _ in work.values())
            print(f"{args.model}: {'every value bracketed' if done else 'stopped: extend a ladder'}", flush=True)
            return
        for year, grid in todo.items():
            command = [sys.executable, "-m", "explorer", "-q", "sweep", "--model", args.model, "--years", str(year)]
            command += [
                "--lines",
                "--record",
                "--grid",
                *(f"{k}={','.join(f'{v:g}' for v in vs)}" for k, vs in grid.items()),
            ]
            if seeds != [None]:
                command += ["--seeds", *map(str, seeds)]
            print(" ".join(command[1:]), flush=True)
            subprocess.run(command, check=True, stdout=sys.stdout, stderr=subprocess.DEVNULL)
    print(f"{args.model}: still moving after {args.rounds} rounds", flush=True)


if __name__ == "__main__":
    main()
