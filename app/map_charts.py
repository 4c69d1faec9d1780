"""The embedding map: a UMAP scatter of a run's artists and users, with one user's lists marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from app.text import plotly_literal


def _tidy(figure: go.Figure, height: int) -> go.Figure:
    figure.update_layout(height=height, margin={"t": 30, "b": 10, "l": 10, "r": 10}, legend_title_text="")
    return figure


def embedding_map(points: pd.DataFrame, colour: str, marked: dict) -> go.Figure:
    """The UMAP scatter; ``marked`` may hold ``user``, ``history`` and ``recommended`` ids to highlight.

    ``colour`` is ``"top tag"`` (the 12 most common, the rest grouped), ``"popularity"`` (log scale) or
    ``"node type"``; one attribute at a time, so the legend stays readable.
    """
    points = points.assign(name=plotly_literal(points["name"]), top_tag=plotly_literal(points["top_tag"]))
    if colour == "top tag":
        common = points["top_tag"].value_counts().index[:12]
        shown = points.assign(colour=points["top_tag"].where(points["top_tag"].isin(common), "other tags"))
    elif colour == "popularity":
        shown = points.assign(colour=np.log1p(points["popularity"]))
    else:
        shown = points.assign(colour=points["node"])
    figure = px.scatter(
        shown,
        x="x",
        y="y",
        color="colour",
        hover_name="name",
        hover_data={"x": False, "y": False, "colour": False, "node": True, "top_tag": True, "popularity": True},
        color_continuous_scale="Viridis",
        opacity=0.6,
        labels={"colour": "log(1+popularity)" if colour == "popularity" else ""},
    )
    figure.update_traces(marker={"size": 5})
    styles = {
        "history": ("artist", "diamond-open", "#000000", 11, "their history"),
        "recommended": ("artist", "star", "#e41a1c", 14, "recommended"),
        "user": ("user", "x", "#000000", 16, "the user"),
    }
    for role, ids in marked.items():
        node, symbol, colour_code, size, label = styles[role]
        rows = points[(points["node"] == node) & points["id"].isin(ids)]
        if len(rows):
            figure.add_trace(
                go.Scatter(
                    x=rows["x"],
                    y=rows["y"],
                    mode="markers",
                    name=label,
                    text=rows["name"],
                    hoverinfo="text",
                    marker={
                        "symbol": symbol,
                        "size": size,
                        "color": colour_code,
                        "line": {"width": 2, "color": colour_code},
                    },
                )
            )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _tidy(figure, 640)
