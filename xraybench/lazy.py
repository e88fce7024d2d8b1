"""Import heavy optional packages on first use, naming the extra that provides them."""

from __future__ import annotations

import importlib
from types import ModuleType

from xraybench.errors import MissingExtraError


def require(module: str, extra: str, what: str | None = None) -> ModuleType:
    """Import `module` or raise an error telling the user which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(what or module, extra, exc) from exc
