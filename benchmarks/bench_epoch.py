"""LightGCN's cost per epoch as the graph grows, against its floor measured in the same run.

One epoch of full-batch LightGCN needs six sparse products at least: three layers forward, three
back (the gradient through the symmetric graph is the same propagation). This script builds a
synthetic bipartite graph per size (users = edges / 10, artists = edges / 20, heavy-tailed artist
degrees), times those six products on it, then trains ``lightgcn`` for a few epochs on the same graph
in the same process and prints seconds per epoch, the ratio to the floor and the process's peak
memory. Each size runs in its own process so its peak memory is its own. The floor is the faster of two
measurements, one before and one after training (on a shared machine the load drifts), so the ratio
errs high.

Run: ``.venv/bin/python benchmarks/bench_epoch.py [--sizes 100000 1000000 10000000] [--negatives 4 1]``;
``--profile EDGES`` prints torch's profile of a few epochs instead. Not run by CI.
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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIM, LAYERS = 64, 3


def synthetic_train_set(num_edges: int, seed: int = 0):
    """A random user–artist train set with about ``num_edges`` distinct pairs (artist degrees heavy-tailed)."""
    from explorer.protocol import TrainSet

    rng = np.random.default_rng(seed)
    num_users, num_items = max(num_edges // 10, 10), max(num_edges // 20, 10)
    users = rng.integers(num_users, size=num_edges)
    items = (rng.pareto(1.0, size=num_edges) * 10).astype(np.int64) % num_items
    keys = np.unique(users * num_items + items)
    return TrainSet(
        np.arange(num_users),
        np.arange(num_items),
        keys // num_items,
        keys % num_items,
        np.ones(len(keys)),
        np.empty((0, 2), dtype=np.int64),
    )


def six_products(train, device: str, repeats: int = 2) -> float:
    """Seconds for six products of the normalised adjacency with a [nodes, 64] matrix (best of ``repeats``)."""
    import torch
    from torch_geometric.nn import LGConv
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    from explorer.models import model_class

    model = model_class("lightgcn")()
    users = model._nodes(train)
    num_nodes = len(users) + train.num_items
    edge_index, edge_weight = gcn_norm(
        torch.from_numpy(model._edges(train, users)), None, num_nodes=num_nodes, add_self_loops=False
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
        adjacency = to_torch_csr_tensor(edge_index, edge_weight, size=(num_nodes, num_nodes)).to(device)
    del edge_index, edge_weight
    conv = LGConv()
    x = torch.randn(num_nodes, DIM, device=device)
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(6):
            y = conv(x, adjacency)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
        del y
    return best


def one_size(num_edges: int, negatives: int, epochs: int, device: str) -> dict:
    """Floor and seconds per epoch (mean over epochs 2…``epochs``) on one graph, in this process."""
    import torch

    from explorer.models import model_class

    train = synthetic_train_set(num_edges)
    floor_before = six_products(train, device)
    stamps: list[float] = []
    model = model_class("lightgcn")(epochs=epochs, negatives=negatives, embedding_dim=DIM, num_layers=LAYERS)
    model.device = device
    started = time.perf_counter()
    model.fit(train, progress=lambda *_, **__: stamps.append(time.perf_counter()))
    per_epoch = float(np.diff(stamps).mean()) if len(stamps) > 1 else stamps[0] - started
    del model
    floor = min(floor_before, six_products(train, device))  # the shared machine's load drifts: the faster
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return {
        "edges": len(train.user_idx),
        "nodes": train.num_users + train.num_items,
        "negatives": negatives,
        "s_per_epoch": per_epoch,
        "floor_s": floor,
        "ratio": per_epoch / floor,
        "fit_s": stamps[-1] - started,
        "peak_GiB": usage.ru_maxrss / 2**20,
        "peak_gpu_GiB": peak_gpu,
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
    }


def profile(num_edges: int, negatives: int, device: str) -> None:
    """Torch's profile of three epochs at ``num_edges`` edges, by self time."""
    from torch import profiler

    from explorer.models import model_class

    train = synthetic_train_set(num_edges)
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
        model_class("lightgcn")(epochs=3, negatives=negatives, device=device).fit(train)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--negatives", nargs="+", type=int, default=[4], help="negatives per positive")
    parser.add_argument("--also-one-negative-at", type=int, default=1_000_000, help="a 1-negative row at this size")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per size (3 above 5M edges)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--profile", type=int, metavar="EDGES", help="profile three epochs at this size")
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(*args.one, device=args.device)))
        return
    if args.profile:
        profile(args.profile, args.negatives[0], args.device)
        return
    import torch

    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "none"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {args.device} ({gpu}); {DIM} dims, {LAYERS} layers",
        flush=True,
    )
    plan = [(size, negatives) for size in args.sizes for negatives in args.negatives]
    if args.also_one_negative_at in args.sizes and 1 not in args.negatives:
        plan.insert(plan.index((args.also_one_negative_at, args.negatives[0])) + 1, (args.also_one_negative_at, 1))
    rows = []
    for size, negatives in plan:
        epochs = 3 if size > 5_000_000 else args.epochs
        command = [sys.executable, __file__, "--device", args.device, "--one", str(size), str(negatives), str(epochs)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{size} edges, {negatives} negatives failed:\n{done.stderr[-2000:]}", flush=True)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    for column in ("s_per_epoch", "floor_s"):
        table[f"growth_{column.split('_')[0]}"] = table.groupby("negatives")[column].transform(lambda c: c / c.shift())
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
