"""The app in a real browser: `streamlit run` on a free loopback port, driven by Debian's Chromium.

Visits every page, trains the demo runs through the Train page, picks a user, checks that lists and
charts appear and that no exception box shows anywhere. Screenshots and the measured page timings go
to ``artifacts/browser/`` (git-ignored); look at them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer import recommend
from explorer.data import load_dataset
from explorer.models import model_names
from explorer.synthetic import AWKWARD_ARTISTS
from explorer.training import splits_of
from tests.browser import (  # noqa: F401 - re-exported: later tests in this file use them too
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    HANG_GUARD_MS,
    NAV_RECORDER,
    charts,
    grid_texts,
    no_exception,
    settle,
    shot,
    streamlit_server,
    switch_to,
)
from tests.conftest import REAL_DATA_DIR, needs_real_data

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_dir):
    """A Streamlit server on the demo data with an empty run cache."""
    with streamlit_server(demo_dir, tmp_path_factory.mktemp("browser-cache"), tmp_path_factory.mktemp("log")) as base:
        yield base


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.add_init_script(NAV_RECORDER)
        yield page
        browser.close()


def test_every_page_in_chromium(server, browser_page, demo_dataset):
    page = browser_page
    timings: dict[str, float] = {}  # recorded in artifacts/browser/timings.json, never asserted

    # A deep link to a fresh server: the router draws the page (its links, no raw page file names).
    page.goto(f"{server}/metrics")
    settle(page)
    page.get_by_text("No cached run").first.wait_for(timeout=HANG_GUARD_MS)
    page.get_by_role("link", name="Compare users").first.wait_for(timeout=HANG_GUARD_MS)  # the router's links
    assert page.get_by_role("link", name="Compare users").count() == 1
    assert not [text for text in page.evaluate("() => window.__navTexts") if "streamlit app" in text]
    shot(page, "0-deep-link-fresh-server")

    page.goto(server)
    settle(page)
    page.get_by_text("Forward chaining", exact=False).first.wait_for()
    no_exception(page)
    shot(page, "1-overview-empty-cache")

    # Train every model on the demo data through the form (the cache is empty: this really trains), for
    # 2010 and LightGCN with 5 epochs: this tests the pages, and a busy machine trains slowly (in the
    # server, under two CPU burners, one CMF fit on the demo data took 147 s).
    page.goto(f"{server}/train")
    settle(page)
    for year in ("2008", "2009"):
        page.get_by_role("button", name=f"Remove {year}", exact=True).click()
    page.get_by_text("as set below, for every year").click()
    for model, field in (
        ("lightgcn", "epochs"),
        ("lightgcn-social", "epochs"),
        ("lightgcn-tags", "epochs"),
        ("lightgcn-ease", "gcn_epochs"),
    ):
        expander = page.locator('[data-testid="stExpander"]').filter(
            has=page.get_by_text(f"{model} hyperparameters", exact=True)
        )
        expander.get_by_text(f"{model} hyperparameters", exact=True).click()
        epochs = expander.get_by_label(field, exact=True)
        epochs.fill("5")
        epochs.press("Tab")
    shot(page, "2-train-form")
    page.get_by_role("button", name="Train", exact=True).click()  # the form's (the Sweep form has its own)
    page.wait_for_function(
        "() => document.body.innerText.split('trained in').length - 1 + "
        f"document.body.innerText.split('loaded from the cache').length - 1 >= {len(model_names())}",
        timeout=2 * HANG_GUARD_MS,
        polling=500,
    )
    settle(page)
    no_exception(page)
    shot(page, "2-train-done")

    # With cached runs: record the first render and page switches through the sidebar.
    started = time.perf_counter()
    page.goto(server)
    settle(page)
    page.get_by_text("Cached runs").first.wait_for()
    timings["first page render"] = time.perf_counter() - started
    no_exception(page)
    shot(page, "3-overview")

    for title, marker, name in [
        ("Metrics", "Recall@K", "4-metrics"),
        ("Compare users", "Top 10 of each model", "5-compare"),
        ("Train", "Cached runs", "6-train"),
        ("Overview", "Interactions per year", "7-overview-again"),
    ]:
        switch_to(page, title, marker, name, timings)

    page.goto(f"{server}/metrics")
    settle(page)
    assert charts(page, 4) >= 4
    shot(page, "4-metrics-charts")

    # A warm user through the URL: every model's list, the charts, and the data's awkward names verbatim.
    (split,) = splits_of(demo_dataset, [2010])
    warm = split.test[split.test["userID"].isin(split.train["userID"])]
    user = int(warm["userID"].value_counts().index[0])
    page.goto(f"{server}/compare?year=2010&user={user}")
    page.get_by_text("hit(s)").nth(len(model_names()) - 1).wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    no_exception(page)
    body = page.inner_text("body")
    assert body.count("hit(s)") == len(model_names())  # one list per model
    assert "lightgcn-social" in body and "Where the models disagree most" in body
    assert charts(page, 1) >= 1
    shot(page, "8-compare-user")
    check_data_text_is_text(page, demo_dataset, split, user)

    started = time.perf_counter()
    page.goto(f"{server}/embeddings?user={user}")
    settle(page)
    charts(page, 1)
    timings["embeddings page (map computed or cached)"] = time.perf_counter() - started
    no_exception(page)
    shot(page, "9-embeddings")

    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=1))
    print("\nbrowser timings (s):", json.dumps({k: round(v, 2) for k, v in timings.items()}))


def check_data_text_is_text(page, dataset, split, user: int) -> None:
    """Names and tags show exactly as in the files; no HTML from them; only http(s) URLs are links."""
    cells = grid_texts(page)
    for name in ("*NSYNC", "Ke$ha", "L'Arc~en~Ciel", "<b>x</b>"):
        assert name in cells, f"{name!r} is not shown verbatim"
    shown_awkward = {name for name, _ in AWKWARD_ARTISTS} & set(cells)
    assert "<img src=x onerror=alert(1)>" in shown_awkward  # the most popular artists: in every list
    main = page.locator('[data-testid="stMain"]')
    assert main.locator("img[src='x']").count() == 0
    assert main.locator("b", has_text="x").count() == 0
    assert main.locator("a[href^='javascript']").count() == 0
    tags = recommend.user_top_tags(dataset, split, user)
    expected = "Top tags before the test year: " + ", ".join(f"{t} ({n})" for t, n in tags.itertuples(index=False))
    assert expected in page.inner_text("body"), expected  # `*favourite*`, `<i>seen live</i>`… as written


@needs_real_data
def test_real_data_pages_after_cli_training(tmp_path, browser_page):
    """The runs of `python -m explorer train --model popularity cmf lightgcn lightgcn-social`, in Chromium.

    One test year, 10 epochs and no precomputed maps keep it cheap: the pages are under test here,
    not the models (their defaults are tested in tests/test_models.py and tests/test_cli.py).
    """
    cache = tmp_path / "cache"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "explorer",
            "-q",
            "train",
            "--model",
            "popularity",
            "cmf",
            "lightgcn",
            "lightgcn-social",
            "--years",
            "2010",
            "--param",
            "lightgcn.epochs=10",
            "--param",
            "lightgcn-social.epochs=10",
            "--no-maps",
        ],
        cwd=ROOT,
        env={**os.environ, "EXPLORER_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard
    )
    assert done.returncode == 0, done.stderr

    (split,) = splits_of(load_dataset(REAL_DATA_DIR), [2010])
    warm_user = int(split.test.loc[split.test["userID"].isin(split.train["userID"]), "userID"].value_counts().index[0])
    page = browser_page
    timings: dict[str, float] = {}
    with streamlit_server(Path(REAL_DATA_DIR), cache, tmp_path) as base:
        started = time.perf_counter()
        page.goto(base)
        page.get_by_text("Cached runs").first.wait_for(timeout=HANG_GUARD_MS)
        timings["first page render"] = time.perf_counter() - started
        settle(page)
        started = time.perf_counter()
        page.reload()
        page.get_by_text("Cached runs").first.wait_for(timeout=HANG_GUARD_MS)
        timings["first page render, reloaded"] = time.perf_counter() - started
        settle(page)
        no_exception(page)
        shot(page, "real-1-overview")
        for title, marker, name in [
            ("Metrics", "Recall@K", "real-2-metrics"),
            ("Compare users", "Top 10 of each model", "real-3-compare"),
            ("Embeddings", "Colour by", "real-4-embeddings"),
            ("Train", "Cached runs", "real-5-train"),
            ("Overview", "Interactions per year", "real-6-overview"),
            ("Metrics", "Recall@K", "real-7-metrics-again"),
        ]:
            switch_to(page, title, marker, name, timings)
            if name == "real-2-metrics":
                assert charts(page, 4) >= 4
                assert "notebook LightGCN" in page.inner_text("body")
        page.goto(f"{base}/compare?year=2010&user={warm_user}")
        page.get_by_text("hit(s)").nth(3).wait_for(timeout=HANG_GUARD_MS)
        settle(page)
        no_exception(page)
        charts(page, 1)
        page.set_viewport_size({"width": 3200, "height": 1800})  # every column of the narrow lists in view
        page.wait_for_timeout(500)
        assert page.locator('[role="columnheader"]', has_text="because you listen to").count() >= 1
        page.set_viewport_size({"width": 1400, "height": 1800})
        shot(page, "real-8-compare-user")
        page.goto(f"{base}/embeddings?user={warm_user}")
        settle(page)
        charts(page, 1, timeout=HANG_GUARD_MS)
        no_exception(page)
        shot(page, "real-9-embeddings-user")
    (ARTIFACTS / "timings-real.json").write_text(json.dumps(timings, indent=1))
    print("\nreal-data browser timings (s):", json.dumps({k: round(v, 2) for k, v in timings.items()}))


def check_metrics_page(page, base: str, name: str) -> None:
    """The Metrics page's intervals, verdicts, cohorts and beyond-accuracy table; screenshots ``name-*.png``."""
    page.goto(f"{base}/metrics")
    page.get_by_text("Compare two models").first.wait_for(timeout=120_000)
    settle(page, timeout=120_000)
    no_exception(page)
    assert charts(page, 6, timeout=120_000) >= 6
    body = page.inner_text("body")
    for text in ("Compare two models", "Cohorts", "Beyond accuracy", "▲ / ▼", "95% confidence interval"):
        assert text in body, text
    assert "beats" in body or "no detectable difference" in body
    for suffix in ("csv", "md", "tex"):
        assert f"recall.{suffix}" in body
    shot(page, f"{name}-1-metrics-stats")
    page.get_by_text("social", exact=True).first.click()  # the social cohorts
    settle(page, timeout=120_000)
    no_exception(page)
    charts(page, 6, timeout=120_000)
    page.get_by_text("Compare two models").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}-2-compare-two.png"))
    page.get_by_text("Beyond accuracy").first.scroll_into_view_if_needed()
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"{name}-3-beyond.png"))


def test_metrics_page_statistics_in_chromium(tmp_path, demo_dir, browser_page):
    """CIs, significance marks, the two-model verdict, cohorts and beyond-accuracy metrics on the demo runs."""
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "-q", "train", "--model", "popularity", "cmf", "lightgcn", "--no-maps"]
        + ["--param", "cmf.k=8", "--param", "lightgcn.epochs=20", "--data-dir", str(demo_dir)],
        cwd=ROOT,
        env={**os.environ, "EXPLORER_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with streamlit_server(demo_dir, cache, tmp_path) as base:
        check_metrics_page(browser_page, base, "stats-demo")


def test_train_page_sweep_in_chromium(server, browser_page):
    """The Train page's Sweep: one form → Ray Tune trials in the background → chart, trials, train the best."""
    page = browser_page
    page.goto(f"{server}/train")
    settle(page)
    page.locator(".st-key-sweep_grid input").fill("lr=0.01,0.05 epochs=2")
    page.locator(".st-key-sweep_seeds input").fill("0")
    page.get_by_role("button", name="Sweep", exact=True).click()
    page.get_by_text("(Ray Tune)").first.wait_for(timeout=120_000)  # the progress bar: trials done / total
    no_exception(page)
    shot(page, "10-train-sweep-running")
    page.get_by_text("2 trials in").first.wait_for(timeout=600_000)
    settle(page)
    no_exception(page)
    assert charts(page, 1) >= 1
    body = page.inner_text("body")
    assert "Best by validation mrr" in body and "Train the best setting on the test year" in body
    shot(page, "10-train-sweep")
    page.locator('[data-testid="stPlotlyChart"]').last.screenshot(path=str(ARTIFACTS / "10-sweep-chart.png"))

    page.get_by_role("button", name="Train the best setting on the test year").click()
    page.wait_for_function(
        "() => /lightgcn 2010: (trained in|loaded from the cache)/.test(document.body.innerText)",
        timeout=300_000,
        polling=500,
    )
    settle(page)
    no_exception(page)
    shot(page, "11-train-sweep-best-trained")
