"""Statistics computed from runs, stored on disk beside the runs so each is computed once, not once per server.

A record lives in ``<cache>/.stats/<hash>.json``; the hash covers the record's kind, the contents of the runs
it was computed from (:func:`runs_content`: a hash of what the runs ranked, so a retrained run with other
ranks gets new records and an identical one reuses them), the metric and the resampling settings. Writes are
atomic (a temporary file renamed into place); an unreadable record is recomputed. Records hold only what does
not depend on the family of a comparison: per model its value and CI; per pair its difference, CI, bootstrap
SE and sign-flip counts; per Tukey block its range distribution. Holm and Tukey combine them per family.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explorer.atomic import atomic_write
from explorer.training import Run

STORE_VERSION = 1  # bump when a record's meaning changes: older records are then simply not found
FOLDER = ".stats"


def run_content(run: Run) -> str:
    """What a run ranked, as 24 hex digits: users, test rows' ranks and norm_ranks (all its statistics use)."""
    digest = hashlib.sha256()
    for column in ("user", "ranks", "norm_ranks"):
        digest.update(np.ascontiguousarray(run.ranks[column].to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()[:24]


def runs_content(year_runs: Sequence[Run]) -> str:
    """The content of one model's runs of one year (several seeds are pooled: order does not matter)."""
    return hashlib.sha256(",".join(sorted(run_content(r) for r in year_runs)).encode()).hexdigest()[:24]


class PairStore:
    """Records under ``<root>/.stats``; ``root`` is the run cache folder (default :func:`explorer.runs.cache_dir`).

    Args:
        root: The cache folder; None uses the run cache.
        enabled: False keeps nothing on disk (every record is computed).
    """

    def __init__(self, root: Path | None = None, *, enabled: bool = True) -> None:
        if root is None and enabled:
            from explorer.runs import cache_dir

            root = cache_dir()
        self.folder = Path(root) / FOLDER if enabled and root is not None else None
        self.reads = self.writes = 0

    @staticmethod
    def key(kind: str, **parts: Any) -> str:
        text = json.dumps({"kind": kind, "version": STORE_VERSION, **parts}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def get(self, key: str) -> dict[str, Any] | None:
        """The record ``key``, or None when there is none (or it cannot be read)."""
        if self.folder is None:
            return None
        try:
            record = json.loads((self.folder / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        self.reads += 1
        return record if isinstance(record, dict) else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Write ``record`` atomically (a reader sees the old record or the new one, never half of one)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.folder / f"{key}.json") as out:
            json.dump(record, out)
        self.writes += 1

    def clear(self) -> int:
        """Delete every record; returns how many."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        doomed = list(self.folder.glob("*.json"))
        for path in doomed:
            path.unlink(missing_ok=True)
        return len(doomed)
