"""Server time of the Compare users page's reruns (AppTest: the script run in-process, no browser).

Usage: LASTFM_DATA_DIR=… EXPLORER_CACHE_DIR=… python benchmarks/compare_rerun.py [--year 2010] [--repeat 5]

The run cache must hold at least two models for the year (``python -m explorer train --model popularity
cmf lightgcn lightgcn-social --years 2010 --no-maps``). Prints one line per action: the first open (per-year
work computed), list-length changes, user changes and a return to a year already seen (cached).
Target (issue 10): a widget change reruns in ≤ 0.3 s of server time. Wall seconds include the waits for
the CPU on a busy machine; the process's CPU seconds do not (and include AppTest's own small overhead).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


CPU: list[float] = []  # process CPU seconds of each timed action (not inflated by other processes)


def timed(action) -> float:
    started, cpu = time.perf_counter(), time.process_time()
    action()
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2010)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.switch_page("pages/compare.py")
    at.query_params["year"] = str(args.year)
    rows: dict[str, list[float]] = {"first open (per-year work computed)": [timed(at.run)]}
    cpu: dict[str, list[float]] = {"first open (per-year work computed)": CPU[-1:]}
    assert not at.exception, at.exception
    users = [int(label.split()[1]) for label in at.selectbox(key=f"compare_user_{args.year}").options]
    other_year = next(int(y) for y in at.selectbox(key="compare_year").options if int(y) != args.year)
    for index in range(args.repeat):
        slider = at.slider(key="compare_top_n")
        rows.setdefault("list length changed", []).append(timed(slider.set_value(10 + 5 * (index + 1)).run))
        cpu.setdefault("list length changed", []).append(CPU[-1])
        box = at.selectbox(key=f"compare_user_{args.year}")
        rows.setdefault("user changed", []).append(timed(box.select(users[index + 1]).run))
        cpu.setdefault("user changed", []).append(CPU[-1])
    rows["other year, first time"] = [timed(at.selectbox(key="compare_year").select(other_year).run)]
    cpu["other year, first time"] = CPU[-1:]
    rows["back to the year (cached)"] = [timed(at.selectbox(key="compare_year").select(args.year).run)]
    cpu["back to the year (cached)"] = CPU[-1:]
    assert not at.exception, at.exception
    print(f"{'action':36} {'runs':>4} {'median s':>9} {'max s':>7} {'median CPU s':>13}")
    for action, seconds in rows.items():
        print(
            f"{action:36} {len(seconds):4d} {statistics.median(seconds):9.3f} {max(seconds):7.3f} "
            f"{statistics.median(cpu[action]):13.3f}"
        )


if __name__ == "__main__":
    main()
