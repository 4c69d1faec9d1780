"""The on-disk cache of trained runs: one folder per run identity (:func:`explorer.provenance.identity`).

* The folder name is the run's key: a hash of the model, its hyperparameters, the test year, the data
  fingerprint, the code fingerprint, the device kind, the key libraries' versions and the format. No
  file name ever comes from user text. A run made by other code (or other library versions) has another
  key, so it is never served as current: it is retrained, and the old entry is listed as stale
  (:func:`table`, :func:`clear` with ``stale=True``).
* An entry holds ``config.json`` (the identity: model, params, year, data, device, code, versions),
  ``metrics.json`` (metrics, the run's own CIs, timings, notes, git), ``ranks.parquet``, ``embeddings.npz``
  (losses too), ``lookups.npz`` (per test user: top-50 lists, hit flags, known mask, metric sums; see
  :mod:`explorer.lookups`) and ``manifest.json`` (size and SHA-256 of each file). No pickle anywhere;
  arrays load with ``allow_pickle=False``.
* :func:`load` reads the two JSON files and checks the others' sizes; the heavy files are parsed (and
  their checksums checked) on first access (:meth:`explorer.training.Run.deferred`).
* Writes are atomic: the entry is written in a temporary folder and renamed into place, so a crash
  never leaves a half entry that is read later.
* A cross-process lock per key makes simultaneous requests for one entry train once; the others wait
  and read it.
* An entry that fails its manifest or cannot be parsed is reported once, deleted and rebuilt.
* :func:`entries` keeps an in-process index: the folder listing is reused while the cache folder's
  modification time is unchanged (entries appear and vanish by renames in it), and each entry's JSON is
  parsed once per write of its manifest.
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

from explorer import lookups, provenance, run_index
from explorer.data import Dataset
from explorer.errors import CacheError
from explorer.models import ProgressCallback, model_class
from explorer.protocol import Split
from explorer.training import Run, train_and_evaluate

logger = logging.getLogger(__name__)

FORMAT_VERSION = provenance.FORMAT_VERSION
CACHE_DIR_ENV = "EXPLORER_CACHE_DIR"
REPO_CACHE_DIR = Path(__file__).resolve().parents[1] / "cache"
LIGHT_FILES = ("config.json", "metrics.json")
FILES = (*LIGHT_FILES, "ranks.parquet", "embeddings.npz", "lookups.npz")
MANIFEST = run_index.MANIFEST
STALE, staleness, status = run_index.STALE, run_index.staleness, run_index.status


def cache_dir() -> Path:
    """The cache folder: ``EXPLORER_CACHE_DIR`` or ``cache/`` in the repository (created if needed)."""
    path = Path(os.environ.get(CACHE_DIR_ENV) or REPO_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_key(
    model: str,
    params: dict[str, Any],
    year: int,
    fingerprint: str,
    *,
    device: str | None = None,
    code: str | None = None,
    versions: dict[str, str] | None = None,
) -> str:
    """24 hex digits identifying an entry; by default the key this process's code would train it under.

    Args:
        model, params, year, fingerprint: Model name, complete hyperparameters, test year, data fingerprint.
        device: The device asked for (resolved as training resolves it: :func:`provenance.device_kind`).
        code: A code fingerprint (default: the current code's, :func:`provenance.code_fingerprint`).
        versions: Library versions (default: the installed ones).
    """
    cls = model_class(model)
    return provenance.identity_key(
        provenance.identity(
            model,
            params,
            year,
            fingerprint,
            code if code is not None else provenance.code_fingerprint(cls),
            provenance.device_kind(cls, device),
            versions if versions is not None else provenance.library_versions(),
        )
    )


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


def _fingerprint_of(path: Path) -> dict[str, Any]:
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def save(run: Run, root: Path | None = None) -> Path:
    """Write ``run`` atomically under :attr:`Run.key`; returns its folder. A complete entry is kept as it is."""
    root = root or cache_dir()
    key = run.key
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
            "device": run.device,
            "code": run.code,
            "versions": run.versions,
        }
        (scratch / "config.json").write_text(json.dumps(config, indent=1))
        details = {
            "metrics": run.metrics,
            "intervals": run.intervals,
            "fit_seconds": run.fit_seconds,
            "eval_seconds": run.eval_seconds,
            "device": run.device,
            "versions": run.versions,
            "notes": run.notes,
            "created": run.created,
            "git": run.git,
        }
        (scratch / "metrics.json").write_text(json.dumps(details, indent=1))
        run.ranks.to_parquet(scratch / "ranks.parquet", index=False)
        with open(scratch / "embeddings.npz", "wb") as handle:
            np.savez(handle, **run.state)
        stored = {"test_users": run.test_users, "top_items": run.top_items, **run.lookups}
        lookups.save(scratch / "lookups.npz", stored)
        manifest = {name: _fingerprint_of(scratch / name) for name in FILES}
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


class _Reader:
    """Reads an entry's heavy parts on first access, checking each file against the manifest."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder, self.manifest = folder, manifest
        self._verified: set[str] = set()  # lookups.npz serves three parts: its checksum is computed once

    def _checked(self, name: str) -> Path:
        path = self.folder / name
        if name not in self._verified:
            if _sha256(path) != self.manifest[name]["sha256"]:
                raise CacheError(
                    f"The cached run {self.folder.name} is corrupted ({name} does not match its checksum)."
                )
            self._verified.add(name)
        return path

    def __call__(self, name: str) -> Any:
        try:
            if name == "ranks":
                return pd.read_parquet(self._checked("ranks.parquet"))
            if name == "state":
                with np.load(self._checked("embeddings.npz"), allow_pickle=False) as arrays:
                    return {key: arrays[key] for key in arrays.files}
            stored = lookups.load(self._checked("lookups.npz"))
        except (OSError, ValueError, KeyError) as error:
            raise CacheError(f"The cached run {self.folder.name} is corrupted ({error}).") from error
        if name == "test_users":
            return stored["test_users"]
        if name == "top_items":
            return stored["top_items"][:, :10]
        return {key: value for key, value in stored.items()}


def load(key: str, root: Path | None = None, *, verify: bool = False) -> Run:
    """Read the entry ``key``: its JSON now, its ranks, state and lookups on first access.

    Args:
        key: The entry's key.
        root: Cache folder (default :func:`cache_dir`).
        verify: Check every file's checksum now (otherwise each heavy file is checked when it is read).

    Raises:
        CacheError: the entry does not exist, or is incomplete or corrupted (message says which).
    """
    folder = (root or cache_dir()) / key
    if not folder.is_dir():
        raise CacheError(f"There is no cached run {key}.")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for name in FILES:
            recorded = manifest.get(name)
            if not isinstance(recorded, dict) or (folder / name).stat().st_size != recorded["bytes"]:
                raise ValueError(f"{name} is missing or has the wrong size")
            if (verify or name in LIGHT_FILES) and _sha256(folder / name) != recorded["sha256"]:
                raise ValueError(f"{name} does not match its checksum")
        config = json.loads((folder / "config.json").read_text())
        details = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise CacheError(f"The cached run {key} is corrupted ({error}).") from error
    return Run.deferred(
        _Reader(folder, manifest),
        model=config["model"],
        params=config["params"],
        year=config["year"],
        data=config["data"],
        metrics=details["metrics"],
        fit_seconds=details["fit_seconds"],
        eval_seconds=details["eval_seconds"],
        device=config["device"],
        versions=config["versions"],
        notes=details["notes"],
        created=details["created"],
        from_cache=True,
        code=config["code"],
        git=details.get("git"),
        intervals=details.get("intervals", {}),
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
    device: str | None = None,
) -> Run:
    """The cached run for this key, or ``train()``'s result, saved; trains at most once across processes.

    Args:
        model, params, year, fingerprint: The entry's key (params already validated), with the current
            code and library versions.
        train: Produces the run when it is not cached (on ``device``).
        use_cache: False retrains and replaces the entry.
        root: Cache folder (default :func:`cache_dir`).
        device: The device asked for (None: the default), part of the key once resolved.
    """
    root = root or cache_dir()
    key = run_key(model, params, year, fingerprint, device=device)
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
        if run.key != key:
            logger.warning("The run of %s %s was expected under key %s but is keyed %s.", model, year, key, run.key)
        save(run, root)
        return run


_reported: set[str] = set()


def _load_or_discard(key: str, root: Path) -> Run | None:
    if not (root / key).is_dir():
        return None
    try:
        return load(key, root, verify=True)
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
    """``(key, config, details)`` of every readable entry, oldest first (:func:`explorer.run_index.entries`)."""
    return run_index.entries(root or cache_dir())


def table(root: Path | None = None) -> pd.DataFrame:
    """One row per cached run, stale ones marked (:func:`explorer.run_index.table`)."""
    return run_index.table(root or cache_dir())


def entry(key: str, root: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, details)`` of one entry; CacheError (one sentence) when there is none."""
    return run_index.entry(key, root or cache_dir())


def clear(root: Path | None = None, model: str | None = None, *, stale: bool = False) -> int:
    """Delete every entry (or every entry of ``model``; only stale ones with ``stale``); returns how many."""
    doomed = [
        key
        for key, config, _ in list(entries(root))
        if model in (None, config["model"]) and (not stale or staleness(config) is not None)
    ]
    return sum(delete(key, root) for key in doomed)


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
        device=device,
    )
