"""Import heavy optional packages on first use, naming the extra that provides them."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from xraybench.errors import MissingExtraError

log = logging.getLogger(__name__)

# packages that call `nltk.download(...)` when imported (radeval's `utils` fetches "punkt_tab" at import, which
# reaches the network on every import whether or not the resource is installed): `require` imports them under
# `nltk_offline`, so a run, a test or CI never downloads
NLTK_DOWNLOADS_AT_IMPORT = ("radeval",)
_NLTK_CATEGORIES = ("tokenizers", "corpora", "taggers", "chunkers", "models", "stemmers", "misc", "sentiment")


def nltk_resource_installed(name: str) -> bool:
    """Is nltk resource `name` (e.g. "punkt_tab") on nltk's data path, unpacked or zipped, in any category?"""
    data = importlib.import_module("nltk.data")
    for category in _NLTK_CATEGORIES:
        for path in (f"{category}/{name}", f"{category}/{name}.zip"):
            try:
                data.find(path)
                return True
            except LookupError:
                continue
    return False


@contextmanager
def nltk_offline() -> Iterator[None]:
    """While active, `nltk.download(name)` never touches the network: it answers True when the resource is
    installed and otherwise logs the install step and answers False (what nltk answers for a failed download), so a
    package that downloads at import still imports; a later use of the missing resource fails with nltk's
    `LookupError`, which names the resource. Without nltk installed it does nothing."""
    if importlib.util.find_spec("nltk") is None:
        yield
        return
    nltk = importlib.import_module("nltk")
    original = nltk.download

    def local_only(info_or_id: Any = None, *args: Any, **kwargs: Any) -> bool:
        name = str(getattr(info_or_id, "id", info_or_id))
        if info_or_id is not None and nltk_resource_installed(name):
            return True
        log.warning(
            "nltk resource %r is not installed and is not downloaded (xraybench never downloads at run time); "
            "if a metric needs it, install it once with: python -m nltk.downloader %s",
            name, name,
        )  # fmt: skip
        return False

    nltk.download = local_only
    try:
        yield
    finally:
        nltk.download = original


def require(module: str, extra: str, what: str | None = None) -> ModuleType:
    """Import `module` or raise an error telling the user which extra to install (a package in
    `NLTK_DOWNLOADS_AT_IMPORT` is imported without its nltk downloads)."""
    try:
        if module.split(".")[0] in NLTK_DOWNLOADS_AT_IMPORT:
            with nltk_offline():
                return importlib.import_module(module)
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(what or module, extra, exc) from exc
