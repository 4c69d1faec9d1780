"""What a sweep found: its trials, the best grid point per test year (one tie-break rule), and a report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ENGINE = "ray"

TIE_BREAK = (
    "the highest mean validation metric over the seeds; a tie (equal to 12 decimals) goes to the higher mean "
    "secondary metric (Recall@10 when tuning MRR, else MRR), then to the setting whose first differing "
    "hyperparameter, in the model's PARAMS order, is smaller (fewer factors, epochs, neighbours, layers or "
    "negatives: the cheaper setting; for penalties and weights a fixed convention). A setting that failed for "
    "any seed is never chosen."
)


def secondary_of(metric: str) -> str:
    """The metric that breaks ties of ``metric``: Recall@10 for MRR, MRR for every other metric."""
    return "recall@10" if metric == "mrr" else "mrr"


@dataclass
class Trial:
    """One grid point × seed on one validation split."""

    year: int  # the test year it chooses for (validated on year - 1)
    params: dict[str, Any]  # the swept hyperparameters (the rest are the model's defaults for ``year``)
    seed: int | None
    value: float | None = None
    status: str = "ok"  # ok | failed
    error: str = ""
    secondary: float | None = None  # the tie-breaking metric (see :func:`secondary_of`)
    seconds: float | None = None  # CPU seconds of the trial (a share of it when trials shared one fit)
    node: str = ""  # the Ray node id the trial ran on ("" when it never ran)

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key != "year"}


@dataclass
class YearSweep:
    """The trials of one test year, the best grid point, and (when trained) its test run."""

    year: int
    trials: list[Trial]
    best: dict[str, Any] | None = None  # {"params": …, "value": mean over seeds, "secondary": …, "seeds": n}
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
    id: str = ""  # set when stored (see :mod:`explorer.sweep.store`)
    created: str = ""  # ISO time the sweep finished
    fingerprint: str = ""  # the data set's
    seconds: float = 0.0  # wall time of the whole sweep

    @property
    def secondary(self) -> str:
        return secondary_of(self.metric)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "engine": ENGINE,
            "engine_version": self.engine_version,
            "metric": self.metric,
            "secondary": self.secondary,
            "tie_break": TIE_BREAK,
            "id": self.id,
            "created": self.created,
            "fingerprint": self.fingerprint,
            "seconds": self.seconds,
            "years": {str(year): part.as_json() for year, part in self.years.items()},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SweepResult:
        """The result :meth:`as_json` described (what a stored sweep is re-opened from)."""
        result = cls(
            document["model"],
            document["metric"],
            document.get("engine_version", ""),
            id=document.get("id", ""),
            created=document.get("created", ""),
            fingerprint=document.get("fingerprint", ""),
            seconds=float(document.get("seconds", 0.0)),
        )
        for year, part in document["years"].items():
            trials = [Trial(year=int(year), **trial) for trial in part["trials"]]
            result.years[int(year)] = YearSweep(int(year), trials, part.get("best"), part.get("test"))
        return result

    def trials(self) -> list[Trial]:
        return [trial for part in self.years.values() for trial in part.trials]

    def swept(self) -> list[str]:
        """Names of the swept hyperparameters, in grid order."""
        return list(dict.fromkeys(name for trial in self.trials() for name in trial.params))

    def seeded(self) -> bool:
        """True when the trials carry seeds (a deterministic model's have none)."""
        return any(trial.seed is not None for trial in self.trials())

    def table(self) -> Any:
        """One row per trial: year, validated_on, the swept hyperparameters, seed, value, status, error.

        A model without a seed has no ``seed`` column (rather than a column of None).
        """
        import pandas as pd

        seeded = self.seeded()
        rows = [
            {
                "year": trial.year,
                "validated_on": trial.year - 1,
                **trial.params,
                **({"seed": trial.seed} if seeded else {}),
                self.metric: trial.value,
                self.secondary: trial.secondary,
                "status": trial.status,
                "error": trial.error,
            }
            for trial in self.trials()
        ]
        seed = ["seed"] if seeded else []
        columns = ["year", "validated_on", *self.swept(), *seed, self.metric, self.secondary, "status", "error"]
        return pd.DataFrame(rows, columns=columns)


def _tied(value: float) -> float:
    """``value`` as compared by the tie-break rule (12 decimals: float noise of a mean is no difference)."""
    return round(value, 12) if math.isfinite(value) else -math.inf


def best_of(trials: Sequence[Trial], order: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The best grid point by :data:`TIE_BREAK` (None if no point succeeded for all its seeds).

    Args:
        trials: Trials of one test year (several seeds of a point are averaged).
        order: Hyperparameter names in the model's PARAMS order, for the last tie-break (default: the
            trials' own order).

    Returns:
        ``{"params", "value", "secondary", "seeds"}``: the point, its mean metric and secondary metric
        over its seeds, and the number of seeds.
    """
    groups: dict[tuple, list[Trial]] = {}
    for trial in trials:
        groups.setdefault(tuple(sorted(trial.params.items())), []).append(trial)
    candidates = []
    for members in groups.values():
        if any(trial.status != "ok" or trial.value is None for trial in members):
            continue
        seconds = [trial.secondary for trial in members if trial.secondary is not None]
        candidates.append(
            {
                "params": dict(members[0].params),
                "value": statistics.fmean(trial.value for trial in members),
                "secondary": statistics.fmean(seconds) if seconds else None,
                "seeds": len(members),
            }
        )
    if not candidates:
        return None
    names = list(order) if order is not None else list(candidates[0]["params"])
    names += [name for name in candidates[0]["params"] if name not in names]

    def rank(candidate: dict[str, Any]) -> tuple:
        secondary = candidate["secondary"] if candidate["secondary"] is not None else -math.inf
        simpler = tuple(candidate["params"].get(name, 0) for name in names)
        return (-_tied(candidate["value"]), -_tied(secondary), simpler)

    return min(candidates, key=rank)


def describe(result: SweepResult) -> str:
    """A plain-text report: per year, the trials (best first) and the test run of the best setting."""
    import pandas as pd

    lines = [f"== sweep of {result.model} on Ray {result.engine_version}, validation {result.metric}"]
    if result.id:
        lines[0] += f" (stored as {result.id})"
    seeded = result.seeded()
    for year, part in result.years.items():
        lines.append(f"\ntest year {year}: trained on years < {part.validated_on}, validated on {part.validated_on}")
        rows = [
            {
                **trial.params,
                **({"seed": trial.seed} if seeded else {}),
                result.metric: trial.value,
                result.secondary: trial.secondary,
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
        over = f", mean of {part.best['seeds']} seeds" if seeded else ""
        lines.append(f"best: {setting} ({result.metric} {part.best['value']:.4f} on {part.validated_on}{over})")
        if part.test is not None:
            lines.append(
                f"test {year}: R@10 {part.test['recall']['10']:.4f}  MRR {part.test['mrr']:.4f}  "
                f"(run {part.test['key']} in the cache)"
            )
    lines.append(f"\nchoice: {TIE_BREAK}")
    return "\n".join(lines)
