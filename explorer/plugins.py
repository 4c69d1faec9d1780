"""Models from outside the repository: ``EXPLORER_PLUGINS`` names files or modules that add ``MODELS``.

``EXPLORER_PLUGINS`` is an ``os.pathsep``-separated list (``:`` on Linux and macOS) of ``.py`` files or
importable module names. Each plugin defines, at module level, ``MODELS = (SomeModel, …)``: subclasses of
:class:`explorer.models.Recommender` written against the contract in ``docs/plugins.md``. The registry
(:func:`explorer.models.registry`) lists the built-ins first, then the plugins' models in the order given.

Loading checks what can be checked without data (the file exists and imports, ``MODELS`` holds
Recommender subclasses, each has a ``name`` no built-in or other plugin uses, implements ``_fit`` and
builds with its default hyperparameters). A plugin that fails a check is reported as a :class:`Problem`,
one sentence naming the plugin; its models (or the one model at fault) are left out and every other model
works. What needs data (``_fit`` sets ``user_ids_``, scores of the right shape, finite, plain-array state,
no exception in ``fit``) is checked when a model trains (:mod:`explorer.contract`).

A file is imported once per process (under a private module name), like any module: after editing a
plugin, start the app or the command again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from explorer.errors import ExplorerError

PLUGINS_ENV = "EXPLORER_PLUGINS"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
SHIPPED_ENV = "EXPLORER_PLUGINS_SHIPPED"  # JSON {module on the workers: plugin as the driver named it}
FILE_MODULE_PREFIX = "explorer_plugin_"  # private module names of plugin files: explorer_plugin_<stem>_<hash>


class PluginError(ExplorerError):
    """A plugin cannot be loaded, or one of its models breaks the contract (the message names it)."""


@dataclass(frozen=True)
class Problem:
    """Why a plugin, or one model of it, is unavailable.

    Attributes:
        source: The plugin as given in ``EXPLORER_PLUGINS`` (a file or a module name).
        message: One sentence naming the plugin (and the model) and saying how to fix it.
        models: Names of the models left out because of it, where known.
    """

    source: str
    message: str
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Loaded:
    """What ``EXPLORER_PLUGINS`` contributed: the models that passed the checks, and the problems."""

    models: dict[str, type] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    modules: dict[str, ModuleType] = field(default_factory=dict)  # source → imported module


def entries(spec: str | None = None) -> list[str]:
    """The plugins named by ``spec`` (default: ``EXPLORER_PLUGINS``), blanks dropped, duplicates once."""
    text = os.environ.get(PLUGINS_ENV, "") if spec is None else spec
    return list(dict.fromkeys(part.strip() for part in text.split(os.pathsep) if part.strip()))


def load(spec: str | None = None) -> Loaded:
    """The plugins of ``spec`` (default: ``EXPLORER_PLUGINS``), loaded and checked once per process and value."""
    with _lock:  # the app's sessions are threads: a plugin file is executed once
        return _load(os.pathsep.join(entries(spec)))


def problems(spec: str | None = None) -> tuple[Problem, ...]:
    """The problems of the plugins of ``spec`` (empty when all loaded)."""
    return load(spec).problems


def absolute(spec: str | None = None) -> str:
    """``spec`` (default: ``EXPLORER_PLUGINS``) with its files as absolute paths: the same plugins for a
    process that runs elsewhere (Ray's workers do not share the driver's working directory)."""
    return os.pathsep.join(
        str(Path(entry).expanduser().resolve()) if is_file_entry(entry) else entry for entry in entries(spec)
    )


def is_file_entry(entry: str) -> bool:
    """A file path (ends in ``.py`` or contains a path separator) rather than a module name."""
    return entry.endswith(".py") or "/" in entry or os.sep in entry


def origin(cls: type) -> str | None:
    """The plugin (file or module) a model class comes from; None for a built-in model."""
    module = cls.__module__
    if module == "explorer" or module.startswith("explorer."):
        return None
    shipped = json.loads(os.environ.get(SHIPPED_ENV) or "{}")  # on a cluster's worker: the driver's own name
    return shipped.get(module) or _sources.get(module) or getattr(sys.modules.get(module), "__file__", None) or module


def label(cls: type) -> str:
    """How errors name a model: ``plugin model 'knn' (path/knn.py)`` or ``model 'ease'``."""
    name = getattr(cls, "name", None) or cls.__name__
    source = origin(cls)
    return f"model {name!r}" if source is None else f"plugin model {name!r} ({source})"


_sources: dict[str, str] = {}  # module name → the plugin entry it was loaded from
_lock = threading.RLock()


@functools.cache
def _load(spec: str) -> Loaded:
    from explorer.models import builtins

    taken: dict[str, str] = {name: "a built-in model" for name in builtins()}
    models: dict[str, type] = {}
    found: list[Problem] = []
    modules: dict[str, ModuleType] = {}
    for entry in entries(spec):
        try:
            module = _import(entry)
        except PluginError as error:
            found.append(Problem(entry, str(error)))
            continue
        modules[entry] = module
        declared = getattr(module, "MODELS", None)
        if not isinstance(declared, tuple | list) or not declared:
            found.append(
                Problem(entry, f"Plugin {entry} defines no MODELS; add MODELS = (YourModel,) at its top level.")
            )
            continue
        for cls in declared:
            message = _check_class(cls, entry, taken)
            if message:
                found.append(Problem(entry, message, (cls.name,) if _has_name(cls) else ()))
                continue
            taken[cls.name] = f"plugin {entry}"
            models[cls.name] = cls
    return Loaded(models, tuple(found), modules)


def _import(entry: str) -> ModuleType:
    """Import one plugin (a file under a private module name, or a module by name); PluginError if it fails."""
    if is_file_entry(entry):
        path = Path(entry).expanduser()
        if not path.is_file():
            what = "is a folder, not a .py file" if path.is_dir() else "does not exist"
            raise PluginError(f"Plugin {entry} {what}; fix its path in {PLUGINS_ENV} (a .py file or a module name).")
        path = path.resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        stem = re.sub(r"\W", "_", path.stem)
        name = f"{FILE_MODULE_PREFIX}{stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses, pickling and inspect look modules up here
        _sources[name] = entry
        try:
            spec.loader.exec_module(module)
        except BaseException as error:
            sys.modules.pop(name, None)
            if isinstance(error, KeyboardInterrupt):
                raise
            raise PluginError(_import_failure(entry, path, error)) from None
        return module
    try:
        module = importlib.import_module(entry)
    except ModuleNotFoundError as error:
        if error.name is not None and entry.startswith(error.name):
            raise PluginError(
                f"Plugin module {entry} cannot be found; install it, add its folder to PYTHONPATH, "
                f"or give the path of its .py file in {PLUGINS_ENV}."
            ) from None
        raise PluginError(_import_failure(entry, None, error)) from None
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        raise PluginError(_import_failure(entry, None, error)) from None
    _sources[module.__name__] = entry
    return module


def _import_failure(entry: str, path: Path | None, error: BaseException) -> str:
    """``Plugin x.py failed to import (line 3): NameError: …`` (where in the plugin's own file, if it is there)."""
    if isinstance(error, SyntaxError):
        return f"Plugin {entry} has a syntax error ({_where(error.filename, error.lineno, path)}): {error.msg}; fix it."
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if path is not None and Path(frame.filename) == path] or frames[-1:]
    where = f" ({_where(own[-1].filename, own[-1].lineno, path)})" if own else ""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"Plugin {entry} failed to import{where}: {type(error).__name__}{': ' + text if text else ''}."


def _where(filename: str | None, line: int | None, path: Path | None) -> str:
    """``line 3`` in the plugin's own file, ``other.py, line 3`` elsewhere."""
    own = path is not None and filename is not None and Path(filename) == path
    return f"line {line}" if own or filename is None else f"{filename}, line {line}"


def _has_name(cls: object) -> bool:
    return isinstance(cls, type) and isinstance(getattr(cls, "name", None), str) and bool(cls.name)


def _check_class(cls: object, entry: str, taken: dict[str, str]) -> str | None:
    """The one sentence saying how ``cls`` breaks what loading can check, or None."""
    from explorer.models.base import Param, Recommender

    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        return f"Plugin {entry}: MODELS holds {cls!r}, which is not a subclass of explorer.models.Recommender."
    if not _has_name(cls):
        return f'Plugin {entry}: {cls.__name__} has no name; set name = "your-model" on the class.'
    what = f"Plugin {entry}: model {cls.name!r} ({cls.__name__})"
    if not NAME_PATTERN.fullmatch(cls.name):
        return f"{what} needs a name of letters, digits and '-', '_', '.', '+' (no spaces), e.g. 'user-knn'."
    if cls.name in taken:
        return f"{what} has the name of {taken[cls.name]}; rename it (set another name on the class)."
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        return f"{what} does not implement {missing}; define _fit(self, train, progress) (see docs/plugins.md)."
    params = cls.PARAMS
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, Param) for k, v in params.items()):
        return f"{what} has PARAMS that are not a dict of name → explorer.models.Param."
    if not isinstance(cls.TUNED, dict) or not all(isinstance(v, dict) for v in cls.TUNED.values()):
        return f"{what} has TUNED that is not a dict of test year → {{hyperparameter: value}}."
    if not isinstance(cls.STATE, tuple) or not all(isinstance(key, str) for key in cls.STATE):
        return f"{what} has a STATE that is not a tuple of attribute names (e.g. STATE = ('user_factors',))."
    try:
        for year in (None, *cls.TUNED):
            cls.params_for(year)
    except Exception as error:  # noqa: BLE001 - any failure here is the plugin's, reported as its sentence
        return f"{what} cannot be built with its default hyperparameters: {type(error).__name__}: {error}"
    return None
