"""Plotly figures of the report tables (presentation only: every number comes from explorer.reports).

Every chart that shows models colours them by :mod:`app.palette` (one colour per model on every page) and
keeps one legend entry per model: years are told apart by marker symbols or line dashes, with one legend entry
per year. Figures are pure functions of their inputs; the pages cache them (``app.metrics_sections``).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from app.palette import model_colour
from app.text import plotly_text

YEAR_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")
YEAR_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
REFERENCE_OF = {"notebook LightGCN": "lightgcn", "notebook CMF (k=50)": "cmf"}  # drawn dotted in their model's colour


def tidy(figure: go.Figure, height: int = 340) -> go.Figure:
    """The layout every chart shares: its height, slim margins, no legend title."""
    figure.update_layout(height=height, margin={"t": 40, "b": 10, "l": 10, "r": 10}, legend_title_text="")
    return figure


def _colour(model: str) -> str:
    return model_colour(REFERENCE_OF.get(model, model))


def _legend_height(entries: int, least: int = 360) -> int:
    """A height whose right-hand legend holds ``entries`` lines without clipping."""
    return max(least, 27 * entries + 120)


def _year_keys(figure: go.Figure, years: list[int], *, dashes: bool = False) -> None:
    """One grey legend entry per year (its marker symbol or line dash), after the models' entries."""
    for i, year in enumerate(years):
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines" if dashes else "markers",
                name=str(year),
                legendgroup="years",
                legendgrouptitle_text="test year",
                marker={"symbol": YEAR_SYMBOLS[i % len(YEAR_SYMBOLS)], "color": "#666666", "size": 9},
                line={"dash": YEAR_DASHES[i % len(YEAR_DASHES)], "color": "#666666"},
            )
        )


def _errors(rows: pd.DataFrame, y: str) -> dict | None:
    if "low" not in rows or "high" not in rows or rows["low"].isna().all():
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": (rows["high"] - rows[y]).to_numpy(),
        "arrayminus": (rows[y] - rows["low"]).to_numpy(),
        "thickness": 1.2,
        "width": 3,
    }


def _lines(rows: pd.DataFrame, x: str, y: str, offsets: dict[str, float] | None = None) -> list[go.Scatter]:
    """One line per model (palette colour; the notebook's reference rows dotted), CIs as error bars."""
    traces = []
    for model, group in rows.groupby("model", sort=False):
        group = group.sort_values(x)
        shift = (offsets or {}).get(model, 0.0)
        traces.append(
            go.Scatter(
                x=group[x] + shift,
                y=group[y],
                mode="lines+markers",
                name=plotly_text(model),
                line={"color": _colour(model), "dash": "dot" if model in REFERENCE_OF else "solid"},
                marker={"color": _colour(model), "size": 7},
                error_y=_errors(group, y),
                customdata=group[x],
                hovertemplate=f"{plotly_text(model)} · %{{customdata}}: %{{y:.4f}}<extra></extra>",
            )
        )
    return traces


def recall_by_year(curve: pd.DataFrame, k: int) -> go.Figure:
    """Recall@k per test year, one line per model (dodged sideways a little so the CIs do not hide each other)."""
    rows = curve[curve["K"] == k]
    models = list(dict.fromkeys(rows["model"]))
    offsets = {m: (i - (len(models) - 1) / 2) * 0.025 for i, m in enumerate(models)}
    figure = go.Figure(_lines(rows, "year", "recall", offsets))
    figure.update_xaxes(tickvals=sorted(rows["year"].unique()), title="test year")
    figure.update_yaxes(title=f"Recall@{k}")
    figure.update_layout(title=f"Recall@{k} by test year (95% CI)")
    return tidy(figure, _legend_height(len(models)))


def recall_by_k(curve: pd.DataFrame, year: int) -> go.Figure:
    """Recall@K against K (log axis) for one test year."""
    rows = curve[curve["year"] == year]
    figure = go.Figure(_lines(rows, "K", "recall"))
    figure.update_xaxes(type="log", tickvals=sorted(rows["K"].unique()), title="K")
    figure.update_yaxes(title="Recall@K")
    figure.update_layout(title=f"Recall@K in {year} (95% CI)")
    return tidy(figure, _legend_height(rows["model"].nunique()))


def losses(table: pd.DataFrame) -> go.Figure:
    """Training loss per epoch: one colour per model, one line dash per year (one legend entry per model)."""
    years = sorted(table["year"].unique())
    figure = go.Figure()
    for model, group in table.groupby("model", sort=False):
        for year, run in group.groupby("year"):
            figure.add_trace(
                go.Scatter(
                    x=run["epoch"],
                    y=run["loss"],
                    mode="lines",
                    name=plotly_text(model),
                    legendgroup=model,
                    showlegend=bool(year == group["year"].min()),
                    line={"color": _colour(model), "dash": YEAR_DASHES[years.index(year) % len(YEAR_DASHES)]},
                    hovertemplate=f"{plotly_text(model)} {year} · epoch %{{x}}: %{{y:.4f}}<extra></extra>",
                )
            )
    _year_keys(figure, years, dashes=True)
    figure.update_layout(title="Training loss (BPR) per epoch", xaxis_title="epoch", yaxis_title="loss")
    return tidy(figure, _legend_height(table["model"].nunique() + len(years)))


def _by_model_and_year(rows: pd.DataFrame, x: str, y: str, *, errors: bool = False, **trace: object) -> go.Figure:
    """One trace per model (its colour), its years told apart by marker symbols; one legend key per year.

    With ``errors``, ``low``/``high`` columns are drawn as error bars on ``y``.
    """
    years = sorted(rows["year"].unique())
    figure = go.Figure()
    for model, group in rows.groupby("model", sort=False):
        group = group.sort_values("year")
        figure.add_trace(
            go.Scatter(
                x=group[x],
                y=group[y],
                name=plotly_text(model),
                marker={
                    "color": _colour(model),
                    "size": 11,
                    "symbol": [YEAR_SYMBOLS[years.index(v) % len(YEAR_SYMBOLS)] for v in group["year"]],
                },
                line={"color": _colour(model), "width": 1},
                error_y=_errors(group, y) if errors else None,
                customdata=group["year"],
                **trace,
            )
        )
    _year_keys(figure, years)
    return figure


def fit_times(timing: pd.DataFrame) -> go.Figure:
    """Fit seconds per model and year as dots on a log axis (bars on a log axis mislead), fastest model on top."""
    order = timing.groupby("model")["fit_s"].median().sort_values().index.tolist()
    rows = timing.assign(model=pd.Categorical(timing["model"], order, ordered=True)).sort_values("model")
    rows = rows.assign(model=rows["model"].astype(str))
    figure = _by_model_and_year(
        rows,
        "fit_s",
        "model",
        mode="markers",
        showlegend=False,
        hovertemplate="%{y} %{customdata}: %{x:.3g} s<extra></extra>",
    )
    figure.update_xaxes(type="log", title="fit seconds (log scale)")
    figure.update_yaxes(categoryorder="array", categoryarray=order[::-1], title="")
    figure.update_layout(title="Fit time per model and test year")
    return tidy(figure, max(300, 26 * len(order) + 120))


def overlap(matrix: pd.DataFrame) -> go.Figure:
    """A heatmap of the Jaccard overlap between the models' lists."""
    heatmap = go.Heatmap(  # not px.imshow: 6 ms instead of 90 ms, and Compare users redraws it on every rerun
        z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmin=0, zmax=1, colorscale="Blues"
    )
    figure = go.Figure(heatmap.update(texttemplate="%{z:.2f}", hovertemplate="%{y} · %{x}: %{z:.2f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed")  # the first model on top, as in the table
    return tidy(figure, 80 + 45 * len(matrix))


def cohort_bars(rows: pd.DataFrame, metric: str, family: str) -> go.Figure:
    """``metric`` by cohort of ``family``, one bar group per cohort and one bar per model, 95% CIs as error bars."""
    shown = rows[(rows["metric"] == metric) & (rows["family"] == family)].dropna(subset=["value"])
    shown = shown.assign(cohort=shown["cohort"] + " (" + shown["users"].astype(str) + " users)")
    figure = go.Figure(
        [
            go.Bar(
                x=group["cohort"],
                y=group["value"],
                name=plotly_text(model),
                marker_color=_colour(model),
                error_y=_errors(group, "value"),
                hovertemplate=f"{plotly_text(model)} · %{{x}}: %{{y:.4f}}<extra></extra>",
            )
            for model, group in shown.groupby("model", sort=False)
        ]
    )
    figure.update_layout(barmode="group", title=f"{metric} by {family} cohort (95% CI over the cohort's users)")
    figure.update_yaxes(title=metric)
    return tidy(figure, _legend_height(shown["model"].nunique(), 380))


def pair_differences(rows: pd.DataFrame, a: str, b: str) -> go.Figure:
    """a − b per test year, one panel per metric (their scales differ): the 95% CI and the family's adjusted CI."""
    from plotly.subplots import make_subplots

    metrics = list(dict.fromkeys(rows["metric"]))
    figure = make_subplots(rows=1, cols=max(1, len(metrics)), subplot_titles=metrics, horizontal_spacing=0.08)
    for column, metric in enumerate(metrics, start=1):
        part = rows[rows["metric"] == metric]
        for label, low, high, shift, colour in (
            ("95% CI", "low", "high", -0.08, _colour(a)),
            ("adjusted CI (the family's)", "adj_low", "adj_high", 0.08, "#555555"),
        ):
            figure.add_trace(
                go.Scatter(
                    x=part["year"] + shift,
                    y=part["diff"],
                    mode="markers",
                    name=label,
                    legendgroup=label,
                    showlegend=column == 1,
                    marker={"color": colour, "size": 10, "symbol": "circle" if shift < 0 else "diamond"},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (part[high] - part["diff"]).to_numpy(),
                        "arrayminus": (part["diff"] - part[low]).to_numpy(),
                        "color": colour,
                    },
                    customdata=part["year"],
                    hovertemplate=f"{metric} %{{customdata}}: %{{y:.4f}} ({label})<extra></extra>",
                ),
                row=1,
                col=column,
            )
        figure.add_hline(y=0, line_dash="dot", line_color="#555555", row=1, col=column)
        figure.update_xaxes(tickvals=sorted(part["year"].unique()), row=1, col=column)
    figure.update_layout(
        title=f"{plotly_text(a)} − {plotly_text(b)} per test year", legend={"orientation": "h", "y": -0.15, "x": 0}
    )
    tidy(figure, 400)
    figure.update_layout(margin={"t": 80})  # the title above the panels' own titles
    return figure


def accuracy_vs_novelty(rows: pd.DataFrame) -> go.Figure:
    """Each model's path over the years: novelty of its top-10 lists against Recall@10 (with its CI)."""
    figure = _by_model_and_year(
        rows,
        "novelty",
        "R@10",
        errors=True,
        mode="lines+markers",
        hovertemplate="%{customdata}: novelty %{x:.2f} bits, Recall@10 %{y:.4f}<extra></extra>",
    )
    figure.update_layout(title="Accuracy vs novelty: each model's path over the test years")
    figure.update_xaxes(title="novelty (mean self-information of the top 10, bits)")
    figure.update_yaxes(title="Recall@10")
    return tidy(figure, _legend_height(rows["model"].nunique() + rows["year"].nunique() + 1, 420))
