"""``runs``: list or clear the run cache."""

from __future__ import annotations

import argparse
from typing import Any

from explorer import runs
from explorer.models import model_names


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("runs", help="list or clear the run cache")
    parser.add_argument("action", choices=["list", "clear"])
    parser.add_argument("--model", choices=model_names(), help="clear only this model's runs")


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    if args.action == "list":
        listing = runs.table()
        print(listing.to_string(index=False) if len(listing) else f"no cached runs in {runs.cache_dir()}")
    else:
        print(f"deleted {runs.clear(model=args.model)} cached runs from {runs.cache_dir()}")
