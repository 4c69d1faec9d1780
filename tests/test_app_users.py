"""Compare users and Embeddings on the demo data, through Streamlit's AppTest: lists a person can read (names
linking to Last.fm, hits highlighted, every model's reasons, identical lists merged, a focus kept in the
address), "A hits, B misses", and maps that show what they mark (dimmed, on top, zoomed; fixed tag colours;
an artist's neighbours; the default run; the Across-years view, computed only on a button)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from explorer import drift, projection, runs, similar
from explorer.training import splits_of
from tests.apptest import open_page, serve

MAPPED = "als"  # a fast factor model: the maps use it, for every year (its default setting)
SETTINGS_2010 = {"popularity": {}, "friends-pop": {}, "itemknn": {}, "lightgcn-ease": {"gcn_epochs": 5}}
KINDS = {"itemknn": "decomposition", "friends-pop": "friends", MAPPED: "similarity", "lightgcn-ease": "ensemble"}


@pytest.fixture(scope="module")
def users_cache(tmp_path_factory, demo_dataset):
    """Demo runs of one model per explanation kind for 2010, als for every year (and a swept als), als 2010's map."""
    cache = tmp_path_factory.mktemp("users-cache")
    for split in splits_of(demo_dataset, [2008, 2009, 2010]):
        run = runs.run_for(demo_dataset, split, MAPPED, root=cache)
        if split.year == 2010:
            projection.precompute(run.key, root=cache)
            runs.run_for(demo_dataset, split, MAPPED, {"factors": 8}, root=cache)  # a swept setting: not the default
            for model, params in SETTINGS_2010.items():
                runs.run_for(demo_dataset, split, model, params, root=cache)
    return cache


@pytest.fixture
def users_app(monkeypatch, demo_dir, users_cache):
    serve(monkeypatch, demo_dir, users_cache)
    monkeypatch.delenv("EXPLORER_READ_ONLY", raising=False)
    return users_cache


@pytest.fixture(scope="module")
def split_2010(demo_dataset):
    return splits_of(demo_dataset, [2010])[0]


def shown(element) -> pd.DataFrame:
    """What a data grid shows: the Styler's display values when it has them, else the values."""
    styler = element.proto.arrow_data.styler
    if styler.display_values:
        return pa.ipc.open_stream(styler.display_values).read_all().to_pandas()
    return element.value


def grid(at: AppTest, alt: str):
    """The data grid whose accessible name is ``alt``."""
    found = [element for element in at.dataframe if element.proto.alt == alt]
    assert found, f"no grid {alt!r}; there are {[element.proto.alt for element in at.dataframe]}"
    return found[0]


def list_grids(at: AppTest) -> dict[str, object]:
    """Each shown list's grid by the first model of its (merged) group."""
    grids = [e for e in at.dataframe if e.proto.alt.startswith("top list: ")]
    return {e.proto.alt.removeprefix("top list: ").split(", ")[0]: e for e in grids}


def highlighted_rows(element) -> set[int]:
    styles = element.proto.arrow_data.styler.styles
    return {int(part.split("_row")[1].split("_")[0]) for part in styles.split("{")[0].split(",") if "_row" in part}


def figure_of(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def warm_social_user(split) -> int:
    """A test user with train artists and held-out ones, the most active first."""
    warm = split.test[split.test["userID"].isin(split.train["userID"])]
    return int(warm["userID"].value_counts().index[0])


def test_every_model_kind_explains_its_list_with_data_text_verbatim(users_app, split_2010, demo_dataset):
    user = warm_social_user(split_2010)
    at = open_page("pages/compare.py", year="2010", user=str(user))
    lists = list_grids(at)
    assert len(lists) >= 4
    for model, kind in KINDS.items():
        element = lists[model]
        table = shown(element)
        because = [column for column in table.columns if column.startswith("because")]
        assert because, f"{model} has no because column"
        assert table[because[0]].str.len().gt(0).all(), model
        if kind == "decomposition":
            assert table[because[0]].str.contains("rest").all()
        if kind == "ensemble":
            assert table[because[0]].str.contains("×").any()
    names = set(demo_dataset.artists["name"])
    texts = " ".join(" ".join(map(str, shown(e).to_numpy().ravel())) for e in lists.values())
    assert any(name in texts for name in ("*NSYNC", "Ke$ha", "[unknown]", "N*E*R*D"))  # verbatim in the grids
    markdown = [m.value for m in (*at.markdown, *at.caption, *at.warning, *at.info)]
    assert not [text for text in markdown for name in names if name.startswith(("*", "<", "[", ":")) and name in text]


def test_hits_are_highlighted_and_names_link_to_lastfm_never_elsewhere(users_app, split_2010):
    user = warm_social_user(split_2010)
    at = open_page("pages/compare.py", year="2010", user=str(user))
    element = list_grids(at)["popularity"]
    values, table = element.value, shown(element)
    hits = {i for i, mark in enumerate(table["hit"]) if mark}
    assert hits and highlighted_rows(element) == hits
    held = set(split_2010.test.loc[split_2010.test["userID"] == user, "artistID"])
    for link, name in zip(values["artist"], table["artist"], strict=True):
        assert link.startswith(("http://", "https://")), link  # javascript: and ftp: addresses never become links
        assert name and not name.startswith("http")  # the name is what is shown
    assert len(held) >= len(hits)


def test_identical_lists_are_merged_and_the_popularity_fallback_named(users_app, split_2010):
    cold = int(np.setdiff1d(split_2010.test["userID"], split_2010.train["userID"])[0])
    at = open_page("pages/compare.py", year="2010", user=str(cold))
    headers = [m.value for m in at.markdown if "show the same list" in m.value]
    assert headers and "the popularity fallback" in headers[0] and "popularity" in headers[0]
    assert len(list_grids(at)) < 2 + len(SETTINGS_2010)  # fewer grids than models: the same list is shown once


def test_focus_mode_is_remembered_in_the_address(users_app, split_2010):
    user = warm_social_user(split_2010)
    at = open_page("pages/compare.py", year="2010", user=str(user), models="itemknn,lightgcn-ease,nope")
    assert at.multiselect(key="compare_focus").value == ["itemknn", "lightgcn-ease"]
    assert any("nope" in w.value for w in at.warning)
    side = shown(grid(at, "side by side"))
    assert [c for c in side.columns if c != "#"] == ["itemknn", "lightgcn-ease"]
    assert set(list_grids(at)) <= {"itemknn", "lightgcn-ease"}
    at.multiselect(key="compare_focus").set_value(["friends-pop", MAPPED]).run()
    assert at.query_params["models"] == f"friends-pop,{MAPPED}"
    disagree = (at.selectbox(key="disagree_a").value, at.selectbox(key="disagree_b").value)
    assert disagree == ("friends-pop", MAPPED)  # where the models disagree follows a new focus
    at.multiselect(key="compare_focus").set_value([]).run()
    assert "models" not in at.query_params and not [e for e in at.dataframe if e.proto.alt == "side by side"]


def test_rank_table_leaves_unrankable_cells_empty(users_app, split_2010):
    user = warm_social_user(split_2010)
    at = open_page("pages/compare.py", year="2010", user=str(user))
    element = grid(at, "held-out ranks")
    assert element.proto.placeholder == "" and element.proto.HasField("placeholder")
    assert "None" not in " ".join(map(str, shown(element).to_numpy().ravel()))


def test_compare_shows_the_picked_setting_of_a_model_with_several(users_app, split_2010, demo_dataset):
    user = warm_social_user(split_2010)
    at = open_page("pages/compare.py", year="2010", user=str(user))
    box = at.selectbox(key=f"compare_setting_{MAPPED}")
    assert box.options == ["defaults", "factors=8"] and box.value == "defaults"

    def shown_ranks() -> list[float]:
        return sorted(grid(at, "held-out ranks").value[MAPPED].dropna().tolist())

    def ranks_of(params: dict) -> list[float]:
        run = runs.run_for(demo_dataset, split_2010, MAPPED, params, root=users_app)  # cached: loaded, not trained
        return sorted(run.ranks.loc[run.ranks["user"] == user, "ranks"].dropna().astype(float).tolist())

    assert shown_ranks() == ranks_of({})
    box.set_value("factors=8").run()
    assert not at.exception and shown_ranks() == ranks_of({"factors": 8}) != ranks_of({})


def test_users_where_a_hits_and_b_misses_open_on_compare_and_on_the_map(users_app):
    at = open_page("pages/compare.py", year="2010")
    at.selectbox(key="disagree_a").set_value("itemknn").run()
    at.selectbox(key="disagree_b").set_value("popularity").run()
    table = grid(at, "users where A hits and B misses").value
    assert len(table) and (table["difference"] > 0).all() and table["difference"].is_monotonic_decreasing
    assert (table["difference"] == table["hits itemknn"] - table["hits popularity"]).all()
    first = table.iloc[0]
    assert first["compare"] == f"?year=2010&user={first['user']}&models=itemknn%2Cpopularity"
    assert first["map"] == f"embeddings?year=2010&user={first['user']}&model=als&models=itemknn%2Cpopularity"
    cohorts = grid(at, "list overlap per cohort").value
    assert {"activity", "social"} <= set(cohorts["family"])
    assert cohorts["mean_overlap"].between(0, 1).all()


def test_where_models_disagree_without_a_popularity_run_compares_two_cached_models(
    tmp_path, monkeypatch, demo_dir, demo_dataset
):
    cache = tmp_path / "cache"
    (split,) = splits_of(demo_dataset, [2010])
    for model in (MAPPED, "itemknn"):  # no popularity run: B cannot default to it
        runs.run_for(demo_dataset, split, model, root=cache)
    serve(monkeypatch, demo_dir, cache)
    at = open_page("pages/compare.py", year="2010")
    assert not at.exception
    assert {at.selectbox(key="disagree_a").value, at.selectbox(key="disagree_b").value} == {MAPPED, "itemknn"}


def test_the_map_opens_the_default_run_and_a_marked_user_dims_the_rest(users_app, split_2010):
    from app import map_charts

    user = warm_social_user(split_2010)
    at = open_page("pages/embeddings.py", year="2010", user=str(user), models=f"itemknn,{MAPPED}")
    assert at.selectbox(key="embedding_model").value == MAPPED
    assert at.selectbox(key=f"embedding_setting_{MAPPED}_2010").value == "defaults"  # not the swept factors=8
    spec = figure_of(at)
    names = [trace.get("name", "") for trace in spec["data"]]
    marks = ["their history", "held out (tagged in the test year)", "itemknn's list", f"{MAPPED}'s list"]
    drawn = [name for name in names if name in marks or name == f"user {user}"]
    assert drawn and names[-len(drawn) :] == drawn  # the marks come last: drawn on top
    background = spec["data"][: len(names) - len(drawn)]
    assert background and all(trace["opacity"] == map_charts.DIMMED < map_charts.PLAIN for trace in background)
    assert "range" in spec["layout"]["xaxis"] and "range" in spec["layout"]["yaxis"]  # zoomed to the marks
    at.toggle(key="embedding_isolate").set_value(True).run()
    isolated = [trace.get("name", "") for trace in figure_of(at)["data"]]
    assert isolated == drawn


def test_a_map_address_naming_too_many_or_unknown_models_marks_the_first_four_with_a_warning(users_app, split_2010):
    user = warm_social_user(split_2010)
    named = ["itemknn", "nope", "popularity", "itemknn", "friends-pop", "lightgcn-ease", MAPPED]
    at = open_page("pages/embeddings.py", year="2010", user=str(user), models=",".join(named))
    assert not at.exception
    assert at.multiselect(key="embedding_lists").value == ["itemknn", "popularity", "friends-pop", "lightgcn-ease"]
    assert any("nope" in w.value and "no cached run" in w.value for w in at.warning)


def test_tags_keep_their_colour_across_maps_and_never_take_a_mark_colour(users_app):
    from app import map_charts, palette

    colours = []
    for year in ("2010", "2009"):
        at = open_page("pages/embeddings.py", year=year, model=MAPPED)
        if not at.get("plotly_chart"):  # 2009's map is not stored: drawn on the button
            at.button(key="embedding_draw").click().run()
        colours.append({t["name"]: t["marker"]["color"] for t in figure_of(at)["data"] if "legendgroup" in t})
    shared = set(colours[0]) & set(colours[1])
    assert shared and all(colours[0][tag] == colours[1][tag] for tag in shared)
    assert not set(map_charts.TAG_PALETTE) & (set(palette.MODEL_COLOURS.values()) | {map_charts.DARK})
    at.radio(key="embedding_colour").set_value("popularity").run()
    layout = figure_of(at)["layout"]
    assert layout["legend"]["orientation"] == "h" and layout["legend"]["y"] > 1  # above the plot, off the colourbar


def test_a_map_not_stored_is_drawn_on_the_button_and_its_note_goes(users_app):
    at = open_page("pages/embeddings.py", year="2008", model=MAPPED)
    assert not at.get("plotly_chart") and any("not stored yet" in i.value for i in at.info)
    at.button(key="embedding_draw").click().run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    assert not any("not stored" in i.value for i in at.info)


def test_a_read_only_server_names_the_commands_instead_of_computing(users_app, monkeypatch):
    monkeypatch.setenv("EXPLORER_READ_ONLY", "1")
    at = open_page("pages/embeddings.py", year="2010", model=MAPPED)
    at.selectbox(key=f"embedding_setting_{MAPPED}_2010").set_value("factors=8").run()  # a run whose map is not stored
    assert not at.get("plotly_chart") and not [b for b in at.button if b.key == "embedding_draw"]
    assert not [b.label for b in at.button if "Draw" in b.label]  # the settings form only shows stored maps
    assert any("python -m explorer train --model als --years 2010" in i.value for i in at.info)
    at.segmented_control(key="embedding_view").set_value("Across years").run()
    assert not [b for b in at.button if b.key == "years_compute"]
    if not at.get("plotly_chart"):  # unless a test before computed them
        assert any("python -m explorer drift --model als" in i.value for i in at.info)


def test_artist_search_lists_its_neighbours_in_the_models_own_space(users_app, demo_dataset, split_2010):
    at = open_page("pages/embeddings.py", year="2010", model=MAPPED)
    at.text_input(key="embedding_search").input("nsync").run()
    artist = at.selectbox(key="embedding_search_pick").value
    table = grid(at, "nearest neighbours").value
    run = runs.load(drift.year_keys(demo_dataset, MAPPED, [2009, 2010])[2010])
    expected = similar.nearest_artists(run, artist, 10)
    assert table["similarity"].tolist() == pytest.approx(expected["similarity"].tolist())
    names = [t.get("name") for t in figure_of(at)["data"]]
    assert names[-2:] == ["nearest neighbours", "*NSYNC"]  # marked on top, the name as written


def test_across_years_computes_only_on_the_button_then_follows_an_artist(users_app, demo_dataset):
    at = open_page("pages/embeddings.py", model=MAPPED, view="years")
    assert at.segmented_control(key="embedding_view").value == "Across years"
    assert not at.get("plotly_chart") and at.button(key="years_compute")  # nothing computed on page load
    at.button(key="years_compute").click().run()
    assert not at.exception
    spec = figure_of(at)
    assert {"xaxis", "xaxis2", "xaxis3"} <= set(spec["layout"])  # three years on shared axes
    assert any(drift.MEASURE.format(k=drift.DEFAULT_K) in c.value for c in at.caption)
    moved = grid(at, "moved most").value
    assert len(moved) and moved["mean_overlap"].is_monotonic_increasing
    at.text_input(key="years_search").input(str(moved["name"].iloc[0])).run()
    at.selectbox(key="years_follow").select_index(1).run()
    assert not at.exception
    names = [t.get("name") for t in figure_of(at)["data"]]
    assert "its path across the years" in names and "nearest neighbours" in names
    neighbours = grid(at, "neighbours by year").value
    assert {"2008", "2009", "2010"} <= set(neighbours.columns)


def test_across_years_shows_maps_the_drift_command_stored_after_the_page_said_they_were_missing(
    tmp_path, monkeypatch, demo_dir, demo_dataset
):
    """A read-only server says to run `python -m explorer drift`; once that has stored the maps, the next rerun
    shows them (the page never keeps "not stored yet" as an answer)."""
    cache = tmp_path / "cache"
    for split in splits_of(demo_dataset, [2008, 2009, 2010]):
        runs.run_for(demo_dataset, split, MAPPED, root=cache)  # fresh runs: content ids no other test has seen
    serve(monkeypatch, demo_dir, cache)
    monkeypatch.setenv("EXPLORER_READ_ONLY", "1")
    at = open_page("pages/embeddings.py", model=MAPPED, view="years")
    assert not at.get("plotly_chart") and any("python -m explorer drift --model als" in i.value for i in at.info)
    drift.aligned_maps(demo_dataset, MAPPED, root=cache)  # what `python -m explorer drift` stores
    drift.neighbour_overlap(demo_dataset, MAPPED, root=cache)
    at.run()
    assert not at.exception and figure_of(at)
    assert len(grid(at, "moved most").value)
