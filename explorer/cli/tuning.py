"""``tuning``: how each model's hyperparameters were chosen, from its tuning record."""

from __future__ import annotations

import argparse
import json
from typing import Any

from explorer import tuning
from explorer.models import model_class


def add_parser(commands: Any) -> None:
    """The ``tuning`` subcommand and its flags (``python -m explorer tuning --help``)."""
    parser = commands.add_parser(
        "tuning", help="per model and test year: grid searched, chosen values, validation value, grid edges"
    )
    parser.add_argument("--model", nargs="+", metavar="MODEL", help="only these models (default: all)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    for model in args.model or []:
        model_class(model)  # an unknown name: one sentence, exit 2
    document = tuning.report(args.model)
    print(json.dumps(document) if args.json else tuning.describe(document))
