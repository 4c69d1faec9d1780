"""What made a run: the code (a fingerprint of its source files), the library versions, the device, git.

A run's identity (:func:`identity`, hashed by :func:`identity_key`) holds, besides the model, its
hyperparameters, the test year and the data, everything that shapes its numbers and can change without
anybody noticing:

* **The code** (:func:`code_fingerprint`): a hash of the model class's own source file and, transitively,
  of every ``explorer`` module those files import (a static scan of their import statements, resolved to
  files), plus the modules every run's numbers depend on (:data:`DEPENDS_ON`: the split, the evaluation,
  the training engine, the data loader, beyond-accuracy metrics, the model protocol, the stored lookups)
  and their imports in turn. Computed, never a version number someone must remember to bump. A plugin
  model in a file outside ``explorer`` is keyed by its own file (and the ``explorer`` modules and sibling
  files it imports). Files are named relative to the package, so a moved checkout keeps its keys.
* **The library versions** (:data:`KEY_PACKAGES`): torch, torch-geometric, cmfrec, implicit, numpy, scipy.
* **The device kind** (:func:`device_kind`), resolved *before* training, so ``--device cpu`` is never
  served a run trained on CUDA (a different random stream).

The fingerprint is computed once per process and file set: a running process's code does not change
under it (Python does not reload modules), so neither does the fingerprint it reports.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from explorer.errors import ParameterError

PACKAGE_DIR = Path(__file__).resolve().parent  # .../explorer
REPOSITORY_DIR = PACKAGE_DIR.parent
FORMAT_VERSION = 3  # of the run cache; 3: provenance in the key, lookups.npz (top-50, hits, known, per-user sums)
KEY_PACKAGES = ("torch", "torch-geometric", "cmfrec", "implicit", "numpy", "scipy")
DEPENDS_ON = (
    "explorer.protocol",
    "explorer.evaluation",
    "explorer.training",
    "explorer.data",
    "explorer.beyond",
    "explorer.models.base",
    "explorer.lookups",
)
ACCELERATED = ("torch", "torch_geometric", "implicit")  # libraries whose models may train on a GPU
DEVICES = ("cpu", "cuda")
GPU_NODES = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")  # no such node: no GPU on Linux


# ---------------------------------------------------------------------------------------------- the code


def _module_file(module: str) -> Path | None:
    """The source file of ``explorer.x.y`` inside this package, or None (not an explorer module, or no file)."""
    parts = module.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (inside functions too), except under ``if TYPE_CHECKING:``.

    Only statement bodies are walked (an import is a statement), not expressions: a few times faster.
    """
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        fields = ("orelse",) if isinstance(node, ast.If) and _is_type_checking(node) else _BODIES
        for name in fields:
            stack.extend(getattr(node, name, ()))
    return found


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")  # the fields of a statement holding statements


@functools.cache
def _parsed(path: Path) -> tuple[bytes, ast.AST]:
    source = path.read_bytes()
    return source, ast.parse(source, filename=str(path))


def _package_of(path: Path) -> str | None:
    """``explorer.models`` for ``explorer/models/x.py``; None outside the package."""
    try:
        relative = path.parent.relative_to(PACKAGE_DIR)
    except ValueError:
        return None
    return ".".join([PACKAGE_DIR.name, *relative.parts])


@functools.cache
def _direct_dependencies(path: Path) -> tuple[Path, ...]:
    """The files ``path`` imports: ``explorer`` modules, and for a file outside the package its sibling files.

    This module is a leaf: it imports the GPU models' device checks only to resolve a device, and a
    model that trains with one imports its module itself.
    """
    if path == Path(__file__).resolve():
        return ()
    _, tree = _parsed(path)
    inside = _package_of(path)
    found: set[Path] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                if inside is None:  # a relative import in a plugin file: its own folder
                    modules = [f"{base}.{a.name}" if base else a.name for a in node.names]
                    found.update(f for m in modules if (f := _sibling(path, m)) is not None)
                    continue
                anchor = inside.split(".")[: len(inside.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from explorer import runs` names a module; `from explorer.x import name` names an attribute
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for module in modules:
            target = _module_file(module)
            if target is None and inside is None:
                target = _sibling(path, module)
            if target is not None and target != path:
                found.add(target)
    return tuple(sorted(found))


def _sibling(path: Path, module: str) -> Path | None:
    """A plugin's helper module ``module`` next to it (``helpers.py`` or ``helpers/__init__.py``), if any."""
    base = path.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


@functools.cache
def _closure(roots: tuple[Path, ...], *, into_models: bool = True) -> tuple[Path, ...]:
    """``roots`` and every file they import, transitively; without ``into_models``, files that register
    models (a top-level ``MODELS``) are neither included nor followed."""
    seen: set[Path] = set()
    stack = list(roots)
    while stack:
        path = stack.pop()
        if path in seen or (not into_models and _registers_models(path)):
            continue
        seen.add(path)
        stack.extend(_direct_dependencies(path))
    return tuple(sorted(seen))


@functools.cache
def _registers_models(path: Path) -> bool:
    """True for a model module: one with a top-level ``MODELS = …`` (see :mod:`explorer.models`)."""
    _, tree = _parsed(path)
    return any(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            getattr(t, "id", None) == "MODELS"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in getattr(tree, "body", [])
    )


def source_file(model_cls: type) -> Path:
    """The file the class is defined in.

    Raises:
        ParameterError: the class has no source file (defined interactively or in ``python -c``).
    """
    try:
        found = inspect.getsourcefile(model_cls)
    except TypeError:  # its module is not in sys.modules (a loader that did not register it): ask its methods
        functions = [inspect.unwrap(v) for v in vars(model_cls).values() if inspect.isfunction(inspect.unwrap(v))]
        found = next((f.__code__.co_filename for f in functions), None)
    if not found or not Path(found).is_file():
        name = getattr(model_cls, "name", model_cls.__name__)
        raise ParameterError(
            f"The model {name} has no source file, so its runs cannot be keyed by its code; define it in a .py file."
        )
    return Path(found).resolve()


def code_files(model_cls: type) -> list[Path]:
    """Every file whose source the model's runs depend on (see the module docstring), sorted."""
    return list(_code_files(model_cls))


@functools.cache
def _code_files(model_cls: type) -> tuple[Path, ...]:
    # The model's own module and its imports, and the engine every run depends on. The engine's imports of
    # model modules are not followed: the stored explanations (explorer.explainers) import the models they
    # explain, and a popularity run must not go stale when lightgcn.py changes; each model's own module is
    # in its own closure.
    own = _closure((source_file(model_cls),))
    engine = _closure(
        tuple(sorted({f for name in DEPENDS_ON if (f := _module_file(name)) is not None})), into_models=False
    )
    return tuple(sorted({*own, *engine}))


def file_label(path: Path) -> str:
    """``explorer/models/cmf.py`` for a package file; the bare file name for a file outside it."""
    try:
        return path.relative_to(REPOSITORY_DIR).as_posix() if path.is_relative_to(PACKAGE_DIR) else path.name
    except ValueError:
        return path.name


@functools.cache
def _digest(files: tuple[Path, ...]) -> str:
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(file_label(path).encode() + b"\0")
        hasher.update(hashlib.sha256(_parsed(path)[0]).digest())
    return hasher.hexdigest()[:24]


def code_fingerprint(model_cls: type) -> str:
    """24 hex digits of the source the model's runs depend on (its module's closure plus :data:`DEPENDS_ON`).

    Works for any class with a source file, a plugin outside ``explorer`` included; computed once per
    process and file set.

    Raises:
        ParameterError: the class has no source file.
    """
    return _digest(_code_files(model_cls))


def code_identity(model_cls: type) -> dict[str, Any]:
    """``{"fingerprint", "files"}``: what a run stores about its code (files labelled as :func:`file_label`)."""
    files = _code_files(model_cls)
    return {"fingerprint": _digest(files), "files": [file_label(path) for path in files]}


# ----------------------------------------------------------------------------------- versions and device


@functools.cache
def library_versions() -> dict[str, str]:
    """Python's version and those of :data:`KEY_PACKAGES` (``"not installed"`` where absent)."""
    versions = {"python": platform.python_version()}
    for package in KEY_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def key_versions(versions: dict[str, str]) -> dict[str, str]:
    """The part of ``versions`` that is in a run's key (:data:`KEY_PACKAGES`; Python is on the card only)."""
    return {package: versions.get(package, "unknown") for package in KEY_PACKAGES}


def _accelerated_by(model_cls: type) -> frozenset[str]:
    """Which of :data:`ACCELERATED` the training code of ``model_cls`` imports (its classes and members)."""
    found: set[str] = set()
    classes = [c for c in model_cls.__mro__ if c.__module__ not in ("builtins", "abc", "explorer.models.base")]
    for member in getattr(model_cls, "MEMBERS", {}).values():  # ensembles train their members
        found |= _accelerated_by(member)
    for cls in classes:
        try:
            path = source_file(cls)
        except ParameterError:
            continue
        for node in _imports(_parsed(path)[1]):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found |= {name.split(".")[0] for name in names} & set(ACCELERATED)
    return frozenset(found)


@functools.cache
def _gpu_possible() -> bool:
    """False when a GPU certainly is not there (Linux without a GPU driver node), so torch need not load."""
    return not sys.platform.startswith("linux") or any(Path(node).exists() for node in GPU_NODES)


def device_kind(model_cls: type, requested: str | None = None) -> str:
    """``cpu`` or ``cuda``: where ``model_cls`` will train when ``requested`` (None or ``auto``: the default).

    A model whose code uses no GPU library trains on the CPU whatever is asked. Otherwise ``cpu`` is
    ``cpu``, ``cuda`` must be available (torch's :func:`~explorer.models.lightgcn.resolve_device`,
    implicit's :func:`~explorer.models.implicit_mf.use_gpu`), and the default is ``cuda`` when every GPU
    library the model uses can reach one.

    Raises:
        ParameterError: an unknown device name, or ``cuda`` asked for where there is none (one sentence).
    """
    if requested not in (None, "", "auto", *DEVICES):
        raise ParameterError(f"The device must be cpu or cuda, got {requested!r}.")
    libraries = _accelerated_by(model_cls)
    if not libraries or requested == "cpu" or (requested in (None, "", "auto") and not _gpu_possible()):
        return "cpu"
    kinds = set()
    if libraries & {"torch", "torch_geometric"}:
        from explorer.models.lightgcn import resolve_device

        kinds.add(resolve_device(requested))
    if "implicit" in libraries:
        from explorer.models.implicit_mf import use_gpu

        kinds.add("cuda" if use_gpu(requested) else "cpu")
    return "cuda" if kinds == {"cuda"} else "cpu"


# ------------------------------------------------------------------------------------ identity and git


def identity(
    model: str,
    params: dict[str, Any],
    year: int,
    data_fingerprint: str,
    code: str,
    device: str,
    versions: dict[str, str],
) -> dict[str, Any]:
    """Everything a run's key is made of (the JSON object :func:`identity_key` hashes)."""
    return {
        "model": model,
        "params": params,
        "year": int(year),
        "data": data_fingerprint,
        "code": code,
        "device": device,
        "versions": key_versions(versions),
        "format": FORMAT_VERSION,
    }


def identity_key(fields: dict[str, Any]) -> str:
    """24 hex digits identifying a run: the hash of its :func:`identity`."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPOSITORY_DIR), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the checkout holding ``explorer`` when it is a git repository, else None.

    ``dirty``: it had uncommitted changes to tracked files (so the commit alone does not re-create the code).
    """
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}
