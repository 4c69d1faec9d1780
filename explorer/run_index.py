"""The index of the run cache: every entry's identity and summary without parsing its JSON on every call.

:func:`entries` lists a cache folder from an in-process index: the listing is reused while the folder's
modification time is unchanged (entries appear and vanish by ``os.rename`` in it, which changes that
time), and each entry's two JSON files are parsed once per write of its manifest. A listing taken within
:data:`RACY_NS` of the folder's last change is not trusted (two changes in one clock tick leave the same
time: git's "racy index" problem), so the index stays correct when other processes add or delete entries.

:func:`staleness` says whether an entry is what this code would make: the same cache format, code
fingerprint and key library versions (:mod:`explorer.provenance`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from explorer import provenance
from explorer.errors import CacheError, ParameterError
from explorer.models import model_class, seed_of

MANIFEST = "manifest.json"
STALE = "stale (made by other code)"
UNREGISTERED = "model not registered here"
RACY_NS = 2_000_000_000


_listings: dict[str, tuple[int, int, list[tuple[str, dict, dict]]]] = {}  # root → (its mtime, when, entries)
_parsed: dict[tuple[str, str], tuple[tuple[int, int, int], dict, dict]] = {}  # (root, key) → (manifest stat, …)


def entries(root: Path) -> Iterator[tuple[str, dict, dict]]:
    """``(key, config, details)`` of every readable entry, oldest first; unreadable ones are skipped.

    Served from an in-process index that stays correct when other processes add or delete entries (see
    the module docstring); treat the dictionaries as read-only.
    """
    stamp = root.stat().st_mtime_ns
    memo = _listings.get(str(root))
    if memo is not None and memo[0] == stamp and memo[1] - stamp > RACY_NS:
        return iter(memo[2])
    taken = time.time_ns()
    found = []
    for folder in os.scandir(root):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            info = os.stat(Path(folder.path) / MANIFEST)
            signature = (info.st_ino, info.st_mtime_ns, info.st_size)
            known = _parsed.get((str(root), folder.name))
            if known is None or known[0] != signature:
                config = json.loads((Path(folder.path) / "config.json").read_text())
                details = json.loads((Path(folder.path) / "metrics.json").read_text())
                known = _parsed[(str(root), folder.name)] = (signature, config, details)
        except (OSError, json.JSONDecodeError):
            continue
        found.append((known[2].get("created", ""), folder.name, known[1], known[2]))
    rows = [(key, config, details) for _, key, config, details in sorted(found, key=lambda row: (row[0], row[1]))]
    present = {key for key, _, _ in rows}
    for gone in [k for k in _parsed if k[0] == str(root) and k[1] not in present]:
        _parsed.pop(gone, None)
    _listings[str(root)] = (stamp, taken, rows)
    return iter(rows)


def staleness(config: dict[str, Any]) -> str | None:
    """Why an entry is not what this code would make (``None`` when current, or when its model is unknown here)."""
    if config.get("format") != provenance.FORMAT_VERSION:
        return f"cache format {config.get('format')} (now {provenance.FORMAT_VERSION})"
    try:
        cls = model_class(config["model"])
    except ParameterError:
        return None
    if config["code"]["fingerprint"] != provenance.code_fingerprint(cls):
        return "the code changed"
    changed = [f"{name} {then} → {now}" for name, then, now in version_changes(config["versions"])]
    return f"other library versions ({', '.join(changed)})" if changed else None


def version_changes(versions: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(library, version then, version now)`` for each library that shapes a run's numbers and changed since."""
    stored, now = provenance.key_versions(versions), provenance.key_versions(provenance.library_versions())
    return [(name, stored[name], now[name]) for name in stored if stored[name] != now[name]]


def status(config: dict[str, Any]) -> str:
    """``current``, :data:`STALE` or :data:`UNREGISTERED` (a plugin model not loaded in this process)."""
    if staleness(config) is not None:
        return STALE
    try:
        model_class(config["model"])
    except ParameterError:
        return UNREGISTERED
    return "current"


COLUMNS = [
    *("key", "model", "year", "params", "seed", "recall@10", "mrr", "fit_seconds", "device", "data"),
    *("synthetic", "created", "stale", "status", "stale_because"),
]


_tables: dict[str, tuple[list, pd.DataFrame]] = {}  # root → (the listing it was built from, the table)


def table(root: Path) -> pd.DataFrame:
    """One row per cached run: key, model, year, params (JSON), seed, main metrics, fit time, device, data,
    and whether it is stale (made by other code or library versions: ``stale``, ``status``, ``stale_because``).

    A copy: built once per listing of the index.
    """
    listing = list(entries(root))
    built = _tables.get(str(root))
    if built is not None and len(built[0]) == len(listing) and all(map(_same, built[0], listing)):
        return built[1].copy()
    frame = _table(listing)
    _tables[str(root)] = (listing, frame)
    return frame.copy()


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1] is b[1] and a[2] is b[2]  # the same key, parsed from the same write


def _table(listing: list[tuple[str, dict, dict]]) -> pd.DataFrame:
    rows = []
    for key, config, details in listing:
        because = staleness(config)
        rows.append(
            {
                "key": key,
                "model": config["model"],
                "year": config["year"],
                "params": json.dumps(config["params"], sort_keys=True),
                "seed": seed_of(config["params"]),
                "recall@10": details["metrics"]["recall"]["10"],
                "mrr": details["metrics"]["mrr"],
                "fit_seconds": details["fit_seconds"],
                "device": config.get("device", details.get("device")),
                "data": config["data"]["fingerprint"],
                "synthetic": config["data"].get("synthetic", False),
                "created": details["created"],
                "stale": because is not None,
                "status": status(config),
                "stale_because": because or "",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def entry(key: str, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, details)`` of one entry, from the index.

    Raises:
        CacheError: there is no such entry (one sentence).
    """
    for found, config, details in entries(root):
        if found == key:
            return config, details
    raise CacheError(f"There is no cached run {key}; `python -m explorer runs list` shows the keys.")
