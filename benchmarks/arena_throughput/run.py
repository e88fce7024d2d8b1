"""Judging throughput of `arena judge` against a local OpenAI-compatible server with a fixed reply latency.

Anchor: the ideal rate of the setting, `concurrency / latency` (64 calls in flight, each answered after
200 ms: 320 judgments/s), against the rate the real runner reaches through litellm, HTTP and the SQLite
call store (every answer committed with `synchronous=FULL` before the next call counts). Then the same
command again on the same store: the number of calls it makes (goal 0: everything is already paid for).
The server runs in its own process, as a real judge server would: in the judging process its request
handling would compete with the client for the GIL.

    .venv/bin/python benchmarks/arena_throughput/run.py [--models 8] [--latency 0.2] [--concurrency 64]

8 invented models on the 16 demo studies: 28 pairs x 16 studies x 2 orders = 896 judgments (14 full waves).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import warnings
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from arena.judge import LiteLLMJudge
from arena.judging import Judging, judge_schedule, load_field, plan_path
from xraybench.callstore import CallStore
from xraybench.models.litellm_model import import_litellm
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

TASK = "demo_findings"
JUDGE = "openai/tiny-test-model"
VERDICT = '```json\n{"errors_a": [], "errors_b": ["missed effusion"], "verdict": "A>B"}\n```'


def write_models(folder: Path, n: int) -> list[str]:
    """`n` invented models whose reports name their study, so every judgment is distinct."""
    specs = []
    for m in range(n):
        path = folder / f"model{m}.jsonl"
        rows = [
            json.dumps({"id": s.id, "prediction": f"{s.reference.split('.')[0]}. Model {m} on study {s.id}."})
            for s in load_task(TASK).samples
        ]
        path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        specs.append(f"model{m}={path}")
    return specs


def judge_once(base_url: str, store: Path, specs: list[str], concurrency: int) -> tuple[int, float]:
    """One `arena judge --schedule full` run (as the CLI does it); its request count and judging seconds."""
    fld = load_field(TASK, predictions=specs)
    judge = LiteLLMJudge(JUDGE, api_base=base_url, timeout_s=30.0)
    with CallStore(store) as calls:
        judging = Judging(judge, calls, max_concurrency=concurrency)
        start = time.perf_counter()
        report = judge_schedule(fld, judging, plan_path(store))
        elapsed = time.perf_counter() - start
    if report.n_failed:
        raise SystemExit(f"{report.n_failed} judgments failed: {report.failures[:3]}")
    return report.n_requests, elapsed


def _reply(latency: float, body: dict[str, Any]) -> str:
    time.sleep(latency)
    return VERDICT


def serve(latency: float, conn: Connection) -> None:
    """The server process: sends its URL, then answers "count" with its request count until "stop"."""
    with OpenAIServer(reply_fn=partial(_reply, latency)) as server:
        conn.send(server.base_url)
        while conn.recv() == "count":
            conn.send(len(server.chat_requests()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each reply")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import_litellm()

    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(args.latency, there), daemon=True)
    proc.start()
    base_url = here.recv()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = write_models(Path(tmp), args.models)
            store = Path(tmp) / "judgments.sqlite"
            n_calls, elapsed = judge_once(base_url, store, specs, args.concurrency)
            here.send("count")
            n_first = here.recv()
            n_rerun, rerun_s = judge_once(base_url, store, specs, args.concurrency)
            here.send("count")
            n_second = here.recv() - n_first
    finally:
        here.send("stop")
        proc.join(timeout=10)
    ideal = args.concurrency / args.latency
    rate = n_first / elapsed
    print(f"{n_first} judgments, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(
        f"achieved {rate:.1f} judgments/s in {elapsed:.2f} s; ideal {ideal:.1f}/s; ratio {rate / ideal:.1%} (goal >= 90%)"
    )
    print(f"requests sent by the runner {n_calls} (retries included), received by the server {n_first}")
    print(f"rerun on the same store: {n_rerun} calls sent, {n_second} received, in {rerun_s:.2f} s (goal 0)")


if __name__ == "__main__":
    main()
