"""LightGCN's cost per epoch as the graph grows, against its floor measured in the same run.

One epoch of full-batch LightGCN needs six sparse products at least: three layers forward, three
back (the gradient through the symmetric graph is the same propagation). This script builds a
synthetic bipartite graph per size (users = edges / 10, artists = edges / 20, heavy-tailed artist
degrees), times those six products on it, then trains ``lightgcn`` for a few epochs on the same graph
in the same process and prints seconds per epoch, the ratio to the floor and the process's peak
memory. Each size runs in its own process so its peak memory is its own (it includes the floor's own copy of
the graph). The floor is measured between epochs, so each epoch is timed next to it.

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


def normalised_adjacency(train, device: str):
    """The graph ``lightgcn`` trains on (its own ``_nodes`` / ``_edges`` hooks, PyG's ``gcn_norm``), as CSR."""
    import torch
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
        return to_torch_csr_tensor(edge_index, edge_weight, size=(num_nodes, num_nodes)).to(device)


def six_products(adjacency, x) -> float:
    """Seconds for six products of the adjacency with ``x`` through PyG's LGConv (the epoch's floor)."""
    import torch
    from torch_geometric.nn import LGConv

    conv = LGConv()
    if x.is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(6):
        y = conv(x, adjacency)
    if x.is_cuda:
        torch.cuda.synchronize()
    del y
    return time.perf_counter() - started


def one_size(num_edges: int, negatives: int, epochs: int, device: str) -> dict:
    """Seconds per epoch and the floor, measured alternately in this process (epoch 1, with set-up, left out).

    The floor is measured between consecutive epochs (from the progress callback, outside the epoch's
    timing), so each epoch is paired with floors measured just before and after it: on a shared
    machine the load drifts, and pairs keep the ratio honest. Ratio: median epoch / median floor.
    """
    import torch

    from explorer.models import model_class

    train = synthetic_train_set(num_edges)
    adjacency = normalised_adjacency(train, device)
    x = torch.randn(adjacency.shape[0], DIM, device=device)
    epoch_seconds: list[float] = []
    floor_seconds = [six_products(adjacency, x)]
    started = [0.0]

    def between_epochs(epoch: int, total: int, **_: float) -> None:
        if epoch > 1:
            epoch_seconds.append(time.perf_counter() - started[0])
        if epoch < total:
            floor_seconds.append(six_products(adjacency, x))
        started[0] = time.perf_counter()

    model = model_class("lightgcn")(epochs=epochs, negatives=negatives, embedding_dim=DIM, num_layers=LAYERS)
    model.device = device
    fit_started = time.perf_counter()
    model.fit(train, progress=between_epochs)
    fit_seconds = time.perf_counter() - fit_started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    per_epoch, floor = float(np.median(epoch_seconds)), float(np.median(floor_seconds))
    return {
        "edges": len(train.user_idx),
        "nodes": train.num_users + train.num_items,
        "negatives": negatives,
        "s_per_epoch": per_epoch,
        "floor_s": floor,
        "ratio": per_epoch / floor,
        "epochs_timed": len(epoch_seconds),
        "fit_s": fit_seconds,
        "peak_GiB": usage.ru_maxrss / 2**20,
        "peak_gpu_GiB": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
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
