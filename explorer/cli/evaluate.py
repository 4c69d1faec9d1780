"""``evaluate``: one model's notebook-style tables per test year, with CIs (or one JSON object)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from explorer import comparison, reports, summaries
from explorer.cli.common import add_common, add_seeds, load, obtain
from explorer.cohorts import COHORT_METRICS, assign, cohort_metrics
from explorer.data import Dataset
from explorer.errors import ParameterError
from explorer.protocol import Split
from explorer.training import Run


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("evaluate", help="print a model's notebook-style tables per test year")
    add_common(parser, many_models=False)
    parser.add_argument("--ranks-out", metavar="FILE.csv", help="write user,item,ranks,norm_ranks,test_year")
    parser.add_argument(
        "--per-user-out", metavar="FILE.csv", help="write per-user results: user, year, cases, hits@K, rr_sum, cohorts"
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_seeds(parser)


def run(args: argparse.Namespace, started: float) -> None:
    dataset, splits = load(args)
    model_runs = obtain(args, [args.model], (dataset, splits))[args.model]
    if args.ranks_out:
        write_ranks(first_seed(model_runs), args.ranks_out)
    if args.per_user_out:
        cohorts = {split.year: assign(split, dataset.friends) for split in splits}
        write_csv(reports.per_user(model_runs, cohorts), args.per_user_out, "per-user")
    if args.json:
        print(json.dumps(as_json(args.model, model_runs, splits, dataset, args.seeds)))
    else:
        print_tables(args.model, first_seed(model_runs))
        print_uncertainty(model_runs, args.seeds)
        print(f"\n{time.perf_counter() - started:.1f} s in all")


def print_tables(model: str, model_runs: Sequence[Run]) -> None:
    fmt = {"float_format": lambda x: f"{x:.6f}"}
    print(f"== {model}")
    for r in model_runs:
        print(f"   {r.year}: {'; '.join(f'{k}={v}' for k, v in r.params.items()) or 'no hyperparameters'}")
    print("\nRecall@K (share of test rows ranked in the top K)")
    print(reports.recall_table(model_runs).drop(columns="model").set_index("year").to_string(**fmt))
    print("\nMRR (mean 1/norm_rank over test rows whose artist is in train)")
    print(reports.mrr_table(model_runs).drop(columns="model").set_index("year").to_string(**fmt))
    print("\nWarm users (with train rows) vs cold users (popularity fallback unless the model knows them)")
    print(reports.groups_table(model_runs).drop(columns="model").set_index(["year", "users"]).to_string(**fmt))
    print("\nNDCG, coverage of the top-10 lists, and timings")
    quality = reports.quality_table(model_runs).drop(columns=["model", "HitRate@10"]).set_index("year")
    timing = reports.timing_table(model_runs).drop(columns=["model", "epochs"]).set_index("year")
    print(quality.join(timing).to_string(float_format=lambda x: f"{x:.3f}"))
    for note in model_runs[0].notes:
        print(f"\nNote: {note}")


def as_json(
    model: str, model_runs: Sequence[Run], splits: Sequence[Split], dataset: Dataset, seeds: Sequence[int] | None
) -> dict[str, Any]:
    """The evaluate JSON: per year the metrics (mean over seeds), ``ci``, ``cohorts``, ``beyond``, ``seeds``."""
    by_year = {split.year: [r for r in model_runs if r.year == split.year] for split in splits}
    first = model_runs[0]
    same = all(r.params == first.params for r in model_runs)
    years: dict[str, Any] = {}
    for split in splits:
        year_runs = by_year[split.year]
        metrics = summaries.mean_metrics([r.metrics for r in year_runs])
        metrics["ci"] = summaries.metric_intervals(year_runs)
        _, num, _ = summaries.pooled_contributions(year_runs, COHORT_METRICS)
        metrics["cohorts"] = cohort_metrics(year_runs[0].ranks, assign(split, dataset.friends), num=num)
        if seeds:
            metrics["seeds"] = summaries.seed_summary(year_runs, seeds)
        years[str(split.year)] = metrics
    return {
        "model": model,
        "params": first.params if same else {str(r.year): r.params for r in model_runs},
        "params_by_year": {
            str(year): [r.params for r in rs] if len(rs) > 1 else rs[0].params for year, rs in by_year.items()
        },
        "data": {"path": first.data["path"], "fingerprint": first.data["fingerprint"]},
        "years": years,
        "fit_seconds": {str(y): _one_or_list([r.fit_seconds for r in rs]) for y, rs in by_year.items()},
        "eval_seconds": {str(y): _one_or_list([r.eval_seconds for r in rs]) for y, rs in by_year.items()},
        "device": {str(y): rs[0].device for y, rs in by_year.items()},
        "from_cache": {str(y): all(r.from_cache for r in rs) for y, rs in by_year.items()},
    }


def _one_or_list(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


def first_seed(model_runs: Sequence[Run]) -> list[Run]:
    """One run per year (the first seed's), for the notebook's tables and the ranks file."""
    return list({r.year: r for r in reversed(model_runs)}.values())[::-1]


def print_uncertainty(model_runs: Sequence[Run], seeds: Sequence[int] | None) -> None:
    by_year: dict[int, list[Run]] = {}
    for r in model_runs:
        by_year.setdefault(r.year, []).append(r)
    rows = []
    for year, year_runs in by_year.items():
        ci = summaries.metric_intervals(year_runs)
        mean = summaries.mean_metrics([r.metrics for r in year_runs])
        row = {
            "year": year,
            "R@10 [95% CI]": reports.interval_text(mean["recall"]["10"], ci["recall"]["10"]),
            "MRR [95% CI]": reports.interval_text(mean["mrr"], ci["mrr"]),
            "NDCG@10 [95% CI]": reports.interval_text(mean["ndcg"]["10"], ci["ndcg"]["10"]),
        }
        if seeds and len(year_runs) > 1:
            summary = summaries.seed_summary(year_runs, seeds)
            row["seed SD R@10 / MRR"] = f"{summary['sd']['recall@10']:.4f} / {summary['sd']['mrr']:.4f}"
        rows.append(row)
    print("\nUncertainty: 95% bootstrap CI over test users" + (" (of the mean over seeds)" if seeds else ""))
    print(pd.DataFrame(rows).set_index("year").to_string())
    if seeds and not comparison.depends_on_seed(model_runs[0].model):
        print(comparison.seed_note(model_runs[0].model))


def write_ranks(model_runs: Sequence[Run], path: str) -> None:
    """The notebook's ranks file: ``user,item,ranks,norm_ranks,test_year`` (empty where unranked)."""
    frame = pd.concat([r.ranks for r in model_runs], ignore_index=True)
    columns = ["user", "item", "ranks", "norm_ranks", "test_year"]
    write_csv(frame[columns].astype({"ranks": "Int64", "norm_ranks": "Int64"}), path, "ranks")


def write_csv(frame: pd.DataFrame, path: str, what: str) -> None:
    """``frame`` as CSV at ``path``; a path that cannot be written is one sentence."""
    try:
        frame.to_csv(path, index=False)
    except OSError as error:
        raise ParameterError(f"Cannot write the {what} file {path}: {error.strerror}.") from None
