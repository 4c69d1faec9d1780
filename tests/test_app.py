"""Every page of the Streamlit app on the synthetic data, through Streamlit's AppTest."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from app.text import literal
from explorer import runs
from explorer.models import model_names
from explorer.training import splits_of
from tests.apptest import APP, HANG_GUARD_S, open_page, serve

# Small, fast settings: the app shows whatever is cached.
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
    serve(monkeypatch, demo_dir, app_cache)


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
    links = [link.proto.label for link in at.get("page_link")]  # each question leads to the page that answers it
    assert any(label.startswith("Which model is best each year, and is it real?") for label in links)
    assert len(links) >= 4


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
    serve(monkeypatch, demo_dir, tmp_path / "empty-cache")
    for page in ("pages/metrics.py", "pages/compare.py", "pages/embeddings.py"):
        at = open_page(page)
        assert any("No cached run" in i.value for i in at.info), page


def test_train_page_shows_the_form_and_the_cached_runs(demo_app):
    at = open_page("pages/train.py")
    assert at.multiselect(key="train_models").value == model_names()  # every registered model
    assert at.number_input(key="param_lightgcn_epochs").value > 0
    assert len(frame_with(at, "model", "setting", "year", "recall@10")) == 8


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
    serve(monkeypatch, demo_dir, cache)
    at = open_page("pages/metrics.py")
    assert any("corrupted" in w.value for w in at.warning)


def test_switching_year_does_not_warn_about_the_previous_user(demo_app):
    at = open_page("pages/compare.py", year="2010")
    at.selectbox(key="compare_year").set_value(2009).run()
    assert not at.exception
    assert not [w for w in at.warning if "held-out" in w.value]


def leaderboard_html(at: AppTest) -> str:
    (element,) = at.get("html")
    return element.proto.body


def shown_models(html: str) -> list[str]:
    """The leaderboard's model names, top row first."""
    return re.findall(r'<td class="m"><span class="swatch"[^>]*></span>([^<]+)</td>', html)


def page_comparison(cache, test: str = "signflip") -> dict:
    """What ``compare`` says about the page's runs (each model's one cached setting) over the page's family."""
    from app.metrics_data import FAMILY_METRICS
    from explorer import comparison

    grouped: dict = {}
    for key in runs.table(cache)["key"]:
        run = runs.load(key, cache)
        grouped.setdefault(run.model, []).append(run)
    return comparison.compare(grouped, FAMILY_METRICS, test=test)


def significant_figures(text: str) -> int:
    """Digits of a p printed as ``0.012`` or ``2.0e-4`` (leading zeros do not count)."""
    mantissa = text.split("e")[0]
    return len(mantissa.replace(".", "").lstrip("0"))


def test_metrics_page_opens_with_a_leaderboard_whose_groups_are_compares(demo_app, app_cache):
    from app.leaderboard import board_html
    from explorer import decisions

    at = open_page("pages/metrics.py")
    assert "Which model is best each year, and is it real?" in at.markdown[0].value
    html = leaderboard_html(at)
    result = page_comparison(app_cache)
    board = decisions.leaderboard(result, "recall@10")
    assert html == board_html(board, "recall@10", "signflip")  # one family rule: the page's groups are compare's
    latest = board[board["year"] == 2010].set_index("model")["value"]
    assert shown_models(html) == list(latest.sort_values(ascending=False).index)  # sorted by the latest year
    assert html.count('class="group best"') == 2  # one best per year, in bold, inside its group
    assert re.findall(r"\[\d\.\d{4}, \d\.\d{4}\]", html)  # each cell's CI on its second line
    p_values = re.findall(r"adjusted p (?:< )?([0-9.e-]+)\)", html)
    assert p_values and all(significant_figures(p) <= 2 for p in p_values)  # 0.68, 0.012, < 2.0e-4: no 6.23e-32
    captions = " ".join(c.value for c in at.caption)
    assert "paired sign-flip permutation test" in captions and "every pair of the 4 models" in captions
    assert {"results.csv (tidy)", "per_user.csv"} <= {b.label for b in at.get("download_button")}
    assert sum("friendship list" in c.value for c in at.caption) == 1  # one leak note, naming its models
    assert not at.get("plotly_chart")  # the first visit draws no chart (the open tab is a table)

    at.button_group(key="metrics_metric").set_value("mrr").run()
    at.button_group(key="metrics_test").set_value("tukey").run()
    assert not at.exception
    tukey = decisions.leaderboard(page_comparison(app_cache, "tukey"), "mrr")
    assert leaderboard_html(at) == board_html(tukey, "mrr", "tukey")
    assert "randomised Tukey HSD" in " ".join(c.value for c in at.caption)


def test_metrics_tabs_show_tables_charts_two_models_cohorts_beyond_and_run_cards(demo_app):
    at = open_page("pages/metrics.py")
    recall = frame_with(at, "model", "year", "cases", "R@10")  # the open tab: every metric with its CI
    assert set(recall["model"]) == set(SETTINGS) and not recall.duplicated(["model", "year"]).any()
    assert all("[" in text and "]" in text for text in recall["R@10"])
    assert not any(mark in text for text in recall.loc[recall["model"] == "popularity", "R@10"] for mark in "▲▼")
    assert {"recall.csv", "recall.md", "recall.tex", "mrr.csv"} <= {b.label for b in at.get("download_button")}

    def open_tab(label: str) -> None:
        at.session_state["metrics_tab"] = label
        at.run()
        assert not at.exception, label

    open_tab("Charts")
    assert len(at.get("plotly_chart")) == 2  # recall by year and by K
    open_tab("Two models")
    first = at.selectbox(key="compare_a").value
    assert first == shown_models(leaderboard_html(at))[0]  # the best model against the runner-up by default
    verdicts = [e.value for e in [*at.success, *at.info]]
    assert any("beats" in v or "no detectable difference" in v for v in verdicts)
    assert len(frame_with(at, "year", "a", "b", "Holm p")) == 6  # 3 metrics × 2 years
    open_tab("Cohorts")
    assert len(frame_with(at, "model", "cohort", "users", "R@10 [95% CI]")) > 0
    at.radio(key="cohort_family").set_value("social").run()
    assert not at.exception
    open_tab("Beyond accuracy")
    assert set(frame_with(at, "model", "year", "novelty", "gini")["model"]) == set(SETTINGS)
    novelty = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(trace.get("showlegend", True) is not False for trace in novelty["data"]) == len(SETTINGS) + 2
    open_tab("Training & run cards")
    assert {"code fingerprint", "library versions"} <= set(frame_with(at, "field", "value")["field"])
    assert any("python -m explorer train --model" in code.value for code in at.code)


def test_metrics_page_shows_the_mean_of_the_cached_seeds_and_their_sd(
    monkeypatch, demo_dir, demo_dataset, app_cache, tmp_path
):
    import shutil

    cache = shutil.copytree(app_cache, tmp_path / "cache")
    for split in splits_of(demo_dataset, [2009, 2010]):
        runs.run_for(demo_dataset, split, "cmf", {"k": 8, "seed": 2}, root=cache)
    serve(monkeypatch, demo_dir, cache)
    at = open_page("pages/metrics.py")
    assert at.toggle(key="metrics_setting_seeds").value
    cells = re.findall(r'title="cmf (\d{4}):[^"]*"', leaderboard_html(at))
    assert sorted(cells) == ["2009", "2010"]
    assert leaderboard_html(at).count("SD, 2 seeds") == 2  # the seed SD beside the CI, cmf only
    assert "mean of 2 seeds, seed SD" in leaderboard_html(at)
    recall = frame_with(at, "model", "year", "cases", "R@10")
    assert all("(2 seeds)" in text for text in recall.loc[recall["model"] == "cmf", "R@10"])
    assert not recall.duplicated(["model", "year"]).any()  # one row per model and year, not one per seed
    at.toggle(key="metrics_setting_seeds").set_value(False).run()
    assert not at.exception
    assert "seeds" not in leaderboard_html(at)


def test_a_sweep_progress_line_says_starting_ray_with_the_time_then_trials_done():
    from app.jobs import SweepJob
    from app.train_form import sweep_line

    job = SweepJob(request=type("Plan", (), {"model": "ease", "years": [2010]})(), fingerprint="x", started=100.0)
    job.progress(0, 4, phase="starting Ray", elapsed=2.0)
    assert sweep_line(job, now=112.4) == (0.0, "sweep of ease for 2010: starting Ray… 12 s")
    job.progress(1, 4, phase="trials", elapsed=15.0)
    assert sweep_line(job, now=120.0) == (0.25, "sweep of ease for 2010: 1 of 4 trials done · 20 s (Ray Tune)")


def stored_sweep(cache, fingerprint: str, model: str, grid: dict, seeds: list) -> str:
    """A finished sweep in the cache's history (as ``run_sweep`` stores it), without running Ray."""
    import itertools

    from explorer.sweep import store
    from explorer.sweep.report import SweepResult, Trial, YearSweep, best_of

    result = SweepResult(model, "mrr", "2.60", fingerprint=fingerprint, created="2026-01-01T00:00:00+00:00")
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    trials = [
        Trial(2010, point, seed, value=0.1 + 0.01 * n + 0.001 * (seed or 0), secondary=0.2)
        for n, point in enumerate(points)
        for seed in seeds
    ]
    result.years[2010] = YearSweep(2010, trials, best_of(trials))
    return store.save(result, cache)


def test_train_page_lists_past_sweeps_and_reopens_one_with_its_one_parameter_chart(
    monkeypatch, demo_dir, demo_dataset, tmp_path
):
    cache = tmp_path / "cache"
    stored_sweep(cache, demo_dataset.fingerprint, "ease", {"reg": [100.0, 300.0, 1000.0]}, [None])
    serve(monkeypatch, demo_dir, cache)
    at = open_page("pages/train.py")
    history = frame_with(at, "finished", "model", "test years", "best on validation")
    assert list(history["model"]) == ["ease"]
    trials = frame_with(at, "year", "validated_on", "reg")
    assert "seed" not in trials.columns  # a model without a seed: no column of None
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert {trace["type"] for trace in spec["data"]} == {"scatter"}  # metric against reg: no parallel coordinates
    assert spec["layout"]["xaxis"]["title"]["text"] == "reg"
    assert [b.label for b in at.button if b.key.startswith("sweep_train_best")] == [
        "Train the best setting on the test year"
    ]


READ_ONLY_PAGES = ("pages/overview.py", "pages/train.py", "pages/metrics.py", "pages/compare.py", "pages/embeddings.py")
WRITING = re.compile(r"train|sweep|delet|remov|clear", re.IGNORECASE)


def test_a_read_only_server_offers_no_training_sweep_or_deletion_on_any_page(
    monkeypatch, demo_dir, demo_dataset, app_cache, tmp_path
):
    import shutil

    from app.serving import READ_ONLY_NOTE
    from explorer.sweep import store

    cache = shutil.copytree(app_cache, tmp_path / "cache")
    stored_sweep(cache, demo_dataset.fingerprint, "lightgcn", {"lr": [0.01, 0.05]}, [0, 1])
    serve(monkeypatch, demo_dir, cache)
    monkeypatch.setenv("EXPLORER_READ_ONLY", "1")
    before = runs_and_sweeps(cache)
    for page in READ_ONLY_PAGES:  # every button of every page, by its label and key
        at = open_page(page)
        offered = [f"{b.label} ({b.key})" for b in at.button if WRITING.search(f"{b.label} {b.key}")]
        assert not offered, f"{page} offers {offered} on a read-only server"
    train = open_page("pages/train.py")
    assert READ_ONLY_NOTE in [i.value for i in train.info]
    assert frame_with(train, "model", "setting", "year", "recall@10") is not None  # the runs are still shown
    assert len(store.history(cache)) == 1 and train.get("plotly_chart")  # and the past sweeps
    assert runs_and_sweeps(cache) == before  # browsing every page changed no run and no sweep


def runs_and_sweeps(cache) -> list:
    """Each run's manifest (written when the run is trained, gone when it is deleted) and each stored sweep."""
    files = [*cache.glob(f"*/{runs.MANIFEST}"), *cache.glob(".sweeps/*.json")]
    return sorted((str(p.relative_to(cache)), p.stat().st_mtime_ns) for p in files)


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
    serve(monkeypatch, demo_dir, cache)
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


def test_an_ensembles_seeds_are_one_setting_on_the_metrics_page():
    """lightgcn-ease's runs differ only in their members' seed (``gcn_seed``): one setting, pooled like any seeds."""
    from app.state import with_settings
    from explorer.models import model_class

    tuned = model_class("lightgcn-ease").params_for(2010)
    table = pd.DataFrame(
        {
            "model": ["lightgcn-ease"] * 3,
            "year": [2010] * 3,
            "params": [json.dumps({**tuned, "gcn_seed": seed}) for seed in (0, 1, 2)],
        }
    )
    shown = with_settings(table)
    assert shown["setting"].tolist() == ["defaults"] * 3 and shown["seed"].tolist() == [0, 1, 2]


def test_each_page_freezes_the_long_lived_heap_once_per_process():
    """After a page's first run the server's heap is frozen out of the cyclic collector's walks, once per page."""
    import gc

    from app import memory

    try:
        assert memory.freeze_after_first_run("a page") is True and gc.get_freeze_count() > 0
        assert memory.freeze_after_first_run("a page") is False  # later runs of that page freeze nothing more
    finally:
        gc.unfreeze()
        memory._frozen.discard("a page")


def test_the_seed_toggle_and_the_single_seed_sections_pick_the_same_run():
    """The table with pooling off and the loss curves show one seed per model and year: the year's default
    seed, else the smallest cached one, and the two places agree (also when the default seed is not cached)."""
    from types import SimpleNamespace

    from app.metrics_data import _one_seed, default_seed
    from app.metrics_sections import View

    default = default_seed("lightgcn", 2010)
    cases = {"default cached": [default + 2, default, default + 1], "default missing": [default + 3, default + 2]}
    for name, seeds in cases.items():
        frame = pd.DataFrame({"model": "lightgcn", "year": 2010, "seed": seeds})
        chosen = [SimpleNamespace(model="lightgcn", year=2010, seed=seed) for seed in seeds]
        from_toggle = int(_one_seed(frame)["seed"].item())
        from_view = [run.seed for run in View(dataset=None, chosen=chosen, result={}, token="").one_seed()]
        expected = default if default in seeds else min(seeds)
        assert from_toggle == expected and from_view == [expected], name
    unseeded = pd.DataFrame({"model": "ease", "year": 2010, "seed": pd.array([None], dtype="Int64")})
    assert len(_one_seed(unseeded)) == 1  # a model without a seed keeps its one run


def test_pages_list_models_in_the_registry_order_and_each_models_defaults_first():
    from app.state import defaults_first, in_display_order, in_registry_order

    first, second = model_names()[:2]
    table = pd.DataFrame(
        {
            "model": [first, "plugin-x", second, first, second, first],
            "setting": ["z=1", "defaults", "k=8", "lr=0.1", "defaults", "defaults"],
        }
    )
    assert in_registry_order(table["model"]) == [first, second, "plugin-x"]  # unknown names last
    assert defaults_first(["k=8", "defaults", "k=8", "k=4"]) == ["defaults", "k=8", "k=4"]
    ordered = in_display_order(table)
    assert list(zip(ordered["model"], ordered["setting"], strict=True)) == [
        (first, "defaults"),
        (first, "z=1"),  # other settings keep the order seen
        (first, "lr=0.1"),
        (second, "defaults"),
        (second, "k=8"),
        ("plugin-x", "defaults"),
    ]
