"""The family-independent statistics of one test year, read from the store or computed once and stored.

For the models of one year (each a list of runs: seeds are pooled per user), :class:`YearSummaries` gives
each model's value and CI per metric, each pair's difference with its 95% CI, bootstrap SE, effect size and
sign-flip counts (more patterns on request), and the Tukey range distribution of each metric. Nothing here
knows the family: :mod:`explorer.comparison` combines these per family.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer import multiple, stats
from explorer.errors import ParameterError
from explorer.evaluation import NDCG_KS, RECALL_KS, user_contributions
from explorer.lookups import nest
from explorer.models import seed_names
from explorer.pair_store import PairStore, runs_content
from explorer.training import Run

CI_METRICS = [
    *(f"recall@{k}" for k in RECALL_KS),
    "mrr",
    *(f"ndcg@{k}" for k in NDCG_KS),
    *(f"hit_rate@{k}" for k in RECALL_KS),
]
SEED_METRICS = ["recall@10", "mrr", "ndcg@10"]


@dataclass(frozen=True)
class Settings:
    """How a comparison resamples: ``resamples`` draws (bootstrap, sign patterns, permutations), their ``seed``,
    the ``confidence`` of the per-model and unadjusted pair intervals, and the family-wise ``alpha``."""

    resamples: int = stats.RESAMPLES
    seed: int = 0
    confidence: float = stats.CONFIDENCE
    alpha: float = stats.ALPHA

    def key(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "seed": self.seed, "confidence": self.confidence}


def pooled_contributions(year_runs: Sequence[Run], metrics: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, num, den)`` of one model and year, the numerators averaged over the runs (seeds)."""
    users, num, den = user_contributions(year_runs[0].ranks, list(metrics))
    for run in year_runs[1:]:
        other_users, other_num, other_den = user_contributions(run.ranks, list(metrics))
        if not (np.array_equal(other_users, users) and np.array_equal(other_den, den)):
            raise ParameterError(f"The runs of {run.model} for {run.year} were evaluated on different test rows.")
        num = num + other_num
    return users, num / len(year_runs), den


def _value(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    totals = den.sum(axis=0)
    return np.divide(num.sum(axis=0), totals, out=np.zeros(len(totals)), where=totals != 0)


def _flip(record: dict[str, Any]) -> dict[str, Any]:
    """A pair record seen from the other side: b − a."""
    low, high = record["ci"]
    flipped = {**record, "diff": -record["diff"], "ci": [-high, -low], "effect": -record["effect"]}
    for left, right in (("less", "greater"), ("extra_less", "extra_greater")):
        flipped[left], flipped[right] = record[right], record[left]
    return flipped


class YearSummaries:
    """Stored statistics of the models of one test year.

    Args:
        year: The test year.
        runs: Model → its runs of that year (seeds).
        metrics: Canonical metric names whose values (and pairs) may be asked for.
        settings: Resampling settings.
        store: Where records are kept.
    """

    def __init__(
        self, year: int, runs: Mapping[str, Sequence[Run]], metrics: Sequence[str], settings: Settings, store: PairStore
    ) -> None:
        self.year, self.runs, self.metrics, self.settings, self.store = year, dict(runs), list(metrics), settings, store
        self.content = {model: runs_content(model_runs) for model, model_runs in self.runs.items()}
        self._pooled: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._draws: np.ndarray | None = None

    # --- computed on demand (only when a record is missing) ---

    def pooled(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._pooled is None:
            pooled = {m: pooled_contributions(r, self.metrics) for m, r in self.runs.items()}
            first, (users, _, den) = next(iter(pooled.items()))
            for model, (other_users, _, other_den) in pooled.items():
                if not (np.array_equal(other_users, users) and np.array_equal(other_den, den)):
                    raise ParameterError(
                        f"{model} and {first} were not evaluated on the same test rows in {self.year}; "
                        "train both on the same data set."
                    )
            self._pooled = pooled
        return self._pooled

    def draws(self) -> np.ndarray:
        """Bootstrap draws ``[resamples, models × metrics]`` (models in ``runs`` order), shared weights."""
        if self._draws is None:
            pooled = self.pooled()
            num = np.concatenate([pooled[m][1] for m in self.runs], axis=1)
            den = np.tile(next(iter(pooled.values()))[2], len(self.runs))
            self._draws = stats.bootstrap_ratios(num, den, self.settings.resamples, self.settings.seed)
        return self._draws

    def _column(self, model: str, metric: str) -> int:
        return list(self.runs).index(model) * len(self.metrics) + self.metrics.index(metric)

    # --- per model ---

    def model_key(self, model: str, metric: str) -> str:
        return PairStore.key("model", content=self.content[model], metric=metric, **self.settings.key())

    def values(self, metrics: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """``{model: {metric: {"value", "ci", "seeds"?, "sd"?}}}`` (stored per model, metric and settings)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for model in self.runs:
            out[model] = {}
            for metric in metrics:
                key = self.model_key(model, metric)
                record = self.store.get(key)
                if record is None:
                    record = self._model_record(model, metric)
                    self.store.put(key, record)
                out[model][metric] = record
        return out

    def _model_record(self, model: str, metric: str) -> dict[str, Any]:
        _, num, den = self.pooled()[model]
        j = self.metrics.index(metric)
        draws = self.draws()[:, self._column(model, metric)]
        low, high = stats.percentile_intervals(draws, self.settings.confidence)
        record: dict[str, Any] = {"value": float(_value(num[:, j : j + 1], den[:, j : j + 1])[0])}
        record["ci"] = [float(low), float(high)]
        seeds = self.runs[model]
        if len(seeds) > 1:
            per_seed = [_value(user_contributions(r.ranks, [metric])[1], den[:, j : j + 1])[0] for r in seeds]
            record |= {"seeds": len(seeds), "sd": float(np.std(per_seed, ddof=1))}
        return record

    # --- per pair ---

    def _pair_key(self, a: str, b: str, metric: str) -> tuple[str, bool]:
        first, second = sorted([self.content[a], self.content[b]])
        flipped = first != self.content[a]
        return PairStore.key("pair", a=first, b=second, metric=metric, **self.settings.key()), flipped

    def pairs(self, pairs: Sequence[tuple[str, str]], metrics: Sequence[str]) -> dict[tuple[str, str, str], dict]:
        """``(a, b, metric)`` → ``{"diff", "ci", "se", "effect", "patterns", "exact", "less", "greater",
        "extra_less", "extra_greater", "users"}`` seen as a − b (one record per unordered pair, on disk)."""
        found, missing = {}, []
        for (a, b), metric in itertools.product(pairs, metrics):
            key, flipped = self._pair_key(a, b, metric)
            record = self.store.get(key)
            if record is None:
                missing.append((a, b, metric))
            else:
                found[(a, b, metric)] = _flip(record) if flipped else record
        if missing:
            for (a, b, metric), record in zip(missing, self._pair_records(missing), strict=True):
                key, flipped = self._pair_key(a, b, metric)
                self.store.put(key, _flip(record) if flipped else record)
                found[(a, b, metric)] = record
        return found

    def _diffs(self, tests: Sequence[tuple[str, str, str]]) -> np.ndarray:
        pooled = self.pooled()
        columns = [pooled[a][1][:, self.metrics.index(m)] - pooled[b][1][:, self.metrics.index(m)] for a, b, m in tests]
        return np.stack(columns, axis=1)

    def _pair_records(self, tests: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
        diffs = self._diffs(tests)
        squares = (diffs**2).sum(axis=0)
        counts = stats.sign_flip_counts(diffs, self.settings.resamples, self.settings.seed)
        draws = self.draws()
        pooled = self.pooled()
        records = []
        for i, (a, b, metric) in enumerate(tests):
            j = self.metrics.index(metric)
            den = pooled[a][2][:, j]
            difference = draws[:, self._column(a, metric)] - draws[:, self._column(b, metric)]
            low, high = stats.percentile_intervals(difference, self.settings.confidence)
            records.append(
                {
                    "users": int(diffs.shape[0]),
                    "diff": float(diffs[:, i].sum() / den.sum()) if den.sum() else 0.0,
                    "ci": [float(low), float(high)],
                    "se": float(difference.std(ddof=1)),
                    "null_se": float(np.sqrt(squares[i]) / den.sum()) if den.sum() else 0.0,
                    "kurtosis": float(-2.0 * (diffs[:, i] ** 4).sum() / squares[i] ** 2) if squares[i] else 0.0,
                    "effect": stats.effect_size(diffs[:, i]),
                    "patterns": int(counts.patterns),
                    "exact": bool(counts.exact),
                    "less": int(counts.less[i]),
                    "greater": int(counts.greater[i]),
                    "extra_less": [],
                    "extra_greater": [],
                }
            )
        return records

    def extend(self, records: dict[tuple[str, str, str], dict], wanted: Mapping[tuple[str, str, str], int]) -> None:
        """Give the tests ``wanted`` (test → extension chunks) at least that many chunks, in place and on disk.

        The chunks every such test lacks are drawn once for all of them (one matrix product per chunk).
        """
        short = {t: n for t, n in wanted.items() if len(records[t]["extra_less"]) < n}
        if not short:
            return
        tests = list(short)
        first = min(len(records[t]["extra_less"]) for t in tests)
        less, greater = stats.extra_sign_flip_counts(self._diffs(tests), first, max(short.values()), self.settings.seed)
        for i, test in enumerate(tests):
            record = records[test]
            have = len(record["extra_less"])
            record["extra_less"] = record["extra_less"] + less[have - first :, i].tolist()
            record["extra_greater"] = record["extra_greater"] + greater[have - first :, i].tolist()
            key, flipped = self._pair_key(*test)
            self.store.put(key, _flip(record) if flipped else record)

    # --- Tukey ---

    def tukey_ranges(self, metrics: Sequence[str]) -> dict[str, np.ndarray]:
        """Per metric, the sorted permutation ranges of the models of this year (stored per set of models)."""
        models = sorted(self.runs, key=lambda m: self.content[m])  # the draws do not depend on the order asked
        contents = [self.content[m] for m in models]
        out, missing = {}, []
        for metric in metrics:
            record = self.store.get(PairStore.key("tukey", models=contents, metric=metric, **self.settings.key()))
            if record is None:
                missing.append(metric)
            else:
                out[metric] = np.asarray(record["ranges"], dtype=np.float64)
        if missing:
            pooled = self.pooled()
            columns = [self.metrics.index(k) for k in missing]
            den = next(iter(pooled.values()))[2][:, columns].sum(axis=0)  # the split's: the same for every model
            num = np.stack([pooled[m][1][:, columns] for m in models], axis=1)  # [users, models, metrics]
            contributions = num / np.where(den > 0, den, 1.0)
            ranges = multiple.tukey_ranges(contributions, self.settings.resamples, self.settings.seed)
            for i, metric in enumerate(missing):
                ordered = np.sort(ranges[:, i])
                key = PairStore.key("tukey", models=contents, metric=metric, **self.settings.key())
                self.store.put(key, {"ranges": ordered.tolist()})
                out[metric] = ordered
        return out


def seed_note(model: str) -> str:
    return f"{model} does not depend on a seed (it has no random state), so one run stands for every seed."


def depends_on_seed(model: str) -> bool:
    """True when the model has a seed (``seed``, or its members' ``gcn_seed``, …): its result may change with it."""
    return bool(seed_names(model))


def metric_intervals(
    year_runs: Sequence[Run], *, confidence: float = stats.CONFIDENCE, resamples: int = stats.RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """The CI of every metric the tables show for one model and year (seeds pooled), nested like the metrics.

    Returns:
        ``{"recall": {K: [lo, hi]}, "mrr": [lo, hi], "ndcg": {K: [lo, hi]}, "hit_rate": {K: [lo, hi]}}``.
    """
    _, num, den = pooled_contributions(year_runs, CI_METRICS)
    intervals = stats.percentile_intervals(stats.bootstrap_ratios(num, den, resamples, seed), confidence)
    return nest(CI_METRICS, intervals.tolist())


def _values(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    totals = den.sum(axis=0)
    return np.divide(num.sum(axis=0), totals, out=np.zeros(len(totals)), where=totals != 0)


def seed_summary(year_runs: Sequence[Run], seeds: Sequence[int]) -> dict[str, Any]:
    """Per-seed values of the main metrics, their mean and sample SD (one model, one year)."""
    model = year_runs[0].model
    values: dict[str, list[float]] = {}
    for run in year_runs:
        _, num, den = user_contributions(run.ranks, SEED_METRICS)
        for name, value in zip(SEED_METRICS, _values(num, den), strict=True):
            values.setdefault(name, []).append(float(value))
    summary: dict[str, Any] = {
        "seeds": [int(s) for s in seeds] if depends_on_seed(model) else [],
        "depends_on_seed": depends_on_seed(model),
        "values": values,
        "mean": {name: float(np.mean(v)) for name, v in values.items()},
        "sd": {name: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for name, v in values.items()},
    }
    if not depends_on_seed(model):
        summary["note"] = seed_note(model)
    return summary


def mean_metrics(dicts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean over several runs' metric dictionaries, leaf by leaf (counts stay whole numbers)."""
    first = dicts[0]
    merged: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict):
            merged[key] = mean_metrics([d[key] for d in dicts])
        elif isinstance(value, bool) or not isinstance(value, int | float):
            merged[key] = value
        else:
            mean = float(np.mean([d[key] for d in dicts]))
            merged[key] = int(round(mean)) if isinstance(value, int) else mean
    return merged
