"""A stage killed with SIGKILL after its first checkpoint resumes from it (global step continues) and finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CONFIGS, TinyPipeline, train_cli

from medix_train.checkpoints import DONE_FILE, STATE_FILE, checkpoints
from medix_train.train import METRICS_FILE

STEPS = 12
OVERRIDES = ("--max-steps", str(STEPS), "--save-steps", "1", "--save-total-limit", "2")


def _start(tiny_pipeline: TinyPipeline, out: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "medix_train", "sft", "--config", str(CONFIGS / "sft.yaml"),
            "--model", str(tiny_pipeline.tiny), "--data", str(tiny_pipeline.sft), "--output-dir", str(out), *OVERRIDES]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))


def _wait_for_checkpoint(proc: subprocess.Popen[bytes], out: Path, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not list(out.glob(f"checkpoint-*/{STATE_FILE}")):
        assert proc.poll() is None, f"the training process ended (rc {proc.returncode}) before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.05)


def _loss_steps(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    return [row["step"] for row in rows if "loss" in row]


def test_sigkill_then_rerun_resumes_from_the_last_checkpoint(tiny_pipeline: TinyPipeline, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    proc = _start(tiny_pipeline, out)
    try:
        _wait_for_checkpoint(proc, out)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / DONE_FILE).exists(), "the stage finished before the kill; the test needs more steps"
    last = checkpoints(out)[-1]
    resumed_at = int(last.name.split("-")[1])
    assert 1 <= resumed_at < STEPS

    assert train_cli("sft", model=tiny_pipeline.tiny, data=tiny_pipeline.sft, out=out, extra=OVERRIDES) == 0
    marker = json.loads((out / DONE_FILE).read_text())
    assert marker["resumed_from"] == last.name
    assert marker["global_step"] == STEPS
    # the rerun logged only the steps after the checkpoint: the global step continued from it
    assert _loss_steps(out)[-(STEPS - resumed_at) :] == list(range(resumed_at + 1, STEPS + 1))
    state = json.loads((checkpoints(out)[-1] / STATE_FILE).read_text())
    assert state["global_step"] == STEPS
    assert [row["step"] for row in state["log_history"] if "loss" in row] == list(range(1, STEPS + 1))


def test_force_retrains_from_scratch(tiny_pipeline: TinyPipeline, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    extra = ("--max-steps", "2", "--save-steps", "1")
    assert train_cli("sft", model=tiny_pipeline.tiny, data=tiny_pipeline.sft, out=out, extra=extra) == 0
    assert train_cli("sft", model=tiny_pipeline.tiny, data=tiny_pipeline.sft, out=out, extra=(*extra, "--force")) == 0
    marker = json.loads((out / DONE_FILE).read_text())
    assert marker["resumed_from"] is None and marker["global_step"] == 2
    assert _loss_steps(out) == [1, 2, 1, 2]
