"""One rich console for tables: full width in a terminal, wide enough not to cut numbers when piped."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200


def console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
