"""The command line: ``python -m explorer COMMAND …``, one module per command group.

Each command module has ``add_parser(commands)`` (its subcommand and flags) and ``run(args, started)``.
Errors a user can cause print one sentence on stderr and exit with status 2; no traceback. The plugins of
``EXPLORER_PLUGINS`` are loaded first (their models become choices of ``--model``); a plugin that cannot
be loaded stops every command with its sentence.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from explorer import plugins
from explorer.cli import compare, demo, drift, evaluate, explain, runs, sweep, train, tuning
from explorer.errors import ExplorerError

COMMANDS = {
    "evaluate": evaluate,
    "compare": compare,
    "train": train,
    "runs": runs,
    "sweep": sweep,
    "tuning": tuning,
    "make-demo-data": demo,
    "explain": explain,
    "drift": drift,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Last.fm Recommender Explorer")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or 'using data at' lines")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    broken = plugins.problems()  # before the parser: plugin models are choices of --model
    if broken:
        for problem in broken:
            print(f"error: {problem.message}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    try:
        COMMANDS[args.command].run(args, started)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `… | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0
