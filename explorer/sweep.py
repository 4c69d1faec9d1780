"""Hyperparameter sweeps by the blind validation protocol, as Ray Tune trials.

For each test year Y every grid point × seed is one trial: train on years < Y-1 and validate on Y-1
(:func:`explorer.training.splits_of` with ``[Y-1]``, then :func:`explorer.training.train_and_evaluate`).
Trials run as Ray Tune trials (fractional CPUs, and GPUs where the cluster has some, so several share
a machine); their results travel back to the driver, which picks the best grid point per year by the
mean validation metric over seeds and, when asked, trains it on the real split (train < Y, test Y)
into the run cache (:func:`explorer.runs.run_for`): workers may be other machines and never write it.

A trial that fails (e.g. :class:`~explorer.errors.ModelFitError` for a NaN loss) is reported with its
error and the sweep goes on. Ray is imported and started only here, only while a sweep runs: without
an address it starts on this machine and is shut down at the end; with one (``address`` or
``RAY_ADDRESS``) it joins that cluster and disconnects at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from explorer import runs
from explorer.data import Dataset
from explorer.errors import ExplorerError, ParameterError
from explorer.models import model_class
from explorer.protocol import check_years
from explorer.training import interactions_of, splits_of, train_and_evaluate

ENGINE = "ray"
METRICS_HELP = "mrr, or recall@K / ndcg@K / hit_rate@K with a K the evaluation reports (e.g. recall@10)"

SweepProgress = Callable[[int, int], None]
"""Called as ``progress(trials_done, trials_total)`` on the driver."""


@dataclass
class Trial:
    """One grid point × seed on one validation split."""

    year: int  # the test year it chooses for (validated on year - 1)
    params: dict[str, Any]  # the swept hyperparameters (the rest are the model's defaults for ``year``)
    seed: int | None
    value: float | None = None
    status: str = "ok"  # ok | failed
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key != "year"}


@dataclass
class YearSweep:
    """The trials of one test year, the best grid point, and (when trained) its test run."""

    year: int
    trials: list[Trial]
    best: dict[str, Any] | None = None  # {"params": …, "value": mean over seeds}
    test: dict[str, Any] | None = None  # {"key": …, "recall": {"10": …}, "mrr": …}

    @property
    def validated_on(self) -> int:
        return self.year - 1

    def as_json(self) -> dict[str, Any]:
        return {
            "validated_on": self.validated_on,
            "trials": [trial.as_json() for trial in self.trials],
            "best": self.best,
            "test": self.test,
        }


@dataclass
class SweepResult:
    """Everything a sweep found; :meth:`as_json` is what ``python -m explorer sweep --json`` prints."""

    model: str
    metric: str
    engine_version: str
    years: dict[int, YearSweep] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "engine": ENGINE,
            "engine_version": self.engine_version,
            "metric": self.metric,
            "years": {str(year): part.as_json() for year, part in self.years.items()},
        }

    def trials(self) -> list[Trial]:
        return [trial for part in self.years.values() for trial in part.trials]

    def swept(self) -> list[str]:
        """Names of the swept hyperparameters, in grid order."""
        return list(dict.fromkeys(name for trial in self.trials() for name in trial.params))

    def table(self) -> Any:
        """One row per trial: year, validated_on, the swept hyperparameters, seed, value, status, error."""
        import pandas as pd

        rows = [
            {
                "year": trial.year,
                "validated_on": trial.year - 1,
                **trial.params,
                "seed": trial.seed,
                self.metric: trial.value,
                "status": trial.status,
                "error": trial.error,
            }
            for trial in self.trials()
        ]
        columns = ["year", "validated_on", *self.swept(), "seed", self.metric, "status", "error"]
        return pd.DataFrame(rows, columns=columns)


def parse_grid(model: str, items: Sequence[str]) -> dict[str, list[int | float]]:
    """``["lr=0.01,0.03", "epochs=50,100"]`` → validated values per hyperparameter of ``model``.

    Raises:
        ParameterError: a malformed item, an unknown name, a repeated name, or a value out of bounds.
    """
    cls = model_class(model)
    grid: dict[str, list[int | float]] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name or not text.strip():
            raise ParameterError(f"A grid item must look like NAME=V1,V2 (e.g. lr=0.01,0.03), got {item!r}.")
        if name not in cls.PARAMS:
            raise ParameterError(
                f"{model} has no hyperparameter {name}; its hyperparameters are {', '.join(cls.PARAMS) or 'none'}."
            )
        if name == "seed":
            raise ParameterError("Give seeds with --seeds, not in the grid.")
        if name in grid:
            raise ParameterError(f"{name} appears twice in the grid; give all its values once, e.g. {name}=1,2.")
        values = [cls.PARAMS[name].check(name, value.strip()) for value in text.split(",")]
        grid[name] = list(dict.fromkeys(values))
    return grid


def grid_points(grid: dict[str, list[int | float]]) -> list[dict[str, int | float]]:
    """Every combination of the grid's values (one empty point for an empty grid)."""
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def metric_of(metrics: dict[str, Any], name: str) -> float:
    """The value of ``name`` (``mrr``, ``recall@10``, …) in a run's metrics dictionary."""
    if name == "mrr":
        return float(metrics["mrr"])
    family, _, k = name.partition("@")
    return float(metrics[family][k])


def check_metric(name: str) -> str:
    """``name`` if the evaluation reports it (checked on a sample of its keys), else a ParameterError."""
    from explorer.evaluation import NDCG_KS, RECALL_KS

    known = {"mrr"} | {f"{family}@{k}" for family in ("recall", "hit_rate") for k in RECALL_KS}
    known |= {f"ndcg@{k}" for k in NDCG_KS}
    if name not in known:
        raise ParameterError(f"There is no metric {name!r}; choose {METRICS_HELP}.")
    return name


def check_seeds(model: str, seeds: Sequence[int] | None) -> list[int | None]:
    """The seeds to run: validated ones, ``[default]``, or ``[None]`` for a model without a seed."""
    cls = model_class(model)
    if "seed" not in cls.PARAMS:
        if seeds and len(set(seeds)) > 1:
            raise ParameterError(f"{model} has no seed (it is deterministic); leave --seeds out.")
        return [None]
    if not seeds:
        return [cls.PARAMS["seed"].default]
    return list(dict.fromkeys(cls.PARAMS["seed"].check("seed", seed) for seed in seeds))


def check_sweep_years(dataset: Dataset, years: Sequence[int]) -> list[int]:
    """Test years whose validation year (Y-1) is a usable test year of the data set too."""
    table = interactions_of(dataset)
    chosen = check_years(years, table)
    for year in chosen:
        try:
            check_years([year - 1], table)
        except ParameterError:
            raise ParameterError(
                f"{year} cannot be swept: its validation year {year - 1} has no earlier train rows; "
                "choose a later test year."
            ) from None
    return chosen


@dataclass(frozen=True)
class _Plan:
    """A checked sweep request: what each trial trains (complete hyperparameters)."""

    model: str
    years: list[int]
    points: list[dict[str, int | float]]
    seeds: list[int | None]
    metric: str

    def trials(self) -> list[dict[str, Any]]:
        cls = model_class(self.model)
        specs = []
        for year, point, seed in itertools.product(self.years, self.points, self.seeds):
            full = cls.params_for(year, {**point, **({} if seed is None else {"seed": seed})})
            specs.append({"year": year, "point": point, "seed": seed, "params": full})
        return specs


def plan(
    dataset: Dataset,
    model: str,
    years: Sequence[int],
    grid: dict[str, list[int | float]] | Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    metric: str = "mrr",
) -> _Plan:
    """Validate a sweep request before anything starts (one-sentence ParameterError on any problem)."""
    model_class(model)
    if isinstance(grid, dict):
        grid = [f"{name}={','.join(str(value) for value in values)}" for name, values in grid.items()]
    points = grid_points(parse_grid(model, grid or []))
    return _Plan(model, check_sweep_years(dataset, years), points, check_seeds(model, seeds), check_metric(metric))


def _trial(config: dict[str, Any], dataset: Dataset, model: str, metric: str, cpus: float) -> dict[str, Any]:
    """One Ray Tune trial: train on years < Y-1, validate on Y-1; returns the metric (never writes the cache)."""
    import torch

    torch.set_num_threads(max(1, int(cpus)))
    spec = config["trial"]
    (split,) = splits_of(dataset, [spec["year"] - 1])
    try:
        run = train_and_evaluate(dataset, split, model, spec["params"])
    except ExplorerError as error:  # a user-level failure (e.g. a NaN loss): reported, the sweep goes on
        return {"value": float("nan"), "failed": True, "error": str(error)}
    return {"value": metric_of(run.metrics, metric), "failed": False, "error": ""}


def _one_line(error: BaseException) -> str:
    """The last meaningful line of a (Ray-wrapped) exception: ``Type: message``."""
    cause = getattr(error, "cause", None) or error
    text = f"{type(cause).__name__}: {cause}".strip()
    return text.splitlines()[-1] if "\n" in text else text


def run_sweep(
    dataset: Dataset,
    request: _Plan,
    *,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float | None = None,
    progress: SweepProgress | None = None,
    train_best: bool = True,
    device: str | None = None,
    use_cache: bool = True,
) -> SweepResult:
    """Run a checked sweep on Ray Tune; the driver picks the best per year and (if asked) trains it on Y.

    Args:
        address: A Ray cluster to join (default: ``RAY_ADDRESS``, else a Ray started on this machine).
        cpus_per_trial: CPUs each trial reserves (fractions let trials share a core).
        gpus_per_trial: GPUs each trial reserves (default: 0.5 where the cluster has a GPU, else 0).
        progress: ``progress(done, total)`` as trials finish.
        train_best: Train each year's best setting on its real split into the run cache.
        device: Device of the test runs the driver trains.
    """
    import ray
    from ray import tune

    specs = request.trials()
    address = address or os.environ.get("RAY_ADDRESS") or None
    started_here = not ray.is_initialized()
    storage = tempfile.mkdtemp(prefix="explorer-sweep-")
    if progress is not None:
        progress(0, len(specs))
    try:
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        if gpus_per_trial is None:
            gpus_per_trial = 0.5 if ray.cluster_resources().get("GPU", 0) else 0.0

        class Progress(tune.Callback):
            def __init__(self) -> None:
                self.done = 0

            def _tick(self) -> None:
                self.done += 1
                if progress is not None:
                    progress(self.done, len(specs))

            def on_trial_complete(self, iteration, trials, trial, **info) -> None:  # noqa: ARG002 - Tune's signature
                self._tick()

            def on_trial_error(self, iteration, trials, trial, **info) -> None:  # noqa: ARG002 - Tune's signature
                self._tick()

        trainable = tune.with_parameters(
            _trial, dataset=dataset, model=request.model, metric=request.metric, cpus=cpus_per_trial
        )
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
            param_space={"trial": tune.grid_search(specs)},
            tune_config=tune.TuneConfig(metric="value", mode="max"),
            run_config=tune.RunConfig(
                name="explorer-sweep",
                storage_path=storage,
                verbose=0,
                callbacks=[Progress()],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        with contextlib.redirect_stdout(sys.stderr):  # Tune prints tables: stdout stays for --json
            grid = tuner.fit()
        trials = [_trial_of(result) for result in grid]
    finally:
        if started_here:
            ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)

    result = SweepResult(request.model, request.metric, ray.__version__)
    order = {(spec["year"], tuple(spec["point"].items()), spec["seed"]): n for n, spec in enumerate(specs)}
    trials.sort(key=lambda t: order.get((t.year, tuple(t.params.items()), t.seed), len(order)))
    for year in request.years:
        part = YearSweep(year, [trial for trial in trials if trial.year == year])
        part.best = best_of(part.trials)
        result.years[year] = part
    if train_best:
        for part in result.years.values():
            if part.best is not None:
                part.test = train_best_setting(dataset, request, part, device=device, use_cache=use_cache)
    return result


def _trial_of(result: Any) -> Trial:
    """A :class:`Trial` from one Ray Tune result (its config carries the trial's spec)."""
    spec = result.config["trial"]
    trial = Trial(year=spec["year"], params=dict(spec["point"]), seed=spec["seed"])
    metrics = result.metrics or {}
    if result.error is not None:
        trial.status, trial.error = "failed", _one_line(result.error)
    elif metrics.get("failed"):
        trial.status, trial.error = "failed", metrics.get("error", "")
    else:
        trial.value = float(metrics["value"])
    return trial


def best_of(trials: Sequence[Trial]) -> dict[str, Any] | None:
    """The grid point with the highest mean value over its successful seeds (None if every trial failed)."""
    values: dict[tuple, list[float]] = {}
    for trial in trials:
        if trial.status == "ok" and trial.value is not None:
            values.setdefault(tuple(trial.params.items()), []).append(trial.value)
    if not values:
        return None
    point, scores = max(values.items(), key=lambda item: statistics.fmean(item[1]))
    return {"params": dict(point), "value": statistics.fmean(scores)}


def train_best_setting(
    dataset: Dataset, request: _Plan, part: YearSweep, *, device: str | None = None, use_cache: bool = True
) -> dict[str, Any]:
    """Train the year's best grid point (first seed) on the real split into the run cache; its key and metrics."""
    (split,) = splits_of(dataset, [part.year])
    seed = request.seeds[0]
    params = {**part.best["params"], **({} if seed is None else {"seed": seed})}
    run = runs.run_for(dataset, split, request.model, params, device=device, use_cache=use_cache)
    return {
        "key": runs.run_key(run.model, run.params, run.year, run.data["fingerprint"]),
        "recall": {"10": run.metrics["recall"]["10"]},
        "mrr": run.metrics["mrr"],
    }


def add_arguments(parser: Any) -> None:
    """The ``sweep`` subcommand's flags (``python -m explorer sweep --help``)."""
    from explorer.protocol import DEFAULT_YEARS

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
        "--seeds", nargs="+", type=int, metavar="SEED", help="seeds per grid point (default: the model's)"
    )
    parser.add_argument("--metric", default="mrr", help=f"validation metric to maximise: {METRICS_HELP}")
    parser.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS, else Ray on this machine)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs each trial reserves (default 1)")
    parser.add_argument(
        "--gpus-per-trial", type=float, help="GPUs each trial reserves (default 0.5 if the cluster has one)"
    )
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="device of the test runs (default: cuda if available)"
    )
    parser.add_argument("--no-cache", action="store_true", help="retrain the best settings' test runs even when cached")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def run_from_args(args: Any, progress: SweepProgress | None = None) -> SweepResult:
    """The CLI's sweep: validate everything, then run (raises ParameterError before Ray starts)."""
    from explorer.data import load_dataset

    if args.cpus_per_trial <= 0 or (args.gpus_per_trial is not None and args.gpus_per_trial < 0):
        raise ParameterError("--cpus-per-trial must be above 0 and --gpus-per-trial at least 0.")
    dataset = load_dataset(args.data_dir)
    request = plan(dataset, args.model, args.years, args.grid, args.seeds, args.metric)
    return run_sweep(
        dataset,
        request,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        progress=progress,
        device=args.device,
        use_cache=not args.no_cache,
    )


def describe(result: SweepResult) -> str:
    """A plain-text report: per year, the trials (best first) and the test run of the best setting."""
    import pandas as pd

    lines = [f"== sweep of {result.model} on Ray {result.engine_version}, validation {result.metric}"]
    for year, part in result.years.items():
        lines.append(f"\ntest year {year}: trained on years < {part.validated_on}, validated on {part.validated_on}")
        rows = [
            {
                **trial.params,
                "seed": trial.seed,
                result.metric: trial.value,
                "status": trial.status,
                "error": trial.error,
            }
            for trial in part.trials
        ]
        table = pd.DataFrame(rows).sort_values(result.metric, ascending=False, na_position="last")
        lines.append(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        if part.best is None:
            lines.append("every trial failed: nothing to train on the test year")
            continue
        setting = ", ".join(f"{k}={v}" for k, v in part.best["params"].items()) or "the defaults"
        lines.append(f"best: {setting} ({result.metric} {part.best['value']:.4f} on {part.validated_on})")
        if part.test is not None:
            lines.append(
                f"test {year}: R@10 {part.test['recall']['10']:.4f}  MRR {part.test['mrr']:.4f}  "
                f"(run {part.test['key']} in the cache)"
            )
    return "\n".join(lines)
