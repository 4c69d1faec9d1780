"""Hyperparameter sweeps by the blind validation protocol, as Ray Tune trials.

For each test year Y every grid point × seed is one trial: train on years < Y-1 and validate on Y-1
(:func:`explorer.training.splits_of` with ``[Y-1]``, then a fit and an evaluation:
:func:`explorer.sweep.trials.run_trial`).
Trials run as Ray Tune trials (fractional CPUs, and GPUs where the cluster has some, so several share
a machine); their results travel back to the driver, which picks the best grid point per year by the
mean validation metric over seeds (ties: :data:`TIE_BREAK`) and, when asked, trains it on the real
split (train < Y, test Y) into the run cache (:func:`explorer.runs.run_for`): workers may be other
machines and never write it.

A trial that fails (e.g. :class:`~explorer.errors.ModelFitError` for a NaN loss) is reported with its
error and the sweep goes on. Ray is imported and started only here, only while a sweep runs: without
an address it starts on this machine and is shut down at the end; with one (``address`` or
``RAY_ADDRESS``) it joins that cluster and disconnects at the end.

Finished sweeps are kept in the run cache (:func:`history`, :func:`load`); ``sweep --record`` adds a
sweep to the model's tuning record, which its ``TUNED`` reads (:mod:`explorer.sweep.record`).
"""

from explorer.sweep.grid import (
    METRICS_HELP,
    Plan,
    check_metric,
    grid_points,
    metric_of,
    parse_grid,
    plan,
    seed_params,
)
from explorer.sweep.record import check_record, command_line, record_sweep
from explorer.sweep.report import ENGINE, TIE_BREAK, SweepResult, Trial, YearSweep, best_of, describe, secondary_of
from explorer.sweep.runner import SweepProgress, run_sweep, train_best_setting
from explorer.sweep.store import history, listing, load

__all__ = [
    "ENGINE",
    "METRICS_HELP",
    "Plan",
    "TIE_BREAK",
    "SweepProgress",
    "SweepResult",
    "Trial",
    "YearSweep",
    "best_of",
    "check_metric",
    "check_record",
    "command_line",
    "describe",
    "grid_points",
    "history",
    "listing",
    "load",
    "metric_of",
    "parse_grid",
    "plan",
    "record_sweep",
    "run_sweep",
    "secondary_of",
    "seed_params",
    "train_best_setting",
]
