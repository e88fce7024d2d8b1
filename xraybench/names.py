"""Names that become file or folder names: one rule, checked in one place.

An arena (`arenas/NAME/`, `leaderboards/NAME/`), a submitted model (`submissions/ARENA/NAME.json`), a review
study (`ROOT/NAME/`) or a reviewer is named by the user, and the name is joined to a folder. `../../x`, an
absolute path, a NUL byte or a name that the file system reads differently would write outside that folder
(issue: `arena judge --name ../../x` wrote the store outside `arenas/`). Every such name goes through
`check_name`, and a path is built from one with `name_path`, which also makes sure the result stays inside
its root.

The rule: 1-64 characters of `A-Z a-z 0-9 . _ + -`, starting with a letter or digit (so never `.`, `..`, a
hidden file or an option-like `-x`).
"""

from __future__ import annotations

import re
from pathlib import Path

from xraybench.errors import XrayBenchError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
RULE = "use 1-64 characters of A-Z a-z 0-9 . _ + -, starting with a letter or digit (a plain folder name)"


def check_name(name: object, what: str = "name") -> str:
    """`name` if it is a safe file/folder name, else an `XrayBenchError` saying what is allowed."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else repr(name[:80] + "...")
        raise XrayBenchError(f"{what} {shown} is not allowed: {RULE}")
    return name


def name_path(root: str | Path, name: str, *rest: str, what: str = "name") -> Path:
    """`root / name / *rest` for a checked `name`; refuses a result that would leave `root` (a `rest` part
    is the program's own file name, checked too in case it came from data)."""
    path = Path(root) / check_name(name, what)
    for part in rest:
        if Path(part).is_absolute() or ".." in Path(part).parts:
            raise XrayBenchError(f"{path}: {part!r} would leave {root}")
        path = path / part
    return path
