"""Errors that users see: each says what was wrong, where, and what was expected."""

from __future__ import annotations

from pathlib import Path


class XrayBenchError(Exception):
    """Base class for errors shown to users without a traceback."""


class DataFormatError(XrayBenchError):
    """A data file does not match the layout a loader expects.

    The message always names the file and, where known, the line or record and what was expected.
    """

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, record: str | None = None):
        where = str(path)
        if line is not None:
            where += f":{line}"
        if record is not None:
            where += f" (record {record})"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.record = record


class MissingExtraError(XrayBenchError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, what: str, extra: str, cause: BaseException | None = None):
        detail = f" ({cause})" if cause else ""
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'xraybench[{extra}]'{detail}")
        self.extra = extra


class TransientError(XrayBenchError):
    """A failure worth retrying (rate limit, server error, timeout); `retry_after` in seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
