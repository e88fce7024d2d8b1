"""Real `xraybench arena judge` subprocesses: `kill -9` mid-run then a rerun, and two processes on one store.

The local OpenAI-compatible server runs in the test process and logs every request. Every report but the
reference names its study, so each judgment key has its own prompt and the log says how often each key was
requested.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from arena.judges import Judge
from arena.judging import load_field, plan_battles
from xraybench.callstore import CallStore
from xraybench.testing.openai_server import OpenAIServer

TASK = "demo_findings"
JUDGE = "openai/tiny-test-model"
CONCURRENCY = 4
MAKERS = {
    "perfect": lambda ref, sid: ref,
    "fair": lambda ref, sid: f"{ref.split('.')[0]}. Otherwise unremarkable examination {sid}.",
    "bad": lambda ref, sid: f"Limited portable view obtained {sid}.",
    "odd": lambda ref, sid: f"Technically limited study {sid}; see the prior report.",
}


def slow_verdict(body: dict[str, Any]) -> str:
    time.sleep(0.1)
    return '```json\n{"errors_a": [], "errors_b": [], "verdict": "A>B"}\n```'


@pytest.fixture()
def specs(tmp_path: Path) -> list[str]:
    from xraybench.taskdata import load_task

    out = []
    for name, make in MAKERS.items():
        path = tmp_path / f"{name}.jsonl"
        rows = (json.dumps({"id": s.id, "prediction": make(s.reference, s.id)}) for s in load_task(TASK).samples)
        path.write_text("".join(r + "\n" for r in rows))
        out.append(f"{name}={path}")
    return out


def key_of_prompt(specs: list[str], cli_judge: Judge) -> dict[str, str]:
    """The planned judgments' keys by their user message (unique here: the reports name their study)."""
    battles = [b for b in plan_battles(load_field(TASK, predictions=specs), cli_judge) if not b.identical]
    by_prompt = {b.prompt.messages[1]["content"]: b.key for b in battles}
    assert len(by_prompt) == len({b.key for b in battles})
    return by_prompt


def start(server: OpenAIServer, store: Path, specs: list[str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "xraybench", "arena", "judge", "--name", "r", "--store", str(store), "--task", TASK,
           "--judge", JUDGE, "--api-base", server.base_url, "--max-concurrency", str(CONCURRENCY), "--json",
           "--predictions", *specs]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def n_ok(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def requested(server: OpenAIServer, keys: dict[str, str]) -> Counter[str]:
    # a request whose body the kill cut short is not JSON: the server answered it 400, nothing was paid
    return Counter(keys[r.body["messages"][1]["content"]] for r in server.chat_requests() if isinstance(r.body, dict))


def test_kill_9_mid_run_then_rerun_loses_nothing_and_pays_nothing_twice(
    litellm_ready: None,
    specs: list[str],
    tmp_path: Path,
    cli_judge: Judge,
) -> None:
    keys = key_of_prompt(specs, cli_judge)
    store = tmp_path / "j.sqlite"
    with OpenAIServer(reply_fn=slow_verdict) as server:
        proc = start(server, store, specs)
        deadline = time.time() + 120
        while n_ok(store) < 30 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = requested(server, keys)
        with CallStore(store) as opened:
            done_at_kill = set(keys.values()) - set(opened.pending(keys.values()))
        in_flight = set(before) - done_at_kill  # asked, but the answer never reached the store
        # requests in flight plus answers waiting for their group commit (a worker sends its next request while
        # its last answer is written): the key of each stays leased until written, and at most 2 x concurrency are
        assert 30 <= len(done_at_kill) < len(keys) and len(in_flight) <= 2 * CONCURRENCY

        rerun = start(server, store, specs)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        report = json.loads(out)
        assert report["n_claimed_elsewhere"] == 0 and report["n_failed"] == 0
        assert report["n_done_before"] == len(done_at_kill)
        # the killed run's leases are taken back at once (its pid is gone), not after they expire; the runner
        # leases keys in chunks, at most two pools' worth ahead of the finished calls
        assert len(in_flight) <= report["n_leases_recovered"] <= 2 * CONCURRENCY
        counts = requested(server, keys)

    with CallStore(store) as opened:
        assert opened.pending(keys.values()) == []  # all done
        assert opened.totals().n_ok == len(keys) and opened.totals().n_claimed == 0
    assert set(counts) == set(keys.values())
    assert all(counts[k] == 1 for k in done_at_kill)  # no stored judgment was requested again
    assert all(counts[k] == 1 for k in set(keys.values()) - in_flight)
    assert all(counts[k] <= 2 for k in in_flight)  # only an answer lost in flight is asked once more


def test_two_judge_processes_on_one_store_request_each_key_once(
    litellm_ready: None,
    specs: list[str],
    tmp_path: Path,
    cli_judge: Judge,
) -> None:
    keys = key_of_prompt(specs, cli_judge)
    store = tmp_path / "j.sqlite"
    lock, arrived, both = threading.Lock(), [0], threading.Event()

    def verdict_once_both_run(body: dict[str, Any]) -> str:
        """No answer until more requests arrived than one process may have in flight: the second process has
        started (however slowly it imported on a loaded machine) before the first can finish the work."""
        with lock:
            arrived[0] += 1
            if arrived[0] > CONCURRENCY:
                both.set()
        both.wait(timeout=120)
        return slow_verdict(body)

    with OpenAIServer(reply_fn=verdict_once_both_run) as server:
        procs = [start(server, store, specs) for _ in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        for proc, (_, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
        counts = requested(server, keys)
    reports = [json.loads(out) for out, _ in results]
    assert all(r["n_ok"] > 0 for r in reports)  # they did run side by side and shared the work
    assert set(counts) == set(keys.values()) and set(counts.values()) == {1}  # every key exactly once
    assert sum(r["n_ok"] for r in reports) == len(keys)
    with CallStore(store) as opened:
        assert opened.pending(keys.values()) == [] and opened.totals().n_ok == len(keys)
