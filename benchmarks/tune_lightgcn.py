"""Choose LightGCN's hyperparameters by nested forward-chaining validation: never on a test year.

For test year Y the model is trained on years < Y, so its hyperparameters are chosen by holding out
its last train year: train on years < Y-1, validate on Y-1 (2007 for 2008, 2008 for 2009, 2009 for
2010). Each grid configuration is scored by validation MRR (the notebook's headline metric), Recall@10
breaking ties; the best per test year is printed as a dict to paste into
``explorer/models/lightgcn.py`` (``TUNED``).

A first attempt chose one setting for all years on the 2007 validation split alone with the
one-standard-error rule (the cheapest configuration within one standard error of the best). Its
2005–2006 train set (1,570 rows) is a third of the smallest real train set (4,159 rows), so it
favoured very short training (25 epochs) that then under-fitted the real splits; see the README.

Run: ``LASTFM_DATA_DIR=… .venv/bin/python benchmarks/tune_lightgcn.py [--model M] [--test-years …]``.
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
from explorer.training import splits_of, train_and_evaluate  # noqa: E402

GRID = {
    "lr": [0.01, 0.03],
    "epochs": [25, 50, 100, 200],
    "num_layers": [3],
    "l2": [1e-4, 1e-3, 1e-2],
    "negatives": [1, 4],
}


def sweep(dataset, validation_year: int, model: str) -> pd.DataFrame:
    (split,) = splits_of(dataset, [validation_year])
    reference = train_and_evaluate(dataset, split, "popularity").metrics
    print(
        f"validation {validation_year}: popularity R@10 {reference['recall']['10']:.4f} MRR {reference['mrr']:.4f}",
        flush=True,
    )
    rows = []
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        started = time.perf_counter()
        run = train_and_evaluate(dataset, split, model, params)
        rows.append(
            {
                **params,
                "R@10": run.metrics["recall"]["10"],
                "MRR": run.metrics["mrr"],
                "seconds": time.perf_counter() - started,
            }
        )
    return pd.DataFrame(rows).sort_values(["MRR", "R@10"], ascending=False, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="lightgcn-social")
    parser.add_argument("--test-years", nargs="+", type=int, default=[2008, 2009, 2010])
    args = parser.parse_args()
    dataset = load_dataset()
    chosen = {}
    for year in args.test_years:
        table = sweep(dataset, year - 1, args.model)
        print(f"\n{args.model}, test year {year}: validate on {year - 1} (train < {year - 1}), best first")
        print(table.head(8).to_string(index=False, float_format=lambda x: f"{x:.4f}"), flush=True)
        chosen[year] = {
            k: (int(v) if k in ("epochs", "num_layers", "negatives") else float(v))
            for k, v in table.iloc[0][list(GRID)].items()
        }
    print(f"\nTUNED for {args.model}: {chosen}")


if __name__ == "__main__":
    main()
