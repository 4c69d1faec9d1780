"""Figures of a sweep's trials: the validation metric against one or two hyperparameters (with each point's seed
spread), or parallel coordinates from three hyperparameters up (with fewer, its axes are hairlines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts import tidy

SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def sweep_figure(
    trials: pd.DataFrame, params: list[str], metric: str, log_params: set[str], best: dict, fixed: dict | None = None
) -> go.Figure:
    """The chart that suits the sweep: :func:`sweep_lines` for one or two hyperparameters, else
    :func:`sweep_coordinates` (``best``: test year → the chosen ``{"params", "value"}`` or None; ``fixed``: grid
    items with one value, named in the title)."""
    figure = (
        sweep_lines(trials, params, metric, log_params, best)
        if 1 <= len(params) <= 2
        else sweep_coordinates(trials, params, metric, log_params)
    )
    if fixed:
        held = ", ".join(f"{name} = {value:g}" for name, value in fixed.items())
        figure.update_layout(title_text=f"{figure.layout.title.text} ({held} in every trial)")
    return figure


def _ticks(values: pd.Series) -> list[float]:
    return sorted(float(v) for v in values.unique())


def sweep_lines(trials: pd.DataFrame, params: list[str], metric: str, log_params: set[str], best: dict) -> go.Figure:
    """Validation ``metric`` against ``params[0]``, one panel per test year; with a second hyperparameter, one line
    per value of it. With seeds, each seed's trial is a faint dot and the line joins the means (error bars: ± the
    seeds' SD). The chosen setting of each year is a star."""
    from plotly.subplots import make_subplots

    ok = trials[trials["status"] == "ok"]
    x, series = params[0], (params[1] if len(params) == 2 else None)
    years = sorted(ok["year"].unique())
    titles = [f"test year {y} (validated on {y - 1})" for y in years]
    figure = make_subplots(rows=1, cols=max(1, len(years)), subplot_titles=titles, horizontal_spacing=0.08)
    values = list(dict.fromkeys(sorted(ok[series].unique()))) if series else [None]
    seeded = "seed" in ok and bool(ok.groupby(["year", *params]).size().max() > 1)
    for column, year in enumerate(years, start=1):
        part = ok[ok["year"] == year]
        for j, value in enumerate(values):
            group = part if series is None else part[part[series] == value]
            if group.empty:
                continue
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            name = f"{series} = {value:g}" if series else f"validation {metric}"
            means = group.groupby(x)[metric].agg(["mean", "std", "count"]).reset_index().sort_values(x)
            if seeded:
                figure.add_trace(
                    go.Scatter(
                        x=group[x],
                        y=group[metric],
                        mode="markers",
                        name=f"{name}: one seed",
                        legendgroup=name,
                        showlegend=False,
                        marker={"color": colour, "size": 6, "opacity": 0.35},
                        customdata=group["seed"],
                        hovertemplate=f"{x} %{{x:g}}, seed %{{customdata}}: %{{y:.4f}}<extra></extra>",
                    ),
                    row=1,
                    col=column,
                )
            figure.add_trace(
                go.Scatter(
                    x=means[x],
                    y=means["mean"],
                    mode="lines+markers",
                    name=name + (" (mean ± seed SD)" if seeded else ""),
                    legendgroup=name,
                    showlegend=column == 1 and (series is not None or seeded),
                    line={"color": colour},
                    marker={"color": colour, "size": 8},
                    error_y={"type": "data", "array": means["std"].fillna(0).to_numpy(), "visible": bool(seeded)},
                    hovertemplate=f"{x} %{{x:g}}: mean %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        chosen = best.get(year) or best.get(str(year))
        if chosen and x in chosen["params"]:
            figure.add_trace(
                go.Scatter(
                    x=[chosen["params"][x]],
                    y=[chosen["value"]],
                    mode="markers",
                    name="chosen setting",
                    legendgroup="chosen",
                    showlegend=column == 1,
                    marker={"symbol": "star", "size": 16, "color": "#111111"},
                    hovertemplate="chosen: %{y:.4f}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        axis = {"title": x, "tickvals": _ticks(part[x]), "ticktext": [f"{v:g}" for v in _ticks(part[x])]}
        if x in log_params and (part[x] > 0).all():
            axis["type"] = "log"
        figure.update_xaxes(row=1, col=column, **axis)
        figure.update_yaxes(title=f"validation {metric}" if column == 1 else None, tickformat=".4f", row=1, col=column)
    figure.update_layout(
        title=f"Validation {metric} against {' and '.join(params)}", legend={"orientation": "h", "y": -0.22, "x": 0}
    )
    tidy(figure, 420)
    figure.update_layout(margin={"t": 80, "b": 40})
    return figure


def sweep_coordinates(trials: pd.DataFrame, params: list[str], metric: str, log_params: set[str]) -> go.Figure:
    """Parallel coordinates of a sweep's successful trials: one axis per hyperparameter, the metric last.

    Hyperparameters swept on a log scale (learning rates, penalties) get a log10 axis.
    """
    shown = trials[trials["status"] == "ok"].copy()
    dimensions = []
    if shown["year"].nunique() > 1:
        dimensions.append({"label": "test year", "values": shown["year"], "tickvals": sorted(shown["year"].unique())})
    for name in params:
        values = shown[name].astype(float)
        ticks = sorted(values.unique())
        if name in log_params and (values > 0).all():  # a log axis labelled with the values themselves
            dimensions.append(
                {
                    "label": f"{name} (log)",
                    "values": np.log10(values),
                    "tickvals": np.log10(ticks),
                    "ticktext": [f"{tick:g}" for tick in ticks],
                }
            )
        else:
            dimensions.append(
                {"label": name, "values": values, "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}
            )
    dimensions.append({"label": f"validation {metric}", "values": shown[metric], "tickformat": ".4f"})
    figure = go.Figure(
        go.Parcoords(
            line={"color": shown[metric], "colorscale": "Viridis", "showscale": True, "colorbar": {"title": metric}},
            dimensions=dimensions,
            labelfont={"size": 13},
        )
    )
    figure.update_layout(title={"text": f"Validation {metric} of each trial against its hyperparameters", "y": 0.98})
    tidy(figure, 420)
    figure.update_layout(margin={"t": 100, "b": 30, "l": 60, "r": 40})  # room for the axis labels above the axes
    return figure
