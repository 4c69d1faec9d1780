"""``make-demo-data``: write the synthetic demo data set."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("make-demo-data", help="write the synthetic demo data set into DIR")
    parser.add_argument("dir")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    from explorer.synthetic import write_synthetic_dataset

    print(f"wrote synthetic demo data to {write_synthetic_dataset(args.dir, seed=args.seed)}")
