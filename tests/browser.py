"""Helpers for driving the app in Debian's Chromium: a `streamlit run` server and page waits.

Shared by tests/test_browser.py and benchmarks/load_app.py. Waits here are hang guards (minutes),
never speed checks: how fast pages are is measured in benchmarks/ and recorded, not asserted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HANG_GUARD_MS = 300_000  # a wait that long means the app hangs, not that the machine is busy

# Records every text the sidebar's page menu shows, from the first paint on (add before page.goto).
NAV_RECORDER = """
window.__navTexts = [];
new MutationObserver(() => {
  for (const nav of document.querySelectorAll('[data-testid="stSidebarNav"]')) window.__navTexts.push(nav.innerText);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@contextlib.contextmanager
def chromium_page(width: int, height: int, *, init_script: str | None = None, scale: float | None = None) -> Iterator:
    """A page of Debian's headless Chromium at ``width`` × ``height`` (closed on exit, whatever happens)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            options = {"device_scale_factor": scale} if scale else {}
            page = browser.new_page(viewport={"width": width, "height": height}, **options)
            if init_script:
                page.add_init_script(init_script)
            yield page
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(data_dir: Path, cache: Path, log_dir: Path, *, env: dict | None = None) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free loopback port; yields its base URL (pid: :func:`server_pid`)."""
    port = free_port()
    environment = {
        **os.environ,
        "LASTFM_DATA_DIR": str(data_dir),
        "EXPLORER_CACHE_DIR": str(cache),
        **(env or {}),
    }
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.address", "127.0.0.1"]
    command += ["--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log_dir / "streamlit.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        _PIDS[base] = process.pid
        try:
            deadline = time.monotonic() + HANG_GUARD_MS / 1000
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited with status {process.returncode}; see {log.name}")
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"streamlit did not answer on {base}; see {log.name}") from None
                    time.sleep(0.3)
            yield base
        finally:
            _PIDS.pop(base, None)
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_PIDS: dict[str, int] = {}


def server_pid(base: str) -> int:
    """The process id of the server :func:`streamlit_server` started at ``base``."""
    return _PIDS[base]


_FINISHED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]');
}"""


def settle(page, timeout: float = HANG_GUARD_MS) -> None:
    """Wait until Streamlit has finished running the script: the app's own script state is 'notRunning' (the
    'Running…' widget alone is not enough: it appears only after a delay, which a busy machine can outlast)."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout)
    page.wait_for_function(_FINISHED, timeout=timeout, polling=100)
    page.wait_for_timeout(150)  # let the last delta paint
    page.wait_for_function(_FINISHED, timeout=timeout, polling=100)


def charts(page, at_least: int, timeout: float = HANG_GUARD_MS) -> int:
    """Scroll through the page (charts mount near the viewport) until ``at_least`` plotly charts are drawn."""
    drawn = """(n) => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
        .filter(chart => chart.querySelector('.main-svg')).length >= n"""
    deadline = time.monotonic() + timeout / 1000
    while True:
        page.evaluate(
            """async () => {
                const main = document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
                for (let y = 0; y <= main.scrollHeight; y += 400) {
                    main.scrollTo(0, y);
                    await new Promise(r => setTimeout(r, 80));
                }
            }"""
        )
        if page.evaluate(drawn, at_least) or time.monotonic() > deadline:
            break
    page.evaluate(
        "() => (document.querySelector('[data-testid=\"stMain\"]') || document.scrollingElement).scrollTo(0, 0)"
    )
    assert page.evaluate(drawn, at_least), f"fewer than {at_least} charts were drawn"
    return page.locator('[data-testid="stPlotlyChart"]').count()


def grid_texts(page) -> list[str]:
    """The text of every data-grid cell on the page (the grids' accessible cells, not their canvas)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] [role="gridcell"]'))
            .map(cell => cell.innerText)"""
    )


def switch_to(page, title: str, marker: str, name: str, timings: dict[str, float]) -> None:
    """Click a sidebar link, time until ``marker`` shows and until the script ends, check, screenshot."""
    started = time.perf_counter()
    page.get_by_role("link", name=title).first.click()
    page.get_by_text(marker).first.wait_for(timeout=HANG_GUARD_MS)
    timings[f"{name}: switch to {title}, content shown"] = time.perf_counter() - started
    settle(page)
    timings[f"{name}: switch to {title}, script finished"] = time.perf_counter() - started
    no_exception(page)
    shot(page, name)


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


def shot(page, name: str) -> None:
    page.wait_for_timeout(400)  # data grids paint their canvas a moment after the script ends
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
