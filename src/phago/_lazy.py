"""Packages whose public names are imported on first use.

``import phago`` (and ``import phago.cli``) used to import every submodule: Numba, SciPy and
the whole colony, half a second before a command could even parse its arguments. A package
made lazy with :func:`lazy_package` keeps its public API (``from phago import Colony``,
``phago.query.retrieve``, ``dir(phago)``, ``from phago.query import *``) but imports the
submodule that defines a name only when the name is first looked up.

A submodule may share its name with a function its package exports (``phago.query.tfidf``
is a module and the package's ``tfidf`` is the function in it). An eager package binds the
function over the submodule; a lazy one keeps that: the attribute the import system sets
when such a submodule is loaded is not kept, so the name goes on meaning the function.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


class LazyPackage(types.ModuleType):
    """A package module that imports each exported name from its submodule on first use.

    Example:
        >>> import phago.query
        >>> type(phago.query).__name__, callable(phago.query.tfidf)
        ('LazyPackage', True)
    """

    _lazy_exports: Mapping[str, str]
    """Exported name → the module (absolute name) that defines it."""

    def __getattr__(self, name: str) -> Any:
        module = self.__dict__.get("_lazy_exports", {}).get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        self.__dict__[name] = value  # found directly from now on
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and name in self.__dict__.get("_lazy_exports", {})
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            return  # a submodule named like an exported function: the name stays the function
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_lazy_exports", {})))


class LazyModule(types.ModuleType):
    """A stand-in for a module, imported at its first attribute lookup (every lookup is
    passed on to the real module).

    Example:
        >>> json_module = LazyModule("json")
        >>> json_module.dumps([1])
        '[1]'
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


def lazy_module(name: str) -> Any:
    """The module ``name`` if it is imported already, else a :class:`LazyModule` that
    imports it when first used (``np = lazy_module("numpy")``: a module that only needs
    NumPy in some of its functions loads without it)."""
    return sys.modules.get(name) or LazyModule(name)


def lazy_package(name: str, exports: Mapping[str, str]) -> None:
    """Make the package ``name`` (already in :data:`sys.modules`, usually the calling
    package's ``__name__``) import each name of ``exports`` from its module on first use.

    Args:
        name: the package.
        exports: each exported name and the module defining it (absolute, or relative to
            the package when it starts with a dot).
    """
    package = sys.modules[name]
    resolved = {
        export: f"{name}{module}" if module.startswith(".") else module
        for export, module in exports.items()
    }
    package.__dict__["_lazy_exports"] = resolved
    package.__class__ = LazyPackage
