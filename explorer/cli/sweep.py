"""``sweep``: choose hyperparameters by validation (train < Y-1, validate Y-1) as Ray Tune trials."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from explorer import sweep
from explorer.cli.common import Bar
from explorer.errors import ParameterError
from explorer.protocol import DEFAULT_YEARS


def add_parser(commands: Any) -> None:
    """The ``sweep`` subcommand and its flags (``python -m explorer sweep --help``)."""
    parser = commands.add_parser("sweep", help="choose hyperparameters by validation, as Ray Tune trials")
    parser.add_argument("--model", required=True, metavar="MODEL", help="a registered model")
    parser.add_argument("--years", nargs="+", type=int, default=list(DEFAULT_YEARS), metavar="YEAR", help="test years")
    parser.add_argument(
        "--grid",
        nargs="+",
        default=[],
        metavar="NAME=V1,V2",
        help="values to try per hyperparameter (all combinations)",
    )
    parser.add_argument(
        "--lines",
        action="store_true",
        help="try the grid one hyperparameter at a time, the others at each year's tuned values "
        "(coordinate-wise: the sum of the value counts instead of their product)",
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, metavar="SEED", help="seeds per grid point (default: the model's)"
    )
    parser.add_argument("--metric", default="mrr", help=f"validation metric to maximise: {sweep.METRICS_HELP}")
    parser.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS, else Ray on this machine)")
    parser.add_argument(
        "--auth-token-file",
        metavar="FILE",
        help="the cluster's token (default: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token if present)",
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs each trial reserves (default 1)")
    parser.add_argument(
        "--gpus-per-trial", type=float, help="GPUs each trial reserves (default 0.5 if the cluster has one)"
    )
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="device of the test runs (default: cuda if available)"
    )
    parser.add_argument("--no-cache", action="store_true", help="retrain the best settings' test runs even when cached")
    parser.add_argument(
        "--record",
        action="store_true",
        help="add this sweep to the model's tuning record (explorer/models/tuned/MODEL.json, which its TUNED "
        "reads) and re-choose; validation only: no test-year run",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def run_from_args(args: Any, progress: sweep.SweepProgress | None = None) -> sweep.SweepResult:
    """The CLI's sweep: validate everything, then run (raises ParameterError before Ray starts)."""
    from explorer.data import load_dataset

    if args.cpus_per_trial <= 0 or (args.gpus_per_trial is not None and args.gpus_per_trial < 0):
        raise ParameterError("--cpus-per-trial must be above 0 and --gpus-per-trial at least 0.")
    dataset = load_dataset(args.data_dir)
    lines = getattr(args, "lines", False)
    request = sweep.plan(dataset, args.model, args.years, args.grid, args.seeds, args.metric, lines=lines)
    record = getattr(args, "record", False)
    if record:
        sweep.check_record(request, dataset.fingerprint)
    result = sweep.run_sweep(
        dataset,
        request,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        progress=progress,
        train_best=not record,
        device=args.device,
        use_cache=not args.no_cache,
        auth_token_file=args.auth_token_file,
    )
    if record:
        path = sweep.record_sweep(result, request, sweep.command_line(args, request.years))
        logging.getLogger(__name__).info("recorded in %s", path)
    return result


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    bar = Bar(f"sweep {args.model}", not args.quiet, unit="trial")

    def progress(done: int, total: int, phase: str = "trials", elapsed: float = 0.0) -> None:
        bar(done, total)
        if bar.bar is not None:
            bar.bar.set_description(f"sweep {args.model}: {phase}" + ("…" if phase == "starting Ray" else ""))
            bar.bar.set_postfix_str(f"{elapsed:.0f} s")

    try:
        result = run_from_args(args, progress=progress)
    finally:
        bar.close()
    print(json.dumps(result.as_json()) if args.json else sweep.describe(result))
