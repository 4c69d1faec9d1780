"""The command line: ``python -m explorer {evaluate,train,runs,make-demo-data} …``.

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

from explorer import reports, runs
from explorer.data import load_dataset
from explorer.errors import ExplorerError, ParameterError
from explorer.models import model_class, model_names, registry
from explorer.protocol import DEFAULT_YEARS
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


def _add_common(parser: argparse.ArgumentParser, *, many_models: bool) -> None:
    parser.add_argument(
        "--model",
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

    train = commands.add_parser("train", help="train models for the test years and fill the run cache")
    _add_common(train, many_models=True)
    train.add_argument(
        "--no-maps", action="store_true", help="do not draw the embedding maps (UMAP) the app's Embeddings page shows"
    )

    manage = commands.add_parser("runs", help="list or clear the run cache")
    manage.add_argument("action", choices=["list", "clear"])
    manage.add_argument("--model", choices=model_names(), help="clear only this model's runs")

    demo = commands.add_parser("make-demo-data", help="write the synthetic demo data set into DIR")
    demo.add_argument("dir")
    demo.add_argument("--seed", type=int, default=0)
    return parser


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


def _obtain(args: argparse.Namespace, models: Sequence[str]) -> dict[str, list[Run]]:
    dataset = load_dataset(args.data_dir)
    splits = splits_of(dataset, args.years)
    results: dict[str, list[Run]] = {}
    for model in models:
        params = _params_for(model, args, models)
        for split in splits:
            bar = _Bar(f"{model} {split.year}", not args.quiet)
            try:
                run = runs.run_for(
                    dataset, split, model, params, device=args.device, progress=bar, use_cache=not args.no_cache
                )
            finally:
                bar.close()
            results.setdefault(model, []).append(run)
    return results


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


def _as_json(model: str, model_runs: Sequence[Run]) -> dict[str, Any]:
    first = model_runs[0]
    same = all(r.params == first.params for r in model_runs)
    return {
        "model": model,
        "params": first.params if same else {str(r.year): r.params for r in model_runs},
        "params_by_year": {str(r.year): r.params for r in model_runs},
        "data": {"path": first.data["path"], "fingerprint": first.data["fingerprint"]},
        "years": {str(r.year): r.metrics for r in model_runs},
        "fit_seconds": {str(r.year): r.fit_seconds for r in model_runs},
        "eval_seconds": {str(r.year): r.eval_seconds for r in model_runs},
        "device": {str(r.year): r.device for r in model_runs},
        "from_cache": {str(r.year): r.from_cache for r in model_runs},
    }


def write_ranks(model_runs: Sequence[Run], path: str) -> None:
    """The notebook's ranks file: ``user,item,ranks,norm_ranks,test_year`` (empty where unranked)."""
    frame = pd.concat([r.ranks for r in model_runs], ignore_index=True)
    columns = ["user", "item", "ranks", "norm_ranks", "test_year"]
    out = frame[columns].astype({"ranks": "Int64", "norm_ranks": "Int64"})
    try:
        out.to_csv(path, index=False)
    except OSError as error:
        raise ParameterError(f"Cannot write the ranks file {path}: {error.strerror}.") from None


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
        elif args.command == "train":
            for model, model_runs in _obtain(args, args.model).items():
                for r in model_runs:
                    source = "cached" if r.from_cache else f"trained in {r.fit_seconds:.1f} s on {r.device}"
                    print(
                        f"{model} {r.year}: R@10 {r.metrics['recall']['10']:.4f}  MRR {r.metrics['mrr']:.4f}  "
                        f"({source})"
                    )
                    if not args.no_maps and model_class(r.model).has_embeddings:
                        _draw_map(r, args.quiet)
        else:
            model_runs = _obtain(args, [args.model])[args.model]
            if args.ranks_out:
                write_ranks(model_runs, args.ranks_out)
            if args.json:
                print(json.dumps(_as_json(args.model, model_runs)))
            else:
                _print_tables(args.model, model_runs)
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
