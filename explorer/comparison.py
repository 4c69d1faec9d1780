"""Compare trained runs: values with CIs per model and year, every pair tested over one family, verdicts, leaderboards.

**One family rule.** A comparison's family is every pair of its models × its metrics × its years (a year a model
lacks is reported as missing and tests nothing). `compare`, the Metrics page's marks, its two-model verdict and
its leaderboard all read their decisions from one :func:`compare` result, so the same models and metrics give the
same decisions everywhere.

* ``test="signflip"`` (default): each pair's paired sign-flip permutation test, Holm-corrected over the family.
  Tests whose p sits at the floor ``2 / (B + 1)`` while the floor could decide them get more sign patterns until
  the floor times Holm's multiplier is below alpha, and so do tests whose decision is within Monte Carlo error
  of their Holm threshold (both capped); what stays at the floor is reported as a bound.
  ``ci_adjusted`` is the normal bootstrap interval at the Holm-consistent level ``1 - alpha / c``.
* ``test="tukey"``: the randomised Tukey HSD per metric and year (Bonferroni over those blocks), with its own
  simultaneous intervals, exactly consistent with its decisions.

Runs of one model and year trained with several seeds are averaged per user first (each seed's per-user
numerator; the denominators are the split's), so the value is the mean over seeds and its CI the user-bootstrap
CI of that mean; the seed SD is reported beside it. Statistics are stored per run content (explorer.pair_store).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explorer import multiple, stats, summaries
from explorer.errors import ParameterError
from explorer.evaluation import metric_label, parse_metric
from explorer.pair_store import PairStore
from explorer.summaries import Settings, YearSummaries
from explorer.summaries import depends_on_seed as depends_on_seed
from explorer.summaries import pooled_contributions as pooled_contributions
from explorer.summaries import seed_note as seed_note
from explorer.training import Run

TESTS = {
    "signflip": "paired sign-flip permutation test over test users (two-sided), Holm-corrected over the family",
    "tukey": "randomised Tukey HSD over test users (Carterette 2012), Bonferroni over the family's metrics × years",
}
CI_METRICS = summaries.CI_METRICS  # every metric the tables show with a CI
MAX_ROUNDS = 8  # rounds of "more patterns for the floor tests Holm needs" (each round only adds)


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


def _by_year(model_runs: Sequence[Run]) -> dict[int, list[Run]]:
    grouped: dict[int, list[Run]] = {}
    for run in model_runs:
        grouped.setdefault(run.year, []).append(run)
    return dict(sorted(grouped.items()))


def compare(
    runs: Mapping[str, Sequence[Run]],
    metrics: Sequence[str],
    *,
    test: str = "signflip",
    values: Sequence[str] = (),
    confidence: float = stats.CONFIDENCE,
    resamples: int = stats.RESAMPLES,
    seed: int = 0,
    alpha: float = stats.ALPHA,
    store: PairStore | None = None,
) -> dict[str, Any]:
    """Each model's value with CI per year and metric, and every pair of models tested over one family.

    Args:
        runs: Model name → its runs (any years; several runs of a year are seeds).
        metrics: The family's metrics (``recall@K``, ``mrr``, ``ndcg@K``, ``hit_rate@K``).
        test: ``"signflip"`` (Holm over the family) or ``"tukey"`` (randomised Tukey HSD).
        values: More metrics to report values and CIs for (no tests).
        confidence, resamples, seed: Of the bootstrap and the permutations.
        alpha: The family-wise error rate of the decisions.
        store: Where family-independent statistics are kept (default: ``<run cache>/.stats``).

    Returns:
        ``{"metrics", "values", "confidence", "resamples", "alpha", "test", "test_name", "family",
        "years": {year: {"models": {model: {metric: {"value", "ci", "seeds"?, "sd"?}}}, "missing": [model],
        "pairs": [pair]}}, "verdicts"}``; a pair is ``{"a", "b", "metric", "diff", "rel_diff", "ci",
        "ci_adjusted", "level_adjusted", "se", "p", "p_is_bound", "p_adjusted", "p_adjusted_is_bound",
        "patterns", "effect", "decision", "band"}`` (docs/statistics.md defines each).

    Raises:
        ParameterError: fewer than two models, an unknown test, or runs of a year on different test rows.
    """
    if test not in TESTS:
        raise ParameterError(f"There is no test {test!r}; use {' or '.join(TESTS)}.")
    metrics = check_metrics(metrics)
    value_metrics = check_metrics([*metrics, *values])
    models = list(runs)
    if len(models) < 2:
        raise ParameterError("Comparing needs at least two models; name two or more, e.g. --models cmf popularity.")
    grouped = {model: _by_year(model_runs) for model, model_runs in runs.items()}
    years = sorted(set().union(*grouped.values()))
    if not years:
        raise ParameterError("There is no run to compare; train the models first.")
    settings = Settings(resamples, seed, confidence, alpha)
    store = store if store is not None else PairStore()
    result: dict[str, Any] = {
        "metrics": metrics,
        "values": value_metrics,
        "confidence": confidence,
        "resamples": resamples,
        "alpha": alpha,
        "test": test,
        "test_name": TESTS[test],
        "years": {},
    }
    tests: list[tuple[int, str, str, str]] = []
    works: dict[int, YearSummaries] = {}
    records: dict[tuple[int, str, str, str], dict] = {}
    for year in years:
        present = [m for m in models if year in grouped[m]]
        block: dict[str, Any] = {"models": {}, "missing": [m for m in models if m not in present], "pairs": []}
        result["years"][str(year)] = block
        works[year] = YearSummaries(year, {m: grouped[m][year] for m in present}, value_metrics, settings, store)
        block["models"] = works[year].values(value_metrics)
        pairs = list(itertools.combinations(present, 2))
        for (a, b, metric), record in works[year].pairs(pairs, metrics).items():
            records[(year, a, b, metric)] = record
        tests += [(year, a, b, metric) for a, b in pairs for metric in metrics]
    if test == "signflip":
        entries = _holm_family(tests, records, works, alpha)
    else:
        entries = _tukey_family(tests, records, works, alpha)
    for (year, a, b, metric), entry in zip(tests, entries, strict=True):
        value_b = result["years"][str(year)]["models"][b][metric]["value"]
        entry["rel_diff"] = entry["diff"] / value_b if value_b else None
        significant = entry["p_adjusted"] < alpha and entry["diff"] != 0
        entry["decision"] = ("a" if entry["diff"] > 0 else "b") if significant else "none"
        result["years"][str(year)]["pairs"].append({"a": a, "b": b, "metric": metric, **entry})
    result["family"] = {
        "tests": len(tests),
        "models": len(models),
        "metrics": len(metrics),
        "years": len(years),
        "in_band": int(sum(e["band"] for e in entries)),
        "sentence": family_sentence(test, len(models), metrics, years, len(tests), alpha),
    }
    result["verdicts"] = [verdict_of(result, a, b, m) for a, b in itertools.combinations(models, 2) for m in metrics]
    return result


def family_sentence(
    test: str, models: int, metrics: Sequence[str], years: Sequence[int], tests: int, alpha: float = stats.ALPHA
) -> str:
    """Which test decides and over which family, in one sentence (for pages and captions)."""
    names = ", ".join(metric_label(m) for m in metrics)
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
    return (
        f"Decisions: {TESTS[test]} (family-wise error {alpha:g}); the family is every pair of the {models} models "
        f"× {names} × test years {span}: {tests} tests."
    )


def _holm_family(
    tests: list[tuple[int, str, str, str]],
    records: dict[tuple[int, str, str, str], dict],
    works: Mapping[int, YearSummaries],
    alpha: float,
) -> list[dict[str, Any]]:
    """Holm over the family; more sign patterns where the floor or Monte Carlo error could set a decision."""
    chunks = dict.fromkeys(tests, 0)
    for rounds in range(MAX_ROUNDS + 1):
        p, bound, patterns, less, greater = _signflip_p(tests, records, chunks)
        adjusted, adjusted_bound, multiplier = stats.holm_with_bounds(p, bound)
        if rounds == MAX_ROUNDS:
            break
        low, high = multiple.monte_carlo_interval(less, greater, patterns)
        threshold = alpha / multiplier
        wanted = {}
        for i, t in enumerate(tests):
            if records[t]["exact"]:
                continue
            need = chunks[t]
            if bound[i] and adjusted[i] >= alpha:  # the floor decides it: enough patterns to get under alpha
                need = multiple.extra_chunks(records[t]["patterns"], multiplier[i], alpha)
            if not (bound[i] and adjusted[i] < alpha) and low[i] <= threshold[i] <= high[i]:
                grown = min(4 * patterns[i], multiple.MAX_PATTERNS)  # Monte Carlo error could flip it
                need = max(need, math.ceil((grown - records[t]["patterns"]) / stats.CHUNK))
            if need > chunks[t]:
                wanted[t] = need
        if not wanted:
            break
        for year in {t[0] for t in wanted}:
            mine = {t[1:]: n for t, n in wanted.items() if t[0] == year}
            works[year].extend({t[1:]: records[t] for t in tests if t[0] == year}, mine)
        chunks.update(wanted)
    diff = np.array([records[t]["diff"] for t in tests])
    se = np.array([records[t]["se"] for t in tests])
    intervals = multiple.holm_intervals(diff, se, multiplier, alpha)
    settled = bound & (adjusted < alpha)
    in_band = multiple.band(
        diff,
        se,
        np.array([records[t]["null_se"] for t in tests]),
        np.array([records[t]["kurtosis"] for t in tests]),
        alpha / multiplier,
        multiple.monte_carlo_interval(less, greater, patterns),
        settled | np.array([records[t]["exact"] for t in tests], dtype=bool),
    )
    return [
        {
            **_common(records[t]),
            "ci_adjusted": intervals[i].tolist(),
            "level_adjusted": float(1.0 - alpha / multiplier[i]),
            "p": float(p[i]),
            "p_is_bound": bool(bound[i]),
            "p_adjusted": float(adjusted[i]),
            "p_adjusted_is_bound": bool(adjusted_bound[i]),
            "patterns": int(patterns[i]),
            "band": bool(in_band[i]),
        }
        for i, t in enumerate(tests)
    ]


def _signflip_p(
    tests: list[tuple[int, str, str, str]],
    records: Mapping[tuple[int, str, str, str], dict],
    chunks: Mapping[tuple[int, str, str, str], int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(p, is_bound, patterns, less, greater)`` of each test with its first ``chunks[test]`` extension chunks."""
    less, greater, patterns, exact = [], [], [], []
    for t in tests:
        record, n = records[t], chunks[t]
        less.append(record["less"] + sum(record["extra_less"][:n]))
        greater.append(record["greater"] + sum(record["extra_greater"][:n]))
        patterns.append(record["patterns"] + n * stats.CHUNK)
        exact.append(record["exact"])
    if not tests:
        empty = np.zeros(0, dtype=int)
        return np.zeros(0), np.zeros(0, dtype=bool), empty, empty, empty
    p, bound = stats.counts_pvalues(np.array(less), np.array(greater), np.array(patterns), np.array(exact))
    return p, bound, np.array(patterns), np.array(less), np.array(greater)


def _common(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("diff", "ci", "se", "effect")
    return {name: record[name] for name in keep}


def _tukey_family(
    tests: list[tuple[int, str, str, str]],
    records: dict[tuple[int, str, str, str], dict],
    works: Mapping[int, YearSummaries],
    alpha: float,
) -> list[dict[str, Any]]:
    """Randomised Tukey HSD per (year, metric) block; Bonferroni over the blocks."""
    blocks = sorted({(t[0], t[3]) for t in tests})
    ranges: dict[tuple[int, str], np.ndarray] = {}
    for year in sorted({y for y, _ in blocks}):
        for metric, values in works[year].tukey_ranges([m for y, m in blocks if y == year]).items():
            ranges[(year, metric)] = values
    level = alpha / max(len(blocks), 1)
    if tests and level * (len(next(iter(ranges.values()))) + 1) <= 1:
        need = math.ceil(len(blocks) / alpha)
        raise ParameterError(f"The Tukey test over {len(blocks)} metric-years needs at least {need} resamples.")
    entries = []
    for t in tests:
        record, draws = records[t], ranges[(t[0], t[3])]
        (p,), (at_floor,) = multiple.tukey_pvalues(np.array([record["diff"]]), draws)
        half = multiple.tukey_half_width(draws, level)
        adjusted = min(1.0, float(p) * len(blocks))
        entries.append(
            {
                **_common(record),
                "ci_adjusted": [record["diff"] - half, record["diff"] + half],
                "level_adjusted": 1.0 - level,
                "p": float(p),
                "p_is_bound": bool(at_floor),
                "p_adjusted": adjusted,
                "p_adjusted_is_bound": bool(at_floor) and adjusted < 1.0,
                "patterns": len(draws),
                "band": False,  # its interval and its decision come from the same permutations
            }
        )
    return entries


def pair_entries(result: dict[str, Any], a: str, b: str, metric: str) -> dict[int, dict[str, Any]]:
    """Year → the pair's entry, seen as a − b (a pair stored as b − a is turned around)."""
    found = {}
    for year, block in result["years"].items():
        for pair in block["pairs"]:
            if pair["metric"] != metric or {pair["a"], pair["b"]} != {a, b}:
                continue
            found[int(year)] = pair if pair["a"] == a else _turned(pair)
    return found


def _turned(pair: dict[str, Any]) -> dict[str, Any]:
    low, high = pair["ci"]
    adj_low, adj_high = pair["ci_adjusted"]
    decision = {"a": "b", "b": "a"}.get(pair["decision"], "none")
    diff, relative = pair["diff"], pair["rel_diff"]
    if relative is None or diff == 0:
        turned_relative = None if relative is None else 0.0
    else:  # diff / value_b → -diff / value_a, value_a = value_b + diff
        turned_relative = -diff / (diff / relative + diff) if diff / relative + diff else None
    turned = {**pair, "a": pair["b"], "b": pair["a"], "diff": -diff, "effect": -pair["effect"]}
    return turned | {
        "ci": [-high, -low],
        "ci_adjusted": [-adj_high, -adj_low],
        "decision": decision,
        "rel_diff": turned_relative,
    }


def verdict_of(result: dict[str, Any], a: str, b: str, metric: str) -> str:
    """The verdict sentence on ``a`` vs ``b`` for one metric, from the family's decisions."""
    entries = pair_entries(result, a, b, metric)
    years = sorted(entries)
    missing = [int(y) for y, block in result["years"].items() if {a, b} & set(block["missing"])]
    return stats.verdict(
        a,
        b,
        metric_label(metric),
        years,
        [entries[y]["diff"] for y in years],
        [entries[y]["p_adjusted"] for y in years],
        result["alpha"],
        bounds=[entries[y]["p_adjusted_is_bound"] for y in years],
        adjustment="Holm" if result["test"] == "signflip" else "Tukey",
        missing=sorted(missing),
    )
