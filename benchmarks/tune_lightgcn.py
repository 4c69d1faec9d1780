"""Choose LightGCN's default hyperparameters by validation on the train years only.

The validation split holds out 2007 (train on 2005–2006 rows, validate on 2007 rows), so no test year
(2008–2010) is ever looked at. Each configuration is scored by validation MRR (with its standard
error) and Recall@10. The choice follows the one-standard-error rule: among the configurations whose
MRR is within one standard error of the best, take the cheapest to train (fewest epochs × negatives,
then fewest layers), since their differences are noise on 2,589 validation rows.
Run: ``.venv/bin/python benchmarks/tune_lightgcn.py [--model M]``.
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

VALIDATION_YEAR = 2007

# A first, wider sweep (lr 0.01–0.1, epochs 50–200, layers 2–3, l2 1e-4–1e-3, negatives 1–4) put the best
# configurations at its low-lr, few-epochs, 3-layer corner; this grid is centred on that corner.
GRID = {
    "lr": [0.003, 0.01],
    "epochs": [25, 50, 100],
    "embedding_dim": [64],
    "num_layers": [3, 4],
    "l2": [1e-3, 1e-2],
    "negatives": [4, 8],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="lightgcn-social")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    dataset = load_dataset(args.data_dir)
    (split,) = splits_of(dataset, [VALIDATION_YEAR])
    reference = train_and_evaluate(dataset, split, "popularity").metrics
    print(f"popularity: R@10 {reference['recall']['10']:.4f}  MRR {reference['mrr']:.4f}", flush=True)
    rows = []
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        started = time.perf_counter()
        run = train_and_evaluate(dataset, split, args.model, params)
        reciprocal = 1.0 / run.ranks["norm_ranks"].dropna().to_numpy()
        rows.append(
            {
                **params,
                "R@10": run.metrics["recall"]["10"],
                "R@50": run.metrics["recall"]["50"],
                "MRR": run.metrics["mrr"],
                "MRR_se": reciprocal.std(ddof=1) / len(reciprocal) ** 0.5,
                "seconds": time.perf_counter() - started,
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values(["MRR", "R@10"], ascending=False)
    print(f"\n{args.model}, validation year {VALIDATION_YEAR} (train < {VALIDATION_YEAR}), best first:")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    best = table.iloc[0]
    tied = table[table["MRR"] >= best["MRR"] - best["MRR_se"]]
    tied = tied.assign(cost=tied["epochs"] * tied["negatives"]).sort_values(
        ["cost", "num_layers", "MRR"], ascending=[True, True, False]
    )
    chosen = tied.iloc[0]
    print(
        f"\n{len(tied)} configurations within one standard error ({best['MRR_se']:.4f}) of the best MRR; "
        f"the cheapest: {', '.join(f'{k}={chosen[k]:g}' for k in GRID)} "
        f"(MRR {chosen['MRR']:.4f}, R@10 {chosen['R@10']:.4f})."
    )


if __name__ == "__main__":
    main()
