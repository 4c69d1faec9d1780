"""Run a checked sweep as Ray Tune trials; the driver picks the best per year and may train it on Y."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from explorer import runs
from explorer.data import Dataset
from explorer.models import model_class
from explorer.sweep import cluster
from explorer.sweep.grid import Plan, seed_params
from explorer.sweep.progress import Phases
from explorer.sweep.report import SweepResult, YearSweep, best_of
from explorer.sweep.trials import group_trials, run_trial, trials_of
from explorer.training import splits_of

SweepProgress = Callable[..., None]
"""Called on the driver as ``progress(done, total)``, or, when it accepts them, as ``progress(done, total,
phase=…, elapsed=…)``: ``phase`` is ``"starting Ray"`` (ticks with the seconds elapsed until the first
trial starts), ``"trials"`` (trials done of total), ``"training best"`` (test runs done of total) or
``"done"``; ``elapsed`` is seconds since the sweep started."""


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
    store: bool = True,
) -> SweepResult:
    """Run a checked sweep on Ray Tune; the driver picks the best per year and (if asked) trains it on Y.

    Args:
        address: A Ray cluster to join (default: ``RAY_ADDRESS``, else a Ray started on this machine).
        cpus_per_trial: CPUs each trial reserves (fractions let trials share a core).
        gpus_per_trial: GPUs each trial reserves (default: 0.5 where the cluster has a GPU, else 0).
        progress: See :data:`SweepProgress`.
        train_best: Train each year's best setting on its real split into the run cache.
        device: Device of the test runs the driver trains.
        auth_token_file: The cluster's token (see :mod:`explorer.sweep.cluster`; default: found as Ray finds it).
        store: Keep the finished sweep in the run cache's sweep history (:mod:`explorer.sweep.store`).
    """
    import ray
    from ray import tune

    specs = request.trials()
    groups = group_trials(specs, request.model)
    address = address or os.environ.get("RAY_ADDRESS") or None
    started_here = not ray.is_initialized()
    storage = tempfile.mkdtemp(prefix="explorer-sweep-")
    phases = Phases(progress, len(specs))
    phases.start("starting Ray")
    try:
        if started_here:
            cluster.join(address, auth_token_file=auth_token_file)  # one sentence if it cannot; ships plugins
        if gpus_per_trial is None:
            gpus_per_trial = 0.5 if ray.cluster_resources().get("GPU", 0) else 0.0

        class Progress(tune.Callback):
            def on_trial_start(self, iteration, trials, trial, **info) -> None:  # noqa: ARG002 - Tune's signature
                phases.first_trial_started()

            def on_trial_complete(self, iteration, trials, trial, **info) -> None:  # noqa: ARG002 - Tune's signature
                phases.trials_done(len(trial.config["trial"]["points"]))

            def on_trial_error(self, iteration, trials, trial, **info) -> None:  # noqa: ARG002 - Tune's signature
                phases.trials_done(len(trial.config["trial"]["points"]))

        trainable = tune.with_parameters(
            cluster.on_node(run_trial), dataset=dataset, model=request.model, metric=request.metric, cpus=cpus_per_trial
        )
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
            param_space={"trial": tune.grid_search(groups)},
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
        trials = [trial for result in grid for trial in trials_of(result)]
    finally:
        phases.stop()
        if started_here:
            ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)

    result = SweepResult(request.model, request.metric, ray.__version__, fingerprint=dataset.fingerprint)
    order = {(spec["year"], tuple(spec["point"].items()), spec["seed"]): n for n, spec in enumerate(specs)}
    trials.sort(key=lambda t: order.get((t.year, tuple(t.params.items()), t.seed), len(order)))
    names = list(model_class(request.model).PARAMS)
    for year in request.years:
        part = YearSweep(year, [trial for trial in trials if trial.year == year])
        part.best = best_of(part.trials, names)
        result.years[year] = part
    if train_best:
        chosen = [part for part in result.years.values() if part.best is not None]
        for done, part in enumerate(chosen):
            phases.report(done, len(chosen), "training best")
            part.test = train_best_setting(dataset, request, part, device=device, use_cache=use_cache)
    result.seconds = phases.elapsed()
    result.created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if store:
        from explorer.sweep import store as sweep_store

        sweep_store.save(result)
    phases.report(len(specs), len(specs), "done")
    return result


def train_best_setting(
    dataset: Dataset, request: Plan, part: YearSweep, *, device: str | None = None, use_cache: bool = True
) -> dict[str, Any]:
    """Train the year's best grid point (first seed) on the real split into the run cache; its key and metrics."""
    (split,) = splits_of(dataset, [part.year])
    params = {**part.best["params"], **seed_params(request.model, request.seeds[0])}
    run = runs.run_for(dataset, split, request.model, params, device=device, use_cache=use_cache)
    return {
        "key": run.key,
        "recall": {"10": run.metrics["recall"]["10"]},
        "mrr": run.metrics["mrr"],
    }
