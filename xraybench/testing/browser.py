"""Headless Debian chromium for the web-page tests (leaderboard page, reader-study app).

One place for the binary and the flags that keep a headless run quiet, offline and isolated; the tests add
what they drive it with (`--dump-dom`, `--remote-debugging-pipe`).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
MISSING_REASON = "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"


def chromium_command(profile: Path, *extra: str) -> list[str]:
    """The chromium command line: headless, no sandbox/GPU/network chatter, its own profile, then `extra`."""
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *extra,
    ]
