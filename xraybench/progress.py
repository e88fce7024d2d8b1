"""Progress bars with ETA (rich), or nothing when disabled or output is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int | None, description: str, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`. Rich renders to stderr so stdout stays clean for JSON output.

    `total=None`: the amount is not known in advance (a lazily proposed stream): the count and elapsed time show.
    """
    if not enabled or (total is not None and total <= 0):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task_id = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task_id, n)
