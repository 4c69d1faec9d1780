"""One colour per model, the same in every chart and map on every page.

Thirteen built-in models get hand-picked colours that stay apart from each other (and from the marks
maps use for a user's history and recommendations); a plugin model gets one of the spare colours, chosen
by its name, so it keeps its colour across pages and servers.
"""

from __future__ import annotations

import hashlib

MODEL_COLOURS: dict[str, str] = {  # from Sasha Trubetskoy's 20 distinct colours, the ones legible on white
    "popularity": "#808080",  # grey: the floor every model is measured against
    "friends-pop": "#808000",  # olive
    "itemknn": "#9a6324",  # brown
    "ease": "#42d4f4",  # cyan
    "ease-social": "#469990",  # teal
    "cmf": "#4363d8",  # blue
    "cmf-tags": "#000075",  # navy
    "als": "#f032e6",  # magenta
    "bpr": "#911eb4",  # purple
    "lightgcn": "#f58231",  # orange
    "lightgcn-social": "#e6194b",  # red
    "lightgcn-tags": "#3cb44b",  # green
    "lightgcn-ease": "#800000",  # maroon
}
SPARE_COLOURS = ("#000000", "#bfef45", "#dcbeff", "#ffd8b1", "#aaffc3", "#fabed4", "#c8b400", "#5f9ea0")


def model_colour(model: str) -> str:
    """The colour of ``model``: its own for a built-in, a stable spare one (by name) for a plugin."""
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    digest = int(hashlib.sha256(model.encode()).hexdigest(), 16)
    return SPARE_COLOURS[digest % len(SPARE_COLOURS)]
