"""Append-only store of paid LLM calls (judgments, teacher answers) in one SQLite file in WAL mode.

Calls cost money, so the store is built around two promises: an answer that was paid for is never lost
(every write is its own committed, fsynced transaction before the method returns, so `kill -9` or a power
cut right after it cannot undo it) and never requested twice (a call is keyed by a hash of everything that
determines its answer, finished keys are skipped on the next run, and a lease table lets several processes
share one store without asking for the same key at the same time).

Why `synchronous=FULL`: in WAL mode `NORMAL` survives a process crash but may roll back the last commits
on power loss or an OS crash; a lost judgment is paid twice. `FULL` fsyncs the WAL on every commit, which
costs about a millisecond against the seconds an LLM call takes (see `benchmarks/callstore/`).

Failures are stored as failures (status `failed`, with the last error and the attempt count) and are
pending again on the next run; an answer cut off by the token limit (`finish_reason` "length") is a
failure, never a result. Stored raw texts can be re-parsed with a new parser version at no cost.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError

SCHEMA_VERSION = 2  # 2: `first_text`, the first answer of a call that was re-asked
APPLICATION_ID = 0x58524353  # "XRCS": marks the file as an xraybench call store
TRUNCATED_FINISH_REASONS = frozenset({"length", "max_tokens"})
UNPARSEABLE = "no parseable answer"  # how a failed call whose answers could not be parsed begins its error
_CHUNK = 500  # keys per IN (...) query, well under SQLite's bound-parameter limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    raw_text TEXT,
    parsed TEXT,
    parser_version TEXT,
    error TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_s REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    first_text TEXT
);
CREATE INDEX IF NOT EXISTS calls_kind_status ON calls (kind, status);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""
_COLUMNS = (
    "key, kind, identity, status, raw_text, parsed, parser_version, error, finish_reason, prompt_tokens, "
    "completion_tokens, cost_usd, latency_s, attempts, created_at, updated_at, first_text"
)


def _canonical(value: Any, where: str) -> Any:
    """A JSON-ready copy where equal identities look equal: tuples become lists, integral floats ints.

    `temperature=0` and `temperature=0.0` must give the same key, or a rerun would pay for every call again.
    Sets and other types are refused because their JSON form (or order) is not defined.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"call identity {where} is {value!r}; only finite numbers have a canonical form")
        return int(value) if value.is_integer() else value
    if isinstance(value, (list, tuple)):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise ValueError(f"call identity {where} has a non-string key {name!r}")
            out[name] = _canonical(item, f"{where}.{name}")
        return out
    raise ValueError(f"call identity {where} is a {type(value).__name__}; use str, number, bool, None, list or dict")


def canonical_json(identity: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 text as is: one string per identity."""
    return json.dumps(
        _canonical(identity, "identity"), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def default_owner() -> str:
    """A lease owner name unique to this process: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class CallRecord:
    """One stored call. Tokens, cost and attempts add up over every call made for the key (retries and failed
    runs included), so they tell what the key really cost; the answer fields describe the latest result."""

    key: str
    kind: str
    identity: dict[str, Any]
    status: str
    raw_text: str | None
    parsed: Any
    parser_version: str | None
    error: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float | None
    attempts: int
    created_at: float
    updated_at: float
    first_text: str | None = None  # the first answer when it could not be parsed and a re-ask followed

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoreTotals:
    """Counts and spend over the store (or one kind): `n_claimed` is keys leased now and not yet done."""

    n_ok: int
    n_failed: int
    n_claimed: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    attempts: int


@dataclass(frozen=True)
class ReparseResult:
    """How many stored answers were re-parsed, and how many of them got a different parsed value."""

    n_rows: int
    n_changed: int
    n_recovered: int = 0  # failures that the new parser turned into answers


@dataclass(frozen=True)
class CallResult:
    """One result for `CallStore.record_many`: an answer (`ok`, as for `record_ok`) or a failure (as for
    `record_failure`, with `error`)."""

    key: str
    identity: dict[str, Any]
    ok: bool
    raw_text: str | None = None
    parsed: Any = None
    parser_version: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    latency_s: float | None = None
    attempts: int = 1
    first_text: str | None = None


def _row_to_record(row: tuple[Any, ...]) -> CallRecord:
    """A `calls` row (columns in `_COLUMNS` order, which is the field order of `CallRecord`) with JSON decoded."""
    values = list(row)
    values[2] = json.loads(values[2])
    values[5] = None if values[5] is None else json.loads(values[5])
    return CallRecord(*values)


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


class CallStore:
    """One SQLite file of calls; safe to share between threads (one connection behind a lock) and between
    processes (SQLite file locks, `BEGIN IMMEDIATE` for every read-then-write, leases for in-flight calls).

    `busy_timeout_s` is how long a write waits for another process's lock before giving up with an error that
    names the file. `clock` (seconds since the epoch) is only replaced in tests of lease expiry.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        if self.path.is_dir():
            raise XrayBenchError(f"{self.path}: is a folder; the call store must be a file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        try:
            with self._guard("open"):
                self._open()
        except XrayBenchError:
            self._conn.close()
            raise

    # -- setup and errors -------------------------------------------------------------------------------------

    def _open(self) -> None:
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise XrayBenchError(f"{self.path}: SQLite could not switch the call store to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id == 0 and n_tables == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID:
                raise XrayBenchError(
                    f"{self.path}: is a SQLite database but not an xraybench call store; choose another file"
                )
            elif version > SCHEMA_VERSION:
                raise XrayBenchError(
                    f"{self.path}: call store schema version {version} is newer than this xraybench"
                    f" understands ({SCHEMA_VERSION}); upgrade xraybench"
                )
            elif version < 2:  # version 1 kept only a re-asked call's last answer: add the column, lose nothing
                conn.execute("ALTER TABLE calls ADD COLUMN first_text TEXT")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _error(self, action: str, exc: sqlite3.Error) -> XrayBenchError:
        """Turn SQLite's terse messages into ones that name the file and say what to do."""
        text = str(exc)
        low = text.lower()
        if "locked" in low or "busy" in low:
            hint = (
                f"another process has held a lock on it for more than {self.busy_timeout_s:g}s"
                " (is a stuck xraybench process still running?)"
            )
        elif "not a database" in low or "malformed" in low or "corrupt" in low:
            hint = "the file is corrupt or is not an xraybench call store; move it away or choose another file"
        elif "full" in low:  # SQLITE_FULL: the transaction was rolled back, every earlier commit is intact
            return XrayBenchError(
                f"could not write {self.path}: no space left on device (call store {action}). Nothing finished "
                "was lost: every answer stored before is intact in it, and the one not stored is asked again. "
                "Free some space and rerun the same command to resume."
            )
        elif "readonly" in low or "unable to open" in low or "disk i/o" in low:
            hint = "check that the file and its folder exist and are writable"
        else:
            hint = "see the SQLite message"
        return XrayBenchError(f"{self.path}: call store {action} failed: {hint} (SQLite: {text})")

    @contextmanager
    def _guard(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._error(action, exc) from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One committed transaction; `BEGIN IMMEDIATE` takes the write lock first, so a read-then-write cannot
        be overtaken by another process between the read and the write."""
        with self._guard(action) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> CallStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- keys and reads ---------------------------------------------------------------------------------------

    @staticmethod
    def key_of(*, kind: str, **identity: Any) -> str:
        """sha256 of the canonical JSON of everything that decides a call's answer: `kind` (for example
        "judge"), the model or judge, decoding parameters, prompt version and the payload (study id, the
        texts, their order). Change any of them and the call is a new one."""
        return sha256(canonical_json({"kind": kind, **identity}).encode()).hexdigest()

    def get(self, key: str) -> CallRecord | None:
        with self._guard("read") as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else _row_to_record(row)

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` with a successful answer (failures never count as done).

        Asking about many keys at once (a rerun checks every planned call) scans the table once, which beats
        one index lookup per key when the keys are more than about a fifth of the rows.
        """
        wanted = list(dict.fromkeys(keys))
        with self._guard("read") as conn:
            n_rows = conn.execute("SELECT coalesce(max(rowid), 0) FROM calls").fetchone()[0]
            if len(wanted) * 5 >= n_rows:
                wanted_set = set(wanted)
                return {
                    key for (key,) in conn.execute("SELECT key FROM calls WHERE status = 'ok'") if key in wanted_set
                }
            done: set[str] = set()
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key FROM calls WHERE status = 'ok' AND key IN ({marks})", chunk)
                done.update(key for (key,) in rows)
        return done

    def pending(self, keys: Iterable[str]) -> list[str]:
        """The keys still to call, in the given order without repeats: absent or failed."""
        wanted = list(dict.fromkeys(keys))
        done = self.done_keys(wanted)
        return [key for key in wanted if key not in done]

    # -- leases -----------------------------------------------------------------------------------------------

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        """Lease `key` to `owner` for `ttl_s` seconds; False if it is done or leased to someone else now.

        Call it right before paying for a call; `record_ok`/`record_failure` end the lease. Claiming again as the
        same owner extends it (do so for calls that may outlast the lease). A lease left by a crashed process
        can be taken over once it has expired, so `ttl_s` should exceed the longest call with its retries.
        """
        return bool(self.claim_many([key], owner, ttl_s))

    def claim_many(self, keys: Iterable[str], owner: str, ttl_s: float, limit: int | None = None) -> list[str]:
        """Lease up to `limit` of `keys` (in order) in one transaction; returns the keys now leased to `owner`."""
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        wanted = list(dict.fromkeys(keys))
        taken: list[str] = []
        with self._write("claim") as conn:
            now = self._clock()
            for key in wanted:
                if limit is not None and len(taken) >= limit:
                    break
                if conn.execute("SELECT 1 FROM calls WHERE key = ? AND status = 'ok'", (key,)).fetchone():
                    continue
                lease = conn.execute("SELECT owner, expires_at FROM claims WHERE key = ?", (key,)).fetchone()
                if lease is not None and lease[0] != owner and lease[1] > now:
                    continue
                conn.execute(
                    "INSERT INTO claims (key, owner, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                    (key, owner, now + ttl_s),
                )
                taken.append(key)
        return taken

    def release(self, key: str, owner: str) -> None:
        """Give a lease back without a result (for example when a budget cap stops the run before the call)."""
        with self._write("release") as conn:
            conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def leases(self) -> list[tuple[str, str, float]]:
        """Every lease held now or left behind: (key, owner, expires_at), for crash recovery by the caller."""
        with self._guard("read") as conn:
            return [tuple(row) for row in conn.execute("SELECT key, owner, expires_at FROM claims ORDER BY key")]

    # -- writes -----------------------------------------------------------------------------------------------

    def record_ok(
        self,
        key: str,
        identity: dict[str, Any],
        *,
        raw_text: str,
        parsed: Any = None,
        parser_version: str | None = None,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cost_usd: float = 0.0,
        latency_s: float | None = None,
        attempts: int = 1,
    ) -> CallRecord:
        """Store an answer (committed and fsynced before returning) and end the key's lease; returns the row.

        `identity` is what `key_of` hashed (its `kind` included) and must hash to `key`. An answer cut off by the
        token limit is stored as a failure, since a truncated verdict must never count. A key that already has an
        answer keeps it: only the spend of this duplicate call is added.
        """
        return self._record_one(
            CallResult(
                key,
                identity,
                True,
                raw_text,
                parsed,
                parser_version,
                None,
                finish_reason,
                prompt_tokens,
                completion_tokens,
                cost_usd,
                latency_s,
                attempts,
            )  # fmt: skip
        )

    def record_failure(
        self,
        key: str,
        identity: dict[str, Any],
        *,
        error: str,
        raw_text: str | None = None,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cost_usd: float = 0.0,
        latency_s: float | None = None,
        attempts: int = 1,
    ) -> CallRecord:
        """Store a failed call (last error, attempts added up) and end the lease; the key stays pending.

        A failure never replaces an answer: for a key that is already done only the spend is added.
        """
        return self._record_one(
            CallResult(
                key,
                identity,
                False,
                raw_text,
                None,
                None,
                error,
                finish_reason,
                prompt_tokens,
                completion_tokens,
                cost_usd,
                latency_s,
                attempts,
            )  # fmt: skip
        )

    def record_many(self, results: Iterable[CallResult]) -> None:
        """Store several results in ONE committed, fsynced transaction and end their leases (group commit).

        Each result follows the rules of `record_ok` / `record_failure`; if any is invalid nothing is stored.
        Why: with many calls in flight, one fsync per answer serialises them all behind the disk (several ms
        each on a busy machine); callers that wait for this method before counting their answers keep the
        promise that a counted answer survives `kill -9` or a power cut, at one fsync per group.
        """
        rows = [self._row(result) for result in results]
        if not rows:
            return
        with self._write("write") as conn:
            now = self._clock()
            for row in rows:
                self._upsert(conn, now, *row)

    def _record_one(self, result: CallResult) -> CallRecord:
        row = self._row(result)
        with self._write("write") as conn:
            self._upsert(conn, self._clock(), *row)
            stored = conn.execute(f"SELECT {_COLUMNS} FROM calls WHERE key = ?", (result.key,)).fetchone()
        return _row_to_record(stored)

    @staticmethod
    def _row(result: CallResult) -> tuple[Any, ...]:
        """The values of one result for `_upsert`, checked: the identity has a kind and hashes to the key; a
        truncated "ok" answer becomes a failure (a verdict cut off by the token limit must never count)."""
        if "kind" not in result.identity:
            raise ValueError("the call identity needs a 'kind' (as passed to CallStore.key_of)")
        identity_json = canonical_json(result.identity)
        if sha256(identity_json.encode()).hexdigest() != result.key:
            raise ValueError(
                f"key {result.key[:12]}... is not CallStore.key_of(**identity); pass the identity it was made of"
            )
        status, error, parsed = ("ok" if result.ok else "failed"), result.error, result.parsed
        if result.ok and result.finish_reason in TRUNCATED_FINISH_REASONS:
            status, parsed = "failed", None
            error = f"truncated answer (finish_reason={result.finish_reason!r}): the token limit cut it off"
        if status == "ok":
            parsed_json = None if parsed is None else json.dumps(parsed, sort_keys=True, ensure_ascii=False)
            parser_version, error = result.parser_version, None
        else:
            parsed_json, parser_version = None, None
            error = error or "unknown error"
        return (
            result.key, result.identity, identity_json, status, result.raw_text, parsed_json, parser_version, error,
            result.finish_reason, int(result.prompt_tokens or 0), int(result.completion_tokens or 0),
            result.cost_usd, result.latency_s, result.attempts, result.first_text,
        )  # fmt: skip

    @staticmethod
    def _upsert(
        conn: sqlite3.Connection,
        now: float,
        key: str,
        identity: dict[str, Any],
        identity_json: str,
        status: str,
        raw_text: str | None,
        parsed_json: str | None,
        parser_version: str | None,
        error: str | None,
        finish_reason: str | None,
        p_tok: int,
        c_tok: int,
        cost_usd: float,
        latency_s: float | None,
        attempts: int,
        first_text: str | None = None,
    ) -> None:
        """Insert a result, or add to a stored key (an answer is never replaced by a failure); end the lease.
        Runs inside the caller's write transaction."""
        old = conn.execute("SELECT status FROM calls WHERE key = ?", (key,)).fetchone()
        if old is None:
            conn.execute(
                f"INSERT INTO calls ({_COLUMNS}) VALUES ({','.join('?' * 17)})",
                (key, identity["kind"], identity_json, status, raw_text, parsed_json, parser_version, error,
                 finish_reason, p_tok, c_tok, cost_usd, latency_s, attempts, now, now, first_text),
            )  # fmt: skip
        elif old[0] == "ok":
            conn.execute(
                "UPDATE calls SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?,"
                " cost_usd = cost_usd + ?, attempts = attempts + ?, updated_at = ? WHERE key = ?",
                (p_tok, c_tok, cost_usd, attempts, now, key),
            )
        else:
            conn.execute(
                "UPDATE calls SET status = ?, raw_text = ?, parsed = ?, parser_version = ?, error = ?,"
                " finish_reason = ?, prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?,"
                " cost_usd = cost_usd + ?, latency_s = ?, attempts = attempts + ?, updated_at = ?, first_text = ?"
                " WHERE key = ?",
                (status, raw_text, parsed_json, parser_version, error, finish_reason, p_tok, c_tok, cost_usd,
                 latency_s, attempts, now, first_text, key),
            )  # fmt: skip
        conn.execute("DELETE FROM claims WHERE key = ?", (key,))

    def reparse(
        self, parser_fn: Callable[[str], Any], parser_version: str, kind: str | None = None, *, recover: bool = True
    ) -> ReparseResult:
        """Re-parse the stored raw text of every answer (of `kind`) not yet at `parser_version`, in one transaction.

        No call is made: this is how a parser fix reaches old judgments for free. `parser_fn(raw_text)` returns
        the new parsed value (JSON-serialisable) or None; if it raises, nothing is changed. A call that was
        re-asked keeps its first answer too (`first_text`), read when the last one does not parse. With
        `recover`, failures whose answers could not be parsed (`UNPARSEABLE`; never a truncated answer) are
        parsed as well and become answers when the new parser reads one of them (`n_recovered`).
        """
        query = (
            "SELECT key, status, raw_text, first_text, parsed, finish_reason FROM calls WHERE "
            "((status = 'ok' AND parser_version IS NOT ?) OR (status = 'failed' AND ? AND error LIKE ?))"
        )
        args: tuple[Any, ...] = (parser_version, int(recover), UNPARSEABLE + "%")
        if kind is not None:
            query += " AND kind = ?"
            args += (kind,)
        n_rows = n_changed = n_recovered = 0
        with self._write("reparse") as conn:
            now = self._clock()
            for key, status, raw, first, old, finish_reason in conn.execute(query, args).fetchall():
                value = parser_fn(raw or "")
                if value is None and first:
                    value = parser_fn(first)
                new = None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)
                if status == "ok":
                    conn.execute(
                        "UPDATE calls SET parsed = ?, parser_version = ?, updated_at = ? WHERE key = ?",
                        (new, parser_version, now, key),
                    )
                    n_rows += 1
                    n_changed += new != old
                elif new is not None and finish_reason not in TRUNCATED_FINISH_REASONS:
                    conn.execute(
                        "UPDATE calls SET status = 'ok', parsed = ?, parser_version = ?, error = NULL, updated_at = ?"
                        " WHERE key = ?",
                        (new, parser_version, now, key),
                    )
                    n_rows += 1
                    n_changed += 1
                    n_recovered += 1
        return ReparseResult(n_rows, n_changed, n_recovered)

    # -- summaries --------------------------------------------------------------------------------------------

    def totals(self, kind: str | None = None) -> StoreTotals:
        where, args = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        with self._guard("read") as conn:
            row = conn.execute(
                "SELECT coalesce(sum(status = 'ok'), 0), coalesce(sum(status = 'failed'), 0),"
                " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0),"
                f" coalesce(sum(attempts), 0) FROM calls {where}",
                args,
            ).fetchone()
            # a lease's kind is only known once its call is recorded, so claims are counted store-wide
            n_claimed = conn.execute(
                "SELECT count(*) FROM claims WHERE expires_at > ?"
                " AND key NOT IN (SELECT key FROM calls WHERE status = 'ok')",
                (self._clock(),),
            ).fetchone()[0]
        n_ok, n_failed, p_tok, c_tok, cost, attempts = row
        return StoreTotals(n_ok, n_failed, n_claimed, p_tok, c_tok, float(cost), attempts)

    def export(self, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Rows as dicts (identity and parsed decoded), oldest first, optionally of one kind and/or status."""
        clauses, args = [], []
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if status is not None:
            if status not in ("ok", "failed"):
                raise ValueError(f"status must be 'ok' or 'failed', got {status!r}")
            clauses.append("status = ?")
            args.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._guard("read") as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM calls {where} ORDER BY created_at, key", args).fetchall()
        return [_row_to_record(row).as_dict() for row in rows]

    def check(self) -> None:
        """Run SQLite's full integrity check; raises `XrayBenchError` naming the file if anything is damaged."""
        with self._guard("integrity check") as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise XrayBenchError(f"{self.path}: call store is damaged: {'; '.join(problems[:5])}")
