"""Reading one :func:`explorer.comparison.compare` result: a pair's entries, the verdict sentence, the leaderboard.

Nothing is tested here: every decision is the family's, as :func:`explorer.comparison.compare` made it, so the
Metrics page's marks, its two-model verdict and its leaderboard cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from explorer.comparison import check_metrics, pair_entries
from explorer.comparison import verdict_of as verdict_of  # the verdict sentence, read from the same family
from explorer.errors import ParameterError
from explorer.evaluation import metric_label


def leaderboard(result: dict[str, Any], metric: str) -> pd.DataFrame:
    """Per year and model of ``result``: value, CI, the best model, and who cannot be told apart from it.

    Returns:
        Long form ``metric, year, model, value, ci_low, ci_high, best, group, p_vs_best, p_vs_best_is_bound,
        missing, seeds, seed_sd``; ``group`` is True for the best model and every model whose difference from
        it is not significant in the family (same test and family as every other decision of ``result``);
        a year a model lacks has ``missing`` True and empty values. Rows are sorted by the latest year's value.
    """
    (metric,) = check_metrics([metric])
    if metric not in result["metrics"]:
        raise ParameterError(f"{metric_label(metric)} is not one of this comparison's metrics.")
    models = list(dict.fromkeys(m for block in result["years"].values() for m in [*block["models"], *block["missing"]]))
    rows = []
    for year, block in result["years"].items():
        present = block["models"]
        best = max(present, key=lambda m: present[m][metric]["value"]) if present else None
        for model in models:
            entry = present.get(model, {}).get(metric)
            row: dict[str, Any] = {"metric": metric, "year": int(year), "model": model, "missing": entry is None}
            if entry is None:
                rows.append(row)
                continue
            against = pair_entries(result, model, best, metric).get(int(year)) if model != best else None
            row |= {
                "value": entry["value"],
                "ci_low": entry["ci"][0],
                "ci_high": entry["ci"][1],
                "best": model == best,
                "group": model == best or (against is not None and against["decision"] == "none"),
                "p_vs_best": None if against is None else against["p_adjusted"],
                "p_vs_best_is_bound": None if against is None else against["p_adjusted_is_bound"],
                "seeds": entry.get("seeds", 1),
                "seed_sd": entry.get("sd"),
            }
            rows.append(row)
    columns = ["metric", "year", "model", "value", "ci_low", "ci_high", "best", "group", "p_vs_best"]
    columns += ["p_vs_best_is_bound", "missing", "seeds", "seed_sd"]
    frame = pd.DataFrame(rows, columns=columns)
    latest = frame[frame["year"] == frame["year"].max()].set_index("model")["value"]
    order = latest.sort_values(ascending=False, na_position="last").index
    rank = frame["model"].map({m: i for i, m in enumerate(order)})
    return frame.assign(_rank=rank).sort_values(["_rank", "year"]).drop(columns="_rank").reset_index(drop=True)
