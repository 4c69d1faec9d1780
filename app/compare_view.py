"""The parts of Compare users: the address (``?year=…&user=…&models=a,b``), the lists, the disagreement view.

Data text (artist names, the "because …" reasons) is shown in data grids only, which interpret nothing;
an artist's name is the link to its Last.fm page (the cell's value is the checked http(s) address and its
shown text the name, through a pandas Styler), and a hit row is highlighted rather than ticked.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from app.address import query_models
from app.state import address_keeping_data, defaults_first, in_display_order
from app.text import literal, web_url
from app.user_data import BECAUSE, ModelList, cohort_overlap, hits_and_misses, merged
from explorer.data import Dataset
from explorer.models import model_class
from explorer.protocol import Split
from explorer.training import Run

HIT_STYLE = "background-color: rgba(44, 160, 44, 0.28)"  # readable on the light and the dark theme
MAX_FOCUS = 3
ROW_HEIGHT = 35  # Streamlit's default
KIND_LABELS = {  # a list header's short word on its reasons (the full sentence is the header's tooltip)
    "decomposition": "exact decomposition: the contributions and the rest add up to the score",
    "friends": "exact decomposition over the user's and their friends' artists",
    "similarity": "the user's artists most similar in the model's own space (cosine; not a decomposition)",
    "ensemble": "each member's reasons, weighted by its mix",
    "popularity": "ranked by train listeners (no personal reasons)",
    "unexplained": "no explanation for this model (hover the ? for why)",
}
WRAPPED = 68  # taller than 4rem: Streamlit's grids then wrap long text ("because …") onto a second line
LASTFM_SEARCH = "https://www.last.fm/search/artists?q="


def lastfm_links(names: pd.Series, urls: pd.Series) -> list[str]:
    """Each artist's Last.fm address when it is an http(s) one, else a Last.fm search for the name (never
    another scheme: a name or an address from the data is never a ``javascript:`` link)."""
    checked = [web_url(url) for url in urls]
    return [url or LASTFM_SEARCH + quote(str(name), safe="") for name, url in zip(names, checked, strict=True)]


def pick_settings(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """One run per model: its default setting, unless another cached setting is picked (a picker is shown only for
    models with more than one cached setting, in an expander)."""
    table = in_display_order(table)
    counts = table.groupby("model", sort=False)["setting"].nunique()
    several = [model for model, count in counts.items() if count > 1]
    picked: dict[str, str] = {}
    if several:
        title = f"Hyperparameter settings: each model's default, unless you pick another ({len(several)} have others)"
        with st.expander(title):
            columns = st.columns(min(len(several), 4))
            for i, model in enumerate(several):
                options = defaults_first(table.loc[table["model"] == model, "setting"])
                picked[model] = columns[i % len(columns)].selectbox(
                    model, options, key=f"{key}_{model}", help="cached hyperparameters"
                )
    wanted = table["model"].map(picked)  # the picked setting; none for a model with one setting
    return table[wanted.isna() | (table["setting"] == wanted)].drop_duplicates("model")  # else defaults first


def focus(models: Sequence[str], key: str) -> list[str]:
    """A multiselect of up to three models to compare side by side (empty: every model), kept in ``?models=``."""
    if key not in st.session_state:
        st.session_state[key] = query_models(models, MAX_FOCUS)
    else:  # another year may lack a model chosen before
        st.session_state[key] = [name for name in st.session_state[key] if name in models]
    chosen = st.multiselect(
        "Focus on 2–3 models",
        list(models),
        key=key,
        max_selections=MAX_FOCUS,
        placeholder="every model",
        help="Their lists side by side, wide; kept in the address (?models=…) so a link shows the same view.",
    )
    if chosen:
        st.query_params["models"] = ",".join(chosen)
    else:
        st.query_params.pop("models", None)
    return chosen


def named(styler: Styler, column: str, links: pd.Series, names: pd.Series) -> None:
    """Show ``names`` in a link column whose values are ``links`` (the cell's value stays the address)."""
    links, names = list(links), list(names)
    if len(set(links)) == len(links):  # one formatter for the column (the usual case: one address per artist)
        lookup = dict(zip(links, names, strict=True))
        styler.format(lambda link: lookup.get(link, ""), subset=[column])
        return
    for position, name in enumerate(names):  # two artists share an address: one formatter per cell
        styler.format(lambda _, name=name: name, subset=pd.IndexSlice[position, column])


def list_grid(item: ModelList, key: str, alt: str) -> None:
    """One model's list, full width: #, hit, the artist (its name links to Last.fm), and why the model recommends
    it (long reasons, such as an ensemble's, wrap onto a second line)."""
    rows = item.rows
    because = BECAUSE.get(item.kind, "because …")
    table = pd.DataFrame({"#": rows["#"], "hit": rows["hit"], "artist": lastfm_links(rows["name"], rows["url"])})
    columns = {
        "#": st.column_config.NumberColumn(width=32),
        "hit": st.column_config.TextColumn(width=52, help="a held-out artist: the user tagged it in the test year"),
        "artist": st.column_config.LinkColumn("artist", width="medium", help="opens the artist on Last.fm"),
        because: st.column_config.TextColumn(width=560, help=item.note),
    }
    table[because] = rows["because"].to_numpy()
    styler = table.style.apply(lambda row: [HIT_STYLE if row["hit"] else ""] * len(row), axis=1)
    named(styler, "artist", table["artist"], rows["name"])
    long = table[because].str.len().max() > 110  # past one line of the column
    height = WRAPPED if long else ROW_HEIGHT
    st.dataframe(
        styler,
        hide_index=True,
        key=key,
        alt=alt,
        row_height=height,
        height=height * len(rows) + 40,
        column_config=columns,
    )


def side_by_side(lists: Sequence[ModelList]) -> None:
    """The focused models' lists in one grid, a column per model, each hit highlighted: who finds what, at a glance."""
    table = pd.DataFrame({"#": range(1, max(len(item.rows) for item in lists) + 1)})
    styles = pd.DataFrame("", index=table.index, columns=["#"])
    for item in lists:
        links = pd.Series(lastfm_links(item.rows["name"], item.rows["url"]), dtype=object)
        table[item.model] = links.reindex(table.index).to_numpy()
        hits = (item.rows["hit"] != "").reindex(table.index, fill_value=False)
        styles[item.model] = hits.map({True: HIT_STYLE, False: ""})
    styler = table.style.apply(lambda _: styles, axis=None)
    for item in lists:
        named(styler, item.model, table[item.model].iloc[: len(item.rows)], item.rows["name"])
    st.dataframe(
        styler,
        hide_index=True,
        key="side_by_side",
        alt="side by side",
        placeholder="",
        height=ROW_HEIGHT * len(table) + 40,
        column_config={
            "#": st.column_config.NumberColumn(width=32),
            **{item.model: st.column_config.LinkColumn(f"{item.model} ({item.hits} hits)") for item in lists},
        },
    )


def show_lists(lists: Sequence[ModelList]) -> None:
    """The lists one per row, full width; identical ones merged under one header ("… show the same list: the
    popularity fallback")."""
    for group, label in merged(lists):
        first = group[0]
        names = " · ".join(literal(item.model) for item in group)
        same = f" show the same list{': ' + label if label else ''}" if len(group) > 1 else ""
        alone = len(group) == 1 and label and model_class(first.model).personal  # popularity ranks all alike
        fallback = " · popularity fallback (the user is unknown to it)" if alone else ""
        st.markdown(
            f"**{names}**{same}{fallback} · {first.hits} hit(s) · {KIND_LABELS.get(first.kind, first.kind)}",
            help=first.note,
        )
        list_grid(first, key=f"top_list_{first.model}", alt="top list: " + ", ".join(i.model for i in group))


def rank_table(table: pd.DataFrame) -> None:
    """The held-out artists' ranks under each model: empty where no model can rank the artist, lower is better."""
    models = [column for column in table.columns if column != "name"]
    table = table.assign(_best=table[models].min(axis=1)).sort_values("_best", kind="stable").drop(columns="_best")
    styler = table.style.format("{:.0f}", subset=models)
    st.dataframe(
        styler,
        hide_index=True,
        key="held_out_ranks",
        alt="held-out ranks",
        placeholder="",
        column_config={"name": st.column_config.TextColumn("held-out artist", width="medium")},
    )


def map_model(models: Sequence[str], available: Sequence[str]) -> str | None:
    """The model whose map a user opens on: the first of ``models`` with artist vectors, else lightgcn-social or
    another available model with them (None when no available model has a map)."""
    mapped = [name for name in available if model_class(name).has_embeddings]
    for name in [*models, "lightgcn-social", *mapped]:
        if name in mapped:
            return name
    return None


def disagreement(dataset: Dataset, split: Split, chosen: Sequence[Run], focused: Sequence[str]) -> None:
    """Users where model A hits and model B misses (one click to them), and list overlap per cohort."""
    by_model = {run.model: run for run in chosen}
    models = list(by_model)
    first = focused[0] if focused else next((m for m in reversed(models) if m != "popularity"), models[-1])
    others = [name for name in models if name != first]  # B: the second focused model, else popularity if cached
    second = focused[1] if len(focused) > 1 else ("popularity" if "popularity" in others else others[0])
    if st.session_state.get("disagree_focus") != list(focused):  # a new focus: A and B follow it
        st.session_state["disagree_focus"] = list(focused)
        for key in ("disagree_a", "disagree_b"):
            st.session_state.pop(key, None)
    left, right = st.columns(2)
    a = left.selectbox("A: the model that hits", models, index=models.index(first), key="disagree_a")
    b = right.selectbox("B: the model that misses", models, index=models.index(second), key="disagree_b")
    if a == b:
        st.info("Pick two different models to see where one finds held-out artists and the other does not.")
    else:
        table = hits_and_misses(by_model[a], by_model[b], split)
        mapped = map_model([a, b], models)
        prefix, pair = address_keeping_data(year=split.year), quote(f"{a},{b}", safe="")
        shown = pd.DataFrame(
            {
                "compare": [f"{prefix}&user={u}&models={pair}" for u in table["user"]],
                "map": [f"embeddings{prefix}&user={u}&model={mapped}&models={pair}" for u in table["user"]],
                "user": table["user"],
                f"hits {a}": table["hits_a"],
                f"hits {b}": table["hits_b"],
                "difference": table["difference"],
                "test artists": table["test_artists"],
                "train artists": table["train_artists"],
            }
        )
        if mapped is None:  # no model of this year has a map
            shown = shown.drop(columns="map")
        st.dataframe(
            shown,
            hide_index=True,
            key="disagreement_table",
            alt="users where A hits and B misses",
            height=min(40 + 35 * len(shown), 400),
            column_config={
                "compare": st.column_config.LinkColumn("open", display_text="on Compare", width=90),
                "map": st.column_config.LinkColumn("", display_text="on the map", width=90),
            },
        )
        st.caption(
            f"{len(table):,} of {split.test['userID'].nunique():,} test users of {split.year} have more held-out "
            f"artists in {literal(a)}'s top 10 than in {literal(b)}'s, most first (hits: held-out artists in the "
            "list). Read from the runs' stored lists."
        )
    if len(chosen) > 1:
        st.markdown("**How much the models' top-10 lists overlap, per cohort**")
        cohorts = cohort_overlap(dataset, split, chosen)
        labels = {
            "mean_overlap": "mean overlap",
            "least_pair": "least alike",
            "least_overlap": "its overlap",
            "most_pair": "most alike",
            "most_overlap": "their overlap",
        }
        st.dataframe(
            cohorts,
            hide_index=True,
            key="cohort_overlap",
            alt="list overlap per cohort",
            column_config={
                name: st.column_config.NumberColumn(label, format="%.2f") if "overlap" in name else label
                for name, label in labels.items()
            },
        )
        st.caption(
            "Jaccard overlap of two models' top-10 lists (shared artists / artists in either), averaged over the "
            "cohort's users and every pair of models shown; the pairs that agree least and most. Activity: train "
            "artists (cold: none); social: friends with train rows."
        )
