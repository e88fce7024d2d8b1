"""Judging throughput of `arena judge` against a local OpenAI-compatible server with a fixed reply latency.

Anchor: the ideal rate of the setting, `concurrency / latency` (64 calls in flight, each answered after
200 ms: 320 judgments/s), i.e. the ideal time n_calls x 0.2 s / 64, against the rate the real runner reaches
(`arena.judging.judge_schedule` -> `xraybench.llm.calls.CallRunner`: HTTP, verdict parsing, the SQLite call
store with a lease per key and every answer committed with `synchronous=FULL` before it counts). Then the
same command again on the same store: the number of calls it makes (goal 0: everything is already paid for).
A second anchor, measured in the same run, is the transport floor: bare `http.client` threads sending the same
number of requests at the same concurrency (no store, no parsing), which tells what the machine, the OS and
the server themselves cost. The server notes when each request arrived, so the output also splits the runner's
time: until the first request arrived (imports, planning, leasing), the waves between the first and the last
arrival (13 latencies when every wave is full and nothing is lost between them), and the last wave.

The server runs in its own process (`server.py`, asyncio, keep-alive), as a real judge server would: in the
judging process it would compete with the client for the GIL. `--server threaded` uses the tests'
thread-per-connection `OpenAIServer` instead; `--client litellm` sends the requests through litellm instead
of the client's direct HTTP path.

    .venv/bin/python benchmarks/arena_throughput/run.py [--models 8] [--latency 0.2] [--concurrency 64] \
        [--schedule full|adaptive] [--max-in-flight K]

8 invented models on the 16 demo studies: 28 pairs x 16 studies x 2 orders = 896 judgments (14 full waves).
`--schedule adaptive` runs `AdaptiveScheduler` instead (rounds of 16 comparisons, refitted from the store
before each); the server's verdict never changes with the order, so every battle is an order-flip tie, the
ranking never separates and the adaptive run judges the same 896 - the same work, proposed round by round
(`--max-in-flight 0`) or while earlier rounds are in flight.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import warnings
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import serve as serve_asyncio  # noqa: E402

from arena.judging import Judging, judge_schedule, load_field, plan_path  # noqa: E402
from xraybench.callstore import CallStore  # noqa: E402
from xraybench.llm.client import LLMClient  # noqa: E402
from xraybench.taskdata import load_task  # noqa: E402
from xraybench.testing.openai_server import OpenAIServer  # noqa: E402

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


def judge_once(
    base_url: str, store: Path, specs: list[str], concurrency: int, client: str, schedule: str, max_in_flight: int
) -> tuple[int, float, float]:
    """One `arena judge` run (as the CLI does it): its request count, judging seconds and the wall-clock time
    (`time.time()`) it started."""
    fld = load_field(TASK, predictions=specs)
    judge = LLMClient(JUDGE, api_base=base_url, timeout_s=30.0, price_per_1k_tokens=0.0)
    judge.direct = client == "direct"  # `litellm` measures the path every non-OpenAI-compatible provider takes
    with CallStore(store) as calls:
        judging = Judging(judge, calls, max_concurrency=concurrency)
        wall_start, start = time.time(), time.perf_counter()
        report = judge_schedule(fld, judging, plan_path(store), schedule=schedule, max_in_flight=max_in_flight)
        elapsed = time.perf_counter() - start
    if report.n_failed:
        raise SystemExit(f"{report.n_failed} judgments failed: {report.failures[:3]}")
    return report.n_requests, elapsed, wall_start


def transport_floor(base_url: str, n_requests: int, concurrency: int) -> float:
    """Seconds for `n_requests` bare keep-alive `http.client` POSTs from `concurrency` threads."""
    url = urlparse(base_url)
    body = json.dumps({"model": "tiny-test-model", "messages": [{"role": "user", "content": "x " * 600}]}).encode()
    left = [n_requests]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            conn.request("POST", f"{url.path}/chat/completions", body, {"Content-Type": "application/json"})
            json.loads(conn.getresponse().read())
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _reply(latency: float, body: dict[str, Any]) -> str:
    time.sleep(latency)
    return VERDICT


def serve_threaded(latency: float, reply: str, conn: Connection) -> None:
    """The tests' thread-per-connection server, with a listen backlog fit for 64 clients connecting at once."""
    from http.server import ThreadingHTTPServer

    ThreadingHTTPServer.request_queue_size = 128  # http.server's default of 5 resets connections beyond it
    with OpenAIServer(reply_fn=partial(_reply, latency)) as server:
        conn.send(server.base_url)
        seen = 0
        while conn.recv() == "count":
            requests = server.chat_requests()
            conn.send((len(requests), [r.received_at for r in requests[seen:]]))
            seen = len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each reply")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--server", choices=("asyncio", "threaded"), default="asyncio")
    parser.add_argument("--client", choices=("direct", "litellm"), default="direct")
    parser.add_argument("--schedule", choices=("full", "adaptive"), default="full")
    parser.add_argument("--max-in-flight", type=int, default=0, help="adaptive: comparisons in flight when proposing")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    target = serve_asyncio if args.server == "asyncio" else serve_threaded
    proc = ctx.Process(target=target, args=(args.latency, VERDICT, there), daemon=True)
    proc.start()
    base_url = here.recv()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = write_models(Path(tmp), args.models)
            store = Path(tmp) / "judgments.sqlite"
            run = partial(judge_once, base_url, store, specs, args.concurrency, args.client, args.schedule)
            n_calls, elapsed, wall_start = run(args.max_in_flight)
            here.send("count")
            n_first, arrivals = here.recv()
            n_rerun, rerun_s, _ = run(args.max_in_flight)
            here.send("count")
            n_second = here.recv()[0] - n_first
            floor_s = transport_floor(base_url, n_first, args.concurrency)
    finally:
        here.send("stop")
        proc.join(timeout=10)
    ideal_s = n_first * args.latency / args.concurrency
    print(
        f"{n_first} judgments, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"server {args.server}, client {args.client}, schedule {args.schedule}"
        + (f" (max in flight {args.max_in_flight})" if args.schedule == "adaptive" else "")
    )
    print(
        f"runner {elapsed:.2f} s ({n_first / elapsed:.1f}/s); ideal {ideal_s:.2f} s ({n_first / ideal_s:.1f}/s); "
        f"ratio ideal/runner {ideal_s / elapsed:.1%} (goal >= 90%)"
    )
    first, last = min(arrivals) - wall_start, max(arrivals) - wall_start
    print(
        f"where the runner's time went: first request at the server after {first:.3f} s (planning, leasing);"
        f" {(last - first) / args.latency:.1f} latencies between the first and the last arrival (ideal"
        f" {n_first / args.concurrency - 1:.0f}); last answer back {elapsed - last:.3f} s after the last arrival"
    )
    print(
        f"transport floor (bare http.client, same requests) {floor_s:.2f} s: ratio ideal/floor {ideal_s / floor_s:.1%}"
    )
    print(f"requests sent by the runner {n_calls} (retries included), received by the server {n_first}")
    print(f"rerun on the same store: {n_rerun} calls sent, {n_second} received, in {rerun_s:.2f} s (goal 0)")


if __name__ == "__main__":
    main()
