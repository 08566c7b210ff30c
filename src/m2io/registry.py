"""Explicit name → class registries, one per stage, with a dotted-path escape hatch.

Example:
    >>> from m2io.registry import Registry
    >>> greeters = Registry("greeter")
    >>> @greeters.register("hello")
    ... class Hello: ...
    >>> greeters.get("hello") is Hello
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class UnknownBackendError(ValueError):
    """Raised for a backend name that is neither registered nor an importable dotted path."""


class Registry:
    """Maps short names to classes (or ``"module:attr"`` / ``"module.attr"`` strings, loaded lazily).

    Lazy entries keep heavy optional dependencies out of ``import m2io``: the module that holds a
    backend is imported only when that backend is asked for.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[type], type]:
        def deco(cls: type) -> type:
            self._entries[name] = cls
            return cls

        return deco

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``name`` → ``"package.module:ClassName"`` without importing it."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        """Return the class for ``name``, a registered name or a dotted path ``pkg.mod:Class``."""
        entry = self._entries.get(name)
        if entry is None:
            if "." in name or ":" in name:
                return _import_path(name)
            raise UnknownBackendError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())} "
                f"(or a dotted path such as 'mypkg.module:MyClass')"
            )
        if isinstance(entry, str):
            entry = _import_path(entry)
            self._entries[name] = entry
        return entry

    def create(self, name: str, **kwargs: Any) -> Any:
        return self.get(name)(**kwargs)

    def name_of(self, cls: type) -> str:
        """The name ``cls`` is registered under, else its dotted path (``pkg.module:Class``).

        The inverse of :meth:`get`; lazy entries are compared by path, so nothing is imported.
        """
        path = class_path(cls)
        for name, entry in self._entries.items():
            if entry is cls or entry == path:
                return name
        return path


def class_path(cls: type) -> str:
    """``"package.module:Class"``, the dotted path :meth:`Registry.get` imports a class by."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_path(path: str) -> Any:
    """The object a dotted path names (``pkg.module:attr`` or ``pkg.module.attr``)."""
    return _import_path(path)


def _import_path(path: str) -> Any:
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise UnknownBackendError(f"cannot import {path!r}: {err}") from err


def require(module: str, extra: str) -> Any:
    """Import an optional dependency or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module!r} is needed here; install it with: pip install 'm2io[{extra}]'"
        ) from err


def lazy_names(package: str, owners: dict[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` that imports ``name`` from ``package.owners[name]`` on first
    use and keeps it in the package, so importing the package stays cheap (PEP 562)."""

    def __getattr__(name: str) -> Any:
        module = owners.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
