"""The model registry: the built-in models of this package, then the plugins' (``EXPLORER_PLUGINS``).

Add a built-in model by adding one module with a :class:`~explorer.models.base.Recommender` subclass and a
``MODELS = (TheClass,)`` line. Add a model of your own without touching this package by naming its file in
``EXPLORER_PLUGINS`` (:mod:`explorer.plugins`, ``docs/plugins.md``). Heavy libraries (torch, cmfrec,
implicit) are imported inside ``fit``, so the registry itself loads fast.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil

from explorer.errors import ParameterError
from explorer.models.base import Param, ProgressCallback, Recommender

__all__ = ["Param", "ProgressCallback", "Recommender", "builtins", "model_class", "model_names", "registry"]

BUILTIN_ORDER = (
    *("popularity", "friends-pop", "itemknn", "ease", "ease-social", "cmf", "cmf-tags", "als", "bpr"),
    *("lightgcn", "lightgcn-social", "lightgcn-tags", "lightgcn-ease"),
)


@functools.cache
def builtins() -> dict[str, type[Recommender]]:
    """Built-in model name → class, in a stable order (baselines first)."""
    found: dict[str, type[Recommender]] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_") or module.name == "base":
            continue
        for cls in getattr(importlib.import_module(f"{__name__}.{module.name}"), "MODELS", ()):
            found[cls.name] = cls
    rank = {name: n for n, name in enumerate(BUILTIN_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def registry() -> dict[str, type[Recommender]]:
    """Model name → class: the built-ins, then the models of ``EXPLORER_PLUGINS`` that loaded and passed the checks.

    A plugin that failed is left out (see :func:`explorer.plugins.problems` for why).
    """
    from explorer import plugins

    return _with_plugins(os.environ.get(plugins.PLUGINS_ENV, ""))


@functools.cache
def _with_plugins(spec: str) -> dict[str, type[Recommender]]:
    from explorer import plugins

    return {**builtins(), **plugins.load(spec).models}


def model_names() -> list[str]:
    return list(registry())


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``; a one-sentence ParameterError for an unknown name."""
    found = registry()
    if name in found:
        return found[name]
    from explorer import plugins

    for problem in plugins.problems():
        if name in problem.models:
            raise ParameterError(f"Model {name!r} is unavailable: {problem.message}")
    raise ParameterError(f"There is no model {name!r}; choose one of {', '.join(found)}.")


def seed_names(model: str) -> list[str]:
    """The hyperparameters a seed sets: ``seed``, or an ensemble's members' (``gcn_seed``, …); none: no seed."""
    cls = model_class(model)
    if "seed" in cls.PARAMS:
        return ["seed"]
    members = getattr(cls, "MEMBERS", {})
    return [f"{prefix}_seed" for prefix in members if f"{prefix}_seed" in cls.PARAMS]


def seed_of(params: dict) -> int | None:
    """The seed a run's ``params`` hold: ``seed``, else an ensemble member's (``gcn_seed``, …), else None."""
    if "seed" in params:
        return params["seed"]
    return next((value for name, value in params.items() if name.endswith("_seed")), None)
