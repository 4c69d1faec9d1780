"""Server CPU of each page's first and later visits, measured in-process with Streamlit's AppTest.

Usage::

    LASTFM_DATA_DIR=… EXPLORER_CACHE_DIR=… python benchmarks/page_cpu.py [--pages metrics compare embeddings]
                                                                           [--starts 3] [--visits 3]

The cache should hold what the targets are stated for: every model for 2008–2010
(``python -m explorer train --model <all 13>``). Each *start* is a fresh Python process (a fresh server:
no Streamlit cache, no loaded run), which opens Overview twice (the second, warm, visit is AppTest's own
cost, about 0.14 s, subtracted from every figure), then visits the page (*first visit after a start*),
goes back to Overview and visits the page again ``--visits`` times (*later visits*). Figures are the
process's CPU seconds (all threads; not inflated by other processes on a busy machine), minus the warm
Overview visit. Target (issue 16, 13 models × 3 years cached): Metrics ≤ 1.5 s first / ≤ 0.25 s later;
Compare users and Embeddings ≤ 1.0 s / ≤ 0.15 s. A benchmark, not a test: the suite times nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PAGES = {
    "overview": "pages/overview.py",
    "train": "pages/train.py",
    "metrics": "pages/metrics.py",
    "compare": "pages/compare.py",
    "embeddings": "pages/embeddings.py",
}
TARGETS = {"metrics": (1.5, 0.25), "compare": (1.0, 0.15), "embeddings": (1.0, 0.15)}


def one_start(page: str, visits: int) -> dict:
    """In this process: warm Overview, then the page's first visit and ``visits`` later ones (CPU seconds)."""
    sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    def cpu_of(action) -> float:
        started = time.process_time()
        action()
        return time.process_time() - started

    at = AppTest.from_file(APP, default_timeout=600)
    at.run()  # Overview, cold: imports, the data set, the splits
    overview = cpu_of(lambda: at.switch_page(PAGES["overview"]).run())
    first = cpu_of(lambda: at.switch_page(PAGES[page]).run())
    errors = [str(e.value) for e in at.exception]
    later = []
    for _ in range(visits):
        at.switch_page(PAGES["overview"]).run()
        later.append(cpu_of(lambda: at.switch_page(PAGES[page]).run()))
    return {"overview": overview, "first": first - overview, "later": [v - overview for v in later], "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", default=["metrics", "compare", "embeddings"], choices=list(PAGES))
    parser.add_argument("--starts", type=int, default=3, help="fresh processes per page")
    parser.add_argument("--visits", type=int, default=3, help="later visits per start")
    parser.add_argument("--one", nargs=2, metavar=("PAGE", "VISITS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_start(args.one[0], int(args.one[1]))))
        return
    print(f"{'page':<11} {'first visit (s CPU)':<26} {'later visits (s CPU)':<26} target first / later")
    for page in args.pages:
        firsts, laters = [], []
        for _ in range(args.starts):
            done = subprocess.run(
                [sys.executable, __file__, "--one", page, str(args.visits)], capture_output=True, text=True, check=True
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["errors"]:
                print(f"{page}: the page raised {result['errors'][0]}", file=sys.stderr)
            firsts.append(result["first"])
            laters.extend(result["later"])
        target = TARGETS.get(page)
        print(
            f"{page:<11} {_spread(firsts):<26} {_spread(laters):<26} "
            + (f"≤ {target[0]} / ≤ {target[1]}" if target else "")
        )


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f} (median {statistics.median(values):.2f})"


if __name__ == "__main__":
    main()
