"""One colour per model, the same in every chart and map on every page.

Thirteen built-in models get hand-picked colours that stay apart from each other (and from the marks
maps use for a user's history and recommendations); a plugin model gets one of the spare colours, chosen
by its name, so it keeps its colour across pages and servers.
"""

from __future__ import annotations

import hashlib

MODEL_COLOURS: dict[str, str] = {
    "popularity": "#7f7f7f",  # grey: the floor every model is measured against
    "friends-pop": "#bcbd22",  # olive
    "itemknn": "#8c564b",  # brown
    "ease": "#17becf",  # cyan
    "ease-social": "#005f73",  # dark teal
    "cmf": "#1f77b4",  # blue
    "cmf-tags": "#6a3d9a",  # dark violet
    "als": "#b15928",  # rust
    "bpr": "#e377c2",  # pink
    "lightgcn": "#ff7f0e",  # orange
    "lightgcn-social": "#d62728",  # red
    "lightgcn-tags": "#2ca02c",  # green
    "lightgcn-ease": "#111111",  # near-black
}
SPARE_COLOURS = ("#a6761d", "#66a61e", "#e7298a", "#7570b3", "#1b9e77", "#fb9a99", "#cab2d6", "#fdbf6f")


def model_colour(model: str) -> str:
    """The colour of ``model``: its own for a built-in, a stable spare one (by name) for a plugin."""
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    digest = int(hashlib.sha256(model.encode()).hexdigest(), 16)
    return SPARE_COLOURS[digest % len(SPARE_COLOURS)]


def model_colours(models: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``{model: colour}`` for plotly's ``color_discrete_map``."""
    return {model: model_colour(model) for model in models}
