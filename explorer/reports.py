"""Tables of trained runs, shared by the CLI and the app's pages (no metric is computed here).

Every function takes a sequence of :class:`~explorer.training.Run` (any models, any years) and returns
a tidy :class:`pandas.DataFrame` with ``model`` and ``year`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explorer.evaluation import NDCG_KS, RECALL_KS, metric_label
from explorer.training import Run

# Published with the notebook (shared/data/README.md). Its LightGCN scores about what popularity does.
NOTEBOOK_REFERENCE = pd.DataFrame(
    [
        ("notebook CMF (k=50)", 2008, 4556, 0.015364, 0.025461, 0.044996, 0.057946, 0.231124, 0.022975, 0.21),
        ("notebook CMF (k=50)", 2009, 4687, 0.018562, 0.028803, 0.053552, 0.077662, 0.234905, 0.024215, 0.54),
        ("notebook CMF (k=50)", 2010, 6133, 0.020871, 0.036198, 0.067993, 0.104680, 0.268873, 0.027039, 0.98),
        ("notebook LightGCN", 2008, 4556, 0.027875, 0.046971, 0.079675, 0.133231, 0.386743, 0.039041, 1529),
        ("notebook LightGCN", 2009, 4687, 0.032430, 0.053126, 0.101984, 0.155323, 0.433113, 0.038456, 3673),
        ("notebook LightGCN", 2010, 6133, 0.031958, 0.065058, 0.113974, 0.167129, 0.455079, 0.041523, 7806),
    ],
    columns=["model", "year", "cases", *(f"R@{k}" for k in RECALL_KS), "MRR", "fit_s"],
)
NOTEBOOK_NOTE = (
    "Reference rows are the notebook's published numbers: its LightGCN trained for 13,007 s on a GPU; its CMF "
    "had no popularity fallback for cold users, so its numbers are not comparable one to one with ours."
)


def run_label(run: Run) -> str:
    return run.model


def recall_table(runs: Sequence[Run], *, reference: bool = False) -> pd.DataFrame:
    """The notebook's hit-rate table: cases and Recall@K, per model and year (plus its reference rows)."""
    rows = pd.DataFrame(
        [
            {
                "model": run_label(r),
                "year": r.year,
                "cases": r.metrics["cases"],
                **{f"R@{k}": r.metrics["recall"][str(k)] for k in RECALL_KS},
            }
            for r in runs
        ]
    )
    if reference:
        rows = pd.concat([rows, NOTEBOOK_REFERENCE.drop(columns=["MRR", "fit_s"])], ignore_index=True)
    return rows


def mrr_table(runs: Sequence[Run], *, reference: bool = False) -> pd.DataFrame:
    """MRR with its cases (test rows whose artist is in train), per model and year."""
    rows = pd.DataFrame(
        [
            {"model": run_label(r), "year": r.year, "cases": r.metrics["mrr_cases"], "MRR": r.metrics["mrr"]}
            for r in runs
        ]
    )
    if reference:
        published = NOTEBOOK_REFERENCE[["model", "year", "MRR"]].assign(cases=pd.NA)[rows.columns]
        rows = pd.concat([rows, published], ignore_index=True)
    return rows


def groups_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Warm users (with train rows) vs cold users, per model and year."""
    return pd.DataFrame(
        [
            {
                "model": run_label(r),
                "year": r.year,
                "users": group,
                "cases": r.metrics[group]["cases"],
                "R@10": r.metrics[group]["recall"]["10"],
                "R@50": r.metrics[group]["recall"]["50"],
                "MRR": r.metrics[group]["mrr"],
                "NDCG@10": r.metrics[group]["ndcg"]["10"],
            }
            for r in runs
            for group in ("warm", "cold")
        ]
    )


def quality_table(runs: Sequence[Run]) -> pd.DataFrame:
    """NDCG@K, HitRate@10 (on norm_ranks) and the catalogue coverage of the top-10 lists."""
    return pd.DataFrame(
        [
            {
                "model": run_label(r),
                "year": r.year,
                **{f"NDCG@{k}": r.metrics["ndcg"][str(k)] for k in NDCG_KS},
                "HitRate@10": r.metrics["hit_rate"]["10"],
                "coverage@10": r.metrics["coverage"]["10"],
            }
            for r in runs
        ]
    )


def timing_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Fit and evaluation seconds, epochs per second where the model trains in epochs, device."""
    return pd.DataFrame(
        [
            {
                "model": run_label(r),
                "year": r.year,
                "fit_s": r.fit_seconds,
                "eval_s": r.eval_seconds,
                "epochs": len(r.losses) or None,
                "device": r.device,
                "cached": r.from_cache,
            }
            for r in runs
        ]
    )


def recall_curve(runs: Sequence[Run], *, reference: bool = False) -> pd.DataFrame:
    """Long form ``model, year, K, recall`` (for charts across years and K)."""
    wide = recall_table(runs, reference=reference)
    long = wide.melt(id_vars=["model", "year", "cases"], var_name="K", value_name="recall")
    return long.assign(K=long["K"].str.removeprefix("R@").astype(int)).drop(columns="cases")


def losses_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Long form ``model, year, epoch, loss`` of the runs that train in epochs."""
    frames = [
        pd.DataFrame({"model": run_label(r), "year": r.year, "epoch": range(1, len(r.losses) + 1), "loss": r.losses})
        for r in runs
        if len(r.losses) > 1
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "year", "epoch", "loss"])


# --- Uncertainty and comparisons (tables of explorer.comparison results; nothing is computed here) ---

BETTER_MARK, WORSE_MARK = "▲", "▼"
LATEX_MARKS = {BETTER_MARK: r"$^{\uparrow}$", WORSE_MARK: r"$^{\downarrow}$"}


def interval_text(value: float | None, ci: list[float] | None, digits: int = 4) -> str:
    """``0.0825 [0.0721, 0.0930]`` (empty for a missing value)."""
    if value is None:
        return ""
    if ci is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def comparison_values(result: dict) -> pd.DataFrame:
    """Long form ``year, model, metric, value, low, high, seeds, sd`` of a comparison."""
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


def comparison_table(result: dict, *, baseline: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """One row per year and model, one column per metric: ``value [lo, hi]``, ``± sd (n seeds)`` with seeds.

    With ``baseline``, a value that differs from the baseline's (Holm p < ``alpha``) gets ▲ (better) or
    ▼ (worse); the comparison must hold the pairs ``(model, baseline)``.
    """
    marks = significance_marks(result, baseline, alpha) if baseline else {}
    rows = []
    for year, block in result["years"].items():
        for model, metrics in block["models"].items():
            row = {"year": int(year), "model": model}
            for metric, entry in metrics.items():
                text = interval_text(entry["value"], entry["ci"])
                if entry.get("seeds", 1) > 1:
                    text += f" ± {entry['sd']:.4f} ({entry['seeds']} seeds)"
                row[metric_label(metric)] = text + marks.get((int(year), model, metric), "")
            rows.append(row)
    return pd.DataFrame(rows)


def significance_marks(result: dict, baseline: str, alpha: float = 0.05) -> dict[tuple[int, str, str], str]:
    """``(year, model, metric)`` → ▲ / ▼ where the model differs from ``baseline`` with Holm p < ``alpha``."""
    marks = {}
    for year, block in result["years"].items():
        for pair in block["pairs"]:
            if baseline not in (pair["a"], pair["b"]) or pair["p_holm"] >= alpha or pair["diff"] == 0:
                continue
            model = pair["a"] if pair["b"] == baseline else pair["b"]
            better = (pair["diff"] > 0) == (pair["a"] == model)
            marks[(int(year), model, pair["metric"])] = BETTER_MARK if better else WORSE_MARK
    return marks


def pairs_table(result: dict) -> pd.DataFrame:
    """One row per tested pair, metric and year: difference with CI, p, Holm p and effect size (d_z)."""
    rows = [
        {
            "year": int(year),
            "a": pair["a"],
            "b": pair["b"],
            "metric": metric_label(pair["metric"]),
            "diff (a − b)": interval_text(pair["diff"], pair["ci"]),
            "p": pair["p"],
            "Holm p": pair["p_holm"],
            "effect d_z": pair["effect"],
        }
        for year, block in result["years"].items()
        for pair in block["pairs"]
    ]
    return pd.DataFrame(rows, columns=["year", "a", "b", "metric", "diff (a − b)", "p", "Holm p", "effect d_z"])


def pair_rows(result: dict, a: str, b: str) -> pd.DataFrame:
    """Long form ``year, metric, diff, low, high, p, p_holm, effect`` of one pair (for a chart)."""
    rows = [
        {
            "year": int(year),
            "metric": metric_label(pair["metric"]),
            "diff": pair["diff"],
            "low": pair["ci"][0],
            "high": pair["ci"][1],
            "p": pair["p"],
            "p_holm": pair["p_holm"],
            "effect": pair["effect"],
        }
        for year, block in result["years"].items()
        for pair in block["pairs"]
        if (pair["a"], pair["b"]) == (a, b)
    ]
    return pd.DataFrame(rows, columns=["year", "metric", "diff", "low", "high", "p", "p_holm", "effect"])


def cohort_rows(cohorts_by_run: Sequence[tuple[str, int, dict]]) -> pd.DataFrame:
    """Long form ``model, year, family, cohort, users, cases, metric, value, low, high`` of cohort metrics.

    Args:
        cohorts_by_run: ``(model, year, cohorts)`` with ``cohorts`` from :func:`explorer.cohorts.cohort_metrics`.
    """
    rows = []
    for model, year, cohorts in cohorts_by_run:
        for family, groups in cohorts.items():
            for cohort, entry in groups.items():
                for metric, value, ci in (
                    ("R@10", entry["recall"]["10"], entry["ci"]["recall"]["10"]),
                    ("MRR", entry["mrr"], entry["ci"]["mrr"]),
                    ("NDCG@10", entry["ndcg"]["10"], entry["ci"]["ndcg"]["10"]),
                ):
                    rows.append(
                        {
                            "model": model,
                            "year": year,
                            "family": family,
                            "cohort": cohort,
                            "users": entry["users"],
                            "cases": entry["cases"],
                            "metric": metric,
                            "value": value,
                            "low": ci[0] if ci else None,
                            "high": ci[1] if ci else None,
                        }
                    )
    columns = ["model", "year", "family", "cohort", "users", "cases", "metric", "value", "low", "high"]
    return pd.DataFrame(rows, columns=columns)


def cohort_table(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric of :func:`cohort_rows` as ``model, year, family, cohort, users, cases, <metric> [95% CI]``."""
    chosen = rows[rows["metric"] == metric]
    texts = [
        interval_text(None if pd.isna(v) else v, None if pd.isna(lo) else [lo, hi])
        for v, lo, hi in zip(chosen["value"], chosen["low"], chosen["high"], strict=True)
    ]
    columns = ["model", "year", "family", "cohort", "users", "cases"]
    return chosen[columns].assign(**{f"{metric} [95% CI]": texts}).reset_index(drop=True)


BEYOND_COLUMNS = ("coverage", "novelty", "arp", "long_tail_share", "gini", "diversity")


def beyond_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Beyond-accuracy metrics of the top-10 lists per model and year, beside Recall@10 and MRR."""
    return pd.DataFrame(
        [
            {
                "model": run_label(r),
                "year": r.year,
                "R@10": r.metrics["recall"]["10"],
                "MRR": r.metrics["mrr"],
                **{name: r.metrics.get("beyond", {}).get(name) for name in BEYOND_COLUMNS},
            }
            for r in runs
        ],
        columns=["model", "year", "R@10", "MRR", *BEYOND_COLUMNS],
    )


def _cell(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (pipes inside cells escaped)."""
    header = [str(c).replace("|", r"\|") for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, digits).replace("|", r"\|") for v in row) + " |")
    return "\n".join(lines) + "\n"


def to_latex(frame: pd.DataFrame, caption: str = "", digits: int = 4) -> str:
    """A LaTeX ``table`` (booktabs) with the significance marks as arrows; text cells escaped."""
    specials = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}
    specials |= {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "−": "--"}

    def escape(text: str) -> str:
        escaped = "".join(specials.get(ch, ch) for ch in text)
        for mark, latex in LATEX_MARKS.items():
            escaped = escaped.replace(mark, latex)
        return escaped

    columns = " ".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    lines = [r"\begin{table}", r"\centering", rf"\begin{{tabular}}{{{columns}}}", r"\toprule"]
    lines.append(" & ".join(escape(str(c)) for c in frame.columns) + r" \\")
    lines.append(r"\midrule")
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(escape(_cell(v, digits)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{escape(caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def with_intervals(
    frame: pd.DataFrame, result: dict, columns: dict[str, str], baseline: str | None = None
) -> pd.DataFrame:
    """``frame`` (``model, year`` rows) with each of ``columns`` (column → metric name) as ``value [lo, hi]``.

    Rows the comparison does not hold (e.g. the notebook's reference rows) keep their value alone; a value
    that differs from ``baseline``'s with Holm p < 0.05 gets ▲ or ▼. Where the comparison pooled several
    seeds, the value is their mean followed by ``± seed SD (n seeds)``.
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
                text = interval_text(entry["value"], entry["ci"])
                if entry.get("seeds", 1) > 1:
                    text += f" ± {entry['sd']:.4f} ({entry['seeds']} seeds)"
                texts.append(text + marks.get((int(year), model, metric), ""))
        shown[column] = texts
    return shown


def curve_with_intervals(curve: pd.DataFrame, result: dict) -> pd.DataFrame:
    """:func:`recall_curve` rows with ``low`` and ``high`` of their CI (NaN where there is none)."""
    values = comparison_values(result)
    values = values[values["metric"].str.startswith("recall@")]
    values = values.assign(K=values["metric"].str.removeprefix("recall@").astype(int))[
        ["model", "year", "K", "low", "high"]
    ]
    return curve.merge(values, on=["model", "year", "K"], how="left")
