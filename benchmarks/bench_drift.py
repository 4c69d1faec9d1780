"""Time and check the aligned maps of issue 14 (``explorer.aligned_layout``) on a model's three cached years.

Run: ``EXPLORER_CACHE_DIR=… LASTFM_DATA_DIR=… .venv/bin/python benchmarks/bench_drift.py [--model lightgcn-social]
[--epochs 200 100] [--users] [--stock SECONDS]`` after ``python -m explorer train --model lightgcn-social --no-maps``.

Prints, per setting, the wall and CPU seconds of each phase (a busy machine inflates wall time; CPU seconds
of this single-threaded work are close to what two idle cores take), the machine's load, and the quality of
the result:

* ``kept@15``: per year, the share of each point's 15 nearest neighbours (cosine, model space) that are
  among its 15 nearest on the map (1,000 sampled points);
* ``moved``: per pair of consecutive years, the median distance an artist moves between the two maps,
  as a share of the median distance between two random points of the later map (0: perfectly aligned;
  about 1: unrelated maps). The same for two maps of the years drawn separately (``explorer.umap_layout``)
  shows what the alignment buys.

``--stock S`` also runs umap-learn's own ``AlignedUMAP.fit`` (cosine, seed 42) for at most S seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from explorer import drift, runs  # noqa: E402
from explorer.aligned_layout import aligned_layout  # noqa: E402
from explorer.data import load_dataset  # noqa: E402
from explorer.neighbours import nearest_neighbors  # noqa: E402
from explorer.umap_layout import project  # noqa: E402


def kept(vectors: np.ndarray, layout: np.ndarray, sample: np.ndarray, k: int = 15) -> float:
    high, _ = nearest_neighbors(vectors, k + 1, "cosine")
    low, _ = nearest_neighbors(layout, k + 1, "euclidean")
    return float(np.mean([len(set(high[i, 1:]) & set(low[i, 1:])) / k for i in sample]))


def moved(ids: list[np.ndarray], layouts: list[np.ndarray]) -> list[float]:
    rng = np.random.default_rng(0)
    shares = []
    years = list(zip(ids, layouts, strict=True))
    for (left_ids, left), (right_ids, right) in zip(years[:-1], years[1:], strict=True):
        _, a, b = np.intersect1d(left_ids, right_ids, return_indices=True)
        step = np.linalg.norm(left[a] - right[b], axis=1)
        pairs = rng.integers(0, len(right), (5000, 2))
        spread = np.linalg.norm(right[pairs[:, 0]] - right[pairs[:, 1]], axis=1)
        shares.append(float(np.median(step) / np.median(spread)))
    return shares


def timed_layout(vectors: list[np.ndarray], relations: list[np.ndarray], epochs: int) -> tuple[list[np.ndarray], str]:
    """The layouts, and each phase's wall and CPU seconds as text."""
    marks: dict[str, tuple[float, float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()

    def progress(step: int, total: int, **_: float) -> None:  # noqa: ARG001
        phase = "graphs" if step <= len(vectors) else ("weights" if step == len(vectors) + 1 else "layout")
        marks[phase] = (time.perf_counter() - wall, time.process_time() - cpu)

    layouts = aligned_layout(vectors, relations, epochs=epochs, progress=progress)
    previous, text = (0.0, 0.0), []
    for phase, (w, c) in marks.items():
        text.append(f"{phase} {w - previous[0]:.1f} s wall / {c - previous[1]:.1f} s CPU")
        previous = (w, c)
    return layouts, f"{'; '.join(text)}; total {previous[0]:.1f} s wall, {previous[1]:.1f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="lightgcn-social")
    parser.add_argument("--epochs", nargs="+", type=int, default=[200])
    parser.add_argument("--users", action="store_true")
    parser.add_argument("--stock", type=float, default=0.0, help="also run umap-learn's AlignedUMAP for ≤ S seconds")
    args = parser.parse_args()
    dataset = load_dataset()
    keys = drift.year_keys(dataset, args.model)
    loaded = [runs.load(key) for key in keys.values()]
    ids = [run.state["item_ids"] for run in loaded]
    vectors = [run.state["item_factors"] for run in loaded]
    if args.users:
        ids = [np.r_[-1 - run.state["user_ids"], i] for run, i in zip(loaded, ids, strict=True)]
        vectors = [np.vstack([run.state["user_factors"], v]) for run, v in zip(loaded, vectors, strict=True)]
    relations = [
        np.stack(np.intersect1d(a, b, return_indices=True)[1:], axis=1) for a, b in zip(ids[:-1], ids[1:], strict=True)
    ]
    print(
        f"{args.model}: {', '.join(f'{y} {len(v):,}' for y, v in zip(keys, vectors, strict=True))} points; "
        f"load {os.getloadavg()[0]:.1f} on {multiprocessing.cpu_count()} cores"
    )
    rng = np.random.default_rng(0)
    for epochs in args.epochs:
        layouts, text = timed_layout(vectors, relations, epochs)
        print(f"\naligned_layout, {epochs} epochs: {text} (load now {os.getloadavg()[0]:.1f})")
        samples = [rng.choice(len(v), min(1000, len(v)), replace=False) for v in vectors]
        quality = [kept(v, lay, at) for v, lay, at in zip(vectors, layouts, samples, strict=True)]
        print(f"  kept@15 per year: {', '.join(f'{q:.2f}' for q in quality)}")
        print(f"  moved (aligned): {', '.join(f'{m:.2f}' for m in moved(ids, layouts))}")
    separate = [project(v) for v in vectors]
    print(f"  moved (maps drawn separately): {', '.join(f'{m:.2f}' for m in moved(ids, separate))}")
    if args.stock:
        stock(vectors, relations, args.stock)


def stock(vectors: list[np.ndarray], relations: list[np.ndarray], seconds: float) -> None:
    """umap-learn's AlignedUMAP.fit in a child process, stopped after ``seconds``."""

    def fit() -> None:
        import umap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            umap.AlignedUMAP(metric="cosine", random_state=42).fit(
                vectors, relations=[dict(zip(r[:, 0].tolist(), r[:, 1].tolist(), strict=True)) for r in relations]
            )

    child = multiprocessing.get_context("fork").Process(target=fit)
    started = time.perf_counter()
    child.start()
    child.join(seconds)
    if child.is_alive():
        child.terminate()
        child.join()
        print(f"\numap-learn AlignedUMAP.fit: not done after {seconds:.0f} s wall (stopped)")
    else:
        print(f"\numap-learn AlignedUMAP.fit: {time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
