from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _refuse_nltk_download(info_or_id: object = None, *args: object, **kwargs: object) -> bool:
    raise RuntimeError(
        f"a test tried to download nltk resource {info_or_id!r}: tests never download. Import a package that "
        "downloads at import through xraybench.lazy.require (it runs it under nltk_offline)"
    )


class _NoNltkDownloads(importlib.abc.MetaPathFinder):
    """Once a test imports nltk, `nltk.download` raises (importing nltk here would cost every session seconds);
    `xraybench.lazy.nltk_offline` swaps in its local-only answer for the imports it guards."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name != "nltk":
            return None
        sys.meta_path.remove(self)  # the real finders locate nltk; this only wraps its loading
        spec = importlib.util.find_spec("nltk")
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            run_module(module)
            module.download = _refuse_nltk_download  # type: ignore[attr-defined]

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "nltk" in sys.modules:
    sys.modules["nltk"].download = _refuse_nltk_download
else:
    sys.meta_path.insert(0, _NoNltkDownloads())


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Demo images and other caches go to a per-session folder, never the user's home."""
    os.environ.setdefault("XRAYBENCH_CACHE", str(tmp_path_factory.mktemp("xraybench-cache")))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared dev data not found at {SHARED_DATA}")
    return SHARED_DATA


def _litellm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("litellm") is not None


@pytest.fixture(scope="session")
def litellm_ready() -> None:
    """Imports litellm first when it is installed, which also sets its offline cost map.

    Without litellm (the `judge` extra) the test still runs: a judge, teacher or model on an OpenAI-compatible
    server takes the direct HTTP path and needs none (tests/test_engine_without_litellm.py runs the engine tests
    so); a test that reaches litellm's path is skipped there (`pytest_runtest_call`). A test about litellm itself
    asks for `needs_litellm` instead.
    """
    if _litellm_installed():
        from xraybench.models.litellm_model import import_litellm

        import_litellm()


@pytest.fixture(scope="session")
def needs_litellm(litellm_ready: None) -> None:
    """Skip when litellm is missing: the test is about litellm's own behaviour (its error mapping, a provider
    only litellm speaks)."""
    if not _litellm_installed():
        pytest.skip("litellm (the 'judge' extra) is not installed")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Without litellm, a `litellm_ready` test that reaches litellm's path (a `[litellm]` case) is skipped, naming
    the extra, rather than failed: the missing extra is the environment, not a bug."""
    try:
        return (yield)
    except Exception as exc:
        from xraybench.errors import MissingExtraError

        uses_litellm = "litellm_ready" in getattr(item, "fixturenames", ())
        if uses_litellm and isinstance(exc, MissingExtraError) and exc.extra == "judge" and not _litellm_installed():
            pytest.skip(f"needs litellm (the 'judge' extra), not installed: {exc}")
        raise


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """`pytest -q` shows only "N skipped": say in one line when browser tests were skipped and why."""
    from xraybench.testing.browser import MISSING_REASON

    skipped = [r for r in terminalreporter.stats.get("skipped", []) if MISSING_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} browser test{'s' if len(skipped) != 1 else ''} skipped: {MISSING_REASON}; "
            "`make test` installs it where apt-get may be used",
            yellow=True,
        )
