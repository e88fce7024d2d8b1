"""Durable files of a run folder: append-only JSON lines, atomic replacement, an exclusive folder lock, and one
translation of a full disk into a message that names the file and says what is safe.

Why here: the runner's `predictions.jsonl` / `failures.jsonl`, its `run.json` / `results.json` / `scores.jsonl`
and other append-only writers share the same promises (a finished record is durable before it counts; a
killed or failed write leaves no torn line behind; a full disk is an error naming the file, never a raw
`OSError` traceback), so they share this code.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError

log = logging.getLogger(__name__)

# errnos that mean "the disk (or the quota, or the file size limit) is full"; freeing space fixes them
DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e is not None)


class DiskFullError(XrayBenchError):
    """A write failed because the disk is full; the message names the file and what is safe."""

    def __init__(self, path: str | Path, safe: str):
        super().__init__(
            f"could not write {path}: no space left on device. Nothing finished was lost: {safe}. "
            "Free some space and rerun the same command to resume."
        )
        self.path = str(path)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


class JsonlAppender:
    """Appends JSON lines; a batch is written and fsynced before `write` returns, or not at all.

    The file is opened unbuffered in append mode: a failed write (a full disk) is cut back to the length it
    had before the batch, so no torn line stays behind and nothing waits in a buffer to be written later.
    `safe` is the sentence a full disk reports about what is kept (e.g. "every prediction already in it")."""

    def __init__(self, path: str | Path, *, safe: str):
        self.path = Path(path)
        self.safe = safe
        try:
            self.fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.path, safe) from None
            raise XrayBenchError(f"cannot open {self.path} to append: {exc.strerror or exc}") from None

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        if not data:
            return
        fd = self.fh.fileno()
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = self.fh.write(view)
                view = view[written or 0 :]
            os.fsync(fd)
        except OSError as exc:
            self._cut_back(fd, start)
            if is_disk_full(exc):
                raise DiskFullError(self.path, self.safe) from None
            raise XrayBenchError(f"could not write {self.path}: {exc.strerror or exc}. {self.safe}.") from None

    def _cut_back(self, fd: int, size: int) -> None:
        """Remove the part of a failed batch that did reach the file (truncating needs no free space)."""
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError as exc:  # the next run's torn-tail check still cuts a partial last line
            log.warning("could not cut %s back to %d bytes after a failed write: %s", self.path, size, exc)

    def close(self) -> None:
        self.fh.close()


def write_atomic(path: str | Path, text: str, *, safe: str) -> None:
    """Replace `path` with `text` all at once (a temporary file, then rename): readers never see half a file.
    A full disk leaves the old file as it was and raises `DiskFullError` naming `path`."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(target, safe) from None
        raise XrayBenchError(f"could not write {target}: {exc.strerror or exc}") from None


class FolderLock:
    """An exclusive lock on a folder, held while a process writes there.

    `fcntl.flock` on a lock file: the kernel releases it when the holder exits in any way (`kill -9`
    included), so a stale lock never blocks a resume. The file records the holder's pid, host and start
    time so the refusal can name them; it stays after release (deleting it would race the next holder)."""

    def __init__(self, path: str | Path, *, what: str):
        self.path = Path(path)
        self.what = what
        self._fh: Any = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, said once in the log rather than silently
            log.warning("no fcntl on this platform: %s is not locked against a second process", self.what)
            return self
        try:
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in release()
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.path, "nothing was written yet") from None
            raise XrayBenchError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _holder(fh.read())
            fh.close()
            raise XrayBenchError(
                f"{self.what} is in use by another xraybench process ({holder}); two processes on one folder "
                "would ask (and pay for) every item twice. Wait for it to finish, or use another folder."
            ) from None
        fh.seek(0)
        fh.truncate()
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        except OSError:  # the lock holds without the note; only the message of a refused process is poorer
            log.warning("could not record the holder in %s", self.path)
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor drops the flock
            self._fh = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(text: str) -> str:
    try:
        data = json.loads(text.strip().splitlines()[-1])
        return f"pid {data['pid']} on {data['host']}, since {data['since']}"
    except (ValueError, IndexError, KeyError, TypeError):
        return "pid unknown: it is starting up"
