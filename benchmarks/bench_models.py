"""Time and size every model on the real data, and LightGCN's cost per epoch as the graph grows.

Prints two tables:
1. per model and test year: fit seconds, epochs per second, evaluation seconds, peak memory (each
   model in its own process), our Recall@10 and MRR beside the notebook's published numbers;
2. seconds per LightGCN epoch on synthetic bipartite graphs of about 10k, 100k and 1M edges.

Run: ``LASTFM_DATA_DIR=… .venv/bin/python benchmarks/bench_models.py``. Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Published with the notebook (shared/data/README.md): Recall@10, MRR and fit seconds per year.
NOTEBOOK = {
    "lightgcn": {2008: (0.046971, 0.039041, 1529), 2009: (0.053126, 0.038456, 3673), 2010: (0.065058, 0.041523, 7806)},
    "cmf": {2008: (0.025461, 0.022975, 0.21), 2009: (0.028803, 0.024215, 0.54), 2010: (0.036198, 0.027039, 0.98)},
}


def registered_models() -> list[str]:
    """Every registered model, in the registry's order (the per-model table covers them all)."""
    from explorer.models import model_names

    return model_names()


def one_model(model: str) -> None:
    """Train and evaluate ``model`` for the three years in this process; print JSON rows."""
    from explorer.data import load_dataset
    from explorer.training import splits_of, train_and_evaluate

    dataset = load_dataset()
    rows = []
    for split in splits_of(dataset):
        run = train_and_evaluate(dataset, split, model)
        epochs = run.params.get("epochs")
        rows.append(
            {
                "model": model,
                "year": split.year,
                "fit_s": run.fit_seconds,
                "epochs_per_s": epochs / run.fit_seconds if epochs else None,
                "eval_s": run.eval_seconds,
                "R@10": run.metrics["recall"]["10"],
                "MRR": run.metrics["mrr"],
                "device": run.device,
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps([{**row, "peak_MiB": peak} for row in rows]))


def model_table(models: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for model in models or registered_models():
        done = subprocess.run([sys.executable, __file__, "--one", model], capture_output=True, text=True, check=True)
        for row in json.loads(done.stdout.strip().splitlines()[-1]):
            reference = NOTEBOOK.get("lightgcn" if model.startswith("lightgcn") else model, {}).get(row["year"])
            row["notebook R@10"], row["notebook MRR"], row["notebook fit_s"] = reference or (None, None, None)
            rows.append(row)
    return pd.DataFrame(rows)


def epoch_cost(num_edges: int, epochs: int = 4) -> dict:
    """Seconds per full-batch LightGCN epoch on a random bipartite graph with ``num_edges`` edges."""
    from explorer.models import model_class
    from explorer.protocol import TrainSet

    rng = np.random.default_rng(0)
    num_users, num_items = max(num_edges // 10, 10), max(num_edges // 20, 10)
    pairs = np.unique(
        np.stack(
            [
                rng.integers(num_users, size=num_edges),
                (rng.pareto(1.0, size=num_edges) * 10).astype(np.int64) % num_items,
            ]
        ),
        axis=1,
    )
    train = TrainSet(
        np.arange(num_users),
        np.arange(num_items),
        pairs[0],
        pairs[1],
        np.ones(pairs.shape[1]),
        np.empty((0, 2), dtype=np.int64),
    )
    stamps: list[float] = []
    model_class("lightgcn")(epochs=epochs).fit(train, progress=lambda *_, **__: stamps.append(time.perf_counter()))
    return {"edges": pairs.shape[1], "nodes": num_users + num_items, "s_per_epoch": float(np.diff(stamps).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--skip-models", action="store_true", help="only the growth table")
    parser.add_argument("--models", nargs="+", help="only these models in the per-model table (default: all)")
    args = parser.parse_args()
    if args.one:
        one_model(args.one)
        return
    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"cuda: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    fmt = {"float_format": lambda x: f"{x:.4f}", "index": False}
    if not args.skip_models:
        print("\nPer model and test year (each year's tuned hyperparameters)")
        print(model_table(args.models).to_string(**fmt))
    print("\nLightGCN cost per epoch as the graph grows (embedding 64, 3 layers, 1 negative)")
    print(pd.DataFrame([epoch_cost(n) for n in (10_000, 100_000, 1_000_000)]).to_string(**fmt))


if __name__ == "__main__":
    main()
