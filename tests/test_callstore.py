"""The call store on real SQLite files, with real processes killed by SIGKILL and a real local HTTP server.

Run as a script (`python tests/test_callstore.py MODE ...`) this file is also the worker process the tests
start, so the worker code is the same code the tests read.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from xraybench import callstore
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.testing.openai_server import Fault, OpenAIServer

WORKER = Path(__file__).resolve()


def identity(i: int, kind: str = "judge") -> dict[str, Any]:
    return {
        "kind": kind,
        "judge": "openai/tiny-test-model",
        "decoding": {"temperature": 0.0, "max_tokens": 64},
        "prompt_version": "v1",
        "study": f"s{i:05d}",
        "texts": [f"report A {i}", f"report B {i}"],
        "order": "AB",
    }


def key(i: int, kind: str = "judge") -> str:
    return CallStore.key_of(**identity(i, kind))


def parse_v1(raw: str) -> dict[str, Any]:
    return {"verdict": raw.strip().split()[0] if raw.strip() else None}


def parse_v2(raw: str) -> dict[str, Any]:
    words = raw.strip().split()
    return {"verdict": words[0] if words else None, "n_words": len(words)}


def chat(base_url: str, text: str, client: httpx.Client) -> dict[str, Any]:
    """One real chat-completions request; returns the fields the store keeps."""
    start = time.perf_counter()
    response = client.post(
        f"{base_url}/chat/completions",
        json={"model": "tiny-test-model", "messages": [{"role": "user", "content": text}]},
    )
    response.raise_for_status()
    data = response.json()
    choice = data["choices"][0]
    return {
        "raw_text": choice["message"]["content"],
        "finish_reason": choice["finish_reason"],
        "prompt_tokens": data["usage"]["prompt_tokens"],
        "completion_tokens": data["usage"]["completion_tokens"],
        "latency_s": time.perf_counter() - start,
    }


# -- worker processes -----------------------------------------------------------------------------------------


def _worker_write(store_path: str, n: str) -> None:
    """Record every pending key, printing each key only once its record_ok has returned (so it is durable)."""
    keys = {key(i): i for i in range(int(n))}
    with CallStore(store_path) as store:
        for k in store.pending(keys):
            i = keys[k]
            store.record_ok(k, identity(i), raw_text=f"A>B call {i}", parsed=parse_v1("A>B"), parser_version="v1",
                            finish_reason="stop", prompt_tokens=10, completion_tokens=2, cost_usd=0.001)  # fmt: skip
            print(k, flush=True)


def _worker_claim(store_path: str, n: str, base_url: str, go_file: str) -> None:
    """Judge every pending key that this process can lease, through the real HTTP server."""
    owner = f"worker-{os.getpid()}"
    keys = {key(i): i for i in range(int(n))}
    with CallStore(store_path) as store, httpx.Client(timeout=30) as client:
        print("READY", flush=True)
        while not Path(go_file).exists():
            time.sleep(0.005)
        for k in store.pending(keys):
            if not store.claim(k, owner, ttl_s=60):
                continue
            answer = chat(base_url, k, client)
            store.record_ok(k, identity(keys[k]), parsed=parse_v1(answer["raw_text"]), parser_version="v1", **answer)
            print(k, flush=True)


def _worker_hold(store_path: str, k: str, ttl_s: str) -> None:
    """Lease one key, then hang as if the call never came back (the test kills this process)."""
    with CallStore(store_path) as store:
        assert store.claim(k, f"holder-{os.getpid()}", float(ttl_s))
        print("CLAIMED", flush=True)
        time.sleep(120)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _complete_lines(text: str) -> list[str]:
    """Lines that were printed in full (a SIGKILL can cut the last one)."""
    return text.split("\n")[:-1]


# -- keys -----------------------------------------------------------------------------------------------------


def test_key_of_is_canonical() -> None:
    base = CallStore.key_of(kind="judge", judge="m", decoding={"temperature": 0, "top_p": 1.0}, texts=("a", "b"))
    same = CallStore.key_of(texts=["a", "b"], decoding={"top_p": 1, "temperature": 0.0}, judge="m", kind="judge")
    assert base == same and len(base) == 64
    assert base != CallStore.key_of(kind="judge", judge="m", decoding={"temperature": 0, "top_p": 1}, texts=["b", "a"])
    assert base != CallStore.key_of(
        kind="teacher", judge="m", decoding={"temperature": 0, "top_p": 1}, texts=["a", "b"]
    )
    assert CallStore.key_of(kind="k", t="é") != CallStore.key_of(kind="k", t="e")
    with pytest.raises(ValueError, match="set"):
        CallStore.key_of(kind="judge", texts={"a", "b"})
    with pytest.raises(ValueError, match="nan"):
        CallStore.key_of(kind="judge", temperature=float("nan"))


def test_record_needs_the_identity_the_key_was_made_of(tmp_path: Path) -> None:
    with CallStore(tmp_path / "calls.db") as store:
        with pytest.raises(ValueError, match="not CallStore.key_of"):
            store.record_ok(key(1), identity(2), raw_text="A>B")
        with pytest.raises(ValueError, match="kind"):
            store.record_ok(key(1), {k: v for k, v in identity(1).items() if k != "kind"}, raw_text="A>B")


# -- basic semantics ------------------------------------------------------------------------------------------


def test_failure_is_pending_again_then_ok_adds_up_spend(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "calls.db"
    with CallStore(path) as store:
        k = key(1)
        assert store.get(k) is None and store.pending([k, k]) == [k]
        failed = store.record_failure(k, identity(1), error="HTTP 500 after 6 attempts", attempts=6, cost_usd=0.0)
        assert failed.status == "failed" and failed.attempts == 6 and failed.error == "HTTP 500 after 6 attempts"
        assert store.done_keys([k]) == set() and store.pending([k]) == [k]
        assert store.record_failure(k, identity(1), error="timeout", attempts=2).attempts == 8
    with CallStore(path) as store:  # the failure survived closing, and is retried on the "next run"
        assert store.get(k).error == "timeout"
        done = store.record_ok(k, identity(1), raw_text="A>B", parsed={"verdict": "A>B"}, parser_version="v1",
                               finish_reason="stop", prompt_tokens=100, completion_tokens=5, cost_usd=0.002,
                               latency_s=1.5)  # fmt: skip
        assert done.ok and done.error is None and done.attempts == 9 and done.parsed == {"verdict": "A>B"}
        assert store.done_keys([k, key(2)]) == {k} and store.pending([key(2), k]) == [key(2)]
        # an answer is final: a late failure or a duplicate answer only adds its spend
        assert store.record_failure(k, identity(1), error="late", cost_usd=0.001).ok
        again = store.record_ok(k, identity(1), raw_text="B>A", cost_usd=0.002, prompt_tokens=100)
        assert again.raw_text == "A>B" and again.error is None and again.prompt_tokens == 200
        assert again.cost_usd == pytest.approx(0.005) and again.attempts == 11
        totals = store.totals()
        assert (totals.n_ok, totals.n_failed, totals.n_claimed) == (1, 0, 0)
        assert totals.cost_usd == pytest.approx(0.005) and totals.prompt_tokens == 200


def test_done_keys_agrees_between_index_lookups_and_a_table_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callstore, "_CHUNK", 3)  # several IN (...) chunks with a handful of keys
    with CallStore(tmp_path / "calls.db") as store:
        for i in range(60):
            if i % 3:
                store.record_ok(key(i), identity(i), raw_text="A>B")
            else:
                store.record_failure(key(i), identity(i), error="HTTP 500")
        few = [key(i) for i in (0, 1, 2, 4, 200, 1)]  # 6 keys for 60 rows: index lookups
        assert store.done_keys(few) == {key(1), key(2), key(4)}
        assert store.pending(few) == [key(0), key(200)]
        many = [key(i) for i in range(300)]  # more keys than rows: one scan
        assert store.done_keys(many) == {key(i) for i in range(60) if i % 3}
        assert store.done_keys([]) == set()


def test_truncated_answers_from_a_real_server_are_failures_never_results(tmp_path: Path) -> None:
    with CallStore(tmp_path / "calls.db") as store, httpx.Client(timeout=10) as client:
        with OpenAIServer(fault_plan=[Fault("length", max_words=2)]) as server:
            first = chat(server.base_url, "judge s1", client)
            assert first["finish_reason"] == "length"
            row = store.record_ok(key(1), identity(1), parsed=parse_v1(first["raw_text"]), parser_version="v1", **first)
            assert row.status == "failed" and row.parsed is None and "truncated" in row.error
            assert row.raw_text == first["raw_text"] and row.completion_tokens == 2
            assert store.pending([key(1)]) == [key(1)] and store.totals().n_failed == 1
            second = chat(server.base_url, "judge s1", client)  # the next run asks again and gets a full answer
            row = store.record_ok(key(1), identity(1), parsed=parse_v1(second["raw_text"]), parser_version="v1",
                                  **second)  # fmt: skip
            assert row.ok and row.finish_reason == "stop" and row.attempts == 2
            assert len(server.chat_requests()) == 2
        assert store.totals().n_ok == 1 and store.totals().n_failed == 0


def test_reparse_rewrites_parsed_values_without_any_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with CallStore(tmp_path / "calls.db") as store:
        for i in range(20):
            store.record_ok(key(i), identity(i), raw_text=f"A>B because {'x ' * i}", parsed=parse_v1("A>B"),
                            parser_version="v1", finish_reason="stop")  # fmt: skip
        store.record_ok(key(0, "teacher"), identity(0, "teacher"), raw_text="tie", parser_version="v1")
        store.record_failure(key(99), identity(99), error="garbage", raw_text="???")

        def no_network(*args: object, **kwargs: object) -> None:
            raise AssertionError("reparse opened a network connection")

        monkeypatch.setattr(socket.socket, "connect", no_network)

        def broken(raw: str) -> Any:
            raise RuntimeError("parser bug")

        with pytest.raises(RuntimeError, match="parser bug"):
            store.reparse(broken, "v2")
        assert {r["parser_version"] for r in store.export()} == {"v1", None}  # all or nothing

        result = store.reparse(parse_v2, "v2", kind="judge")
        assert (result.n_rows, result.n_changed) == (20, 20)
        rows = {r["key"]: r for r in store.export(kind="judge", status="ok")}
        assert rows[key(3)]["parsed"] == {"verdict": "A>B", "n_words": 5} and rows[key(3)]["parser_version"] == "v2"
        assert store.get(key(0, "teacher")).parser_version == "v1"  # other kinds untouched
        assert store.get(key(99)).parsed is None and store.get(key(99)).status == "failed"
        assert store.reparse(parse_v2, "v2", kind="judge").n_rows == 0  # already at v2: nothing to do


def test_leases_exclude_others_until_recorded_released_or_expired(tmp_path: Path) -> None:
    now = [1000.0]
    with CallStore(tmp_path / "calls.db", clock=lambda: now[0]) as store:
        k = key(1)
        assert store.claim(k, "a", ttl_s=30) and not store.claim(k, "b", ttl_s=30)
        assert store.claim(k, "a", ttl_s=30)  # the owner renews
        assert store.totals().n_claimed == 1
        now[0] += 29
        assert not store.claim(k, "b", ttl_s=30)
        now[0] += 2  # a's lease ran out (crashed owner): b takes over
        assert store.claim(k, "b", ttl_s=30) and not store.claim(k, "a", ttl_s=30)
        store.release(k, "a")  # not a's lease any more: no effect
        assert not store.claim(k, "a", ttl_s=30)
        store.release(k, "b")
        assert store.claim(k, "a", ttl_s=30)
        store.record_ok(k, identity(1), raw_text="A>B")
        assert not store.claim(k, "a", ttl_s=30) and store.totals().n_claimed == 0  # done keys are never leased
        assert store.claim_many([key(i) for i in range(10)], "c", ttl_s=5, limit=3) == [key(0), key(2), key(3)]
        assert store.claim_many([key(i) for i in range(6)], "d", ttl_s=5) == [key(4), key(5)]
        with pytest.raises(ValueError, match="ttl_s"):
            store.claim(key(7), "c", ttl_s=0)


def test_threads_sharing_one_store_never_take_the_same_key(tmp_path: Path) -> None:
    keys = [key(i) for i in range(200)]
    taken: list[str] = []
    lock = threading.Lock()
    with CallStore(tmp_path / "calls.db") as store:

        def work(owner: str) -> None:
            for k in keys:
                if store.claim(k, owner, ttl_s=60):
                    with lock:
                        taken.append(k)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, ["t1", "t2", "t3", "t4"]))
    assert sorted(taken) == sorted(keys)


# -- crashes and concurrent processes -------------------------------------------------------------------------


def test_kill_9_at_random_moments_loses_nothing_and_rerun_does_only_the_rest(tmp_path: Path) -> None:
    path, n = tmp_path / "calls.db", 2000
    rng = random.Random(5)
    printed: set[str] = set()
    for _ in range(5):
        proc = _start("write", str(path), str(n))
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(rng.randint(1, 200))]  # let it write a random amount,
        time.sleep(rng.uniform(0.0, 0.005))  # then kill it wherever it is (mid-transaction included)
        assert proc.poll() is None, "the writer finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        new = set(_complete_lines("".join(seen) + out))
        assert not new & printed, "a key recorded before was written again"
        printed |= new
        wal = path.with_name(path.name + "-wal")
        assert wal.exists() and wal.stat().st_size > 0, "the kill left no WAL to recover: nothing was tested"
        with CallStore(path) as store:
            store.check()
            assert store.done_keys(printed) == printed, "a key printed after record_ok was lost"
    assert 0 < len(printed) < n
    with CallStore(path) as store:
        done_before = store.done_keys(key(i) for i in range(n))
    rerun = _start("write", str(path), str(n))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    did = _complete_lines(out)
    assert len(did) == len(set(did)) and not set(did) & done_before
    assert set(did) | done_before == {key(i) for i in range(n)}
    with CallStore(path) as store:
        store.check()
        totals = store.totals()
        assert (totals.n_ok, totals.n_failed, totals.n_claimed) == (n, 0, 0)
        assert totals.attempts == n, "some call was recorded twice"


def test_two_processes_on_one_store_call_every_key_exactly_once(tmp_path: Path) -> None:
    path, go, n = tmp_path / "calls.db", tmp_path / "go", 200

    def slow(body: dict[str, Any]) -> str:
        time.sleep(0.005)
        return "A>B clear winner"

    with OpenAIServer(reply_fn=slow) as server:
        CallStore(path).close()  # create it once, so the workers race on calls, not on the schema
        workers = [_start("claim", str(path), str(n), server.base_url, str(go)) for _ in range(2)]
        for proc in workers:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY", proc.stderr
        go.touch()
        outputs = [proc.communicate(timeout=300) for proc in workers]
        assert all(proc.returncode == 0 for proc in workers), [err for _, err in outputs]
        requested = Counter(r.body["messages"][0]["content"] for r in server.chat_requests())
    done = [set(_complete_lines(out)) for out, _ in outputs]
    everything = {key(i) for i in range(n)}
    assert requested == Counter(everything), "a key was requested twice or never"
    assert not done[0] & done[1] and done[0] | done[1] == everything
    assert all(done), f"one worker did no work ({[len(d) for d in done]}): no contention was tested"
    with CallStore(path) as store:
        assert store.done_keys(everything) == everything and store.totals().attempts == n


def test_a_crashed_owners_lease_is_taken_over_after_it_expires(tmp_path: Path) -> None:
    path, k, ttl = tmp_path / "calls.db", key(1), 2.0
    holder = _start("hold", str(path), k, str(ttl))
    assert holder.stdout is not None and holder.stdout.readline().strip() == "CLAIMED", holder.stderr
    claimed_at = time.time()
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate()
    with CallStore(path) as store:
        assert not store.claim(k, "rescuer", ttl_s=60)
        assert store.totals().n_claimed == 1
        time.sleep(max(0.0, claimed_at + ttl - time.time()) + 0.1)
        assert store.claim(k, "rescuer", ttl_s=60)


# -- damaged and locked files ---------------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    path.write_bytes(b"this is a judgments export, not SQLite\n" * 200)
    with pytest.raises(XrayBenchError, match=rf"{path}.*corrupt or is not an xraybench call store"):
        CallStore(path)


def test_a_damaged_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    with CallStore(path) as store:
        for i in range(300):
            store.record_ok(key(i), identity(i), raw_text="A>B " * 50)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page : len(data) - page] = random.Random(0).randbytes(len(data) - 2 * page)
    path.write_bytes(bytes(data))
    with pytest.raises(XrayBenchError, match=str(path)), CallStore(path) as store:
        store.check()
        store.export()


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(XrayBenchError, match=rf"{path}.*not an xraybench call store"):
        CallStore(path)
    with pytest.raises(XrayBenchError, match="is a folder"):
        CallStore(tmp_path)


def test_a_locked_database_gives_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    store = CallStore(path, busy_timeout_s=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(XrayBenchError, match=rf"{path}.*write failed.*lock on it for more than 0.2s"):
            store.record_ok(key(1), identity(1), raw_text="A>B")
        with pytest.raises(XrayBenchError, match=rf"{path}.*claim failed.*locked"):
            store.claim(key(1), "a", ttl_s=10)
        with pytest.raises(XrayBenchError, match=rf"{path}.*open failed"):
            CallStore(path, busy_timeout_s=0.2)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.record_ok(key(1), identity(1), raw_text="A>B").ok  # fine once the lock is gone
    store.close()


if __name__ == "__main__":
    modes = {"write": _worker_write, "claim": _worker_claim, "hold": _worker_hold}
    modes[sys.argv[1]](*sys.argv[2:])


def test_leases_are_listed_for_crash_recovery(tmp_path: Path) -> None:
    with CallStore(tmp_path / "s.sqlite") as store:
        key = CallStore.key_of(kind="judgment", study="s1")
        assert store.leases() == []
        assert store.claim(key, "host:123", ttl_s=60)
        [(listed_key, owner, expires_at)] = store.leases()
        assert (listed_key, owner) == (key, "host:123") and expires_at > 0
        store.release(key, "host:123")
        assert store.leases() == []
