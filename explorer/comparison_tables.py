"""Tables of :func:`explorer.comparison.compare` results, shared by the CLI and the pages (nothing is computed here).

The researcher's export is :func:`tidy`: one row per (year, model, metric) with separate numeric columns for
the value, its CI, its adjusted p against the year's best model and its group, never one formatted string.
"""

from __future__ import annotations

import pandas as pd

from explorer.decisions import leaderboard, pair_entries
from explorer.evaluation import metric_label
from explorer.stats import format_p

BETTER_MARK, WORSE_MARK = "▲", "▼"
MISSING = "missing"
TIDY_COLUMNS = ["year", "model", "metric", "value", "ci_low", "ci_high", "p_vs_best", "p_vs_best_is_bound", "group"]
TIDY_COLUMNS += ["best", "seeds", "seed_sd", "missing"]


def interval_text(value: float | None, ci: list[float] | None, digits: int = 4) -> str:
    """``0.0825 [0.0721, 0.0930]`` (empty for a missing value)."""
    if value is None:
        return ""
    if ci is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _entry_text(entry: dict) -> str:
    text = interval_text(entry["value"], entry["ci"])
    if entry.get("seeds", 1) > 1:
        text += f" ± {entry['sd']:.4f} ({entry['seeds']} seeds)"
    return text


def tidy(result: dict) -> pd.DataFrame:
    """One row per (year, model, metric): ``value, ci_low, ci_high, p_vs_best, p_vs_best_is_bound, group, best,
    seeds, seed_sd, missing`` (numbers, not text: the CSV a researcher can load).

    For the family's metrics ``p_vs_best`` is the adjusted p of the model against that year's best model and
    ``group`` is True when the family's test cannot tell it apart from the best (see
    :func:`explorer.decisions.leaderboard`); metrics reported without tests (``values``) leave them empty.
    A year a model lacks is a row with ``missing`` True and no value.
    """
    extra = [metric for metric in result.get("values", []) if metric not in result["metrics"]]
    renamed = comparison_values(result).rename(columns={"low": "ci_low", "high": "ci_high", "sd": "seed_sd"})
    missing = [
        {"metric": metric, "year": int(year), "model": model, "missing": True}
        for metric in extra
        for year, block in result["years"].items()
        for model in block["missing"]
    ]
    frames = [leaderboard(result, metric) for metric in result["metrics"]]
    frames += [renamed[renamed["metric"].isin(extra)].assign(missing=False), pd.DataFrame(missing)]
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    return frame.reindex(columns=TIDY_COLUMNS).sort_values(["metric", "year"], kind="stable").reset_index(drop=True)


def comparison_values(result: dict) -> pd.DataFrame:
    """Long form ``year, model, metric, value, low, high, seeds, sd`` of a comparison (missing years left out)."""
    rows = [
        {
            "year": int(year),
            "model": model,
            "metric": metric,
            "value": entry["value"],
            "low": entry["ci"][0],
            "high": entry["ci"][1],
            "seeds": entry.get("seeds", 1),
            "sd": entry.get("sd"),
        }
        for year, block in result["years"].items()
        for model, metrics in block["models"].items()
        for metric, entry in metrics.items()
    ]
    return pd.DataFrame(rows, columns=["year", "model", "metric", "value", "low", "high", "seeds", "sd"])


def comparison_table(result: dict, *, baseline: str | None = None) -> pd.DataFrame:
    """One row per year and model, one column per metric: ``value [lo, hi]``, ``± sd (n seeds)`` with seeds.

    A model without a run for a year shows ``missing``. With ``baseline``, a value the family's decisions find
    better or worse than the baseline's gets ▲ or ▼.
    """
    marks = significance_marks(result, baseline) if baseline else {}
    metrics = result.get("values", result["metrics"])
    rows = []
    for year, block in result["years"].items():
        for model in [*block["models"], *block["missing"]]:
            row = {"year": int(year), "model": model}
            for metric in metrics:
                entry = block["models"].get(model, {}).get(metric)
                text = MISSING if entry is None else _entry_text(entry) + marks.get((int(year), model, metric), "")
                row[metric_label(metric)] = text
            rows.append(row)
    return pd.DataFrame(rows)


def significance_marks(result: dict, baseline: str) -> dict[tuple[int, str, str], str]:
    """``(year, model, metric)`` → ▲ / ▼ where the family's decision says the model beats / loses to ``baseline``."""
    marks = {}
    for year, block in result["years"].items():
        for pair in block["pairs"]:
            if baseline not in (pair["a"], pair["b"]) or pair["decision"] == "none":
                continue
            model, side = (pair["a"], "a") if pair["b"] == baseline else (pair["b"], "b")
            marks[(int(year), model, pair["metric"])] = BETTER_MARK if pair["decision"] == side else WORSE_MARK
    return marks


def pairs_table(result: dict, a: str | None = None, b: str | None = None) -> pd.DataFrame:
    """One row per tested pair, metric and year (or only ``a`` vs ``b``): difference with its 95% CI and its
    adjusted CI, p and adjusted p (2 significant figures, bounds as ``< x``), effect d_z and relative difference."""
    adjusted = "Holm p" if result["test"] == "signflip" else "Tukey p"
    if a is None:
        chosen = [(int(year), pair) for year, block in result["years"].items() for pair in block["pairs"]]
    else:  # seen as a − b, whichever order the family holds the pair in
        found = [
            (year, pair) for metric in result["metrics"] for year, pair in pair_entries(result, a, b, metric).items()
        ]
        chosen = sorted(found, key=lambda item: item[0])
    rows = [
        {
            "year": year,
            "a": pair["a"],
            "b": pair["b"],
            "metric": metric_label(pair["metric"]),
            "diff (a − b)": interval_text(pair["diff"], pair["ci"]),
            "adjusted CI": "[{:.4f}, {:.4f}]".format(*pair["ci_adjusted"]),
            "p": format_p(pair["p"], pair["p_is_bound"]),
            adjusted: format_p(pair["p_adjusted"], pair["p_adjusted_is_bound"]),
            "effect d_z": round(pair["effect"], 3),
            "relative": None if pair["rel_diff"] is None else f"{pair['rel_diff']:+.1%}",
        }
        for year, pair in chosen
    ]
    columns = ["year", "a", "b", "metric", "diff (a − b)", "adjusted CI", "p", adjusted, "effect d_z", "relative"]
    return pd.DataFrame(rows, columns=columns)


def pair_rows(result: dict, a: str, b: str) -> pd.DataFrame:
    """Long form ``year, metric, diff, low, high, adj_low, adj_high, p_adjusted, effect`` of ``a − b`` (a chart)."""
    rows = [
        {
            "year": year,
            "metric": metric_label(metric),
            "diff": pair["diff"],
            "low": pair["ci"][0],
            "high": pair["ci"][1],
            "adj_low": pair["ci_adjusted"][0],
            "adj_high": pair["ci_adjusted"][1],
            "p_adjusted": pair["p_adjusted"],
            "effect": pair["effect"],
        }
        for metric in result["metrics"]
        for year, pair in sorted(pair_entries(result, a, b, metric).items())
    ]
    columns = ["year", "metric", "diff", "low", "high", "adj_low", "adj_high", "p_adjusted", "effect"]
    return pd.DataFrame(rows, columns=columns)


def with_intervals(
    frame: pd.DataFrame, result: dict, columns: dict[str, str], baseline: str | None = None
) -> pd.DataFrame:
    """``frame`` (``model, year`` rows) with each of ``columns`` (column → metric name) as ``value [lo, hi]``.

    Rows the comparison does not hold (e.g. the notebook's reference rows) keep their value alone; with
    ``baseline``, a value the family's decisions find better / worse than the baseline's gets ▲ / ▼ (only the
    family's metrics can carry a mark). Where the comparison pooled several seeds, the value is their mean
    followed by ``± seed SD (n seeds)``.
    """
    marks = significance_marks(result, baseline) if baseline else {}
    shown = frame.copy()
    for column, metric in columns.items():
        texts = []
        for model, year, value in zip(frame["model"], frame["year"], frame[column], strict=True):
            entry = result["years"].get(str(year), {}).get("models", {}).get(model, {}).get(metric)
            if value is None or pd.isna(value):
                texts.append("")
            elif entry is None:
                texts.append(f"{value:.4f}")
            else:
                texts.append(_entry_text(entry) + marks.get((int(year), model, metric), ""))
        shown[column] = texts
    return shown


def curve_with_intervals(curve: pd.DataFrame, result: dict) -> pd.DataFrame:
    """:func:`explorer.reports.recall_curve` rows with ``low`` and ``high`` of their CI (NaN where there is none)."""
    values = comparison_values(result)
    values = values[values["metric"].str.startswith("recall@")]
    values = values.assign(K=values["metric"].str.removeprefix("recall@").astype(int))[
        ["model", "year", "K", "low", "high"]
    ]
    return curve.merge(values, on=["model", "year", "K"], how="left")


def markdown(result: dict) -> str:
    """The comparison as Markdown: per family metric a leaderboard (model × year, ``value [CI]``, the best in
    bold, ``=`` beside every model the family's test cannot tell apart from the best), then the verdicts.

    The tables of ``docs/results.md`` are this function's output (``compare … --markdown``).
    """
    years = [int(year) for year in result["years"]]
    lines = [result["family"]["sentence"], ""]
    for metric in result["metrics"]:
        board = leaderboard(result, metric)
        lines += [f"### {metric_label(metric)}", "", "| model | " + " | ".join(map(str, years)) + " |"]
        lines.append("|---" * (len(years) + 1) + "|")
        for model, rows in board.groupby("model", sort=False):
            cells = []
            for year in years:
                row = rows[rows["year"] == year]
                if row.empty or bool(row["missing"].iloc[0]):
                    cells.append(MISSING)
                    continue
                row = row.iloc[0]
                entry = result["years"][str(year)]["models"][model][metric]
                text = _entry_text(entry)
                cells.append(f"**{text}**" if row["best"] else f"{text} =" if row["group"] else text)
            lines.append(f"| `{model}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"Verdicts (adjusted p < {result['alpha']:g}):", ""]
    lines += [f"- {sentence}" for sentence in result["verdicts"]]
    return "\n".join(lines) + "\n"
