"""Tuning records: ``<model>.json`` per model, the data its ``TUNED`` is read from.

A record holds, per test year Y, every sweep (round) that tuned the model on validation year Y-1 (train
< Y-1): the command that ran it, the grid, the seeds and every trial's validation values; and the
choice those trials make by the sweep's tie-break rule. ``python -m explorer sweep … --record`` writes
it (:mod:`explorer.sweep.record`) and ``python -m explorer tuning`` reports it (:mod:`explorer.tuning`).
Reading it needs nothing but ``json``, so importing a model stays cheap.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORDS_DIR = Path(__file__).resolve().parent


def record_path(model: str, root: Path | None = None) -> Path:
    """Where ``model``'s tuning record lives."""
    return (root or RECORDS_DIR) / f"{model}.json"


def tuned(model: str, root: Path | None = None) -> dict[int, dict[str, int | float]]:
    """``{year: {param: value}}`` chosen by ``model``'s tuning record (empty without a record)."""
    path = record_path(model, root)
    if not path.exists():
        return {}
    years = json.loads(path.read_text(encoding="utf-8"))["years"]
    return {int(year): dict(part["chosen"]) for year, part in sorted(years.items()) if part.get("chosen")}
