"""Plotly figures of the report tables (presentation only: every number comes from explorer.reports)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

MODEL_COLOURS = {
    "popularity": "#9e9e9e",
    "cmf": "#1f77b4",
    "lightgcn": "#ff7f0e",
    "lightgcn-social": "#d62728",
    "notebook LightGCN": "#c7a27c",
    "notebook CMF (k=50)": "#9ecae1",
}


def _tidy(figure: go.Figure, height: int = 340) -> go.Figure:
    figure.update_layout(height=height, margin={"t": 30, "b": 10, "l": 10, "r": 10}, legend_title_text="")
    return figure


def _error_bars(rows: pd.DataFrame, y: str) -> dict:
    """``error_y`` / ``error_y_minus`` columns for plotly express from ``low`` / ``high`` (the CI)."""
    if "low" not in rows or "high" not in rows:
        return {}
    return {"error_y": (rows["high"] - rows[y]).to_numpy(), "error_y_minus": (rows[y] - rows["low"]).to_numpy()}


def _recall_lines(rows: pd.DataFrame, x: str, title: str, **options) -> go.Figure:
    """Recall against ``x``, one line per model, the notebook's reference rows dotted, CIs as error bars."""
    figure = px.line(
        rows,
        x=x,
        y="recall",
        color="model",
        markers=True,
        color_discrete_map=MODEL_COLOURS,
        title=title,
        **_error_bars(rows, "recall"),
        **options,
    )
    figure.for_each_trace(lambda t: t.update(line_dash="dot") if t.name.startswith("notebook") else None)
    figure.update_xaxes(tickvals=sorted(rows[x].unique()))
    return _tidy(figure)


def recall_by_year(curve: pd.DataFrame, k: int) -> go.Figure:
    """Recall@k per test year, one line per model."""
    return _recall_lines(curve[curve["K"] == k], "year", f"Recall@{k} by test year")


def recall_by_k(curve: pd.DataFrame, year: int) -> go.Figure:
    """Recall@K against K (log axis) for one test year."""
    return _recall_lines(curve[curve["year"] == year], "K", f"Recall@K in {year}", log_x=True)


def warm_cold(groups: pd.DataFrame, metric: str) -> go.Figure:
    """A metric for warm vs cold users, per model and year."""
    figure = px.bar(
        groups,
        x="model",
        y=metric,
        color="users",
        barmode="group",
        facet_col="year",
        color_discrete_map={"warm": "#2ca02c", "cold": "#17becf"},
        title=f"{metric}: warm vs cold users",
    )
    figure.for_each_annotation(lambda a: a.update(text=a.text.replace("year=", "")))
    return _tidy(figure, 360)


def losses(table: pd.DataFrame) -> go.Figure:
    """Training loss per epoch, one line per model and year."""
    labelled = table.assign(run=table["model"] + " " + table["year"].astype(str))
    figure = px.line(labelled, x="epoch", y="loss", color="run", title="Training loss (BPR) per epoch")
    return _tidy(figure)


def fit_times(timing: pd.DataFrame) -> go.Figure:
    """Fit seconds per model and year (log axis: the notebook's GPU hours fit on the same chart)."""
    figure = px.bar(
        timing, x="model", y="fit_s", color="year", barmode="group", log_y=True, title="Fit time (seconds, log scale)"
    )
    return _tidy(figure)


def overlap(matrix: pd.DataFrame) -> go.Figure:
    """A heatmap of the Jaccard overlap between the models' lists."""
    heatmap = go.Heatmap(  # not px.imshow: 6 ms instead of 90 ms, and Compare users redraws it on every rerun
        z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmin=0, zmax=1, colorscale="Blues"
    )
    figure = go.Figure(heatmap.update(texttemplate="%{z:.2f}", hovertemplate="%{y} · %{x}: %{z:.2f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed")  # the first model on top, as in the table
    return _tidy(figure, 80 + 45 * len(matrix))


def cohort_bars(rows: pd.DataFrame, metric: str, family: str) -> go.Figure:
    """``metric`` by cohort of ``family``, one bar group per model, 95% CIs as error bars."""
    shown = rows[(rows["metric"] == metric) & (rows["family"] == family)].dropna(subset=["value"])
    shown = shown.assign(cohort=shown["cohort"] + " (" + shown["users"].astype(str) + " users)")
    figure = px.bar(
        shown,
        x="cohort",
        y="value",
        color="model",
        barmode="group",
        color_discrete_map=MODEL_COLOURS,
        title=f"{metric} by {family} cohort (95% CI over the cohort's users)",
        labels={"value": metric, "cohort": ""},
        **_error_bars(shown, "value"),
    )
    return _tidy(figure, 380)


def pair_differences(rows: pd.DataFrame, a: str, b: str) -> go.Figure:
    """Per-year difference a − b of each metric with its CI; zero marked."""
    figure = px.scatter(
        rows.assign(year=rows["year"].astype(str)),
        x="year",
        y="diff",
        color="metric",
        title=f"{a} − {b} per test year (95% CI)",
        labels={"diff": f"{a} − {b}", "year": "test year"},
        **_error_bars(rows, "diff"),
    )
    figure.update_traces(marker={"size": 11})
    figure.update_xaxes(type="category")
    figure.add_hline(y=0, line_dash="dot", line_color="#555555")
    return _tidy(figure)


def accuracy_vs_novelty(rows: pd.DataFrame) -> go.Figure:
    """One point per model and year: novelty of the top-10 lists against Recall@10 (with its CI)."""
    figure = px.scatter(
        rows.assign(year=rows["year"].astype(str)),
        x="novelty",
        y="R@10",
        color="model",
        symbol="year",
        color_discrete_map=MODEL_COLOURS,
        title="Accuracy vs novelty (one point per model and year)",
        labels={"novelty": "novelty (mean self-information, bits)", "R@10": "Recall@10"},
        **_error_bars(rows, "R@10"),
    )
    figure.update_traces(marker={"size": 11})
    return _tidy(figure, 380)


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
    _tidy(figure, 420)
    figure.update_layout(margin={"t": 100, "b": 30, "l": 60, "r": 40})  # room for the axis labels above the axes
    return figure
