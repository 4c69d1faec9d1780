"""The model registry: every module in this package that defines ``MODELS`` contributes its classes.

Add a model by adding one module with a :class:`~explorer.models.base.Recommender` subclass and a
``MODELS = (TheClass,)`` line. Heavy libraries (torch, cmfrec, implicit) are imported inside ``fit``, so
the registry itself loads fast.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from explorer.errors import ParameterError
from explorer.models.base import Param, ProgressCallback, Recommender

__all__ = ["Param", "ProgressCallback", "Recommender", "model_class", "model_names", "registry"]


@functools.cache
def registry() -> dict[str, type[Recommender]]:
    """Model name → class, in a stable order (baselines first)."""
    found: dict[str, type[Recommender]] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_") or module.name == "base":
            continue
        for cls in getattr(importlib.import_module(f"{__name__}.{module.name}"), "MODELS", ()):
            found[cls.name] = cls
    order = [
        *("popularity", "friends-pop", "itemknn", "ease", "ease-social", "cmf", "cmf-tags", "als", "bpr"),
        *("lightgcn", "lightgcn-social", "lightgcn-tags", "lightgcn-ease"),
    ]
    return dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))


def model_names() -> list[str]:
    return list(registry())


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``; a one-sentence ParameterError for an unknown name."""
    try:
        return registry()[name]
    except KeyError:
        raise ParameterError(f"There is no model {name!r}; choose one of {', '.join(registry())}.") from None
