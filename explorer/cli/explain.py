"""``explain``: why a model recommends each artist of one user's list (one JSON object with ``--json``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from explorer import explain, runs
from explorer.cli.common import Bar
from explorer.data import load_dataset
from explorer.errors import ParameterError
from explorer.models import model_names
from explorer.protocol import DEFAULT_YEARS
from explorer.training import splits_of


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "explain", help="why a model recommends each artist of a user's list (its default setting's cached run)"
    )
    parser.add_argument("--model", required=True, choices=model_names(), metavar="MODEL", help=", ".join(model_names()))
    parser.add_argument("--year", type=int, default=DEFAULT_YEARS[-1], help="test year (default: %(default)s)")
    parser.add_argument("--user", type=int, required=True, help="Last.fm user id")
    parser.add_argument("--top", type=int, default=10, help="list length (default: %(default)s)")
    parser.add_argument("--per-item", type=int, default=explain.PER_ITEM, help="reasons per artist (default: 3)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="device if the run must be trained")


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    if not 1 <= args.top <= 500:
        raise ParameterError(f"--top must be between 1 and 500, got {args.top}.")
    if not 1 <= args.per_item <= 50:
        raise ParameterError(f"--per-item must be between 1 and 50, got {args.per_item}.")
    explain.kind_of(args.model)  # a model that cannot be explained fails before any training
    dataset = load_dataset(args.data_dir)
    split = splits_of(dataset, [args.year])[0]
    bar = Bar(f"{args.model} {args.year}", not args.quiet)
    try:
        trained = runs.run_for(dataset, split, args.model, device=args.device, progress=bar)
    finally:
        bar.close()
    result = explain.explain(trained, split, dataset, args.user, top=args.top, per_item=args.per_item)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print_explanation(result)


def print_explanation(result: explain.Explanation) -> None:
    print(f"{result.model} · test year {result.year} · user {result.user}")
    print(result.note)
    width = max((len(item["name"]) for item in result.items), default=0)
    for item, text in zip(result.items, result.because(), strict=True):
        print(f"{item['rank']:>3}. {item['name']:<{min(width, 40)}}  score {item['score']:.4g}")
        if text:
            print(f"       because: {text}")
