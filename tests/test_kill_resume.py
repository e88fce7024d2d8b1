"""A real `xraybench run` subprocess is killed with SIGKILL mid-run and resumed to the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer, default_reply

TASKS = "demo_vqa,demo_impression"


def slow_reply(body: dict[str, Any]) -> str:
    time.sleep(0.03)
    return default_reply(body)


def _run(server: OpenAIServer, out: Path) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "xraybench",
        "run",
        "--model",
        "openai:tiny-test-model",
        "--api-base",
        server.base_url,
        "--tasks",
        TASKS,
        "--out",
        str(out),
        "--max-concurrency",
        "2",
        "--no-progress",
        "--bootstrap-rounds",
        "20",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _n_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_then_rerun_has_no_duplicates_no_gaps_same_results(tmp_path: Path) -> None:
    expected = {(s.task, s.id) for t in TASKS.split(",") for s in load_task(t).samples}
    with OpenAIServer(reply_fn=slow_reply) as server:
        killed = tmp_path / "killed"
        proc = _run(server, killed)
        deadline = time.time() + 120
        while _n_lines(killed / "predictions.jsonl") < 15 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, f"run finished before it could be killed: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = _n_lines(killed / "predictions.jsonl")
        assert 0 < done_before < len(expected)
        requests_before = len(server.chat_requests())

        resumed = _run(server, killed)
        assert resumed.wait(timeout=300) == 0, resumed.communicate()
        requests_resume = len(server.chat_requests()) - requests_before
        # only the unfinished items (plus at most the batches that were in flight) are asked again
        assert requests_resume <= len(expected) - done_before + 2

        fresh = tmp_path / "fresh"
        assert _run(server, fresh).wait(timeout=300) == 0

    rows = [json.loads(x) for x in (killed / "predictions.jsonl").read_text().splitlines()]
    keys = [(r["task"], r["id"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicated ids after resume"
    assert set(keys) == expected, "missing ids after resume"
    a = json.loads((killed / "results.json").read_text())
    b = json.loads((fresh / "results.json").read_text())
    assert a["status"] == b["status"] == "complete"
    for task in TASKS.split(","):
        assert a["tasks"][task]["metrics"] == b["tasks"][task]["metrics"]
