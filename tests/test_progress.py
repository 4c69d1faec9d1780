"""Progress that suits where it runs: bars on a terminal, a few plain lines in a log file, nothing with -q."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from explorer.cli.common import Bar

ROOT = Path(__file__).resolve().parents[1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(bar: Bar, total: int) -> None:
    for step in range(1, total + 1):
        bar(step, total, loss=1.0 / step)
    bar.close()


def test_a_log_file_gets_a_line_every_tenth_of_the_work_and_no_carriage_returns():
    log = io.StringIO()
    _feed(Bar("lightgcn 2010", True, stream=log), 200)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "lightgcn 2010: epoch 1/200 loss 1.0000"
    assert lines[-1] == "lightgcn 2010: epoch 200/200 loss 0.0050"
    assert len(lines) == 11  # the start, then every 20 epochs
    short = io.StringIO()
    _feed(Bar("ease 2010", True, stream=short), 1)
    assert short.getvalue() == "ease 2010: epoch 1/1 loss 1.0000\n"


def test_a_terminal_gets_a_tqdm_bar_and_quiet_gets_nothing():
    terminal = _Terminal()
    _feed(Bar("cmf 2009", True, stream=terminal), 50)
    assert "\r" in terminal.getvalue() and "cmf 2009" in terminal.getvalue()
    silent = io.StringIO()
    _feed(Bar("cmf 2009", False, stream=silent), 50)
    assert silent.getvalue() == ""


def test_training_into_a_log_file_writes_a_few_readable_lines(demo_dir, tmp_path):
    """Regression: two fresh runs written to a file were 22 KB of carriage-return bar updates."""
    env = {**os.environ, "EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "LASTFM_DATA_DIR": str(demo_dir)}
    command = [sys.executable, "-m", "explorer", "train", "--model", "ease", "lightgcn", "--years", "2010", "--no-maps"]
    command += ["--param", "lightgcn.epochs=20"]  # the lines do not depend on how long it trains
    with open(tmp_path / "log", "w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    text = (tmp_path / "log").read_text()
    assert done.returncode == 0, text
    assert "\r" not in text and len(text.encode()) <= 5_000
    assert any(line.startswith("lightgcn 2010: epoch") for line in text.splitlines())
    assert any(line.startswith("ease 2010: R@10") for line in text.splitlines())
    quiet = subprocess.run([*command[:3], "-q", *command[3:]], cwd=ROOT, env=env, capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
