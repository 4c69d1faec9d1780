"""Assemble uncertainty and comparisons from trained runs: CIs per model and year, paired tests, verdicts.

Runs of one model and year trained with several seeds are averaged per user first (each seed's per-user
numerator; the denominators are the split's and do not depend on the model), so the value is the mean over
seeds and its CI is the user-bootstrap CI of that mean. The spread over seeds is reported beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explorer import stats
from explorer.errors import ParameterError
from explorer.evaluation import NDCG_KS, RECALL_KS, metric_label, parse_metric, user_contributions
from explorer.models import model_class
from explorer.training import Run

TEST_NAME = "paired sign-flip permutation test over test users (two-sided), Holm-corrected"
CI_METRICS = [
    *(f"recall@{k}" for k in RECALL_KS),
    "mrr",
    *(f"ndcg@{k}" for k in NDCG_KS),
    *(f"hit_rate@{k}" for k in RECALL_KS),
]
SEED_METRICS = ["recall@10", "mrr", "ndcg@10"]


def check_metrics(metrics: Sequence[str]) -> list[str]:
    """Metric names in canonical spelling (``Recall@10`` → ``recall@10``), each once; ParameterError if bad."""
    names = []
    for name in metrics:
        kind, k = parse_metric(name)
        canonical = kind + (f"@{k}" if k is not None else "")
        if canonical not in names:
            names.append(canonical)
    if not names:
        raise ParameterError("No metric was given; name at least one, e.g. --metrics recall@10 mrr.")
    return names


def depends_on_seed(model: str) -> bool:
    """True when the model has a ``seed`` hyperparameter (its result may change with it)."""
    return "seed" in model_class(model).PARAMS


def without_seed(params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters that are not the seed: runs equal in these are seeds of one setting."""
    return {name: value for name, value in params.items() if name != "seed"}


def seed_note(model: str) -> str:
    return f"{model} does not depend on a seed (it has no random state), so one run stands for every seed."


def pooled_contributions(year_runs: Sequence[Run], metrics: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, num, den)`` of one model and year, the numerators averaged over the runs (seeds)."""
    users, num, den = user_contributions(year_runs[0].ranks, list(metrics))
    for run in year_runs[1:]:
        other_users, other_num, other_den = user_contributions(run.ranks, list(metrics))
        if not (np.array_equal(other_users, users) and np.array_equal(other_den, den)):
            raise ParameterError(f"The runs of {run.model} for {run.year} were evaluated on different test rows.")
        num = num + other_num
    return users, num / len(year_runs), den


def _by_year(model_runs: Sequence[Run]) -> dict[int, list[Run]]:
    grouped: dict[int, list[Run]] = {}
    for run in model_runs:
        grouped.setdefault(run.year, []).append(run)
    return dict(sorted(grouped.items()))


def _value(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    totals = den.sum(axis=0)
    return np.divide(num.sum(axis=0), totals, out=np.zeros(len(totals)), where=totals != 0)


def compare(
    runs: Mapping[str, Sequence[Run]],
    metrics: Sequence[str],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    confidence: float = stats.CONFIDENCE,
    resamples: int = stats.RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Each model's value with CI per year and metric, each pair's difference with CI, p, Holm p and effect.

    Args:
        runs: Model name → its runs (every year to compare; several runs of a year are seeds).
        metrics: Metric names (``recall@K``, ``mrr``, ``ndcg@K``, ``hit_rate@K``).
        pairs: ``(a, b)`` pairs to test; default every pair of the models, ``a`` the one named first
            (an empty list gives the CIs alone, for one model or more).
        confidence, resamples, seed: Of the bootstrap and the permutation test.

    Returns:
        ``{"metrics", "confidence", "resamples", "test", "years": {year: {"models": {model: {metric:
        {"value", "ci"}}}, "pairs": [{"a", "b", "metric", "diff", "ci", "p", "p_holm", "effect"}]}},
        "verdicts"}``. With several seeds a model's metric also holds ``seeds`` (how many) and ``sd``.
        Holm's correction runs over every test of the call (pairs × years × metrics).

    Raises:
        ParameterError: fewer than two models (unless ``pairs`` is given), or no test year in common.
    """
    metrics = check_metrics(metrics)
    models = list(runs)
    if len(models) < 2 and pairs is None:
        raise ParameterError("Comparing needs at least two models; name two or more, e.g. --models cmf popularity.")
    if not models:
        raise ParameterError("There is no run to compare; train a model first.")
    pairs = list(pairs) if pairs is not None else list(itertools.combinations(models, 2))
    grouped = {model: _by_year(model_runs) for model, model_runs in runs.items()}
    years = sorted(set.intersection(*(set(g) for g in grouped.values())))
    if not years:
        raise ParameterError("The models have no test year in common; train them for the same years.")
    result: dict[str, Any] = {
        "metrics": metrics,
        "confidence": confidence,
        "resamples": resamples,
        "test": TEST_NAME,
        "years": {},
        "verdicts": [],
    }
    tests: list[dict[str, Any]] = []
    for year in years:
        block, year_tests = _compare_year(
            {m: grouped[m][year] for m in models}, metrics, pairs, confidence, resamples, seed
        )
        result["years"][str(year)] = block
        tests.extend(year_tests)
    for test, adjusted in zip(tests, stats.holm([t["p"] for t in tests]), strict=True):
        test["p_holm"] = float(adjusted)
    for a, b in pairs:
        for metric in metrics:
            chosen = [next(t for t in result["years"][str(y)]["pairs"] if _is(t, a, b, metric)) for y in years]
            result["verdicts"].append(
                stats.verdict(
                    a, b, metric_label(metric), years, [t["diff"] for t in chosen], [t["p_holm"] for t in chosen]
                )
            )
    return result


def _is(test: dict[str, Any], a: str, b: str, metric: str) -> bool:
    return test["a"] == a and test["b"] == b and test["metric"] == metric


def _compare_year(
    year_runs: Mapping[str, Sequence[Run]],
    metrics: list[str],
    pairs: Sequence[tuple[str, str]],
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pooled = {model: pooled_contributions(r, metrics) for model, r in year_runs.items()}
    first_model, (users, _, den) = next(iter(pooled.items()))
    for model, (other_users, _, other_den) in pooled.items():
        if not (np.array_equal(other_users, users) and np.array_equal(other_den, den)):
            year = year_runs[model][0].year
            raise ParameterError(
                f"{model} and {first_model} were not evaluated on the same test rows in {year}; "
                "train both on the same data set."
            )
    models = list(pooled)
    num = np.concatenate([pooled[m][1] for m in models], axis=1)  # [users, models × metrics]
    draws = stats.bootstrap_ratios(num, np.tile(den, len(models)), resamples, seed)
    values = _value(num, np.tile(den, len(models)))
    intervals = stats.percentile_intervals(draws, confidence)
    width = len(metrics)
    block: dict[str, Any] = {"models": {}, "pairs": []}
    for i, model in enumerate(models):
        seeds = year_runs[model]
        per_seed = [_value(user_contributions(r.ranks, metrics)[1], den) for r in seeds] if len(seeds) > 1 else []
        block["models"][model] = {}
        for j, metric in enumerate(metrics):
            column = i * width + j
            entry: dict[str, Any] = {"value": float(values[column]), "ci": intervals[column].tolist()}
            if per_seed:
                entry["seeds"] = len(seeds)
                entry["sd"] = float(np.std([v[j] for v in per_seed], ddof=1))
            block["models"][model][metric] = entry
    diffs, tests = [], []
    for a, b in pairs:
        ia, ib = models.index(a), models.index(b)
        for j, metric in enumerate(metrics):
            ca, cb = ia * width + j, ib * width + j
            contribution = num[:, ca] - num[:, cb]
            diffs.append(contribution)
            low, high = stats.percentile_intervals(draws[:, ca] - draws[:, cb], confidence)
            tests.append(
                {
                    "a": a,
                    "b": b,
                    "metric": metric,
                    "diff": float(values[ca] - values[cb]),
                    "ci": [float(low), float(high)],
                    "p": 0.0,
                    "p_holm": 0.0,
                    "effect": stats.effect_size(contribution),
                }
            )
    if tests:
        pvalues = stats.sign_flip_pvalues(np.stack(diffs, axis=1), resamples, seed)
        for test, p in zip(tests, np.atleast_1d(pvalues), strict=True):
            test["p"] = float(p)
    block["pairs"] = tests
    return block, tests


def metric_intervals(
    year_runs: Sequence[Run], *, confidence: float = stats.CONFIDENCE, resamples: int = stats.RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """The CI of every metric the tables show for one model and year (seeds pooled), nested like the metrics.

    Returns:
        ``{"recall": {K: [lo, hi]}, "mrr": [lo, hi], "ndcg": {K: [lo, hi]}, "hit_rate": {K: [lo, hi]}}``.
    """
    _, num, den = pooled_contributions(year_runs, CI_METRICS)
    intervals = stats.percentile_intervals(stats.bootstrap_ratios(num, den, resamples, seed), confidence)
    nested: dict[str, Any] = {}
    for name, interval in zip(CI_METRICS, intervals.tolist(), strict=True):
        kind, k = parse_metric(name)
        if k is None:
            nested[kind] = interval
        else:
            nested.setdefault(kind, {})[str(k)] = interval
    return nested


def seed_summary(year_runs: Sequence[Run], seeds: Sequence[int]) -> dict[str, Any]:
    """Per-seed values of the main metrics, their mean and sample SD (one model, one year)."""
    model = year_runs[0].model
    values: dict[str, list[float]] = {}
    for run in year_runs:
        users, num, den = user_contributions(run.ranks, SEED_METRICS)
        for name, value in zip(SEED_METRICS, _value(num, den), strict=True):
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
