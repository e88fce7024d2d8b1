"""`pytest -q` prints only "N skipped": the root conftest adds one line saying why browser tests were skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xraybench.testing.browser import MISSING_REASON

TESTS = Path(__file__).resolve().parent

SESSION = """\
import pytest
from xraybench.testing.browser import MISSING_REASON

pytestmark = pytest.mark.skipif({skip}, reason=MISSING_REASON)


def test_page():
    pass


def test_sort():
    pass
"""


def _pytest_q(tmp_path: Path, skip: bool) -> str:
    """A real `pytest -q` session, with this repository's root conftest as a plugin, on two browser-style tests."""
    (tmp_path / "test_page.py").write_text(SESSION.format(skip=skip), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "test_page.py"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_pytest_q_says_why_browser_tests_were_skipped(tmp_path: Path) -> None:
    lines = _pytest_q(tmp_path, skip=True).splitlines()
    assert f"2 browser tests skipped: {MISSING_REASON}; `make test` installs it where apt-get may be used" in lines
    assert lines[-1].startswith("2 skipped")


def test_no_line_when_they_ran(tmp_path: Path) -> None:
    assert "browser test" not in _pytest_q(tmp_path, skip=False)
