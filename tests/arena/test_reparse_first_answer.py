"""A re-asked judgment keeps its first answer, so `arena reparse` with a better parser can recover it for free
(issue 15: only the re-ask's answer was stored, and a failed judgment could only be paid for again)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from arena.judges import as_judge
from arena.judging import KIND, Judging, load_field, plan_battles
from arena.verdict import parse_verdict
from xraybench.callstore import APPLICATION_ID, CallStore
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import OpenAIServer

FIRST = "Candidate A is clearly the better report; I pick A, strongly."
SECOND = "Sure."


def reply(body: dict[str, Any]) -> str:
    """The first answer gives a verdict no parser version reads yet; the answer to the re-ask gives none."""
    return SECOND if len(body["messages"]) > 2 else FIRST


def new_parser(raw: str) -> dict[str, Any] | None:
    """Stands in for a future parser version that reads "I pick A, strongly"."""
    if "I pick A, strongly" in raw:
        return {"verdict": "A>>B", "errors_a": [], "errors_b": []}
    return parse_verdict(raw)


def test_the_first_answer_is_stored_and_reparse_recovers_the_failure(tmp_path: Path) -> None:
    files = []
    for name, text in (("x", "Small left effusion."), ("y", "Normal chest.")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"id": "demo-test-000", "prediction": text}) + "\n")
        files.append(f"{name}={path}")
    fld = load_field("demo_findings", predictions=files)
    store_file = tmp_path / "judgments.sqlite"
    with OpenAIServer(reply_fn=reply) as server, CallStore(store_file) as store:
        client = LLMClient("openai/tiny", api_base=server.base_url, timeout_s=5)
        battles = plan_battles(fld, as_judge(client))
        report = Judging(client, store, policy=RetryPolicy(max_attempts=1)).run(battles)
        assert report.n_failed == 2 and report.n_reasked == 2
        rows = store.export(kind=KIND)
        assert {(r["status"], r["raw_text"], r["first_text"]) for r in rows} == {("failed", SECOND, FIRST)}
        result = store.reparse(new_parser, "future", kind=KIND)
        assert (result.n_rows, result.n_recovered) == (2, 2)
        rows = store.export(kind=KIND)
        assert {r["status"] for r in rows} == {"ok"} and {r["parsed"]["verdict"] for r in rows} == {"A>>B"}
        assert len(server.chat_requests()) == 4  # recovered without a single new call


def test_a_version_1_store_gains_the_column_without_losing_answers(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE calls (key TEXT PRIMARY KEY, kind TEXT NOT NULL, identity TEXT NOT NULL, status TEXT NOT NULL,"
        " raw_text TEXT, parsed TEXT, parser_version TEXT, error TEXT, finish_reason TEXT, prompt_tokens INTEGER"
        " NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,"
        " latency_s REAL, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL);"
        f"PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version=1;"
    )
    identity = {"kind": KIND, "x": 1}
    key = CallStore.key_of(**identity)
    conn.execute(
        "INSERT INTO calls VALUES (?, ?, ?, 'ok', 'verdict: A > B', NULL, '1', NULL, 'stop', 1, 1, 0, 0.1, 1, 0, 0)",
        (key, KIND, json.dumps(identity)),
    )
    conn.commit()
    conn.close()
    with CallStore(path) as store:
        assert store.reparse(parse_verdict, "2", kind=KIND).n_changed == 1  # the old parser missed "A > B"
        record = store.get(key)
        assert record is not None and record.parsed["verdict"] == "A>B" and record.first_text is None
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2


def test_truncated_answers_are_never_recovered(tmp_path: Path) -> None:
    with CallStore(tmp_path / "s.sqlite") as store:
        identity = {"kind": KIND, "n": 1}
        key = CallStore.key_of(**identity)
        store.record_failure(key, identity, error="no parseable answer", raw_text="[[A>B", finish_reason="length")
        assert store.reparse(lambda raw: {"verdict": "A>B"}, "9", kind=KIND).n_recovered == 0
        record = store.get(key)
        assert record is not None and record.status == "failed"
