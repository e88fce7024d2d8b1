from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Demo images and other caches go to a per-session folder, never the user's home."""
    os.environ.setdefault("XRAYBENCH_CACHE", str(tmp_path_factory.mktemp("xraybench-cache")))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared dev data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def litellm_ready() -> None:
    """Skip when litellm (the `judge` extra) is missing; importing it first also sets its offline cost map."""
    from xraybench.errors import MissingExtraError
    from xraybench.models.litellm_model import import_litellm

    try:
        import_litellm()
    except MissingExtraError:
        pytest.skip("litellm (the 'judge' extra) is not installed")


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
