"""Package attributes loaded on first use, so that importing a package stays cheap.

``zoo``, ``zoo.predict`` and ``zoo.weights`` export names from their modules without
importing those modules (and torch with them) until a name is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], *, submodules: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose names load lazily.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it, absolute (``zoo.models``) or
            relative to the package (``.running.scorer``).
        submodules: whether an unknown name that is a submodule of the package
            (``zoo.predict.inputs``) is imported and returned, as ``import`` would.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the package. A name, once loaded, is kept in
        the package's namespace, so ``__getattr__`` runs once per name.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            if submodules and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
