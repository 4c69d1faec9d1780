"""``train``: train models for the test years into the run cache (and draw their embedding maps)."""

from __future__ import annotations

import argparse
from typing import Any

from explorer.cli.common import Bar, add_common, add_seeds, obtain
from explorer.models import model_class
from explorer.training import Run


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("train", help="train models for the test years and fill the run cache")
    add_common(parser, many_models=True)
    parser.add_argument(
        "--no-maps", action="store_true", help="do not draw the embedding maps (UMAP) the app's Embeddings page shows"
    )
    add_seeds(parser)


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    for model, model_runs in obtain(args, args.model).items():
        for r in model_runs:
            source = "cached" if r.from_cache else f"trained in {r.fit_seconds:.1f} s on {r.device}"
            seed = f" seed {r.seed}" if args.seeds and r.seed is not None else ""
            print(
                f"{model} {r.year}{seed}: R@10 {r.metrics['recall']['10']:.4f}  MRR {r.metrics['mrr']:.4f}  ({source})"
            )
            if not args.no_maps and model_class(r.model).has_embeddings:
                draw_map(r, args.quiet)


def draw_map(run: Run, quiet: bool) -> None:
    """Compute (or find) the run's default embedding map, so the app shows it at once."""
    from explorer import projection

    key = run.key
    if projection.cached_projection(key) is not None:
        return
    bar = Bar(f"{run.model} {run.year} map", not quiet, unit="step")
    try:
        projection.projection_for(key, progress=bar)
    finally:
        bar.close()
