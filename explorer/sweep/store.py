"""Finished sweeps kept in the run cache, so they can be listed and re-opened (a sweep history).

Each sweep is one JSON file, ``<cache>/.sweeps/<id>.json`` (what ``sweep --json`` prints), written
atomically: a crash leaves the old history, never half a file. The run cache skips dot-folders, so the
history never shows up as a run.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from explorer import runs
from explorer.atomic import atomic_write
from explorer.errors import ParameterError
from explorer.sweep.report import SweepResult

FOLDER = ".sweeps"
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[a-z0-9-]+-[0-9a-f]{6}$")


def folder(root: Path | None = None) -> Path:
    """The sweep history's folder in the run cache (created if needed)."""
    path = (root or runs.cache_dir()) / FOLDER
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(result: SweepResult, root: Path | None = None) -> str:
    """Store ``result`` (giving it an id if it has none); returns the id."""
    if not result.id:
        stamp = (result.created or "").replace("-", "").replace(":", "")[:15] or "00000000T000000"
        name = re.sub(r"[^a-z0-9-]+", "-", result.model.lower()).strip("-") or "model"
        result.id = f"{stamp}-{name}-{uuid.uuid4().hex[:6]}"
    target = folder(root) / f"{result.id}.json"
    with atomic_write(target, durable=True) as stream:
        json.dump(result.as_json(), stream, indent=1)
    return result.id


def load(sweep_id: str, root: Path | None = None) -> SweepResult:
    """A stored sweep, re-opened.

    Raises:
        ParameterError: no stored sweep has that id (one sentence naming where to find the ids).
    """
    path = folder(root) / f"{sweep_id}.json"
    if not _ID.match(sweep_id) or not path.exists():
        raise ParameterError(f"There is no stored sweep {sweep_id!r}; sweep.history() lists the stored ones.")
    return SweepResult.from_json(json.loads(path.read_text()))


def listing(root: Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """The stored sweep files as (name, modified ns, size): it changes whenever a sweep is stored or removed,
    so a reader can cache :func:`history` and :func:`load` by it instead of parsing every file again."""
    found = []
    for path in folder(root).glob("*.json"):
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile
            continue
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


def history(root: Path | None = None, fingerprint: str | None = None) -> list[dict[str, Any]]:
    """The stored sweeps (of one data set, if given), newest first, one summary each.

    Returns:
        ``{"id", "model", "metric", "years", "created", "seconds", "trials", "failed", "best"}`` per sweep,
        ``best`` being ``{year: {"params", "value"}}``. Unreadable files are skipped.
    """
    found = []
    for path in folder(root).glob("*.json"):
        if path.name.startswith("."):
            continue
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if fingerprint is not None and document.get("fingerprint") != fingerprint:
            continue
        trials = [trial for part in document["years"].values() for trial in part["trials"]]
        found.append(
            {
                "id": document.get("id", path.stem),
                "model": document["model"],
                "metric": document["metric"],
                "years": [int(year) for year in document["years"]],
                "created": document.get("created", ""),
                "seconds": document.get("seconds", 0.0),
                "trials": len(trials),
                "failed": sum(trial["status"] != "ok" for trial in trials),
                "best": {
                    int(year): part["best"] and {"params": part["best"]["params"], "value": part["best"]["value"]}
                    for year, part in document["years"].items()
                },
            }
        )
    return sorted(found, key=lambda row: (row["created"], row["id"]), reverse=True)
