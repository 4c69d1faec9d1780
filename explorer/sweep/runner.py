"""Run a checked sweep as Ray Tune trials; the driver picks the best per year and may train it on Y."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from explorer import runs
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.sweep import cluster
from explorer.sweep.grid import Plan, metric_of
from explorer.sweep.report import SweepResult, Trial, YearSweep, best_of
from explorer.training import splits_of, train_and_evaluate

SweepProgress = Callable[[int, int], None]
"""Called as ``progress(trials_done, trials_total)`` on the driver."""


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
    request: Plan,
    *,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float | None = None,
    progress: SweepProgress | None = None,
    train_best: bool = True,
    device: str | None = None,
    use_cache: bool = True,
    auth_token_file: str | None = None,
) -> SweepResult:
    """Run a checked sweep on Ray Tune; the driver picks the best per year and (if asked) trains it on Y.

    Args:
        address: A Ray cluster to join (default: ``RAY_ADDRESS``, else a Ray started on this machine).
        cpus_per_trial: CPUs each trial reserves (fractions let trials share a core).
        gpus_per_trial: GPUs each trial reserves (default: 0.5 where the cluster has a GPU, else 0).
        progress: ``progress(done, total)`` as trials finish.
        train_best: Train each year's best setting on its real split into the run cache.
        device: Device of the test runs the driver trains.
        auth_token_file: The cluster's token (see :mod:`explorer.sweep.cluster`; default: found as Ray finds it).
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
            cluster.join(address, auth_token_file=auth_token_file)  # one sentence if it cannot; ships plugins
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
            cluster.on_node(_trial), dataset=dataset, model=request.model, metric=request.metric, cpus=cpus_per_trial
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
    trial.node = metrics.get("node", "")
    if result.error is not None:
        trial.status, trial.error = "failed", _one_line(result.error)
    elif metrics.get("failed"):
        trial.status, trial.error = "failed", metrics.get("error", "")
    else:
        trial.value = float(metrics["value"])
    return trial


def train_best_setting(
    dataset: Dataset, request: Plan, part: YearSweep, *, device: str | None = None, use_cache: bool = True
) -> dict[str, Any]:
    """Train the year's best grid point (first seed) on the real split into the run cache; its key and metrics."""
    (split,) = splits_of(dataset, [part.year])
    seed = request.seeds[0]
    params = {**part.best["params"], **({} if seed is None else {"seed": seed})}
    run = runs.run_for(dataset, split, request.model, params, device=device, use_cache=use_cache)
    return {
        "key": run.key,
        "recall": {"10": run.metrics["recall"]["10"]},
        "mrr": run.metrics["mrr"],
    }
