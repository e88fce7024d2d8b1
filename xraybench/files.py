"""Durable files of a run folder: append-only JSON lines, atomic replacement, an exclusive folder lock, and one
translation of a full disk into a message that names the file and says what is safe.

Why here: the runner's `predictions.jsonl` / `failures.jsonl`, its `run.json` / `results.json` / `scores.jsonl`,
the arena's plan file, synthesis outputs and training-data builds share the same promises (a finished record is durable before it counts; a
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
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any

from xraybench.errors import DataFormatError, XrayBenchError

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


# Every append-only JSON-lines file we write (run predictions and failures, the arena's plan file, synthesis
# outputs, training-data builds) follows ONE durability policy: a batch passed to `AppendLog.append` is written
# and fsynced before the call returns (and the folder is fsynced when the file is created), so a record that
# counts as done survives `kill -9` and a power cut. Callers choose the batch size to trade fsyncs for latency.
FSYNC_POLICY = "each append() call is written and fsynced before it returns"


class AppendLog:
    """An append-only JSON-lines file: torn-tail repair, one fsync policy (`FSYNC_POLICY`), an optional key index
    for resume and de-duplication, and a full disk reported as `DiskFullError` naming the file.

    - Torn tail: bytes after the last newline are what a killed writer (this one or any older one) left half
      written; they are cut off under the file lock before anything is appended, and readers ignore them.
    - Every `append` runs under an exclusive `flock`, so two processes appending to one file neither interleave
      lines nor cut each other's; lines another process added since our last append are read into the index
      first, so neither writes a key the other already wrote.
    - A failed write (a full disk, reported by `write` or by `fsync`) is cut back to the length the file had
      before the batch, so no torn line stays behind and the batch's keys count as not written.
    - `key(record)` (optional) names a record; `append` skips records whose key is already in the file (or
      earlier in the same batch). A record the key function cannot read is an error naming the file and line.
    `safe` is the sentence a full disk reports about what is kept (e.g. "every prediction already in it")."""

    def __init__(
        self,
        path: str | Path,
        *,
        safe: str,
        key: Callable[[dict[str, Any]], Hashable] | None = None,
        what: str = "one JSON object per line",
    ):
        self.path = Path(path)
        self.safe, self.key_of, self.what = safe, key, what
        self.keys: set[Hashable] = set()
        self._offset = 0  # bytes of the file already read into `keys`
        self._lines = 0  # and their lines (so errors name the right line)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fh = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - closed below (plain calls: tests wrap it)
            try:
                if created:
                    _fsync_dir(self.path.parent)
                _lock(fh)
                self._sync(fh)
            finally:
                fh.close()  # closing drops the lock
        except OSError as exc:
            raise self._error(exc) from None

    def __contains__(self, key: Hashable) -> bool:
        return key in self.keys

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, record) of every complete line in the file now (a torn tail is left out)."""
        return read_jsonl(self.path, what=self.what)

    def append(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the records whose key is not in the file yet as one fsynced batch; returns those written."""
        try:
            fh = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - unbuffered: nothing waits in a buffer
        except OSError as exc:
            raise self._error(exc) from None
        try:
            _lock(fh)
            self._sync(fh)
            added: list[Hashable] = []
            fresh: list[dict[str, Any]] = []
            for record in records:
                if self.key_of is not None:
                    k = self._key(record, None)
                    if k in self.keys:
                        continue
                    self.keys.add(k)
                    added.append(k)
                fresh.append(record)
            if not fresh:
                return []
            data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fresh).encode("utf-8")
            end = fh.seek(0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:  # a raw write may stop short of the whole batch
                    view = view[fh.write(view) or 0 :]
                os.fsync(fh.fileno())
            except OSError as exc:
                self._cut_back(fh, end)
                self.keys.difference_update(added)
                raise self._error(exc) from None
            self._offset = end + len(data)
            self._lines += len(fresh)
            return fresh
        finally:
            fh.close()  # closing drops the lock

    def _sync(self, fh: Any) -> None:
        """Read what was appended since our last look into the index; cut a torn tail (call under the lock or
        at open). A file that shrank (replaced) is read again from the start."""
        size = fh.seek(0, os.SEEK_END)
        if size < self._offset:
            self.keys, self._offset, self._lines = set(), 0, 0
        if size == self._offset:
            return
        fh.seek(self._offset)
        complete = lines = 0
        for line, text in _complete_lines(fh.read, self._lines + 1):  # streamed: a long run's file is not loaded
            complete += len(text) + 1
            lines += 1
            if self.key_of is not None and text.strip():
                self.keys.add(self._key(_record(text, self.path, line, self.what), line))
        torn = size - self._offset - complete
        if torn:
            log.info("%s: cutting a torn last line (%d bytes) left by a killed writer", self.path, torn)
            fh.truncate(self._offset + complete)
        self._lines += lines
        self._offset += complete

    def _key(self, record: dict[str, Any], line: int | None) -> Hashable:
        assert self.key_of is not None
        try:
            return self.key_of(record)
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataFormatError(self.path, f"expected {self.what}; this record lacks {exc}", line=line) from None

    def _cut_back(self, fh: Any, size: int) -> None:
        """Remove the part of a failed batch that did reach the file (truncating needs no free space)."""
        try:
            fh.truncate(size)
            os.fsync(fh.fileno())
        except OSError as exc:  # the next open's torn-tail check still cuts a partial last line
            log.warning("could not cut %s back to %d bytes after a failed write: %s", self.path, size, exc)

    def _error(self, exc: OSError) -> XrayBenchError:
        if is_disk_full(exc):
            return DiskFullError(self.path, self.safe)
        return XrayBenchError(f"could not write {self.path}: {exc.strerror or exc}. {self.safe}.")


def read_jsonl(path: str | Path, *, what: str = "one JSON object per line") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of each complete line of an append-only JSONL file, without writing to it: a torn
    last line (a killed writer's) is left out; any other line that is not a JSON object is a `DataFormatError`
    naming the file and line."""
    path = Path(path)
    with path.open("rb") as fh:
        for line, text in _complete_lines(fh.read, 1):
            if text.strip():
                yield line, _record(text, path, line, what)


def _complete_lines(read: Callable[[int], bytes], first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the newline) of each complete line `read` gives, in 1 MiB chunks; what follows
    the last newline (a torn tail) is not yielded."""
    rest, line = b"", first_line
    while chunk := read(1 << 20):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for text in parts:
            yield line, text
            line += 1


def _record(text: bytes, path: Path, line: int, what: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = getattr(exc, "msg", None) or str(exc)
        raise DataFormatError(path, f"invalid JSON ({msg}); expected {what}", line=line) from None
    if not isinstance(record, dict):
        raise DataFormatError(path, f"expected {what}, got {type(record).__name__}", line=line)
    return record


def _lock(fh: Any) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: one writer per file is then the caller's promise
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too (a power cut must not lose the file itself)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on a directory; the data itself is still fsynced
        log.debug("could not fsync folder %s: %s", folder, exc)
    finally:
        os.close(fd)


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
