"""The app in a real browser: `streamlit run` on a free loopback port, driven by Debian's Chromium.

Visits every page, trains the demo runs through the Train page, picks a user, checks that lists and
charts appear and that no exception box shows anywhere. Screenshots and the measured page timings go
to ``artifacts/browser/`` (git-ignored); look at them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.data import load_dataset
from explorer.models import model_names
from explorer.training import splits_of
from tests.browser import (  # noqa: F401 - re-exported: later tests in this file use them too
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    HANG_GUARD_MS,
    NAV_RECORDER,
    charts,
    chromium_page,
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
def browser_cache(tmp_path_factory):
    """The run cache the demo server starts with empty; the tests below fill it through the pages."""
    return tmp_path_factory.mktemp("browser-cache")


@pytest.fixture(scope="module")
def server(browser_cache, tmp_path_factory, demo_dir):
    """A Streamlit server on the demo data with an empty run cache."""
    with streamlit_server(demo_dir, browser_cache, tmp_path_factory.mktemp("log")) as base:
        yield base


@pytest.fixture(scope="module")
def browser_page(server):  # noqa: ARG001 - the server starts first
    with chromium_page(1400, 1800, init_script=NAV_RECORDER) as page:
        yield page


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
        ("Metrics", "Which model is best each year", "4-metrics"),
        ("Compare users", "Top 10 of each model", "5-compare"),
        ("Train", "Cached runs", "6-train"),
        ("Overview", "Interactions per year", "7-overview-again"),
    ]:
        switch_to(page, title, marker, name, timings)

    check_metrics_page(page, server, "4-metrics", models=len(model_names()), timings=timings)

    # Compare users and Embeddings have their own browser tests (tests/test_browser_users.py: every explanation
    # kind, names verbatim, the marked map); here they open for a warm user with every model's list, no exception
    # and no markup taken from the data.
    (split,) = splits_of(demo_dataset, [2010])
    warm = split.test[split.test["userID"].isin(split.train["userID"])]
    user = int(warm["userID"].value_counts().index[0])
    page.goto(f"{server}/compare?year=2010&user={user}")
    page.get_by_text("hit(s)").nth(len(model_names()) - 1).wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    no_exception(page)
    no_markup_from_the_data(page)
    shot(page, "8-compare-user")

    started = time.perf_counter()
    page.goto(f"{server}/embeddings?user={user}")
    settle(page)
    timings["embeddings page"] = time.perf_counter() - started
    no_exception(page)
    no_markup_from_the_data(page)
    shot(page, "9-embeddings")

    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=1))
    print("\nbrowser timings (s):", json.dumps({k: round(v, 2) for k, v in timings.items()}))


def no_markup_from_the_data(page) -> None:
    """The data's awkward names (``<img src=x onerror=…>``, ``<b>x</b>``, ``javascript:`` URLs) draw no markup."""
    main = page.locator('[data-testid="stMain"]')
    assert main.locator("img[src='x']").count() == 0
    assert main.locator("b", has_text="x").count() == 0
    assert main.locator("a[href^='javascript']").count() == 0


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
            ("Metrics", "Which model is best each year", "real-2-metrics"),
            ("Compare users", "Top 10 of each model", "real-3-compare"),
            ("Embeddings", "Colour by", "real-4-embeddings"),
            ("Train", "Cached runs", "real-5-train"),
            ("Overview", "Interactions per year", "real-6-overview"),
            ("Metrics", "Which model is best each year", "real-7-metrics-again"),
        ]:
            switch_to(page, title, marker, name, timings)
            if name == "real-2-metrics":  # the first visit computes (and stores) the tests of every pair
                page.locator("table.lb").wait_for(timeout=HANG_GUARD_MS)
                settle(page)
                shot(page, name)
                assert page.locator("table.lb tbody tr").count() == 4  # the leaderboard: one row per model
                assert "notebook LightGCN" in grid_texts(page)  # the open tab's reference rows
        page.goto(f"{base}/compare?year=2010&user={warm_user}")  # (their content: tests/test_browser_users.py)
        page.get_by_text("hit(s)").nth(3).wait_for(timeout=HANG_GUARD_MS)
        settle(page)
        no_exception(page)
        shot(page, "real-8-compare-user")
        page.goto(f"{base}/embeddings?user={warm_user}")
        settle(page)
        no_exception(page)
        shot(page, "real-9-embeddings-user")
    (ARTIFACTS / "timings-real.json").write_text(json.dumps(timings, indent=1))
    print("\nreal-data browser timings (s):", json.dumps({k: round(v, 2) for k, v in timings.items()}))


def check_metrics_page(page, base: str, name: str, *, models: int, timings: dict[str, float]) -> None:
    """The leaderboard (best bold, its group shaded, CIs, p on hover), a metric change, and each tab's content."""
    page.goto(f"{base}/metrics")
    page.locator("table.lb").wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    no_exception(page)
    board = page.locator("table.lb")
    assert board.locator("tbody tr").count() == models
    best = board.locator("td.best")
    assert best.count() == board.locator("thead th").count() - 2  # one best per test year
    assert best.first.locator(".v").evaluate("cell => getComputedStyle(cell).fontWeight") == "700"
    assert "the best of the year" in best.first.get_attribute("title")  # hover: its CI (and p for the others)
    body = page.inner_text("body")
    assert "How the groups are decided: paired sign-flip permutation test" in body
    shot(page, f"{name}-leaderboard")
    first_model = board.locator("td.m").first.inner_text().strip()
    started = time.perf_counter()
    page.locator(".st-key-metrics_metric").get_by_role("radio", name="MRR").click()  # the others: one click away
    page.wait_for_function("() => document.querySelector('table.lb').getAttribute('aria-label').startsWith('MRR')")
    timings["metrics: metric change, leaderboard shown"] = time.perf_counter() - started
    settle(page)
    no_exception(page)
    shot(page, f"{name}-leaderboard-mrr")
    page.get_by_role("tab", name="Two models").click()
    page.get_by_text("Model B").first.wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    body = page.inner_text("body")
    assert "beats" in body or "no detectable difference" in body
    assert first_model in body
    assert charts(page, 1) >= 1
    shot(page, f"{name}-two-models")
    page.get_by_role("tab", name="Charts").click()
    settle(page)
    assert charts(page, 2) >= 2
    shot(page, f"{name}-charts")
    page.get_by_role("tab", name="Beyond accuracy").click()
    settle(page)
    assert charts(page, 1) >= 1
    no_exception(page)
    shot(page, f"{name}-beyond")


def test_train_page_sweep_in_chromium(server, browser_page, ray_test):  # noqa: ARG001 - the one-Ray lock
    """The Train page's Sweep: one form → 'starting Ray…' with the time → trials done → the metric against the one
    swept hyperparameter with the seeds' spread → the history → train the best setting."""
    page = browser_page
    page.goto(f"{server}/train")
    settle(page)
    page.locator(".st-key-sweep_grid input").fill("lr=0.01,0.05 epochs=2")  # epochs fixed: lr alone is swept
    page.locator(".st-key-sweep_seeds input").fill("0 1")
    page.get_by_role("button", name="Sweep", exact=True).click()
    starting = page.get_by_text("starting Ray…").first
    starting.wait_for(timeout=HANG_GUARD_MS)  # with the seconds elapsed
    no_exception(page)
    starting.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "10-train-sweep-starting.png"))
    page.get_by_text("Sweep of lightgcn").first.wait_for(timeout=600_000)
    settle(page)
    no_exception(page)
    assert charts(page, 1) >= 1
    body = page.inner_text("body")
    assert "Best by validation mrr" in body and "Train the best setting on the test year" in body
    assert "Past sweeps" in body and "None" not in grid_texts(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').last
    assert chart.locator(".xtitle").text_content() == "lr"  # the metric against the one swept hyperparameter
    assert "epochs = 2 in every trial" in chart.locator(".gtitle").text_content()
    assert chart.locator(".scatterlayer .trace").count() >= 3  # the seeds' dots, their mean, the chosen setting
    page.get_by_text("Past sweeps").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "10-train-sweep.png"))  # the history, the chosen sweep and its chart
    chart.screenshot(path=str(ARTIFACTS / "10-sweep-chart.png"))

    page.get_by_role("button", name="Train the best setting on the test year").click()
    page.wait_for_function(
        "() => /lightgcn 2010: (trained in|loaded from the cache)/.test(document.body.innerText)",
        timeout=300_000,
        polling=500,
    )
    settle(page)
    no_exception(page)
    shot(page, "11-train-sweep-best-trained")


def test_read_only_server_in_chromium(browser_cache, demo_dir, browser_page, tmp_path):
    """EXPLORER_READ_ONLY=1 on the runs and sweeps the tests above made: pages browse, nothing trains or deletes."""
    page = browser_page
    with streamlit_server(demo_dir, browser_cache, tmp_path, env={"EXPLORER_READ_ONLY": "1"}) as base:
        page.goto(f"{base}/train")
        page.get_by_text("This server is read-only").first.wait_for(timeout=HANG_GUARD_MS)
        page.get_by_text("Cached runs").first.wait_for(timeout=HANG_GUARD_MS)  # the page's last section
        settle(page)
        no_exception(page)
        main = page.locator('[data-testid="stMain"]')
        labels = [text.strip() for text in main.get_by_role("button").all_inner_texts()]
        assert not [label for label in labels if re.search(r"train|sweep|delete", label, re.IGNORECASE)], labels
        assert "Cached runs" in page.inner_text("body") and "Past sweeps" in page.inner_text("body")
        shot(page, "12-read-only-train")
        page.goto(f"{base}/metrics")
        page.get_by_text("Which model is best each year").first.wait_for(timeout=HANG_GUARD_MS)
        settle(page)
        no_exception(page)
        shot(page, "12-read-only-metrics")
