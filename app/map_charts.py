"""Embedding maps: a run's artists and users on the plane, with a user's lists or an artist's neighbours marked.

What the maps promise (issue 16, "maps that show what they mark"):

* When something is marked, every other point is dimmed and the marks are drawn last (on top), each in a
  shape of its own with a dark outline, and the view is zoomed to them; *isolate* hides the other points.
* Each common tag keeps one colour on every map (:func:`tag_colours` over the data set's tags, not the
  map's), light tones that no mark uses: marks are black, or a model's own colour (:mod:`app.palette`).
* Data text (names, tags) is HTML-escaped: plotly would draw ``<b>`` in labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.palette import model_colour
from app.text import plotly_literal, plotly_text

# Light tones, far from every model colour and from the black marks; one per common tag, in the data set's order.
TAG_PALETTE = (
    "#8dd3c7",
    "#bebada",
    "#fdb462",
    "#80b1d3",
    "#b3de69",
    "#fccde5",
    "#ffed6f",
    "#bc80bd",
    "#ccebc5",
    "#fb8072",
    "#d9ef8b",
    "#c6dbef",
)
OTHER_TAGS, OTHER_COLOUR = "other tags", "#dcdcdc"
UNTAGGED, UNTAGGED_COLOUR = "(untagged)", "#efefef"
NODE_COLOURS = {"artist": "#80b1d3", "user": "#fdb462"}
DIMMED, PLAIN = 0.45, 0.9  # background opacity with and without marks (dimmed: still readable by tag colour)
DARK = "#111111"
LIST_SYMBOLS = ("star", "triangle-up", "pentagon", "hexagram")  # one shape per marked list (up to four) ...
LIST_SIZES = (19, 15, 12, 10)  # ... each smaller than the last, so an artist in several lists shows every mark


@dataclass(frozen=True)
class Mark:
    """Points drawn on top of a map: ``ids`` of ``node`` (``artist`` or ``user``), in one style and legend entry."""

    label: str
    node: str
    ids: tuple[int, ...]
    symbol: str
    colour: str = DARK
    size: int = 12
    named: bool = False  # write each point's name beside it (a few points only: an artist and its neighbours)


def user_marks(user: int, history: Sequence[int], held_out: Sequence[int], lists: dict[str, Sequence[int]]) -> list:
    """The marks of one user: the user, their history, their held-out artists and each model's list."""
    marks = [
        Mark("their history", "artist", tuple(map(int, history)), "diamond-open", DARK, 10),
        Mark("held out (tagged in the test year)", "artist", tuple(map(int, held_out)), "circle-open", DARK, 14),
    ]
    for (model, ids), symbol, size in zip(lists.items(), LIST_SYMBOLS, LIST_SIZES, strict=False):
        marks.append(Mark(f"{model}'s list", "artist", tuple(map(int, ids)), symbol, model_colour(model), size))
    marks.append(Mark(f"user {user}", "user", (int(user),), "x", DARK, 16))
    return marks


def artist_marks(artist: int, name: str, neighbours: Sequence[int], *, named: bool = True) -> list[Mark]:
    """The marks of an artist search: its nearest neighbours (in the model's own space; their names written beside
    them unless ``named`` is False) and the artist."""
    return [
        Mark("nearest neighbours", "artist", tuple(map(int, neighbours)), "square-open", DARK, 11, named=named),
        Mark(name, "artist", (int(artist),), "star-diamond", DARK, 18, named=True),
    ]


def tag_colours(order: Sequence[str]) -> dict[str, str]:
    """``{tag: colour}`` for the data set's most common tags (``order``), plus the two catch-alls."""
    colours = dict(zip(order, TAG_PALETTE, strict=False))
    return {**colours, OTHER_TAGS: OTHER_COLOUR, UNTAGGED: UNTAGGED_COLOUR}


def _hover(points: pd.DataFrame) -> np.ndarray:
    names, tags = plotly_literal(points["name"]), plotly_literal(points["top_tag"])
    counts = points["popularity"].to_numpy()
    text = [f"{n}<br>{t} · {c:,} train rows" for n, t, c in zip(names, tags, counts, strict=True)]
    return np.array(text, dtype=object)


def _background(points: pd.DataFrame, colour: str, order: Sequence[str], dimmed: bool, legend: bool) -> list:
    """The map's points as scattergl traces: one per tag (or node type), or one coloured by popularity."""
    style = {"size": 5 if dimmed else 6}
    opacity = DIMMED if dimmed else PLAIN
    hover = _hover(points)
    common = {"mode": "markers", "hoverinfo": "text", "opacity": opacity, "showlegend": legend}
    if colour == "popularity":
        scale = np.log1p(points["popularity"].to_numpy())
        bar = {"title": {"text": "log(1 + train rows)", "side": "right"}, "x": 1.0, "len": 0.8, "thickness": 14}
        marker = {**style, "color": scale, "colorscale": "Viridis", "colorbar": bar if legend else None}
        return [go.Scattergl(x=points["x"], y=points["y"], hovertext=hover, marker=marker, name="", **common)]
    if colour == "node type":
        groups = points["node"].to_numpy()
        colours = NODE_COLOURS
    else:
        tags = points["top_tag"].to_numpy()
        groups = np.where(np.isin(tags, list(order)) | (tags == UNTAGGED), tags, OTHER_TAGS)
        colours = tag_colours(order)  # the tags in order, then the two catch-alls
    traces = []
    for group, group_colour in colours.items():
        rows = groups == group
        if rows.any():
            traces.append(
                go.Scattergl(
                    x=points["x"].to_numpy()[rows],
                    y=points["y"].to_numpy()[rows],
                    hovertext=hover[rows],
                    marker={**style, "color": group_colour},
                    name=plotly_text(group),
                    legendgroup=group,
                    **common,
                )
            )
    return traces


def _mark_traces(points: pd.DataFrame, marks: Sequence[Mark], legend: bool = True) -> tuple[list, np.ndarray]:
    """One trace per mark (drawn after the background, so on top) and the marked points' coordinates."""
    traces, where = [], []
    for mark in marks:
        rows = points[(points["node"] == mark.node) & points["id"].isin(mark.ids)]
        if rows.empty:
            continue
        where.append(rows[["x", "y"]].to_numpy())
        traces.append(
            go.Scattergl(
                x=rows["x"],
                y=rows["y"],
                mode="markers+text" if mark.named else "markers",
                text=rows["name"].astype(str).to_numpy() if mark.named else None,  # WebGL text: drawn as written
                textposition="top center",
                textfont={"size": 11, "color": DARK},
                name=plotly_text(mark.label),
                legendgroup=f"mark {mark.label}",
                showlegend=legend,
                hovertext=_hover(rows),
                hoverinfo="text",
                marker={
                    "symbol": mark.symbol,
                    "size": mark.size,
                    "color": mark.colour,
                    "line": {"width": 1.5 if mark.symbol.endswith("open") else 1, "color": DARK},
                },
            )
        )
    return traces, (np.concatenate(where) if where else np.empty((0, 2)))


def zoom(points: pd.DataFrame, marked: np.ndarray) -> dict[str, list[float]] | None:
    """Axis ranges around the marked points (padded, never tighter than a tenth of the map), or None."""
    if not len(marked):
        return None
    ranges = {}
    for axis, column in (("x", 0), ("y", 1)):
        low, high = float(marked[:, column].min()), float(marked[:, column].max())
        full = float(points[axis].max() - points[axis].min()) or 1.0
        span = max(high - low, full / 10)
        middle = (low + high) / 2
        ranges[axis] = [middle - 0.6 * span, middle + 0.6 * span]
    return ranges


def _layout(figure: go.Figure, height: int, legend_below: bool = False) -> go.Figure:
    """The legend in rows above the plot (below it for small multiples, whose titles sit above), never under the
    popularity colourbar, which stands at the right."""
    where = {"yanchor": "top", "y": -0.02} if legend_below else {"yanchor": "bottom", "y": 1.01}
    figure.update_layout(
        height=height,
        margin={"t": 50, "b": 80, "l": 10, "r": 10} if legend_below else {"t": 60, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "x": 0, "title": {"text": ""}, **where},
        plot_bgcolor="#ffffff",
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def embedding_map(
    points: pd.DataFrame,
    colour: str,
    marks: Sequence[Mark] = (),
    *,
    tag_order: Sequence[str] = (),
    isolate: bool = False,
) -> go.Figure:
    """The map of one run: ``points`` (``node, id, x, y, name, top_tag, popularity``), coloured by ``colour``
    (``"top tag"``, ``"popularity"`` or ``"node type"``), with ``marks`` on top and zoomed to."""
    traces, marked = _mark_traces(points, marks)
    background = [] if isolate and len(marked) else _background(points, colour, tag_order, bool(len(marked)), True)
    figure = go.Figure([*background, *traces])
    ranges = zoom(points, marked)
    if ranges is not None:
        figure.update_xaxes(range=ranges["x"])
        figure.update_yaxes(range=ranges["y"])
    return _layout(figure, 640)


def years_map(
    by_year: dict[int, pd.DataFrame],
    tag_order: Sequence[str],
    path: pd.DataFrame | None = None,
    marks: dict[int, list[Mark]] | None = None,
) -> go.Figure:
    """Aligned maps of several years side by side on shared axes (small multiples), coloured by top tag.

    ``path``: ``year, x, y`` of a followed artist, drawn as a line in every panel (each year's position
    marked); ``marks``: per year, marks drawn on top of that year's panel.
    """
    years = sorted(by_year)
    figure = make_subplots(
        rows=1, cols=len(years), shared_xaxes=True, shared_yaxes=True, subplot_titles=[str(y) for y in years]
    )
    followed = path is not None and not path.empty
    marked = [path[["x", "y"]].to_numpy()] if followed else []
    for column, year in enumerate(years, start=1):
        points = by_year[year]
        year_marks = (marks or {}).get(year, [])
        for trace in _background(points, "top tag", tag_order, followed, column == 1):
            figure.add_trace(trace, row=1, col=column)
        if followed:
            figure.add_trace(
                go.Scattergl(
                    x=path["x"],
                    y=path["y"],
                    mode="lines+markers+text",
                    text=path["year"].astype(str),
                    textposition="top center",
                    line={"color": DARK, "width": 1.5, "dash": "dot"},
                    marker={"size": 6, "color": DARK},
                    name="its path across the years",
                    legendgroup="path",
                    showlegend=column == 1,
                    hoverinfo="skip",
                ),
                row=1,
                col=column,
            )
        traces, where = _mark_traces(points, year_marks, legend=column == 1)
        marked.append(where)
        for trace in traces:
            figure.add_trace(trace, row=1, col=column)
    ranges = zoom(pd.concat(by_year.values()), np.concatenate(marked)) if marked else None
    if ranges is not None:
        figure.update_xaxes(range=ranges["x"])
        figure.update_yaxes(range=ranges["y"])
    return _layout(figure, 620, legend_below=True)
