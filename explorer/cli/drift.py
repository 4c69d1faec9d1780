"""``drift``: how a model's artist space moves across the test years (aligned maps, artists that moved most)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import pandas as pd

from explorer import drift, runs
from explorer.cli.common import Bar
from explorer.data import load_dataset
from explorer.errors import ParameterError
from explorer.models import model_names
from explorer.protocol import DEFAULT_YEARS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "drift", help="align a model's artist maps across the test years and list the artists that moved most"
    )
    parser.add_argument("--model", required=True, choices=model_names(), metavar="MODEL", help="a model with vectors")
    parser.add_argument("--years", nargs="+", type=int, default=list(DEFAULT_YEARS), metavar="YEAR", help="test years")
    parser.add_argument("--k", type=int, default=drift.DEFAULT_K, help="neighbours compared per artist (default: 10)")
    parser.add_argument("--top", type=int, default=20, help="artists listed (default: %(default)s)")
    parser.add_argument(
        "--min-listeners", type=int, default=0, help="only artists with at least this many train listeners (default: 0)"
    )
    parser.add_argument("--users", action="store_true", help="also place the users on the aligned maps")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")


def run(args: argparse.Namespace, started: float) -> None:
    if not 1 <= args.top <= 10_000:
        raise ParameterError(f"--top must be between 1 and 10000, got {args.top}.")
    dataset = load_dataset(args.data_dir)
    bar = Bar(f"{args.model} aligned maps", not args.quiet, unit="step")
    try:
        maps = drift.aligned_maps(dataset, args.model, years=args.years, users=args.users, progress=bar)
    finally:
        bar.close()
    chosen = {"k": args.k, "top": args.top, "min_listeners": args.min_listeners, "years": args.years}
    table = drift.most_moved(dataset, args.model, **chosen)
    counts = maps.artist_counts()
    if args.json:
        print(json.dumps(as_json(args.model, maps, table)))
        return
    print(
        f"{args.model}: {drift.METHOD} maps of {', '.join(map(str, maps.years))}, "
        f"stored in {runs.cache_dir() / drift.FOLDER}"
    )
    print(
        f"({len(maps.points):,} points; artists per year: {', '.join(f'{y} {n:,}' for y, n in counts.items())}; "
        f"in every year {len(maps.shared_artists()):,})"
    )
    print(f"\nMoved most: {drift.MEASURE.format(k=args.k)}; lower = moved more.")
    print(f"listeners: train listeners before {maps.years[-1]} (--min-listeners N keeps the better heard)")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}", max_colwidth=40))
    print(f"\n{time.perf_counter() - started:.1f} s in all")


def as_json(model: str, maps: drift.AlignedMaps, moved: pd.DataFrame) -> dict[str, Any]:
    """``{"model", "years", "method", "artists": {"count", "shared_all_years"}, "most_moved": [...]}`` (issue 14)."""
    pairs = drift.pair_names(maps.years)
    return {
        "model": model,
        "years": list(maps.years),
        "method": drift.METHOD,
        "artists": {
            "count": {str(year): n for year, n in maps.artist_counts().items()},
            "shared_all_years": len(maps.shared_artists()),
        },
        "most_moved": [
            {
                "artistID": int(row["artistID"]),
                "name": row["name"],
                "neighbour_overlap": {p: float(row[p]) for p in pairs},
            }
            for row in moved.to_dict("records")
        ],
    }
