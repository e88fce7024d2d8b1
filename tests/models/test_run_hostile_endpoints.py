"""`xraybench run` with the openai: adapter against an endpoint that answers strangely (real HTTP, the fault
server): every unusable answer is a line in failures.jsonl with its reason, never a crash; the other answers
are kept; `--timeout-s` is a deadline per request; an answer over the size cap is refused, not stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xraybench.errors import TransientError, XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelContext
from xraybench.models.openai_compat import OpenAIModel
from xraybench.records import Sample
from xraybench.runner import FAILURES_FILE, PREDICTIONS_FILE, RunConfig, run
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import ODD_BODIES, USABLE_ODD_BODIES, Fault, OpenAIServer

PROMPT = "Describe the findings of this chest X-ray."
N_ITEMS = len(load_task("demo_vqa").samples)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _config(out: Path, base_url: str, **kw: object) -> RunConfig:
    values = {
        "model": "openai:m", "tasks": ["demo_vqa"], "out": str(out), "api_base": base_url, "max_concurrency": 1,
        "max_attempts": 1, "bootstrap_rounds": 0, "progress": False,
    }  # fmt: skip
    return RunConfig(**{**values, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(ODD_BODIES))
def test_adapter_refuses_each_odd_body_with_its_reason(server: OpenAIServer, sample: Sample, name: str) -> None:
    server.fault_plan[:] = [Fault.odd(ODD_BODIES[name])]
    model = OpenAIModel("m", {"api_base": server.base_url}, ModelContext())
    with pytest.raises(TransientError, match="no usable chat completion") as info:
        model.generate([sample], [PROMPT])
    assert "sample s1" in str(info.value) and len(str(info.value)) < 1000
    assert model.generate([sample], [PROMPT])[0].text


@pytest.mark.parametrize("name", sorted(USABLE_ODD_BODIES))
def test_adapter_joins_content_parts_and_ignores_odd_usage(server: OpenAIServer, sample: Sample, name: str) -> None:
    body, text = USABLE_ODD_BODIES[name]
    server.fault_plan[:] = [Fault.odd(body)]
    gen = OpenAIModel("m", {"api_base": server.base_url}, ModelContext()).generate([sample], [PROMPT])[0]
    assert gen.text == text and gen.finish_reason == "stop"
    if name.startswith("usage"):
        assert gen.prompt_tokens is None and gen.completion_tokens is None  # unknown, not a made-up 0


def test_run_lists_odd_answers_in_failures_and_keeps_every_other(tmp_path: Path) -> None:
    odd = [Fault.odd(body) for body in ODD_BODIES.values()]
    plan = [fault for pair in zip(odd, [Fault("ok")] * len(odd), strict=True) for fault in pair]  # never 5 in a row
    with OpenAIServer(fault_plan=list(plan)) as server:
        results = run(_config(tmp_path / "run", server.base_url))
        failures = _lines(tmp_path / "run" / FAILURES_FILE)
        assert len(failures) == len(odd)
        reasons = " | ".join(f["error"] for f in failures)
        for needle in ("'choices' is an object", "message is a string", "finish_reason is a list", "nested too deeply"):
            assert needle in reasons
        assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == N_ITEMS - len(odd)
        assert results["tasks"]["demo_vqa"]["n_failed"] == len(odd)
        run(_config(tmp_path / "run", server.base_url))  # the rerun asks only the failed items again
    predictions = _lines(tmp_path / "run" / PREDICTIONS_FILE)
    assert sorted(p["id"] for p in predictions) == sorted(s.id for s in load_task("demo_vqa").samples)


def test_run_with_concurrency_keeps_answers_in_flight(tmp_path: Path) -> None:
    plan = [Fault.odd(body) for body in ODD_BODIES.values()][:4]
    with OpenAIServer(fault_plan=list(plan)) as server:
        run(_config(tmp_path / "run", server.base_url, max_concurrency=8))
    assert len(_lines(tmp_path / "run" / FAILURES_FILE)) == len(plan)
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == N_ITEMS - len(plan)


def test_timeout_is_a_deadline_per_request(server: OpenAIServer, sample: Sample) -> None:
    """One byte every 0.5 s: a per-read timeout of 2 s never fires, the deadline does (the drip lasts minutes)."""
    server.fault_plan[:] = [Fault.drip(0.5)]
    model = OpenAIModel("m", {"api_base": server.base_url}, ModelContext(), GenerateConfig(timeout_s=2.0))
    start = time.monotonic()
    with pytest.raises(TransientError, match="within 2s.*deadline for the whole request"):
        model.generate([sample], [PROMPT])
    assert time.monotonic() - start < 15
    assert model.generate([sample], [PROMPT])[0].text


def test_answer_over_the_cap_is_a_failure_and_is_not_stored(tmp_path: Path) -> None:
    with OpenAIServer(fault_plan=[Fault.huge(40 << 20), Fault.huge(40 << 20, declare_length=False)]) as server:
        run(_config(tmp_path / "run", server.base_url, max_answer_bytes=1 << 20))
    failures = _lines(tmp_path / "run" / FAILURES_FILE)
    assert len(failures) == 2 and all("over the 1048576-byte cap" in f["error"] for f in failures)
    assert (tmp_path / "run" / PREDICTIONS_FILE).stat().st_size < 1 << 20  # nothing huge written
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == N_ITEMS - 2


def test_cap_from_the_generate_config_is_checked(server: OpenAIServer) -> None:
    with pytest.raises(XrayBenchError, match="--max-answer-bytes must be a positive integer, got 'big'"):
        OpenAIModel("m", {"api_base": server.base_url}, ModelContext(), GenerateConfig(max_answer_bytes="big"))


def test_cli_run_survives_odd_answers_and_a_drip(tmp_path: Path) -> None:
    """The reported crash, end to end: `xraybench run` in a subprocess against odd answers and a slow drip with
    `--timeout-s 2 --max-attempts 1` finishes within a bounded time, printing no traceback: exit 3 (an
    incomplete run) with the failed items listed and every other item kept."""
    plan = [Fault.odd(ODD_BODIES["choices_dict"]), Fault("ok"), Fault.odd(ODD_BODIES["deeply_nested"]),
            Fault("ok"), Fault.drip(1.0), Fault("ok"), Fault.odd(ODD_BODIES["finish_reason_list"])]  # fmt: skip
    with OpenAIServer(fault_plan=plan) as server:
        cmd = [sys.executable, "-m", "xraybench", "run", "--model", "openai:m", "--tasks", "demo_vqa",
               "--out", str(tmp_path / "run"), "--api-base", server.base_url, "--timeout-s", "2",
               "--max-attempts", "1", "--max-concurrency", "1", "--bootstrap-rounds", "0", "--no-progress"]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": "sk-local"}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert done.returncode == 3 and "rerun the same command" in done.stdout, done.stderr[-3000:]
    failures = _lines(tmp_path / "run" / FAILURES_FILE)
    assert len(failures) == 4 and any("deadline" in f["error"] for f in failures)
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == N_ITEMS - 4


def test_an_unforeseen_adapter_error_fails_its_item_and_keeps_the_answers_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that raises something other than an XrayBenchError (here, in building one sample's request) used
    to end the run with a traceback and drop the answers of the other calls in flight."""
    unlucky = load_task("demo_vqa").samples[3].id
    original = OpenAIModel.payload

    def payload(self: OpenAIModel, sample: Sample, prompt: str) -> dict:
        if sample.id == unlucky:
            raise RuntimeError("adapter bug")
        return original(self, sample, prompt)

    monkeypatch.setattr(OpenAIModel, "payload", payload)
    with OpenAIServer() as server:
        results = run(_config(tmp_path / "run", server.base_url, max_concurrency=8))
    failures = _lines(tmp_path / "run" / FAILURES_FILE)
    assert [(f["id"], f["error"]) for f in failures] == [(unlucky, "RuntimeError: adapter bug")]
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == N_ITEMS - 1
    assert results["status"] == "incomplete"


def test_reasoning_content_is_put_back_in_front(server: OpenAIServer, sample: Sample) -> None:
    """vLLM with a reasoning parser moves `<think>…</think>` into `reasoning_content`: both API adapters give the
    output as the model wrote it, so the parser and rewards see the reasoning."""
    message = {"content": "\\boxed{effusion}", "reasoning_content": "fluid at [1, 2, 3, 4]"}
    server.fault_plan[:] = [Fault.odd({"choices": [{"message": message, "finish_reason": "stop"}]})]
    gen = OpenAIModel("m", {"api_base": server.base_url}, ModelContext()).generate([sample], [PROMPT])[0]
    assert gen.text == "<think>fluid at [1, 2, 3, 4]</think>\\boxed{effusion}"
