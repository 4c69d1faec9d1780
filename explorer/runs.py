"""The on-disk cache of trained runs: one folder per (model, hyperparameters, test year, data, format).

* The folder name is a hash of that key; no file name ever comes from user text.
* An entry holds ``config.json``, ``metrics.json``, ``ranks.parquet``, ``embeddings.npz`` (losses too),
  ``top_items.npz`` (each test user's top-10 list) and ``manifest.json`` (the SHA-256 of each file). No
  pickle anywhere; arrays load with ``allow_pickle=False``.
* Writes are atomic: the entry is written in a temporary folder and renamed into place, so a crash
  never leaves a half entry that is read later.
* A cross-process lock per key makes simultaneous requests for one entry train once; the others wait
  and read it.
* An entry that fails its manifest or cannot be parsed is reported once, deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from explorer.data import Dataset
from explorer.errors import CacheError
from explorer.models import ProgressCallback, model_class
from explorer.protocol import Split
from explorer.training import Run, train_and_evaluate

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: top_items.npz (each test user's top-10 list) and beyond-accuracy metrics
CACHE_DIR_ENV = "EXPLORER_CACHE_DIR"
REPO_CACHE_DIR = Path(__file__).resolve().parents[1] / "cache"
FILES = ("config.json", "metrics.json", "ranks.parquet", "embeddings.npz", "top_items.npz")
MANIFEST = "manifest.json"


def cache_dir() -> Path:
    """The cache folder: ``EXPLORER_CACHE_DIR`` or ``cache/`` in the repository (created if needed)."""
    path = Path(os.environ.get(CACHE_DIR_ENV) or REPO_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_key(model: str, params: dict[str, Any], year: int, fingerprint: str) -> str:
    """24 hex digits identifying an entry."""
    text = json.dumps(
        {"model": model, "params": params, "year": int(year), "data": fingerprint, "format": FORMAT_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def content_id(key: str, root: Path | None = None) -> str:
    """What a run's stored files hold, as 24 hex digits (a hash of its manifest): it changes whenever the
    entry is retrained or replaced, so anything computed from a run (statistics, maps) keyed by it refreshes.

    Raises:
        CacheError: there is no such entry, or it has no manifest.
    """
    try:
        manifest = ((root or cache_dir()) / key / MANIFEST).read_bytes()
    except OSError:
        raise CacheError(f"There is no cached run {key}.") from None
    return hashlib.sha256(manifest).hexdigest()[:24]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(run: Run, root: Path | None = None) -> Path:
    """Write ``run`` atomically; returns its folder. An existing complete entry is kept as it is."""
    root = root or cache_dir()
    key = run_key(run.model, run.params, run.year, run.data["fingerprint"])
    final = root / key
    scratch = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        config = {
            "key": key,
            "format": FORMAT_VERSION,
            "model": run.model,
            "params": run.params,
            "year": run.year,
            "data": run.data,
        }
        (scratch / "config.json").write_text(json.dumps(config, indent=1))
        details = {
            "metrics": run.metrics,
            "fit_seconds": run.fit_seconds,
            "eval_seconds": run.eval_seconds,
            "device": run.device,
            "versions": run.versions,
            "notes": run.notes,
            "created": run.created,
        }
        (scratch / "metrics.json").write_text(json.dumps(details, indent=1))
        run.ranks.to_parquet(scratch / "ranks.parquet", index=False)
        with open(scratch / "embeddings.npz", "wb") as handle:
            np.savez(handle, **run.state)
        with open(scratch / "top_items.npz", "wb") as handle:
            np.savez(handle, test_users=run.test_users, top_items=run.top_items)
        manifest = {name: _sha256(scratch / name) for name in FILES}
        (scratch / MANIFEST).write_text(json.dumps(manifest))
        for path in scratch.iterdir():  # flush before the rename makes the entry visible
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(scratch)
        else:
            os.rename(scratch, final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return final


def load(key: str, root: Path | None = None) -> Run:
    """Read the entry ``key``.

    Raises:
        CacheError: the entry does not exist, or is incomplete or corrupted (message says which).
    """
    folder = (root or cache_dir()) / key
    if not folder.is_dir():
        raise CacheError(f"There is no cached run {key}.")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for name in FILES:
            if manifest.get(name) != _sha256(folder / name):
                raise ValueError(f"{name} does not match its checksum")
        config = json.loads((folder / "config.json").read_text())
        details = json.loads((folder / "metrics.json").read_text())
        with np.load(folder / "embeddings.npz", allow_pickle=False) as arrays:
            state = {name: arrays[name] for name in arrays.files}
        with np.load(folder / "top_items.npz", allow_pickle=False) as arrays:
            test_users, top_items = arrays["test_users"], arrays["top_items"]
        ranks = pd.read_parquet(folder / "ranks.parquet")
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise CacheError(f"The cached run {key} is corrupted ({error}).") from error
    return Run(
        model=config["model"],
        params=config["params"],
        year=config["year"],
        data=config["data"],
        metrics=details["metrics"],
        ranks=ranks,
        state=state,
        fit_seconds=details["fit_seconds"],
        eval_seconds=details["eval_seconds"],
        device=details["device"],
        versions=details["versions"],
        notes=details["notes"],
        created=details["created"],
        from_cache=True,
        test_users=test_users,
        top_items=top_items,
    )


def obtain(
    model: str,
    params: dict[str, Any],
    year: int,
    fingerprint: str,
    train: Callable[[], Run],
    *,
    use_cache: bool = True,
    root: Path | None = None,
) -> Run:
    """The cached run for this key, or ``train()``'s result, saved; trains at most once across processes.

    Args:
        model, params, year, fingerprint: The entry's key (params already validated).
        train: Produces the run when it is not cached.
        use_cache: False retrains and replaces the entry.
        root: Cache folder (default :func:`cache_dir`).
    """
    root = root or cache_dir()
    key = run_key(model, params, year, fingerprint)
    if use_cache:
        run = _load_or_discard(key, root)
        if run is not None:
            return run
    with FileLock(str(root / f".{key}.lock")):
        if use_cache:
            run = _load_or_discard(key, root)  # another process may have trained it while we waited
            if run is not None:
                return run
        else:
            delete(key, root)
        run = train()
        save(run, root)
        return run


_reported: set[str] = set()


def _load_or_discard(key: str, root: Path) -> Run | None:
    if not (root / key).is_dir():
        return None
    try:
        return load(key, root)
    except CacheError as error:
        if key not in _reported:
            _reported.add(key)
            logger.warning("%s Rebuilding it.", error)
        delete(key, root)
        return None


def delete(key: str, root: Path | None = None) -> bool:
    """Remove one entry (moved aside first, so readers never see half of it); True if it existed."""
    root = root or cache_dir()
    folder = root / key
    if not folder.is_dir():
        return False
    doomed = root / f".del-{key}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        return False
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def entries(root: Path | None = None) -> Iterator[tuple[str, dict, dict]]:
    """``(key, config, details)`` of every readable entry, oldest first; unreadable ones are skipped."""
    root = root or cache_dir()
    found = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            config = json.loads((folder / "config.json").read_text())
            details = json.loads((folder / "metrics.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        found.append((details.get("created", ""), folder.name, config, details))
    for _, key, config, details in sorted(found, key=lambda row: (row[0], row[1])):
        yield key, config, details


def table(root: Path | None = None) -> pd.DataFrame:
    """One row per cached run: key, model, year, params, main metrics, fit time, device, data."""
    rows = [
        {
            "key": key,
            "model": config["model"],
            "year": config["year"],
            "params": json.dumps(config["params"], sort_keys=True),
            "recall@10": details["metrics"]["recall"]["10"],
            "mrr": details["metrics"]["mrr"],
            "fit_seconds": details["fit_seconds"],
            "device": details["device"],
            "data": config["data"]["fingerprint"],
            "synthetic": config["data"].get("synthetic", False),
            "created": details["created"],
        }
        for key, config, details in entries(root)
    ]
    columns = [
        "key",
        "model",
        "year",
        "params",
        "recall@10",
        "mrr",
        "fit_seconds",
        "device",
        "data",
        "synthetic",
        "created",
    ]
    return pd.DataFrame(rows, columns=columns)


def clear(root: Path | None = None, model: str | None = None) -> int:
    """Delete every entry (or every entry of ``model``); returns how many were deleted."""
    return sum(delete(key, root) for key, config, _ in list(entries(root)) if model in (None, config["model"]))


def run_for(
    dataset: Dataset,
    split: Split,
    model: str,
    params: dict[str, Any] | None = None,
    *,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
    root: Path | None = None,
) -> Run:
    """The run of ``model`` with ``params`` on ``split``: from the cache, or trained now and cached.

    ``params`` override the model's defaults for the split's test year.
    """
    checked = model_class(model).params_for(split.year, params)  # validated and complete: the key
    return obtain(
        model,
        checked,
        split.year,
        dataset.fingerprint,
        lambda: train_and_evaluate(dataset, split, model, checked, device=device, progress=progress),
        use_cache=use_cache,
        root=root,
    )
