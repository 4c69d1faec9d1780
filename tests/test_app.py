"""Every page of the Streamlit app on the synthetic data, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from app.text import literal
from explorer import runs
from explorer.models import model_names
from explorer.training import splits_of

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
# Small, fast settings: the app shows whatever is cached.
# A hang guard, not a speed test: a script run on a busy 2-core machine (UMAP compiling, other work)
# may take minutes; how fast the pages are is measured in benchmarks/.
HANG_GUARD_S = 900
SETTINGS = {"popularity": {}, "cmf": {"k": 8}, "lightgcn": {"epochs": 20}, "lightgcn-social": {"epochs": 20}}


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory, demo_dataset):
    """A run cache with every model for 2009 and 2010 on the demo data."""
    cache = tmp_path_factory.mktemp("app-cache")
    for split in splits_of(demo_dataset, [2009, 2010]):
        for model, params in SETTINGS.items():
            runs.run_for(demo_dataset, split, model, params, root=cache)
    return cache


@pytest.fixture
def demo_app(monkeypatch, demo_dir, app_cache):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(app_cache))


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_GUARD_S)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, *columns: str):
    """The value of the first st.dataframe whose columns include ``columns``."""
    for element in at.dataframe:
        if set(columns) <= set(map(str, element.value.columns)):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def test_overview_shows_counts_splits_and_cached_runs(demo_app):
    at = open_page("pages/overview.py")
    assert [m.label for m in at.metric][:2] == ["users", "artists"]
    assert any("synthetic demo data" in w.value for w in at.warning)
    assert len(at.dataframe) == 2  # the splits and the cached runs


def test_missing_data_offers_the_demo_data(monkeypatch, tmp_path):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(tmp_path / "missing"))
    at = AppTest.from_file(APP, default_timeout=HANG_GUARD_S).run()
    assert not at.exception
    assert "does not exist" in at.error[0].value
    assert at.button(key="use_demo_data")
    assert at.button(key="retry_data")


@pytest.fixture
def no_data_anywhere(monkeypatch, tmp_path):
    """No LASTFM_DATA_DIR, no data/ copy, no network (a counted failing download), and a private demo folder."""
    import pooch

    from app import state
    from explorer import data

    downloads = []

    def offline(url, **kwargs):
        downloads.append(url)
        raise ConnectionError("no network in this test")

    monkeypatch.delenv("LASTFM_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "REPO_DATA_ROOT", tmp_path / "data")
    monkeypatch.setattr(state, "DEMO_DIR", tmp_path / "data" / "synthetic-demo")
    monkeypatch.setattr(pooch, "retrieve", offline)
    state._load_failures()[1].pop(None, None)  # this process's server may remember an earlier failure
    state._demo_dataset.clear()
    yield downloads
    state._load_failures()[1].pop(None, None)
    state._demo_dataset.clear()


def test_failed_download_is_tried_once_per_server_and_again_on_request(no_data_anywhere):
    downloads = no_data_anywhere
    first = AppTest.from_file(APP, default_timeout=HANG_GUARD_S).run()
    assert "Could not download" in first.error[0].value
    second = AppTest.from_file(APP, default_timeout=HANG_GUARD_S).run()  # a new session: no second download
    assert "Could not download" in second.error[0].value
    assert len(downloads) == 1
    second.button(key="retry_data").click().run()
    assert len(downloads) == 2
    assert not second.exception


def test_demo_choice_survives_page_switches_reloads_and_shared_links(no_data_anywhere):
    at = AppTest.from_file(APP, default_timeout=HANG_GUARD_S).run()
    at.button(key="use_demo_data").click().run()
    assert not at.error and not at.exception
    assert any("synthetic demo data" in w.value for w in at.warning)
    assert at.query_params["data"] == ["demo"] or at.query_params["data"] == "demo"
    at.switch_page("pages/train.py").run()  # a page switch keeps the choice and the address
    assert not at.error and any("synthetic demo data" in w.value for w in at.warning)
    assert "demo" in str(at.query_params["data"])
    reloaded = AppTest.from_file(APP, default_timeout=HANG_GUARD_S)  # a reload or a shared link: a new session
    reloaded.query_params["data"] = "demo"
    reloaded.run()
    assert not reloaded.error and any("synthetic demo data" in w.value for w in reloaded.warning)
    assert len(no_data_anywhere) == 1  # the first session's download only
    reloaded.button(key="leave_demo_data").click().run()  # back to the real data: its error again
    assert "Could not download" in reloaded.error[0].value
    assert "data" not in reloaded.query_params


def test_pages_without_runs_point_to_train(monkeypatch, demo_dir, tmp_path):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "empty-cache"))
    for page in ("pages/metrics.py", "pages/compare.py", "pages/embeddings.py"):
        at = open_page(page)
        assert any("No cached run" in i.value for i in at.info), page


def test_train_page_shows_the_form_and_the_cached_runs(demo_app):
    at = open_page("pages/train.py")
    assert at.multiselect(key="train_models").value == model_names()  # every registered model
    assert at.number_input(key="param_lightgcn_epochs").value > 0
    assert len(frame_with(at, "model", "setting", "year", "recall@10")) == 8


def test_metrics_page_shows_tables_and_charts(demo_app):
    at = open_page("pages/metrics.py")
    recall = frame_with(at, "model", "year", "cases", "R@10")
    assert set(recall["model"]) == {"popularity", "cmf", "lightgcn", "lightgcn-social"}
    assert "notebook LightGCN" not in set(recall["model"])  # no reference rows on the synthetic data
    assert len(at.get("plotly_chart")) >= 4


def test_compare_page_shows_every_models_list_for_a_chosen_user(demo_app, demo_dataset):
    (split,) = splits_of(demo_dataset, [2010])
    user = int(split.test["userID"].value_counts().index[0])
    at = open_page("pages/compare.py", user=str(user), year="2010")
    assert at.selectbox(key="compare_user_2010").value == user
    assert not [w for w in at.warning if "synthetic" not in w.value]
    listed = [e.proto.alt.removeprefix("top list: ").split(", ") for e in at.dataframe if e.proto.alt.startswith("top")]
    assert sorted(model for group in listed for model in group) == sorted(SETTINGS)  # identical lists merged
    assert len(frame_with(at, "#", "hit", "artist")) == 10
    assert frame_with(at, "name", "lightgcn-social").shape[0] == (split.test["userID"] == user).sum()
    assert at.query_params["user"] == str(user)


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ({"user": "abc"}, "not a number"),
        ({"user": "999999"}, "no held-out"),
        ({"year": "1999"}, "no cached runs for year 1999"),
    ],
)
def test_bad_url_parameters_warn_and_fall_back(demo_app, query, warning):
    at = open_page("pages/compare.py", **query)
    assert any(warning in w.value for w in at.warning)
    assert len(at.get("plotly_chart")) >= 1


def test_switching_users_updates_the_url(demo_app):
    at = open_page("pages/compare.py", year="2009")
    box = at.selectbox(key="compare_user_2009")
    other = box.options[3]
    box.set_value(int(other.split()[1]) if isinstance(other, str) else other).run()
    assert not at.exception
    assert at.query_params["user"] == str(at.selectbox(key="compare_user_2009").value)


def test_embeddings_page_draws_a_map_and_marks_a_user(demo_app, demo_dataset):
    (split,) = splits_of(demo_dataset, [2010])
    warm = split.test[split.test["userID"].isin(split.train["userID"])]
    user = int(warm["userID"].iloc[0])
    at = open_page("pages/embeddings.py", user=str(user))
    assert at.selectbox(key="embedding_user").value == user
    assert not at.get("plotly_chart")  # the map is not stored: drawn only when asked
    at.button(key="embedding_draw").click().run()
    assert len(at.get("plotly_chart")) == 1
    at.radio(key="embedding_colour").set_value("popularity").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1


def test_embeddings_page_warns_about_an_unknown_user(demo_app):
    at = open_page("pages/embeddings.py", user="not-a-user")
    assert any(literal("'not-a-user'") in w.value for w in at.warning)  # escaped: the address is untrusted text
    assert at.selectbox(key="embedding_user").value is None


def test_a_corrupted_run_is_a_warning_not_a_traceback(monkeypatch, demo_dir, app_cache, tmp_path):
    import shutil

    cache = shutil.copytree(app_cache, tmp_path / "cache")
    victim = next(
        p for p in cache.iterdir() if (p / "config.json").exists() and '"cmf"' in (p / "config.json").read_text()
    )
    with open(victim / "embeddings.npz", "ab") as handle:
        handle.write(b"x")
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache))
    at = open_page("pages/metrics.py")
    assert any("corrupted" in w.value for w in at.warning)


def test_switching_year_does_not_warn_about_the_previous_user(demo_app):
    at = open_page("pages/compare.py", year="2010")
    at.selectbox(key="compare_year").set_value(2009).run()
    assert not at.exception
    assert not [w for w in at.warning if "held-out" in w.value]


def test_metrics_page_shows_intervals_marks_verdicts_cohorts_and_beyond(demo_app):
    at = open_page("pages/metrics.py")
    assert at.selectbox(key="metrics_baseline").value == "popularity"
    recall = frame_with(at, "model", "year", "cases", "R@10")
    assert all("[" in text and "]" in text for text in recall["R@10"])  # value [low, high]
    popularity = recall[recall["model"] == "popularity"]["R@10"]
    assert not any(mark in text for text in popularity for mark in "▲▼")  # the baseline is never marked
    verdicts = [e.value for e in [*at.success, *at.info]]
    assert any("beats" in v or "no detectable difference" in v for v in verdicts)
    assert len(frame_with(at, "year", "a", "b", "Holm p")) > 0
    beyond = frame_with(at, "model", "year", "novelty", "gini", "diversity")
    assert set(beyond["model"]) == set(SETTINGS)
    assert len(frame_with(at, "model", "cohort", "users", "R@10 [95% CI]")) > 0
    labels = [b.label for b in at.get("download_button")]
    assert {"recall.csv", "recall.md", "recall.tex", "beyond.tex", "cohorts.md"} <= set(labels)
    assert {"results.csv (tidy)", "per_user.csv"} <= set(labels)
    captions = " ".join(c.value for c in at.caption)
    assert "one family: paired sign-flip permutation test" in captions and "every pair of the 4 models" in captions
    assert len(at.get("plotly_chart")) >= 6  # recall ×2, pair, cohorts, novelty, fit times (+ losses)
    at.radio(key="cohort_family").set_value("social").run()
    at.selectbox(key="metrics_baseline").set_value("cmf").run()
    at.selectbox(key="compare_a").set_value("lightgcn").run()
    assert not at.exception
    assert len(frame_with(at, "model", "cohort", "users", "R@10 [95% CI]")) > 0


def test_metrics_page_averages_the_cached_seeds_of_a_setting(monkeypatch, demo_dir, demo_dataset, app_cache, tmp_path):
    import shutil

    cache = shutil.copytree(app_cache, tmp_path / "cache")
    for split in splits_of(demo_dataset, [2009, 2010]):
        runs.run_for(demo_dataset, split, "cmf", {"k": 8, "seed": 2}, root=cache)
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache))
    at = open_page("pages/metrics.py")
    assert at.toggle(key="metrics_seeds").value
    recall = frame_with(at, "model", "year", "cases", "R@10")
    assert all("(2 seeds)" in text for text in recall.loc[recall["model"] == "cmf", "R@10"])
    assert not any("seeds" in text for text in recall.loc[recall["model"] == "popularity", "R@10"])
    at.toggle(key="metrics_seeds").set_value(False).run()
    assert not at.exception
    recall = frame_with(at, "model", "year", "cases", "R@10")
    assert not any("seeds" in text for text in recall["R@10"])


AWKWARD = ("*NSYNC", "Ke$ha", "L'Arc~en~Ciel", "<b>x</b>")


def test_compare_shows_artist_names_as_text_and_links_only_web_urls(demo_app, demo_dataset):
    (split,) = splits_of(demo_dataset, [2010])
    user = int(split.test["userID"].value_counts().index[0])
    at = open_page("pages/compare.py", user=str(user), year="2010")
    grid = next(e for e in at.dataframe if e.proto.alt.startswith("top list: popularity"))
    shown = pa.ipc.open_stream(grid.proto.arrow_data.styler.display_values).read_all().to_pandas()
    assert set(AWKWARD) <= set(shown["artist"])  # the names as written
    urls = dict(zip(shown["artist"], grid.value["artist"], strict=True))  # shown name → the link's address
    assert urls["<b>x</b>"] == "https://www.last.fm/search/artists?q=%3Cb%3Ex%3C%2Fb%3E"  # javascript: never a link
    assert urls["*NSYNC"] == "http://www.last.fm/music/*NSYNC"
    names = set(demo_dataset.artists["name"])
    markdown = [m.value for m in (*at.markdown, *at.caption, *at.warning, *at.info)]
    assert not [text for text in markdown for name in names if name.startswith(("*", "<", "[", ":")) and name in text]


def test_a_list_length_change_reuses_the_years_work(demo_app, monkeypatch):
    from app import state, user_data
    from explorer import disagreement

    calls = {"hits_and_misses": 0, "cohort_overlap": 0}
    for name in calls:
        original = getattr(disagreement, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(disagreement, name, counted)
    user_data._hits_and_misses.clear()
    user_data._cohort_overlap.clear()
    state._user_options.clear()
    at = open_page("pages/compare.py", year="2010")
    assert calls == {"hits_and_misses": 1, "cohort_overlap": 1}
    at.slider(key="compare_top_n").set_value(20).run()
    at.slider(key="compare_top_n").set_value(30).run()
    assert not at.exception
    assert calls == {"hits_and_misses": 1, "cohort_overlap": 1}
    assert len(frame_with(at, "#", "hit", "artist")) == 30


def test_embedding_map_labels_show_html_verbatim():
    from app import map_charts

    points = pd.DataFrame(
        {
            "node": ["artist", "artist", "user"],
            "id": [1, 2, 3],
            "x": [0.0, 1.0, 2.0],
            "y": [0.0, 1.0, 2.0],
            "name": ["<b>x</b>", "Ke$ha", "user 3"],
            "top_tag": ["<i>seen live</i>", "rock", "rock"],
            "popularity": [3, 2, 1],
        }
    )
    marks = [map_charts.Mark("<u>mark</u>", "artist", (1,), "diamond-open")]
    figure = map_charts.embedding_map(points, "top tag", marks, tag_order=["<i>seen live</i>"])
    texts = [
        str(v) for trace in figure.data for field in (trace.hovertext, trace.text) if field is not None for v in field
    ]
    legend = [trace.name for trace in figure.data]
    assert any(t.startswith("&lt;b&gt;x&lt;/b&gt;<br>") for t in texts)  # plotly shows entities as the characters
    assert not any("<b>x</b>" in t or "<i>" in t for t in texts)
    assert "&lt;i&gt;seen live&lt;/i&gt;" in legend and "&lt;u&gt;mark&lt;/u&gt;" in legend


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("http://www.last.fm/music/*NSYNC", True),
        ("https://www.last.fm/music/Ke$ha", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("ftp://example.org/x", False),
        ("", False),
        ("http:///no-host", False),
        ("www.last.fm/music/x", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url, linked):
    from app.text import web_url

    assert (web_url(url) is not None) == linked


def test_literal_escapes_every_markdown_character_and_keeps_the_rest():
    from app.text import literal

    assert literal("Ke$ha") == r"Ke\$ha"
    assert literal("<b>x</b>") == r"\<b\>x\<\/b\>"
    assert literal(":red[x] *a* _b_ ~c~ `d` [e](f)") == r"\:red\[x\] \*a\* \_b\_ \~c\~ \`d\` \[e\]\(f\)"
    assert literal("Sigur Rós\nline") == "Sigur Rós line"


def test_train_page_marks_stale_runs_deletes_them_and_shows_a_run_card(monkeypatch, demo_dir, demo_dataset, tmp_path):
    from explorer.training import train_and_evaluate

    cache = tmp_path / "cache"
    cache.mkdir()
    (split,) = splits_of(demo_dataset, [2010])
    current = runs.run_for(demo_dataset, split, "popularity", root=cache)
    older = train_and_evaluate(demo_dataset, split, "popularity")
    older.code = {**older.code, "fingerprint": "0" * 24}  # as if made by other code
    runs.save(older, cache)
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache))
    at = open_page("pages/train.py")
    table = frame_with(at, "model", "setting", "year", "status")
    assert sorted(table["status"]) == ["", runs.STALE]
    card = frame_with(at, "field", "value")
    assert {"code fingerprint", "code files", "library versions", "data folder", "git commit"} <= set(card["field"])
    assert str(demo_dir) in set(card["value"])  # the data path as text
    assert at.get("download_button")  # the card as JSON
    assert any("python -m explorer train --model popularity" in code.value for code in at.code)
    at.button(key="delete_stale_runs").click().run()
    assert not at.exception
    assert list(runs.table(cache)["key"]) == [current.key]
    runs.save(older, cache)  # stale again: the pages that show results never list it
    from app.state import cached_runs

    assert list(cached_runs(demo_dataset)["key"]) == [current.key]
    assert len(cached_runs(demo_dataset, include_stale=True)) == 2
