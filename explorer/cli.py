"""The command line: ``python -m explorer {evaluate,compare,train,sweep,runs,make-demo-data} …``.

Errors a user can cause print one sentence on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from explorer import comparison, reports, runs, stats
from explorer.cohorts import COHORT_METRICS, assign, cohort_metrics
from explorer.data import Dataset, load_dataset
from explorer.errors import ExplorerError, ParameterError
from explorer.models import model_class, model_names, registry
from explorer.protocol import DEFAULT_YEARS, Split
from explorer.training import Run, splits_of


def _param_flags() -> dict[str, tuple[type, str]]:
    """Every hyperparameter of every model → (type, help), for the ``--name`` flags."""
    flags: dict[str, tuple[type, str]] = {}
    for cls in registry().values():
        for name, spec in cls.PARAMS.items():
            prior = flags.get(name)
            models = f"{prior[1].split(' [')[0]} " if prior else ""
            owners = (prior[1].split("[")[1].rstrip("]") + ", " if prior else "") + cls.name
            flags[name] = (spec.kind, f"{models or spec.help} [{owners}]")
    return flags


def _add_common(parser: argparse.ArgumentParser, *, many_models: bool, flag: str = "--model") -> None:
    parser.add_argument(
        flag,
        dest="model",
        nargs="+" if many_models else None,
        required=True,
        choices=model_names(),
        metavar="MODEL",
        help=f"model{'s' if many_models else ''} to use: {', '.join(model_names())}",
    )
    parser.add_argument(
        "--years",
        nargs="+",
        type=int,
        default=list(DEFAULT_YEARS),
        metavar="YEAR",
        help="test years (default: 2008 2009 2010)",
    )
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="device for torch models (default: cuda if available)"
    )
    parser.add_argument("--no-cache", action="store_true", help="retrain even when a cached run exists")
    group = parser.add_argument_group("hyperparameters (each applies to the models that have it)")
    for name, (kind, text) in _param_flags().items():
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"param_{name}", type=kind, help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Last.fm Recommender Explorer")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or 'using data at' lines")
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("evaluate", help="print a model's notebook-style tables per test year")
    _add_common(evaluate, many_models=False)
    evaluate.add_argument("--ranks-out", metavar="FILE.csv", help="write user,item,ranks,norm_ranks,test_year")
    evaluate.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    _add_seeds(evaluate)

    compare = commands.add_parser(
        "compare", help="compare models per test year: values with CIs, paired tests with Holm, verdicts"
    )
    _add_common(compare, many_models=True, flag="--models")
    compare.add_argument(
        "--metrics",
        nargs="+",
        default=["recall@10", "mrr"],
        metavar="METRIC",
        help="recall@K, mrr, ndcg@K, hit_rate@K (default: recall@10 mrr)",
    )
    compare.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    compare.add_argument(
        "--resamples", type=int, default=stats.RESAMPLES, help="bootstrap and permutation resamples (default: 10000)"
    )
    compare.add_argument(
        "--confidence", type=float, default=stats.CONFIDENCE, help="confidence level of the intervals (default 0.95)"
    )
    compare.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the resampling (default 0)")
    _add_seeds(compare)

    train = commands.add_parser("train", help="train models for the test years and fill the run cache")
    _add_common(train, many_models=True)
    train.add_argument(
        "--no-maps", action="store_true", help="do not draw the embedding maps (UMAP) the app's Embeddings page shows"
    )
    _add_seeds(train)

    manage = commands.add_parser("runs", help="list or clear the run cache")
    manage.add_argument("action", choices=["list", "clear"])
    manage.add_argument("--model", choices=model_names(), help="clear only this model's runs")

    from explorer import sweep  # imports no Ray: Ray starts only when a sweep runs

    sweep.add_arguments(commands.add_parser("sweep", help="choose hyperparameters by validation, as Ray Tune trials"))

    demo = commands.add_parser("make-demo-data", help="write the synthetic demo data set into DIR")
    demo.add_argument("dir")
    demo.add_argument("--seed", type=int, default=0)
    return parser


def _add_seeds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="SEED",
        help="train (or read) one run per seed and report the mean, the seed SD and the user-bootstrap CI",
    )


def _params_for(model: str, args: argparse.Namespace, models: Sequence[str]) -> dict[str, Any]:
    given = {
        key[len("param_") :]: value
        for key, value in vars(args).items()
        if key.startswith("param_") and value is not None
    }
    for name in given:
        if not any(name in registry()[m].PARAMS for m in models):
            raise ParameterError(f"--{name.replace('_', '-')} is not a hyperparameter of {', '.join(models)}.")
    return {name: value for name, value in given.items() if name in registry()[model].PARAMS}


class _Bar:
    """A tqdm progress bar per (model, year), fed by the models' progress callback."""

    def __init__(self, label: str, enabled: bool, unit: str = "epoch") -> None:
        self.label, self.enabled, self.unit, self.bar = label, enabled, unit, None

    def __call__(self, step: int, total: int, **metrics: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit=self.unit, leave=False, file=sys.stderr)
        self.bar.update(step - self.bar.n)
        if metrics:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _seed_list(args: argparse.Namespace, model: str) -> list[int | None]:
    """The seeds to train ``model`` with: ``--seeds`` where the model has a seed, else one run."""
    seeds = getattr(args, "seeds", None)
    if not seeds:
        return [None]
    if getattr(args, "param_seed", None) is not None:
        raise ParameterError("Give either --seed or --seeds, not both.")
    if len(set(seeds)) != len(seeds):
        raise ParameterError("--seeds lists a seed twice; give each seed once.")
    return list(seeds) if comparison.depends_on_seed(model) else [None]


def _obtain(
    args: argparse.Namespace, models: Sequence[str], loaded: tuple[Dataset, list[Split]] | None = None
) -> dict[str, list[Run]]:
    """The runs of ``models`` for ``args.years`` (one per seed where ``--seeds`` is given), year by year."""
    dataset, splits = loaded or _load(args)
    results: dict[str, list[Run]] = {}
    for model in models:
        params = _params_for(model, args, models)
        seeds = _seed_list(args, model)
        for split in splits:
            for seed in seeds:
                label = f"{model} {split.year}" + (f" seed {seed}" if seed is not None else "")
                chosen = params if seed is None else {**params, "seed": seed}
                bar = _Bar(label, not args.quiet)
                try:
                    run = runs.run_for(
                        dataset, split, model, chosen, device=args.device, progress=bar, use_cache=not args.no_cache
                    )
                finally:
                    bar.close()
                results.setdefault(model, []).append(run)
    return results


def _load(args: argparse.Namespace) -> tuple[Dataset, list[Split]]:
    dataset = load_dataset(args.data_dir)
    return dataset, splits_of(dataset, args.years)


def _draw_map(run: Run, quiet: bool) -> None:
    """Compute (or find) the run's default embedding map, so the app shows it at once."""
    from explorer import projection

    key = runs.run_key(run.model, run.params, run.year, run.data["fingerprint"])
    if projection.cached_projection(key) is not None:
        return
    bar = _Bar(f"{run.model} {run.year} map", not quiet, unit="step")
    try:
        projection.projection_for(key, progress=bar)
    finally:
        bar.close()


def _print_tables(model: str, model_runs: Sequence[Run]) -> None:
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


def _as_json(
    model: str, model_runs: Sequence[Run], splits: Sequence[Split], dataset: Dataset, seeds: Sequence[int] | None
) -> dict[str, Any]:
    """The evaluate JSON: per year the metrics (mean over seeds), ``ci``, ``cohorts``, ``beyond``, ``seeds``."""
    by_year = {split.year: [r for r in model_runs if r.year == split.year] for split in splits}
    first = model_runs[0]
    same = all(r.params == first.params for r in model_runs)
    years: dict[str, Any] = {}
    for split in splits:
        year_runs = by_year[split.year]
        metrics = comparison.mean_metrics([r.metrics for r in year_runs])
        metrics["ci"] = comparison.metric_intervals(year_runs)
        _, num, _ = comparison.pooled_contributions(year_runs, COHORT_METRICS)
        metrics["cohorts"] = cohort_metrics(year_runs[0].ranks, assign(split, dataset.friends), num=num)
        if seeds:
            metrics["seeds"] = comparison.seed_summary(year_runs, seeds)
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


def _first_seed(model_runs: Sequence[Run]) -> list[Run]:
    """One run per year (the first seed's), for the notebook's tables and the ranks file."""
    return list({r.year: r for r in reversed(model_runs)}.values())[::-1]


def _print_uncertainty(model_runs: Sequence[Run], seeds: Sequence[int] | None) -> None:
    by_year: dict[int, list[Run]] = {}
    for r in model_runs:
        by_year.setdefault(r.year, []).append(r)
    rows = []
    for year, year_runs in by_year.items():
        ci = comparison.metric_intervals(year_runs)
        mean = comparison.mean_metrics([r.metrics for r in year_runs])
        row = {
            "year": year,
            "R@10 [95% CI]": reports.interval_text(mean["recall"]["10"], ci["recall"]["10"]),
            "MRR [95% CI]": reports.interval_text(mean["mrr"], ci["mrr"]),
            "NDCG@10 [95% CI]": reports.interval_text(mean["ndcg"]["10"], ci["ndcg"]["10"]),
        }
        if seeds and len(year_runs) > 1:
            summary = comparison.seed_summary(year_runs, seeds)
            row["seed SD R@10 / MRR"] = f"{summary['sd']['recall@10']:.4f} / {summary['sd']['mrr']:.4f}"
        rows.append(row)
    print("\nUncertainty: 95% bootstrap CI over test users" + (" (of the mean over seeds)" if seeds else ""))
    print(pd.DataFrame(rows).set_index("year").to_string())
    if seeds and not comparison.depends_on_seed(model_runs[0].model):
        print(comparison.seed_note(model_runs[0].model))


def _print_comparison(result: dict[str, Any]) -> None:
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


def write_ranks(model_runs: Sequence[Run], path: str) -> None:
    """The notebook's ranks file: ``user,item,ranks,norm_ranks,test_year`` (empty where unranked)."""
    frame = pd.concat([r.ranks for r in model_runs], ignore_index=True)
    columns = ["user", "item", "ranks", "norm_ranks", "test_year"]
    out = frame[columns].astype({"ranks": "Int64", "norm_ranks": "Int64"})
    try:
        out.to_csv(path, index=False)
    except OSError as error:
        raise ParameterError(f"Cannot write the ranks file {path}: {error.strerror}.") from None


def _compare(args: argparse.Namespace, started: float) -> None:
    metrics = comparison.check_metrics(args.metrics)  # a bad name fails before any data is read
    if len(dict.fromkeys(args.model)) < 2:
        raise ParameterError("Comparing needs at least two different models; name two or more after --models.")
    if args.resamples < 100:
        raise ParameterError(f"--resamples must be at least 100, got {args.resamples}.")
    if not 0.5 <= args.confidence < 1:
        raise ParameterError(f"--confidence must be between 0.5 and 1 (e.g. 0.95), got {args.confidence}.")
    models = list(dict.fromkeys(args.model))
    found = _obtain(args, models)
    result = comparison.compare(
        found, metrics, confidence=args.confidence, resamples=args.resamples, seed=args.bootstrap_seed
    )
    if args.seeds:
        result["notes"] = [comparison.seed_note(m) for m in models if not comparison.depends_on_seed(m)]
    if args.json:
        print(json.dumps(result))
        return
    _print_comparison(result)
    for note in result.get("notes", []):
        print(f"Note: {note}")
    print(f"\n{time.perf_counter() - started:.1f} s in all")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    try:
        if args.command == "make-demo-data":
            from explorer.synthetic import write_synthetic_dataset

            print(f"wrote synthetic demo data to {write_synthetic_dataset(args.dir, seed=args.seed)}")
        elif args.command == "runs":
            if args.action == "list":
                listing = runs.table()
                print(listing.to_string(index=False) if len(listing) else f"no cached runs in {runs.cache_dir()}")
            else:
                print(f"deleted {runs.clear(model=args.model)} cached runs from {runs.cache_dir()}")
        elif args.command == "sweep":
            from explorer import sweep

            bar = _Bar(f"sweep {args.model}", not args.quiet, unit="trial")
            try:
                result = sweep.run_from_args(args, progress=lambda done, total: bar(done, total))
            finally:
                bar.close()
            print(json.dumps(result.as_json()) if args.json else sweep.describe(result))
        elif args.command == "train":
            for model, model_runs in _obtain(args, args.model).items():
                for r in model_runs:
                    source = "cached" if r.from_cache else f"trained in {r.fit_seconds:.1f} s on {r.device}"
                    seed = f" seed {r.params['seed']}" if args.seeds and "seed" in r.params else ""
                    print(
                        f"{model} {r.year}{seed}: R@10 {r.metrics['recall']['10']:.4f}  MRR {r.metrics['mrr']:.4f}  "
                        f"({source})"
                    )
                    if not args.no_maps and model_class(r.model).has_embeddings:
                        _draw_map(r, args.quiet)
        elif args.command == "compare":
            _compare(args, started)
        else:
            dataset, splits = _load(args)
            model_runs = _obtain(args, [args.model], (dataset, splits))[args.model]
            if args.ranks_out:
                write_ranks(_first_seed(model_runs), args.ranks_out)
            if args.json:
                print(json.dumps(_as_json(args.model, model_runs, splits, dataset, args.seeds)))
            else:
                _print_tables(args.model, _first_seed(model_runs))
                _print_uncertainty(model_runs, args.seeds)
                print(f"\n{time.perf_counter() - started:.1f} s in all")
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `… | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0
