"""The Metrics page's leaderboard: one metric, models as rows and test years as columns, sorted by the latest year.

Every number and decision comes from :func:`explorer.decisions.leaderboard` (the same family and test as every
other decision on the page and as ``compare``). The table is HTML so that the best value of each year can be
bold, the models that cannot be told apart from it shaded as one group, and each cell can carry its CI on a
compact second line and the details on hover. Model names are escaped (a plugin may name a model anything).
"""

from __future__ import annotations

import html
import math

import pandas as pd
import streamlit as st

from app.palette import model_colour
from app.text import literal
from explorer import decisions
from explorer.evaluation import metric_label
from explorer.stats import format_p

GROUP_BACKGROUND = "#dff0d8"
STYLE = f"""<style>
.lb {{border-collapse: collapse; font-size: 0.95rem; margin: 0.25rem 0 0.5rem 0;}}
.lb th {{text-align: right; padding: 0.3rem 0.9rem; border-bottom: 2px solid #999; font-weight: 600;}}
.lb th.m, .lb td.m {{text-align: left;}}
.lb td {{text-align: right; padding: 0.25rem 0.9rem; border-bottom: 1px solid #e4e4e4; vertical-align: top;}}
.lb td.group {{background: {GROUP_BACKGROUND};}}
.lb td.best .v {{font-weight: 700;}}
.lb .ci, .lb .sd {{font-size: 0.75rem; color: #555; white-space: nowrap;}}
.lb .missing {{color: #999;}}
.lb .swatch {{display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.4rem;
  vertical-align: -0.05rem;}}
.lb .rank {{color: #777; text-align: right;}}
.lbkey {{font-size: 0.85rem; color: #444;}}
.lbkey .chip {{background: {GROUP_BACKGROUND}; padding: 0 0.3rem;}}
</style>"""


def wide(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's values as a models × years table (rows in the leaderboard's order)."""
    order = list(dict.fromkeys(board["model"]))
    table = board.pivot(index="model", columns="year", values="value")
    return table.reindex(order)


def _p_name(test: str) -> str:
    return "Holm-adjusted p" if test == "signflip" else "Tukey-adjusted p"


def _hover(row: pd.Series, metric: str, best: str, test: str) -> str:
    label = metric_label(metric)
    parts = [f"{row['model']} {row['year']}: {label} {row['value']:.4f}"]
    parts.append(f"95% CI [{row['ci_low']:.4f}, {row['ci_high']:.4f}] (bootstrap over test users)")
    if row["seeds"] > 1 and not _nan(row["seed_sd"]):
        parts.append(f"mean of {row['seeds']} seeds, seed SD {row['seed_sd']:.4f}")
    if row["best"]:
        parts.append("the best of the year")
    else:
        p = format_p(row["p_vs_best"], bool(row["p_vs_best_is_bound"]))
        verdict = "cannot be told apart from" if row["group"] else "worse than"
        parts.append(f"{verdict} {best} ({_p_name(test)} {p})")
    return "; ".join(parts)


def _nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(row: pd.Series | None, metric: str, best: str, test: str) -> str:
    if row is None or row["missing"]:
        return '<td class="missing" title="no run of this model for this test year">missing</td>'
    classes = [c for c, on in (("group", row["group"]), ("best", row["best"])) if on]
    lines = [
        f'<div class="v">{row["value"]:.4f}</div>',
        f'<div class="ci">[{row["ci_low"]:.4f}, {row["ci_high"]:.4f}]</div>',
    ]
    if row["seeds"] > 1 and not _nan(row["seed_sd"]):
        lines.append(f'<div class="sd">± {row["seed_sd"]:.4f} SD, {row["seeds"]} seeds</div>')
    title = html.escape(_hover(row, metric, best, test))
    return f'<td class="{" ".join(classes)}" title="{title}">{"".join(lines)}</td>'


def board_html(board: pd.DataFrame, metric: str, test: str) -> str:
    """The leaderboard as an HTML table (see the module docstring); ``board`` from :func:`decisions.leaderboard`."""
    years = sorted(set(board["year"]))
    models = list(dict.fromkeys(board["model"]))
    best = {y: board[(board["year"] == y) & (board["best"] == True)]["model"] for y in years}  # noqa: E712
    best_of = {y: (names.iloc[0] if len(names) else "") for y, names in best.items()}
    rows_by = {(r["model"], r["year"]): r for _, r in board.iterrows()}
    head = "".join(f"<th>{y}{' ↓' if y == years[-1] else ''}</th>" for y in years)
    body = []
    for rank, model in enumerate(models, start=1):
        name = html.escape(model)
        swatch = f'<span class="swatch" style="background:{model_colour(model)}"></span>'
        cells = "".join(_cell(rows_by.get((model, y)), metric, best_of[y], test) for y in years)
        body.append(f'<tr><td class="rank">{rank}</td><td class="m">{swatch}{name}</td>{cells}</tr>')
    return (
        f'{STYLE}<table class="lb" aria-label="{html.escape(metric_label(metric))} leaderboard">'
        f'<thead><tr><th class="rank">#</th><th class="m">model</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<div class="lbkey"><b>Bold</b>: the best of the test year. <span class="chip">Shaded</span>: cannot be '
        "told apart from the best (its group). Second line: 95% CI over test users; hover a cell for its p.</div>"
    )


def year_sentences(board: pd.DataFrame, metric: str) -> list[str]:
    """Per test year, newest first: which model is best and which cannot be told apart from it."""
    sentences = []
    for year in sorted(set(board["year"]), reverse=True):
        rows = board[(board["year"] == year) & ~board["missing"].astype(bool)]
        if rows.empty:
            continue
        best = rows[rows["best"].astype(bool)].iloc[0]
        tied = [literal(m) for m in rows[rows["group"].astype(bool) & ~rows["best"].astype(bool)]["model"]]
        text = f"**{year}**: {literal(best['model'])} is best ({metric_label(metric)} {best['value']:.4f})"
        if tied:
            text += f"; {_names(tied)} cannot be told apart from it"
        else:
            text += "; every other model is significantly worse"
        sentences.append(text + ".")
    return sentences


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def show(result: dict, metric: str) -> pd.DataFrame:
    """Draw the leaderboard of ``metric`` from the page's comparison ``result``; returns its long form."""
    board = decisions.leaderboard(result, metric)
    st.html(board_html(board, metric, result["test"]))
    st.markdown("  \n".join(year_sentences(board, metric)))
    return board
