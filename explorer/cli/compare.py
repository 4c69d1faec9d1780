"""``compare``: models per test year, values with CIs, every pair tested over one family, verdicts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from explorer import comparison, reports, stats
from explorer.cli.common import add_common, add_seeds, obtain
from explorer.errors import ParameterError

DESCRIPTION = (
    "Values with bootstrap CIs over test users, and every pair of models tested over one family (all pairs × "
    "metrics × years), with adjusted CIs and verdicts. docs/statistics.md defines each number."
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare models per test year: CIs, paired tests over one family, verdicts",
        description=DESCRIPTION,
    )
    add_common(parser, many_models=True, flag="--models")
    add_seeds(parser)
    parser.add_argument(
        "--metrics", nargs="+", default=["recall@10", "mrr"], metavar="NAME",
        help="recall@K, mrr, ndcg@K, hit_rate@K (default: recall@10 mrr)",
    )  # fmt: skip
    parser.add_argument(
        "--test", choices=list(comparison.TESTS), default="signflip",
        help="signflip (default): sign-flip tests + Holm; tukey: randomised Tukey HSD",
    )  # fmt: skip
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    output.add_argument("--csv", action="store_true", help="print tidy CSV rows: year, model, metric, value, CI, …")
    output.add_argument(
        "--markdown", action="store_true", help="print leaderboards and verdicts as Markdown (docs/results.md)"
    )
    parser.add_argument("--resamples", type=int, default=stats.RESAMPLES, metavar="N", help="(default: 10000)")
    parser.add_argument("--confidence", type=float, default=stats.CONFIDENCE, metavar="C", help="CI level (0.95)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="resampling seed (default: 0)")


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
        found, metrics, test=args.test, confidence=args.confidence, resamples=args.resamples, seed=args.bootstrap_seed
    )
    if args.seeds:
        result["notes"] = [comparison.seed_note(m) for m in models if not comparison.depends_on_seed(m)]
    if args.json:
        print(json.dumps(result))
        return
    if args.csv:
        reports.tidy(result).to_csv(sys.stdout, index=False)
        return
    if args.markdown:
        print(reports.markdown(result), end="")
        return
    print_comparison(result)
    for note in result.get("notes", []):
        print(f"Note: {note}")
    print(f"\n{time.perf_counter() - started:.1f} s in all")


def print_comparison(result: dict[str, Any]) -> None:
    pct = round(100 * result["confidence"])
    print(f"Values with {pct}% bootstrap CIs over test users ({result['resamples']:,} resamples)")
    print(reports.comparison_table(result).set_index(["year", "model"]).to_string())
    family = result["family"]
    print(f"\nDifferences a − b with {pct}% CIs and adjusted CIs. {family['sentence']}")
    print(reports.pairs_table(result).to_string(index=False))
    if family["in_band"]:
        print(
            f"{family['in_band']} of {family['tests']} tests lie in the band where the adjusted CI and the adjusted "
            "p may disagree (docs/statistics.md)."
        )
    print(f"\nVerdicts (adjusted p < {result['alpha']:g})")
    for sentence in result["verdicts"]:
        print(f"- {sentence}")
