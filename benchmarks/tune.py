"""Choose any registry model's hyperparameters by nested forward-chaining validation: never on a test year.

For test year Y the model is trained on years < Y, so its hyperparameters are chosen by holding out
its last train year: train on years < Y-1, validate on Y-1 (2007 for 2008, 2008 for 2009, 2009 for
2010). Every configuration of the model's grid (``GRIDS`` below, or ``--grid name=v1,v2 …``) is scored
by validation MRR (the notebook's headline metric), Recall@10 breaking ties; the best per test year is
printed as a dict to paste into the model's ``TUNED``. Test years are never evaluated here.

A first attempt (LightGCN) chose one setting for all years on the 2007 validation split alone with the
one-standard-error rule. Its 2005–2006 train set (1,570 rows) is a third of the smallest real train
set (4,159 rows), so it favoured very short training that then under-fitted the real splits; each test
year is therefore tuned on its own last train year.

Run: ``LASTFM_DATA_DIR=… .venv/bin/python benchmarks/tune.py MODEL [--test-years …] [--grid k=1,2 …]``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.data import load_dataset  # noqa: E402
from explorer.evaluation import evaluate  # noqa: E402
from explorer.models import model_class  # noqa: E402
from explorer.training import splits_of, train_and_evaluate  # noqa: E402

LIGHTGCN_GRID = {
    "lr": [0.01, 0.03],
    "epochs": [25, 50, 100, 200],
    "num_layers": [3],
    "l2": [1e-4, 1e-3, 1e-2],
    "negatives": [1, 4],
}
GRIDS: dict[str, dict[str, list]] = {
    "popularity": {},
    "friends-pop": {},
    "itemknn": {"neighbours": [10, 25, 50, 100, 200], "shrink": [0.0, 5.0, 20.0, 100.0, 300.0]},
    "ease": {"reg": [3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]},
    "ease-social": {
        "reg": [10.0, 30.0, 100.0, 300.0],
        "friend_weight": [0.1, 0.3, 1.0, 3.0],
        "direct": [0.0, 0.03, 0.1, 0.3],
    },
    "cmf": {"k": [16, 32, 64], "reg": [0.1, 1.0, 10.0], "alpha": [1.0, 10.0]},
    "cmf-tags": {"k": [32, 64], "reg": [1.0, 10.0], "w_item": [0.1, 1.0, 10.0], "friends": [0, 1]},
    "als": {"factors": [16, 32, 64, 128], "reg": [0.01, 0.1, 1.0, 10.0], "alpha": [1.0, 10.0, 40.0]},
    "bpr": {"factors": [32, 64, 128], "lr": [0.01, 0.05], "reg": [0.001, 0.01], "iterations": [100, 300]},
    "lightgcn": LIGHTGCN_GRID,
    "lightgcn-social": LIGHTGCN_GRID,
    # one setting against lightgcn-social's validation numbers: each fit took ~70 s on the shared machine
    "lightgcn-tags": {"tags": [200], "min_assignments": [2]},
    "lightgcn-ease": {"mix": [0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0]},
}


def sweep(dataset, test_year: int, model: str, grid: dict[str, list]) -> pd.DataFrame:
    """Every configuration of ``grid`` trained on years < ``test_year`` - 1 and scored on that year, best first.

    Hyperparameters outside the grid keep the values already chosen for ``test_year`` (the model's
    ``TUNED``, else its defaults), e.g. an ensemble's members while only its mixing weight is tuned.
    """
    (split,) = splits_of(dataset, [test_year - 1])
    fixed = model_class(model).defaults_for(test_year)
    if list(grid) == ["mix"] and hasattr(model_class(model), "MEMBERS"):
        return sweep_mix(dataset, split, model, fixed, grid["mix"])
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        started = time.perf_counter()
        run = train_and_evaluate(dataset, split, model, {**fixed, **params})
        rows.append(
            {
                **params,
                "R@10": run.metrics["recall"]["10"],
                "MRR": run.metrics["mrr"],
                "seconds": time.perf_counter() - started,
            }
        )
    return pd.DataFrame(rows).sort_values(["MRR", "R@10"], ascending=False, ignore_index=True)


def sweep_mix(dataset, split, model: str, fixed: dict, mixes: list[float]) -> pd.DataFrame:
    """An ensemble's mixing weights, its members fitted once (they do not depend on ``mix``)."""
    started = time.perf_counter()
    fitted = model_class(model)(**{**fixed, "mix": mixes[0]}).fit(split.train_set(dataset.friends, dataset.tagged))
    seconds = time.perf_counter() - started
    rows = []
    for mix in mixes:
        fitted.params["mix"] = mix
        metrics = evaluate(fitted.score, split).metrics
        rows.append({"mix": mix, "R@10": metrics["recall"]["10"], "MRR": metrics["mrr"], "seconds": seconds})
    return pd.DataFrame(rows).sort_values(["MRR", "R@10"], ascending=False, ignore_index=True)


def parse_grid(items: list[str], model: str) -> dict[str, list]:
    """``["reg=1,10", …]`` → ``{"reg": [1.0, 10.0]}`` typed by the model's parameters."""
    specs = model_class(model).PARAMS
    grid = {}
    for item in items:
        name, _, values = item.partition("=")
        if name not in specs:
            raise SystemExit(f"{model} has no hyperparameter {name}; its hyperparameters are {', '.join(specs)}.")
        grid[name] = [specs[name].check(name, value) for value in values.split(",")]
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--test-years", nargs="+", type=int, default=[2008, 2009, 2010])
    parser.add_argument("--grid", nargs="*", default=None, help="name=v1,v2 … instead of the built-in grid")
    parser.add_argument("--show", type=int, default=8, help="configurations printed per year")
    args = parser.parse_args()
    grid = parse_grid(args.grid, args.model) if args.grid else GRIDS.get(args.model)
    if grid is None:
        raise SystemExit(f"There is no grid for {args.model}; give one with --grid name=v1,v2.")
    dataset = load_dataset()
    chosen = {}
    for year in args.test_years:
        table = sweep(dataset, year, args.model, grid)
        print(f"\n{args.model}, test year {year}: validate on {year - 1} (train < {year - 1}), best first")
        print(table.head(args.show).to_string(index=False, float_format=lambda x: f"{x:.4f}"), flush=True)
        best = table.iloc[0]
        chosen[year] = {
            name: (int(best[name]) if isinstance(values[0], int) else float(best[name]))
            for name, values in grid.items()
        }
    print(f"\nTUNED for {args.model}: {chosen}")


if __name__ == "__main__":
    main()
