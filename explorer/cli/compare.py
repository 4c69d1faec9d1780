"""``compare``: models per test year, values with CIs, paired tests with Holm, verdicts."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from explorer import comparison, reports, stats
from explorer.cli.common import add_common, add_seeds, obtain
from explorer.errors import ParameterError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "compare", help="compare models per test year: values with CIs, paired tests with Holm, verdicts"
    )
    add_common(parser, many_models=True, flag="--models")
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=["recall@10", "mrr"],
        metavar="METRIC",
        help="recall@K, mrr, ndcg@K, hit_rate@K (default: recall@10 mrr)",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument(
        "--resamples", type=int, default=stats.RESAMPLES, help="bootstrap and permutation resamples (default: 10000)"
    )
    parser.add_argument(
        "--confidence", type=float, default=stats.CONFIDENCE, help="confidence level of the intervals (default 0.95)"
    )
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the resampling (default 0)")
    add_seeds(parser)


def run(args: argparse.Namespace, started: float) -> None:
    metrics = comparison.check_metrics(args.metrics)  # a bad name fails before any data is read
    if len(dict.fromkeys(args.model)) < 2:
        raise ParameterError("Comparing needs at least two different models; name two or more after --models.")
    if args.resamples < 100:
        raise ParameterError(f"--resamples must be at least 100, got {args.resamples}.")
    if not 0.5 <= args.confidence < 1:
        raise ParameterError(f"--confidence must be between 0.5 and 1 (e.g. 0.95), got {args.confidence}.")
    models = list(dict.fromkeys(args.model))
    found = obtain(args, models)
    result = comparison.compare(
        found, metrics, confidence=args.confidence, resamples=args.resamples, seed=args.bootstrap_seed
    )
    if args.seeds:
        result["notes"] = [comparison.seed_note(m) for m in models if not comparison.depends_on_seed(m)]
    if args.json:
        print(json.dumps(result))
        return
    print_comparison(result)
    for note in result.get("notes", []):
        print(f"Note: {note}")
    print(f"\n{time.perf_counter() - started:.1f} s in all")


def print_comparison(result: dict[str, Any]) -> None:
    pct = round(100 * result["confidence"])
    print(f"Values with {pct}% bootstrap CIs over test users ({result['resamples']:,} resamples)")
    print(reports.comparison_table(result).set_index(["year", "model"]).to_string())
    print(f"\nDifferences a − b with {pct}% CIs; {result['test']} over every test below")
    pairs = reports.pairs_table(result)
    print(
        pairs.to_string(
            index=False, formatters={"p": "{:.4g}".format, "Holm p": "{:.4g}".format, "effect d_z": "{:.3f}".format}
        )
    )
    print("\nVerdicts (Holm p < 0.05)")
    for sentence in result["verdicts"]:
        print(f"- {sentence}")
