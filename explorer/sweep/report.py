"""What a sweep found: its trials, the best grid point per test year, and a plain-text report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ENGINE = "ray"


@dataclass
class Trial:
    """One grid point × seed on one validation split."""

    year: int  # the test year it chooses for (validated on year - 1)
    params: dict[str, Any]  # the swept hyperparameters (the rest are the model's defaults for ``year``)
    seed: int | None
    value: float | None = None
    status: str = "ok"  # ok | failed
    error: str = ""
    node: str = ""  # the Ray node id the trial ran on ("" when it never ran)

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
