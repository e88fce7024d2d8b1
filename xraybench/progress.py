"""Progress with ETA: a rich bar on a terminal, timed log lines when output goes to a file or a pipe.

Under nohup, SLURM or `2> log` a redrawn bar prints nothing useful, so a long step there writes one plain line
every `XRAYBENCH_PROGRESS_INTERVAL` seconds (default 30) to stderr: items done / total, rate, ETA and failures,
and a last line when the step ends. A background timer writes the line even while one slow item holds the step.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

INTERVAL_ENV = "XRAYBENCH_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 30.0


class Advance(Protocol):
    def __call__(self, n: int, failed: int = 0) -> None: ...


def _interval() -> float:
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class LogProgress:
    """Counts items and failures; `line()` says where a step stands. Thread-safe (calls finish on pool threads)."""

    def __init__(
        self, total: int | None, description: str, stream: TextIO, clock: Callable[[], float] = time.monotonic
    ):
        self.total, self.description, self.stream, self.clock = total, description, stream, clock
        self.done = self.failed = 0
        self.started = clock()
        self._lock = threading.Lock()

    def advance(self, n: int, failed: int = 0) -> None:
        with self._lock:
            self.done += n
            self.failed += failed

    def line(self, final: bool = False) -> str:
        with self._lock:
            done, failed = self.done, self.failed
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = done / elapsed
        count = f"{done}/{self.total} ({done / self.total:.1%})" if self.total else f"{done}"
        parts = [f"{self.description}: {'finished ' if final else ''}{count} items", f"{rate:.2f} items/s"]
        if final:
            parts.append(f"in {_duration(elapsed)}")
        elif self.total:
            parts.append(f"ETA {_duration((self.total - done) / rate)}" if done else "ETA unknown")
        parts.append(f"elapsed {_duration(elapsed)}" if not final else "")
        parts.append(f"{failed} failed")
        return ", ".join(p for p in parts if p)

    def emit(self, final: bool = False) -> None:
        self.stream.write(f"[progress] {self.line(final)}\n")
        self.stream.flush()


@contextmanager
def _log_lines(total: int | None, description: str, stream: TextIO) -> Iterator[Advance]:
    progress = LogProgress(total, description, stream)
    stop = threading.Event()
    interval = _interval()

    def tick() -> None:
        while not stop.wait(interval):
            progress.emit()

    timer = threading.Thread(target=tick, name="progress-log", daemon=True)
    timer.start()
    try:
        yield progress.advance
    finally:
        stop.set()
        timer.join(timeout=1.0)
        progress.emit(final=True)


@contextmanager
def progress_bar(total: int | None, description: str, *, enabled: bool = True) -> Iterator[Advance]:
    """Yields `advance(n, failed=0)`. Output goes to stderr so stdout stays clean for JSON output: a rich bar on a
    terminal, else a plain line every `XRAYBENCH_PROGRESS_INTERVAL` seconds and one when the step ends.

    `total=None`: the amount is not known in advance (a lazily proposed stream): the count and elapsed time show.
    """
    if not enabled or (total is not None and total <= 0):
        yield lambda n, failed=0: None
        return
    if not sys.stderr.isatty():
        with _log_lines(total, description, sys.stderr) as advance:
            yield advance
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
        TextColumn("{task.fields[failed]} failed"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task_id = progress.add_task(description, total=total, failed=0)
        failures = [0]

        def advance(n: int, failed: int = 0) -> None:
            failures[0] += failed
            progress.update(task_id, advance=n, failed=failures[0])

        yield advance
