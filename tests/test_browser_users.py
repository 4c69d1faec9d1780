"""Compare users and Embeddings in Chromium (one server, one browser): the focus mode, one explanation per model
kind with the data's awkward names verbatim, the dimmed map with a marked user, and the Across-years view.

Screenshots go to ``artifacts/browser/users-*.png`` (git-ignored): look at them. Waits are hang guards.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer import projection, runs
from explorer.training import splits_of
from tests.browser import (
    ARTIFACTS,
    CHROMIUM,
    HANG_GUARD_MS,
    charts,
    chromium_page,
    grid_texts,
    no_exception,
    settle,
    shot,
    streamlit_server,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]
MAPPED = "als"
KINDS_2010 = {"popularity": {}, "friends-pop": {}, "itemknn": {}, "lightgcn-ease": {"gcn_epochs": 2}}


@pytest.fixture(scope="module")
def users_server(tmp_path_factory, demo_dir, demo_dataset):
    """A server on the demo data with one model per explanation kind (2010), als for 2008–2010 and als 2010's map."""
    cache = tmp_path_factory.mktemp("browser-users-cache")
    for split in splits_of(demo_dataset, [2008, 2009, 2010]):
        run = runs.run_for(demo_dataset, split, MAPPED, root=cache)
        if split.year == 2010:
            projection.precompute(run.key, root=cache)
            for model, params in KINDS_2010.items():
                runs.run_for(demo_dataset, split, model, params, root=cache)
    with streamlit_server(demo_dir, cache, tmp_path_factory.mktemp("users-log")) as base:
        yield base


@pytest.fixture(scope="module")
def page(users_server):  # noqa: ARG001 - the server starts first
    with chromium_page(1400, 2400) as opened:
        yield opened


def warm_user(demo_dataset) -> int:
    (split,) = splits_of(demo_dataset, [2010])
    warm = split.test[split.test["userID"].isin(split.train["userID"])]
    return int(warm["userID"].value_counts().index[0])


def test_compare_users_reasons_of_every_kind_focus_mode_and_disagreement(users_server, page, demo_dataset):
    user = warm_user(demo_dataset)
    page.goto(f"{users_server}/compare?year=2010&user={user}")
    page.get_by_text("Top 10 of each model").first.wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    no_exception(page)
    for header in ("because you listen to", "because you or your friends listen to", "because (each member"):
        page.locator('[role="columnheader"]', has_text=header).first.wait_for(state="attached", timeout=HANG_GUARD_MS)
    cells = grid_texts(page)
    assert any(" · rest " in cell and "+" in cell for cell in cells)  # decomposition: contributions and the rest
    assert any("listens to it" in cell for cell in cells)  # friends
    assert any(re.fullmatch(r"[^+×]+ \d\.\d\d(, [^+×]+ \d\.\d\d)*", cell) for cell in cells)  # similarity
    assert any("×" in cell and ":" in cell for cell in cells)  # ensemble: each member's mix and reasons
    assert any(cell.endswith("train listeners") for cell in cells)  # popularity
    reasons = [cell for cell in cells if not cell.startswith("http")]
    assert any(name in cell for cell in reasons for name in ("*NSYNC", "Ke$ha", "[unknown]"))  # names as written
    links = [cell for cell in cells if "last.fm/" in cell]  # a link cell's text is its address (the name is drawn)
    assert links and all(cell.startswith(("http://", "https://")) for cell in links)
    main = page.locator('[data-testid="stMain"]')
    assert main.locator("img[src='x']").count() == 0 and main.locator("a[href^='javascript']").count() == 0
    shot(page, "users-1-compare-every-model")

    page.goto(f"{users_server}/compare?year=2010&user={user}&models=itemknn,friends-pop,lightgcn-ease")
    page.get_by_text("Top 10 of each model").first.wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    no_exception(page)
    focus = page.locator(".st-key-compare_focus").text_content()
    assert all(model in focus for model in ("itemknn", "friends-pop", "lightgcn-ease"))
    side = page.locator('[role="columnheader"]', has_text="itemknn (")  # the side-by-side grid: "itemknn (N hits)"
    side.first.wait_for(state="attached", timeout=HANG_GUARD_MS)
    assert "hits)" in side.first.text_content()
    assert "models=itemknn%2Cfriends-pop%2Clightgcn-ease" in page.url or "models=itemknn,friends-pop" in page.url
    shot(page, "users-2-compare-focus")
    page.get_by_text("Where the models disagree most").first.scroll_into_view_if_needed()
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / "users-3-compare-disagreement.png"))
    cells = grid_texts(page)  # the rows' links ("on Compare", "on the map"): their addresses are the cells' text
    assert any(cell.startswith("?year=2010&user=") and cell.endswith("models=itemknn%2Cfriends-pop") for cell in cells)
    assert any(cell.startswith("embeddings?year=2010&user=") and "&model=als&" in cell for cell in cells)


def test_a_marked_user_on_the_map_and_the_across_years_view(users_server, page, demo_dataset):
    user = warm_user(demo_dataset)
    page.goto(f"{users_server}/embeddings?year=2010&model={MAPPED}&user={user}&models=itemknn,{MAPPED}")
    settle(page)
    charts(page, 1)
    no_exception(page)
    legend = page.locator('[data-testid="stPlotlyChart"] .legendtext').all_text_contents()
    for entry in ("their history", "itemknn's list", f"{MAPPED}'s list", f"user {user}"):
        assert entry in legend, entry
    shot(page, "users-4-map-marked-user")

    page.goto(f"{users_server}/embeddings?model={MAPPED}&view=years")
    settle(page)
    page.get_by_role("button", name="Compute the aligned maps").click()  # never computed on page load
    page.get_by_text("Moved most").first.wait_for(timeout=HANG_GUARD_MS)
    settle(page)
    charts(page, 1)
    no_exception(page)
    titles = page.locator('[data-testid="stPlotlyChart"] .g-gtitle, [data-testid="stPlotlyChart"] .annotation-text')
    assert {"2008", "2009", "2010"} <= set(titles.all_text_contents())  # the three years side by side
    body = page.inner_text("body")
    assert "nearest neighbours (cosine, in the model's own space) kept from one year to the next" in body
    page.locator(".st-key-years_search input").fill("nsync")
    page.locator(".st-key-years_search input").press("Enter")
    settle(page)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=HANG_GUARD_MS)
    page.locator('.st-key-years_follow[data-stale="false"]').click()
    page.get_by_role("option", name="*NSYNC").click()
    settle(page)
    charts(page, 1)
    no_exception(page)
    assert "its path across the years" in page.locator(".legendtext").all_text_contents()
    assert "*NSYNC" in page.locator('[data-testid="stPlotlyChart"] .legendtext').all_text_contents()
    shot(page, "users-5-across-years")
