"""Tables of trained runs, shared by the CLI and the app's pages (no metric is computed here).

Every function takes a sequence of :class:`~explorer.training.Run` (any models, any years) and returns
a tidy :class:`pandas.DataFrame` with ``model`` and ``year`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explorer import comparison_tables as tables
from explorer import per_user as per_user_results
from explorer.evaluation import NDCG_KS, RECALL_KS
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


# --- Uncertainty and comparisons: tables of explorer.comparison results, in explorer/comparison_tables.py ---

BETTER_MARK, WORSE_MARK = tables.BETTER_MARK, tables.WORSE_MARK
LATEX_MARKS = {BETTER_MARK: r"$^{\uparrow}$", WORSE_MARK: r"$^{\downarrow}$"}
interval_text = tables.interval_text
tidy = tables.tidy  # one row per (year, model, metric): value, ci_low, ci_high, p_vs_best, group, …
comparison_values = tables.comparison_values
comparison_table = tables.comparison_table
significance_marks = tables.significance_marks
pairs_table = tables.pairs_table
pair_rows = tables.pair_rows
with_intervals = tables.with_intervals
curve_with_intervals = tables.curve_with_intervals
markdown = tables.markdown  # leaderboards and verdicts as Markdown (docs/results.md)
per_user = per_user_results.per_user_frame  # one row per (year, seed, user): cases, hits@K, rr_sum, cohorts


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
