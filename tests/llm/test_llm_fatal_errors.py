"""Errors no retry can fix stop every LLM call at once (issue 16, "Two LLM call stacks"):

- a wrong key (401), no permission (403), an unknown model (404) and a missing key are fatal after ONE request:
  no retry, no second call, nothing recorded in the store, one clear message, exit code 1;
- a judge whose every call fails for a retryable reason stops after `ABORT_AFTER_FAILURES` calls in a row instead
  of marking every planned judgment failed;
- a provider's separate `reasoning_content` reaches judges and teachers as `<think>…</think>` in front of the answer.

Real HTTP against the local fault server; litellm's missing-key path runs offline (no key set: litellm refuses
before any network).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import TransientError, XrayBenchError
from xraybench.llm.calls import CallRunner, LLMCall
from xraybench.llm.client import LLMClient
from xraybench.retry import ABORT_AFTER_FAILURES, FatalError, RetryPolicy
from xraybench.testing.openai_server import Fault, OpenAIServer

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.usefixtures("litellm_ready"),
]
MODEL = "openai/tiny-test-model"
TASK = "demo_findings"
N_CALLS = 24
KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_BASE_URL", "OPENAI_API_BASE")


@pytest.fixture()
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


def calls(n: int = N_CALLS) -> list[LLMCall]:
    out = []
    for i in range(n):
        messages = [{"role": "user", "content": f"Compare report {i}."}]
        identity = {"kind": "test", "i": i}
        out.append(LLMCall(CallStore.key_of(**identity), identity, messages, parse=lambda text: text or None))
    return out


def rows(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT count(*) FROM calls").fetchone()[0]


FATAL_FAULTS = [
    (Fault.auth(), "Incorrect API key provided"),
    (Fault.model_not_found(), "does not exist"),
    (Fault.server_error(403), "server had an error"),  # litellm names it APIError, the direct path PermissionDenied
    (Fault("context_length"), "maximum context length"),
]


@pytest.mark.parametrize(("fault", "text"), FATAL_FAULTS, ids=[f[0].kind + str(f[0].status) for f in FATAL_FAULTS])
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_a_fatal_error_stops_the_runner_after_one_request(
    fault: Fault, text: str, direct: bool, tmp_path: Path
) -> None:
    store_path = tmp_path / "calls.sqlite"
    with OpenAIServer(fault_plan=[fault] * 200) as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=5.0)
        client.direct = direct
        runner = CallRunner(client, CallStore(store_path), max_concurrency=8, sleep=lambda s: None)
        with pytest.raises(FatalError, match=text) as caught:
            runner.run(calls())
        assert len(server.chat_requests()) == 1  # before: 8 in flight at once, each retried 6 times
        client.close()
    assert "not retried" in str(caught.value) and "tiny-test-model" in str(caught.value)
    assert rows(store_path) == 0  # nothing recorded: every key is pending for the rerun once it is fixed
    assert runner.report.n_failed == 0 and runner.report.n_requests == 1


@pytest.mark.parametrize(
    ("model", "text"),
    [
        ("openai/gpt-4o-mini", "Missing credentials"),  # litellm reports this one as a 500 InternalServerError
        ("anthropic/claude-3-5-haiku-20241022", "Missing Anthropic API Key"),
    ],
)
def test_a_missing_key_through_litellm_is_fatal_at_once(model: str, text: str, no_keys: None, tmp_path: Path) -> None:
    client = LLMClient(model, timeout_s=30.0)
    assert not client.direct
    runner = CallRunner(client, CallStore(tmp_path / "calls.sqlite"), max_concurrency=8, sleep=lambda s: None)
    with pytest.raises(FatalError, match=text):
        runner.run(calls())
    assert runner.report.n_requests == 1 and runner.report.n_failed == 0
    assert rows(tmp_path / "calls.sqlite") == 0


def test_retryable_failures_in_a_row_stop_the_runner(tmp_path: Path) -> None:
    """A server that answers 500 to everything: the judge stops with the error, it does not mark all calls failed."""
    store_path = tmp_path / "calls.sqlite"
    with OpenAIServer(fault_plan=[Fault.server_error(500)] * 500) as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=5.0)
        policy = RetryPolicy(max_attempts=2, base_delay_s=0.0)
        runner = CallRunner(client, CallStore(store_path), max_concurrency=2, policy=policy, sleep=lambda s: None)
        with pytest.raises(XrayBenchError, match=rf"stopping: the last {ABORT_AFTER_FAILURES} calls all failed") as e:
            runner.run(calls())
        client.close()
        n_requests = len(server.chat_requests())
    assert not isinstance(e.value, TransientError) and "server had an error" in str(e.value)
    failed = runner.report.n_failed
    assert ABORT_AFTER_FAILURES <= failed <= ABORT_AFTER_FAILURES + 2  # those in flight when it stopped
    assert n_requests == 2 * failed  # each failed call was retried once, none started after the stop
    assert rows(store_path) == failed < N_CALLS  # the rest were never asked (pending for the rerun)


def test_one_good_answer_resets_the_failure_count(tmp_path: Path) -> None:
    plan = ([Fault.server_error(500)] * (ABORT_AFTER_FAILURES - 1) + [Fault("ok")]) * 3
    with OpenAIServer(fault_plan=plan) as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=5.0)
        runner = CallRunner(
            client, CallStore(tmp_path / "c.sqlite"), max_concurrency=1, policy=RetryPolicy(max_attempts=1)
        )
        report = runner.run(calls(3 * ABORT_AFTER_FAILURES))
        client.close()
    assert report.n_ok == 3 and report.n_failed == 3 * (ABORT_AFTER_FAILURES - 1)


# -- the adapters of `xraybench run` sort errors by the same classification ------------------------------------


def a_sample(tmp_path: Path) -> Any:
    from PIL import Image

    from xraybench.records import Sample

    path = tmp_path / "cxr.png"
    Image.new("L", (40, 30), color=90).save(path)
    return Sample(id="s1", task="demo", dataset="demo", split="test", prompt="Findings?", reference="x",
                  image_paths=[str(path)])  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "text"), [(Fault.auth(), "Incorrect API key"), (Fault.model_not_found(), "does not exist")]
)
def test_the_openai_adapter_raises_fatal_errors_for_a_wrong_key_or_model(
    fault: Fault, text: str, tmp_path: Path
) -> None:
    from xraybench.models.base import ModelContext
    from xraybench.models.openai_compat import OpenAIModel
    from xraybench.retry import call_with_retries

    with OpenAIServer(fault_plan=[fault] * 10) as server:
        model = OpenAIModel("tiny-test-model", {"api_base": server.base_url}, ModelContext())
        sample = a_sample(tmp_path)
        with pytest.raises(FatalError, match=text):
            call_with_retries(lambda: model.generate([sample], ["Findings?"]), sleep=lambda s: None)
        assert len(server.chat_requests()) == 1
        model.close()


def test_the_litellm_adapter_raises_a_fatal_error_without_a_key(no_keys: None, tmp_path: Path) -> None:
    from xraybench.generate import GenerateConfig
    from xraybench.models.base import ModelContext
    from xraybench.models.litellm_model import LiteLLMModel

    model = LiteLLMModel("anthropic/claude-3-5-haiku-20241022", {}, ModelContext(), GenerateConfig(timeout_s=30))
    with pytest.raises(FatalError, match="Missing Anthropic API Key"):
        model.generate([a_sample(tmp_path)], ["Findings?"])


# -- the CLI: `xraybench arena judge` with no key, a wrong key, an unknown model ---------------------------------


def prediction_specs(tmp_path: Path) -> list[str]:
    from xraybench.taskdata import load_task

    samples = load_task(TASK).samples
    makers = {"ref": lambda s: s.reference, "short": lambda s: "Clear lungs.", "other": lambda s: "Cardiomegaly."}
    specs = []
    for name, make in makers.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s)}) + "\n" for s in samples))
        specs.append(f"{name}={path}")
    return specs


def test_arena_judge_without_a_key_exits_at_once_with_one_message(
    needs_litellm: None, no_keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 408 requests and 68 identical "Missing credentials" lines over 2 min 19 s on this demo."""
    store = tmp_path / "judgments.sqlite"
    argv = ["arena", "judge", "--name", "x", "--store", str(store), "--task", TASK, "--judge", "openai/gpt-4o-mini",
            "--predictions", *prediction_specs(tmp_path)]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("Missing credentials") == 1 and "error:" in err and "not retried" in err
    assert not store.exists() or rows(store) == 0


@pytest.mark.parametrize(
    ("fault", "text"), [(Fault.auth(), "Incorrect API key"), (Fault.model_not_found(), "does not exist")]
)
def test_arena_judge_with_a_wrong_key_or_model_sends_one_request(
    fault: Fault, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "judgments.sqlite"
    with OpenAIServer(fault_plan=[fault] * 500) as server:
        argv = ["arena", "judge", "--name", "x", "--store", str(store), "--task", TASK, "--judge", MODEL,
                "--api-base", server.base_url, "--max-concurrency", "8", "--predictions", *prediction_specs(tmp_path)]  # fmt: skip
        assert main(argv) == 1
        assert len(server.chat_requests()) == 1
    err = capsys.readouterr().err
    assert err.count(text) == 1 and "error:" in err
    assert rows(store) == 0


# -- reasoning_content reaches judges and teachers -------------------------------------------------------------


def reasoning_body(content: str, reasoning: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-r",
        "object": "chat.completion",
        "model": "tiny-test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "reasoning_content": reasoning},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_reasoning_content_is_put_back_in_front_for_judges_and_teachers(direct: bool) -> None:
    """A teacher behind a reasoning provider used to lose its <think> block: `train synthesize` then rejected
    every answer on format."""
    body = reasoning_body("<answer>No acute findings.</answer>", "The lungs are clear; no effusion.")
    with OpenAIServer(fault_plan=[Fault.odd(body)]) as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=5.0)
        client.direct = direct
        answer = client.complete([{"role": "user", "content": "Findings?"}])
        client.close()
    assert answer.text == "<think>The lungs are clear; no effusion.</think><answer>No acute findings.</answer>"
