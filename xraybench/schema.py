"""Schema versions of the files xraybench writes, and the one check every reader makes.

Every JSON file we write (run.json, results.json, leaderboard.json, build and synthesis summaries) carries a
top-level `schema_version`, every JSONL record we export (battle files) one per line. A version is an integer:
the major version of that file's layout. Adding a field does not bump it (readers ignore fields they do not
know); renaming, removing or changing the meaning of one does. A reader accepts a file without a version (written
before versions were recorded) or with its own version or an older one, and refuses a newer one with a message
that names the file and says to upgrade, instead of misreading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xraybench.errors import DataFormatError

SCHEMA_KEY = "schema_version"


def check_schema(record: Any, supported: int, path: str | Path, what: str, *, line: int | None = None) -> int | None:
    """The version a JSON object (`record`) declares, or None for one written before versions were recorded;
    a version newer than `supported` (or not a version at all) is a `DataFormatError` naming the file."""
    if not isinstance(record, dict) or SCHEMA_KEY not in record:
        return None
    found = record[SCHEMA_KEY]
    major = _major(found)
    if major is None:
        raise DataFormatError(path, f"{SCHEMA_KEY} {found!r} is not a version (expected a whole number)", line=line)
    if major > supported:
        raise DataFormatError(
            path,
            f"{what} of {SCHEMA_KEY} {found!r}, written by a newer xraybench; this one reads up to version "
            f"{supported}. Upgrade xraybench (pip install -U xraybench) to read it.",
            line=line,
        )
    return major


def _major(found: Any) -> int | None:
    """`2` or `"2"` or `"2.1"` -> 2 (a later writer may add minor versions); anything else -> None."""
    if isinstance(found, bool):
        return None
    if isinstance(found, int):
        return found
    if isinstance(found, str):
        head = found.split(".", 1)[0]
        if head.isdigit():
            return int(head)
    return None
