"""The README's screenshots: Overview, Metrics and Compare users as a newcomer first sees them.

Usage (real data, the runs to show already cached, e.g. by ``python -m explorer train --model …``):
    LASTFM_DATA_DIR=… EXPLORER_CACHE_DIR=… .venv/bin/python benchmarks/screenshots.py [--year 2010] [--user U]

Starts ``streamlit run streamlit_app.py`` on a free loopback port on that data and cache (the server is
stopped at the end, also on an error), opens it in Debian's Chromium through Playwright (never
``playwright install``), visits each page, waits until its answer is drawn (not a spinner) and writes
``docs/img/overview.png``, ``docs/img/metrics.png`` and ``docs/img/compare-users.png``: the top of each
page at a 1280 × 800 viewport, one CSS pixel per pixel. A PNG over ``--max-kb`` is re-saved with a
256-colour palette. Compare users opens a deep link (``/compare?year=Y&user=U&models=A,B``) and shows the
lists of ``--models`` side by side (scrolled to "Top 10 of each model"; every model when fewer than two of
them are cached); without ``--user`` it picks the test user of the year with the most held-out
artists among those with at least ten train artists.
Look at the PNGs before committing them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import runs  # noqa: E402
from explorer.data import find_data_dir, load_dataset  # noqa: E402
from explorer.recommend import user_options  # noqa: E402
from explorer.training import splits_of  # noqa: E402
from tests.browser import CHROMIUM, HANG_GUARD_MS, chromium_page, no_exception, settle, streamlit_server  # noqa: E402

VIEWPORT = {"width": 1280, "height": 800}
MIN_HISTORY = 10  # train artists of the default Compare users user: enough history for the lists to mean something
# (file name, address below the server, a text in the page's main area that shows once its answer is drawn,
# whether to scroll that text to the top of the view: the lists of Compare users sit below the user's history)
PAGES = (
    ("overview.png", "/", "Interactions per year", False),
    ("metrics.png", "/metrics", "More on these runs", False),
    ("compare-users.png", "/compare?year={year}&user={user}{focus}", "of each model", True),
)
FOCUS = ("lightgcn-social", "lightgcn")  # Compare users side by side: the same network with and without friends


def default_user(year: int) -> int:
    """The test user of ``year`` with at least :data:`MIN_HISTORY` train artists and the most held-out ones."""
    (split,) = splits_of(load_dataset(), [year])
    options = user_options(split)  # most held-out artists first, then the smallest id
    known = options[options["train_artists"] >= MIN_HISTORY]
    if known.empty:
        raise SystemExit(f"no test user of {year} has {MIN_HISTORY} train artists; pass --user")
    return int(known["user"].iloc[0])


def focus_of(models: list[str], year: int) -> str:
    """``&models=a,b`` for those of ``models`` with a current (not stale) run of ``year``; empty if fewer than 2."""
    table = runs.table()
    current = set(table.loc[(table["year"] == year) & ~table["stale"].astype(bool), "model"])
    cached = [name for name in models if name in current]
    if len(cached) < 2:
        print(f"fewer than two of {', '.join(models)} have a current run of {year}: Compare users shows every model")
        return ""
    return "&models=" + ",".join(cached)


def shrink(path: Path, max_kb: int) -> None:
    """Re-save ``path`` with a 256-colour palette when it is larger than ``max_kb``."""
    if path.stat().st_size <= max_kb * 1024:
        return
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette.save(path, optimize=True)


def capture(base: str, out: Path, year: int, user: int, focus: str, max_kb: int) -> list[Path]:
    """Visit each page of :data:`PAGES` on the server at ``base`` and write its PNG into ``out``."""
    written = []
    with chromium_page(VIEWPORT["width"], VIEWPORT["height"], scale=1) as page:
        for name, address, marker, scroll in PAGES:
            started = time.perf_counter()
            page.goto(base + address.format(year=year, user=user, focus=focus))
            shown = page.locator('[data-testid="stMain"]').get_by_text(marker).first
            shown.wait_for(timeout=HANG_GUARD_MS)
            settle(page)
            no_exception(page)
            if scroll:
                shown.evaluate("element => element.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(800)  # data grids and charts paint a moment after the script ends
            path = out / name
            page.screenshot(path=str(path))
            shrink(path, max_kb)
            written.append(path)
            seconds = time.perf_counter() - started
            print(f"{path}: {path.stat().st_size / 1024:.0f} KB ({seconds:.1f} s)")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2010, help="test year of the Compare users view (default 2010)")
    parser.add_argument("--user", type=int, help="Last.fm user of the Compare users view (default: see above)")
    parser.add_argument("--models", nargs="+", default=list(FOCUS), help="2–3 models side by side on Compare users")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder of the PNGs (docs/img)")
    parser.add_argument("--max-kb", type=int, default=240, help="re-save larger PNGs with a palette (default 240)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    data_dir, cache = find_data_dir(download=False), runs.cache_dir()
    user = args.user if args.user is not None else default_user(args.year)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as logs:
        try:
            with streamlit_server(data_dir, cache, Path(logs)) as base:
                capture(base, args.out.resolve(), args.year, user, focus_of(args.models, args.year), args.max_kb)
        except Exception:
            print((Path(logs) / "streamlit.log").read_text()[-3000:], file=sys.stderr)
            raise


if __name__ == "__main__":
    main()
