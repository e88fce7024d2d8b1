"""A reader study in one SQLite file (WAL): the cases, who rates which, and every answer as it is given.

Each answer is its own committed transaction before the server replies, so a closed tab, a killed server or
a power cut loses at most the click in flight. The cases are snapshotted at creation (outputs, reference,
image path), so a study stays reproducible when the run folders move on. Tokens are stored only as hashes.

A full disk (SQLite's "database or disk is full") is a `StudyDiskFull` naming the file: the write in hand is
rolled back whole and every answer committed before stays; a study whose creation ran out of space is removed,
so the same `review create` can be rerun once space is freed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.files import DiskFullError
from xraybench.review import CHOICES, DIMENSION_KEYS

# what to do after a full disk refused a reviewer's answer (the server keeps serving meanwhile)
CLICK_AGAIN = "Free some space on that disk; the server keeps running, and the reviewer's next click saves again."
SCHEMA_VERSION = 1
APPLICATION_ID = 0x58525653  # "XRVS": marks the file as an xraybench review study

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models (slot TEXT PRIMARY KEY CHECK (slot IN ('A', 'B')), name TEXT NOT NULL, run_dir TEXT NOT NULL,
                     run_id TEXT);
CREATE TABLE cases (case_id TEXT PRIMARY KEY, sample_id TEXT NOT NULL, task TEXT NOT NULL, image_path TEXT NOT NULL,
                    prompt TEXT NOT NULL, reference TEXT NOT NULL, output_a TEXT NOT NULL, output_b TEXT NOT NULL);
CREATE TABLE reviewers (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE assignments (reviewer TEXT NOT NULL REFERENCES reviewers(name), position INTEGER NOT NULL,
                          case_id TEXT NOT NULL REFERENCES cases(case_id),
                          left_slot TEXT NOT NULL CHECK (left_slot IN ('A', 'B')),
                          PRIMARY KEY (reviewer, position), UNIQUE (reviewer, case_id));
CREATE TABLE answers (reviewer TEXT NOT NULL, case_id TEXT NOT NULL, dimension TEXT NOT NULL,
                      choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie')),
                      created_at REAL NOT NULL, updated_at REAL NOT NULL,
                      PRIMARY KEY (reviewer, case_id, dimension),
                      FOREIGN KEY (reviewer, case_id) REFERENCES assignments(reviewer, case_id));
CREATE TABLE comments (reviewer TEXT NOT NULL, case_id TEXT NOT NULL, text TEXT NOT NULL,
                       created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (reviewer, case_id),
                       FOREIGN KEY (reviewer, case_id) REFERENCES assignments(reviewer, case_id));
"""


class StudyDiskFull(DiskFullError):
    """A study write failed on a full disk; the message names the file, what is kept and what to do next."""

    def __init__(self, path: str | Path, safe: str, then: str):
        XrayBenchError.__init__(
            self, f"could not write {path}: no space left on device. Nothing saved before was lost: {safe}. {then}"
        )
        self.path = str(path)


class StudyWriteError(XrayBenchError):
    """A study write failed for another reason SQLite gave (a read-only file or file system, an I/O error)."""


SQLITE_FULL = getattr(sqlite3, "SQLITE_FULL", 13)  # the constant is in the module from Python 3.11


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL: the disk (or quota) is full; SQLite has rolled the write back, earlier commits are intact."""
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "database or disk is full" in str(exc).lower()


def hash_token(token: str) -> str:
    """What is stored for a reviewer link: a leaked study file does not leak working links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Case:
    case_id: str
    sample_id: str
    task: str
    image_path: str
    prompt: str
    reference: str
    outputs: dict[str, dict[str, Any]]  # slot "A" / "B" -> {"steps": [...], "answer": ..., "box_space": [w, h]}


@dataclass(frozen=True)
class Assignment:
    reviewer: str
    position: int
    case_id: str
    left_slot: str  # the model slot shown on the left to this reviewer for this case

    def slot_of(self, choice: str) -> str:
        """The model slot ("A", "B") or "tie" that a left/right/tie choice stands for."""
        if choice == "tie":
            return "tie"
        right_slot = "B" if self.left_slot == "A" else "A"
        return self.left_slot if choice == "left" else right_slot


@dataclass(frozen=True)
class Answer:
    reviewer: str
    case_id: str
    dimension: str
    choice: str
    left_slot: str
    created_at: float
    updated_at: float

    @property
    def winner(self) -> str:
        return Assignment(self.reviewer, 0, self.case_id, self.left_slot).slot_of(self.choice)


class ReviewStore:
    """Opens one connection per operation, so the threaded server needs no locking of its own."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self, what: str, then: str) -> Iterator[sqlite3.Connection]:
        """One committed write of `what`; a full disk is a `StudyDiskFull` that says `then` (what to do), any
        other SQLite failure a `StudyWriteError` naming the file (never a raw sqlite3 traceback)."""
        try:
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:  # SQLITE_FULL may already have rolled the transaction back
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if _is_full(exc):
                raise StudyDiskFull(
                    self.path, f"every answer and comment saved before is kept in it ({what} was not saved)", then
                ) from exc
            raise StudyWriteError(
                f"could not write {self.path} ({what} was not saved; every answer and comment saved before is kept): "
                f"SQLite: {exc}. Check that the file and its folder are writable and on a writable, not full, disk."
            ) from exc

    @contextmanager
    def _removed_if_unfinished(self) -> Iterator[None]:
        """A half-written study would block rerunning the same `review create`: remove it (it holds no answers)."""
        try:
            yield
        except BaseException as exc:
            for leftover in (
                self.path,
                *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm", "-journal")),
            ):
                leftover.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error) and _is_full(exc):
                raise DiskFullError(
                    self.path, "the half-written study file was removed and the run folders are untouched"
                ) from exc
            if isinstance(exc, sqlite3.Error):
                raise StudyWriteError(
                    f"could not create {self.path} (the half-written file was removed; the run folders are untouched):"
                    f" SQLite: {exc}. Check that its folder is writable and on a writable disk."
                ) from exc
            raise

    # creation -------------------------------------------------------------------------------------------------
    def create(
        self,
        meta: dict[str, Any],
        models: dict[str, dict[str, Any]],
        cases: list[Case],
        token_hashes: dict[str, str],
        assignments: list[Assignment],
    ) -> None:
        """Write a new study; refuses to touch an existing file."""
        if self.path.exists():
            raise XrayBenchError(f"{self.path} already exists: pick another study name or delete that folder")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._removed_if_unfinished(), self._connect() as conn:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            conn.executemany(
                "INSERT INTO models VALUES (?, ?, ?, ?)",
                [(slot, m["name"], m["run_dir"], m.get("run_id")) for slot, m in models.items()],
            )
            conn.executemany(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.case_id,
                        c.sample_id,
                        c.task,
                        c.image_path,
                        c.prompt,
                        c.reference,
                        json.dumps(c.outputs["A"], ensure_ascii=False),
                        json.dumps(c.outputs["B"], ensure_ascii=False),
                    )
                    for c in cases
                ],
            )
            conn.executemany("INSERT INTO reviewers VALUES (?, ?)", list(token_hashes.items()))
            conn.executemany(
                "INSERT INTO assignments VALUES (?, ?, ?, ?)",
                [(a.reviewer, a.position, a.case_id, a.left_slot) for a in assignments],
            )
            conn.execute("COMMIT")

    def check(self) -> None:
        """Fail clearly when the path is missing or is not a study file of this version."""
        if not self.path.exists():
            raise XrayBenchError(f"no study at {self.path}: create it with `xraybench review create`")
        with self._connect() as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise XrayBenchError(f"{self.path} is not an xraybench review study")
        if version != SCHEMA_VERSION:
            raise XrayBenchError(f"{self.path}: study schema {version}, this xraybench reads {SCHEMA_VERSION}")

    # reading --------------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        with self._connect() as conn:
            return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}

    def models(self) -> dict[str, dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT slot, name, run_dir, run_id FROM models ORDER BY slot").fetchall()
        return {slot: {"name": name, "run_dir": run_dir, "run_id": run_id} for slot, name, run_dir, run_id in rows}

    def reviewers(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM reviewers ORDER BY name")]

    def reviewer_for_token(self, token: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT name FROM reviewers WHERE token_hash = ?", (hash_token(token),)).fetchone()
        return row[0] if row else None

    def set_token_hash(self, reviewer: str, token_hash: str) -> None:
        then = "Free some space and rerun the same command (the reviewer's old link still works until then)."
        with self._transaction("the new link", then) as conn:
            if conn.execute("UPDATE reviewers SET token_hash = ? WHERE name = ?", (token_hash, reviewer)).rowcount != 1:
                raise XrayBenchError(f"{self.path}: no reviewer {reviewer!r} in this study")

    def assignments(self, reviewer: str | None = None) -> list[Assignment]:
        sql = "SELECT reviewer, position, case_id, left_slot FROM assignments"
        with self._connect() as conn:
            if reviewer is None:
                rows = conn.execute(sql + " ORDER BY reviewer, position").fetchall()
            else:
                rows = conn.execute(sql + " WHERE reviewer = ? ORDER BY position", (reviewer,)).fetchall()
        return [Assignment(*r) for r in rows]

    def case(self, case_id: str) -> Case:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT case_id, sample_id, task, image_path, prompt, reference, output_a, output_b "
                "FROM cases WHERE case_id = ?",
                (case_id,),
            ).fetchone()
        if row is None:
            raise XrayBenchError(f"{self.path}: no case {case_id!r}")
        return Case(*row[:6], outputs={"A": json.loads(row[6]), "B": json.loads(row[7])})

    def case_ids(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT case_id FROM cases ORDER BY rowid")]

    def answers(self, reviewer: str | None = None) -> list[Answer]:
        sql = (
            "SELECT a.reviewer, a.case_id, a.dimension, a.choice, s.left_slot, a.created_at, a.updated_at "
            "FROM answers a JOIN assignments s ON s.reviewer = a.reviewer AND s.case_id = a.case_id"
        )
        with self._connect() as conn:
            if reviewer is None:
                rows = conn.execute(sql + " ORDER BY a.reviewer, s.position, a.dimension").fetchall()
            else:
                rows = conn.execute(
                    sql + " WHERE a.reviewer = ? ORDER BY s.position, a.dimension", (reviewer,)
                ).fetchall()
        return [Answer(*r) for r in rows]

    def comments(self, reviewer: str | None = None) -> dict[tuple[str, str], tuple[str, float]]:
        """(reviewer, case_id) -> (text, updated_at)."""
        sql = "SELECT reviewer, case_id, text, updated_at FROM comments"
        with self._connect() as conn:
            rows = (
                conn.execute(sql).fetchall()
                if reviewer is None
                else conn.execute(sql + " WHERE reviewer = ?", (reviewer,)).fetchall()
            )
        return {(r, c): (t, u) for r, c, t, u in rows}

    # writing --------------------------------------------------------------------------------------------------
    def save_answer(self, reviewer: str, case_id: str, dimension: str, choice: str) -> None:
        """Upsert one answer; committed and fsynced before returning."""
        if dimension not in DIMENSION_KEYS:
            raise XrayBenchError(f"unknown dimension {dimension!r}; expected one of {', '.join(DIMENSION_KEYS)}")
        if choice not in CHOICES:
            raise XrayBenchError(f"unknown choice {choice!r}; expected one of {', '.join(CHOICES)}")
        now = time.time()
        with self._transaction("this answer", CLICK_AGAIN) as conn:
            conn.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reviewer, case_id, dimension) "
                "DO UPDATE SET choice = excluded.choice, updated_at = excluded.updated_at",
                (reviewer, case_id, dimension, choice, now, now),
            )

    def save_comment(self, reviewer: str, case_id: str, text: str) -> None:
        now = time.time()
        with self._transaction("this comment", CLICK_AGAIN) as conn:
            if text.strip():
                conn.execute(
                    "INSERT INTO comments VALUES (?, ?, ?, ?, ?) ON CONFLICT (reviewer, case_id) "
                    "DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                    (reviewer, case_id, text, now, now),
                )
            else:
                conn.execute("DELETE FROM comments WHERE reviewer = ? AND case_id = ?", (reviewer, case_id))
