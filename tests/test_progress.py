"""Progress when output is not a terminal (nohup, SLURM, `2> log`): a plain line every N seconds with items
done / total, rate, ETA and failures, and a last line when the step ends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xraybench.progress import INTERVAL_ENV, progress_bar


def test_lines_every_interval_with_counts_rate_eta_and_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0.05")
    with progress_bar(10, "judging") as advance:
        advance(2, failed=1)
        time.sleep(0.2)  # one slow item: the timer still reports
        advance(3)
        time.sleep(0.12)
    lines = capsys.readouterr().err.splitlines()
    ticks = [line for line in lines if line.startswith("[progress] judging: 2/10")]
    assert ticks, lines
    assert re.search(r"2/10 \(20\.0%\) items, [\d.]+ items/s, ETA \S+, elapsed \S+, 1 failed", ticks[0])
    assert re.fullmatch(
        r"\[progress\] judging: finished 5/10 \(50\.0%\) items, [\d.]+ items/s, in \S+, 1 failed", lines[-1]
    )


def test_unknown_total_and_disabled(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "30")
    with progress_bar(None, "stream") as advance:
        advance(4)
    assert capsys.readouterr().err.startswith("[progress] stream: finished 4 items")
    with progress_bar(5, "off", enabled=False) as advance:
        advance(5)
    assert capsys.readouterr().err == ""


def test_a_redirected_run_logs_progress(tmp_path: Path) -> None:
    """`xraybench run ... 2> log` (as under nohup or SLURM) writes progress lines to the log."""
    log = tmp_path / "log.txt"
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks", "demo_vqa",
            "--out", str(tmp_path / "r"), "--bootstrap-rounds", "0"]  # fmt: skip
    with log.open("w") as err:
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err, timeout=300,
                              env={**os.environ, INTERVAL_ENV: "0.01"})  # fmt: skip
    assert proc.returncode == 0
    text = log.read_text()
    assert re.search(r"\[progress\] baseline:normal: finished (\d+)/\1 \(100\.0%\) items, .* 0 failed", text), text


def test_failed_items_are_counted_in_the_log(tmp_path: Path) -> None:
    """A run whose model server refuses connections reports its failures in the progress line."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "openai:m", "--api-base", f"http://127.0.0.1:{port}",
            "--tasks", "demo_vqa", "--limit", "2", "--max-attempts", "1", "--out", str(tmp_path / "r")]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, INTERVAL_ENV: "5"})
    assert proc.returncode == 3
    assert "[progress] m: finished 2/2 (100.0%) items" in proc.stderr and "2 failed" in proc.stderr


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_arena_judge_logs_its_failed_judgments(litellm_ready: None, tmp_path: Path) -> None:
    """A judge whose answers cannot be read: the progress line of the redirected run counts the failures."""
    import json

    from xraybench.taskdata import load_task
    from xraybench.testing.openai_server import OpenAIServer

    specs = []
    for name, make in (("a", lambda s: s.reference), ("b", lambda s: f"Limited view {s.id}.")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": s.id, "prediction": make(s)}) + "\n" for s in load_task("demo_findings").samples)
        )
        specs.append(f"{name}={path}")
    with OpenAIServer(reply_fn=lambda body: "I cannot decide.") as server:
        argv = [sys.executable, "-m", "xraybench", "arena", "judge", "--name", "p", "--store",
                str(tmp_path / "j.sqlite"), "--task", "demo_findings", "--judge", "openai/tiny-test-model",
                "--api-base", server.base_url, "--structured-output", "off", "--studies", "2",
                "--predictions", *specs]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env={**os.environ, INTERVAL_ENV: "30"})
    assert proc.returncode == 1  # failed judgments
    assert re.search(r"\[progress\] LLM calls: finished 4/4 \(100\.0%\) items, .* 4 failed", proc.stderr), proc.stderr
