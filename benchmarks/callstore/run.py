"""Call store write and lookup costs, against an anchor with the same durability measured in the same run.

Anchor: the simplest durable append-only log, one JSON line per call, flushed and fsynced before the call
counts as done (what `predictions.jsonl` would need to survive a power cut). Ours: `CallStore.record_ok`
(one SQLite WAL transaction with `synchronous=FULL`), with and without the lease (`claim`) that lets two
processes share a store, and the same with `synchronous=NORMAL` to show what FULL costs. Lookups: which of
100k keys are done, from a 100k-row store, against reading the JSONL log into a set.

    .venv/bin/python benchmarks/callstore/run.py [--writes 2000] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from xraybench.callstore import CallStore


def ident(i: int) -> dict:
    return {"kind": "judge", "judge": "bench/judge", "prompt_version": "v1", "study": f"s{i}", "texts": ["a", "b"]}


RAW = "Errors A: none. Errors B: missed small left effusion. Verdict: A>B"


def jsonl_writes(path: Path, n: int) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for i in range(n):
            row = {"key": CallStore.key_of(**ident(i)), "identity": ident(i), "status": "ok", "raw_text": RAW}
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def store_writes(path: Path, n: int, *, claim: bool, synchronous: str = "FULL") -> None:
    with CallStore(path) as store:
        # benchmark only: NORMAL is what the store deliberately does not use, measured to show FULL's price
        store._conn.execute(f"PRAGMA synchronous={synchronous}")
        for i in range(n):
            key = CallStore.key_of(**ident(i))
            if claim and not store.claim(key, "bench", ttl_s=600):
                raise RuntimeError("lease refused in a single-process benchmark")
            store.record_ok(key, ident(i), raw_text=RAW, parsed={"verdict": "A>B"}, parser_version="v1",
                            finish_reason="stop", prompt_tokens=900, completion_tokens=40, cost_usd=0.0004)  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    n = args.writes
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        anchor = timed(lambda: jsonl_writes(root / "anchor.jsonl", n))
        full = timed(lambda: store_writes(root / "full.db", n, claim=False))
        full_claim = timed(lambda: store_writes(root / "claim.db", n, claim=True))
        normal = timed(lambda: store_writes(root / "normal.db", n, claim=False, synchronous="NORMAL"))
        print(f"{n} durable writes (ms per call; ratio = anchor time / ours):")
        print(f"  anchor JSONL + fsync        {1000 * anchor / n:7.3f}")
        for name, t in [("record_ok, FULL", full), ("claim + record_ok, FULL", full_claim),
                        ("record_ok, NORMAL", normal)]:  # fmt: skip
            print(f"  {name:<27} {1000 * t / n:7.3f}   ratio {anchor / t:5.2f}x")

        rows = args.rows
        big, log = root / "big.db", root / "big.jsonl"
        keys = [CallStore.key_of(**ident(i)) for i in range(rows)]
        with CallStore(big) as store:
            store._conn.execute("PRAGMA synchronous=OFF")  # benchmark set-up only: fill quickly
            store._conn.execute("BEGIN")
            now = time.time()
            store._conn.executemany(
                "INSERT INTO calls (key, kind, identity, status, raw_text, created_at, updated_at)"
                " VALUES (?, 'judge', ?, 'ok', ?, ?, ?)",
                ((k, json.dumps(ident(i)), RAW, now, now) for i, k in enumerate(keys)),
            )
            store._conn.execute("COMMIT")
        with log.open("w", encoding="utf-8") as fh:
            for i, k in enumerate(keys):
                fh.write(json.dumps({"key": k, "identity": ident(i), "status": "ok", "raw_text": RAW}) + "\n")

        def jsonl_done() -> set[str]:
            with log.open(encoding="utf-8") as fh:
                logged = {row["key"] for row in map(json.loads, fh) if row["status"] == "ok"}
            return {k for k in keys if k in logged}

        with CallStore(big) as store:
            t_ours = timed(lambda: store.done_keys(keys))
            t_totals = timed(store.totals)
            assert store.done_keys(keys) == jsonl_done()
        t_anchor = timed(jsonl_done)
        print(f"done_keys over {rows} keys, {rows}-row store: {t_ours:.3f}s; anchor (read JSONL into a set)"
              f" {t_anchor:.3f}s; ratio {t_anchor / t_ours:.2f}x; totals() {1000 * t_totals:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
