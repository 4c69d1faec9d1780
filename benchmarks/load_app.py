"""The app under several browser sessions at once, while a training runs in the background.

Usage (real data, runs for the year cached; see README):
    LASTFM_DATA_DIR=… EXPLORER_CACHE_DIR=… python benchmarks/load_app.py [--sessions 1 8] [--year 2010]

One `streamlit run` server and one Chromium. For each N in ``--sessions``, N Playwright contexts (separate
browser sessions) start together; each opens Compare users for its own user (a deep link) and then
switches to Metrics through the sidebar. Time to content: from the navigation until the page's last
section is on screen and the script has finished. Throughout, ``python -m explorer train`` trains a
LightGCN in another process (a private cache, so it really trains) to load the two cores as a user's
training would. The server's resident memory is sampled every 0.2 s.

N = 1 runs ``--single-repeats`` times one after the other: its median is the single-session time that
the target compares against (issue 10: for N = 8, p95 ≤ 3 × single-session time, no errors, peak RSS ≤
1.5 GB). Prints a table (with the server's CPU seconds per page load, which other processes on the
machine do not inflate); exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import runs  # noqa: E402
from explorer.data import load_dataset  # noqa: E402
from explorer.training import splits_of  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, server_pid, streamlit_server  # noqa: E402

TIMEOUT_MS = 300_000  # a session slower than this counts as an error
FINISHED = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (0 when it is gone)."""
    total = 0
    for process in [pid, *children(pid)]:
        try:
            with open(f"/proc/{process}/status") as status:
                total += next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


class PeakMemory(threading.Thread):
    """Samples a process's resident memory every 0.2 s; ``peak`` is the largest sample since ``reset``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def reset(self) -> None:
        self.peak = rss_bytes(self.pid)


async def wait_for_content(page, marker: str, count: int = 1) -> None:
    await page.get_by_text(marker, exact=False).nth(count - 1).wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_function(FINISHED, timeout=TIMEOUT_MS, polling=100)
    await page.wait_for_timeout(150)
    await page.wait_for_function(FINISHED, timeout=TIMEOUT_MS, polling=100)


async def one_session(browser, base: str, year: int, user: int, models: int) -> dict:
    """Compare users for ``user``, then Metrics: seconds to content of each, or the error."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = await context.new_page()
    result: dict = {"user": user, "times": [], "error": ""}
    try:
        started = time.perf_counter()
        await page.goto(f"{base}/compare?year={year}&user={user}")
        await wait_for_content(page, "hit(s)", models)
        await page.get_by_text("Rank of every held-out artist").first.wait_for(timeout=TIMEOUT_MS)
        result["times"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await page.get_by_role("link", name="Metrics").first.click()
        await wait_for_content(page, "Metrics compared:")  # the Metrics page's last line
        result["times"].append(time.perf_counter() - started)
        if await page.locator('[data-testid="stException"]').count():
            result["error"] = "exception box: " + (await page.locator('[data-testid="stException"]').first.inner_text())
    except Exception as error:  # a timeout or a crashed page: the session failed
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        await context.close()
    return result


async def measure(base: str, year: int, users: list[int], models: int, plan: list[int]) -> list[tuple[int, list]]:
    from playwright.async_api import async_playwright

    memory = PeakMemory(server_pid(base))
    memory.start()
    rows = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        await one_session(browser, base, year, users[-1], models)  # warm-up: loads data, runs, per-year work
        offset = 0
        for sessions in plan:
            memory.reset()
            chosen = [users[(offset + i) % len(users)] for i in range(sessions)]
            offset += sessions
            cpu = cpu_seconds(memory.pid)
            results = await asyncio.gather(*(one_session(browser, base, year, u, models) for u in chosen))
            rows.append((sessions, list(results), memory.peak, cpu_seconds(memory.pid) - cpu))
        await browser.close()
    memory.stopped.set()
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8], help="concurrent sessions per round")
    parser.add_argument("--single-repeats", type=int, default=3, help="rounds of N = 1, one after another")
    parser.add_argument("--year", type=int, default=2010)
    args = parser.parse_args()

    dataset = load_dataset()
    table = runs.table()
    table = table[(table["data"] == dataset.fingerprint) & (table["year"] == args.year)]
    models = table["model"].nunique()
    if models < 2:
        print(
            f"Cache {runs.cache_dir()} holds {models} model(s) for {args.year}; train first: python -m explorer "
            f"train --model popularity cmf lightgcn lightgcn-social --years {args.year} --no-maps",
            file=sys.stderr,
        )
        return 2
    (split,) = splits_of(dataset, [args.year])
    users = split.test["userID"].value_counts().index[:64].tolist()  # users with the longest held-out lists

    plan = [1] * args.single_repeats if 1 in args.sessions else []
    plan += [n for n in args.sessions if n != 1]
    with tempfile.TemporaryDirectory(prefix="load-app-") as scratch:
        scratch = Path(scratch)
        training = subprocess.Popen(  # the background training: another process on the same cores
            [sys.executable, "-m", "explorer", "-q", "train", "--model", "lightgcn", "--years", str(args.year)]
            + ["--param", "lightgcn.epochs=5000", "--no-maps", "--no-cache"],
            cwd=ROOT,
            env={**os.environ, "EXPLORER_CACHE_DIR": str(scratch / "training-cache")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with streamlit_server(dataset.path, runs.cache_dir(), scratch) as base:
                rows = asyncio.run(measure(base, args.year, users, models, plan))
        finally:
            still_training = training.poll() is None
            training.terminate()
            training.wait()

    single = [t for sessions, results, *_ in rows if sessions == 1 for r in results for t in r["times"]]
    single_time = statistics.median(single) if single else float("nan")
    print(f"machine: {os.cpu_count()} cores; background training running throughout: {still_training}")
    header = f"{'sessions':>8} {'page loads':>10} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
    print(header + f"{'p95 / single':>12} {'peak RSS MB':>11} {'server CPU s / load':>19}")
    merged: dict[int, tuple[list[float], int, int, float]] = {}
    for sessions, results, peak, cpu in rows:
        times, errors, old_peak, old_cpu = merged.get(sessions, ([], 0, 0, 0.0))
        times = times + [t for r in results for t in r["times"]]
        errors += sum(bool(r["error"]) for r in results)
        merged[sessions] = (times, errors, max(old_peak, peak), old_cpu + cpu)
        for r in results:
            if r["error"]:
                print(f"  session for user {r['user']} failed: {r['error']}", file=sys.stderr)
    missed = False
    for sessions, (times, errors, peak, cpu) in merged.items():
        p95 = percentile(times, 95) if times else float("nan")
        print(
            f"{sessions:8d} {len(times):10d} {errors:6d} {statistics.median(times) if times else float('nan'):7.2f} "
            f"{p95:7.2f} {max(times, default=float('nan')):7.2f} {p95 / single_time:12.2f} {peak / 2**20:11.0f} "
            f"{cpu / max(len(times), 1):19.2f}"
        )
        if sessions == max(merged):
            missed = errors > 0 or p95 > 3 * single_time or peak > 1.5 * 2**30
    print(
        f"single-session time (median of N = 1): {single_time:.2f} s; target for N = {max(merged)}: "
        f"p95 ≤ {3 * single_time:.2f} s, no errors, peak RSS ≤ 1536 MB: {'MISSED' if missed else 'met'}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
