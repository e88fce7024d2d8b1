"""litellm: adapter against the local OpenAI-compatible server (openai/ provider prefix, --api-base)."""

from __future__ import annotations

from typing import Any

import pytest

from xraybench.errors import MissingExtraError, TransientError, XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelContext
from xraybench.records import Sample
from xraybench.retry import RetryPolicy, call_with_retries
from xraybench.testing.openai_server import Fault, OpenAIServer, default_reply

PROMPT = "Is there a pleural effusion?"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic chatter while litellm imports


@pytest.fixture(scope="module")
def litellm_model_class() -> type:
    from xraybench.models.litellm_model import LiteLLMModel, import_litellm

    try:
        import_litellm()  # sets LITELLM_LOCAL_MODEL_COST_MAP first: no network look-up at import
    except MissingExtraError:
        pytest.skip("litellm (the 'judge' extra) is not installed")

    return LiteLLMModel


@pytest.fixture()
def model(litellm_model_class: type, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XRAYBENCH_TEST_KEY", "sk-local")
    options = {"api_base": server.base_url, "api_key_env": "XRAYBENCH_TEST_KEY"}
    return litellm_model_class("openai/tiny-test-model", options, ModelContext(), GenerateConfig(timeout_s=2.0))


def test_success_through_the_local_server(model: Any, server: OpenAIServer, sample: Sample) -> None:
    gen = model.generate([sample], [PROMPT])[0]
    body = server.chat_requests()[0].body
    assert body["model"] == "tiny-test-model"
    assert gen.text == default_reply(body)
    assert gen.finish_reason == "stop" and gen.completion_tokens == len(gen.text.split())
    assert body["messages"][-1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert server.chat_requests()[0].headers["authorization"] == "Bearer sk-local"


def test_rate_limit_is_transient_and_not_retried_inside_litellm(
    model: Any, server: OpenAIServer, sample: Sample
) -> None:
    server.fault_plan[:] = [Fault.rate_limit(retry_after=4)]
    with pytest.raises(TransientError) as info:
        model.generate([sample], [PROMPT])
    assert len(server.chat_requests()) == 1
    assert info.value.retry_after == 4.0
    waits: list[float] = []
    server.fault_plan[:] = [Fault.server_error(503)]
    policy = RetryPolicy(base_delay_s=0.01)
    assert call_with_retries(lambda: model.generate([sample], [PROMPT]), policy, sleep=waits.append)[0].text
    assert len(waits) == 1


def test_timeout_is_transient(model: Any, server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault.timeout(delay_s=5.0)]
    model.options.timeout_s = 0.5
    with pytest.raises(TransientError):
        model.generate([sample], [PROMPT])
    assert len(server.chat_requests()) == 1


def test_context_length_is_not_transient(model: Any, server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault("context_length")]
    with pytest.raises(XrayBenchError, match="maximum context length") as info:
        model.generate([sample], [PROMPT])
    assert not isinstance(info.value, TransientError)


def test_bad_spec_is_a_clear_error(litellm_model_class: type) -> None:
    with pytest.raises(XrayBenchError, match="PROVIDER/MODEL"):
        litellm_model_class("gpt-4o", {}, ModelContext())


def test_missing_litellm_names_the_judge_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from xraybench.models.litellm_model import LiteLLMModel

    monkeypatch.setitem(sys.modules, "litellm", None)  # makes `import litellm` fail
    with pytest.raises(MissingExtraError, match=r"xraybench\[judge\]"):
        LiteLLMModel("openai/x", {}, ModelContext())


def test_a_leading_think_block_survives_litellm(
    litellm_model_class: type, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    """litellm moves `<think>…</think>` into `reasoning_content`; the adapter must give the model's whole text."""
    text = "<think>The right costophrenic angle is blunted [10, 300, 120, 420].</think> \\boxed{yes}"
    monkeypatch.setenv("XRAYBENCH_TEST_KEY", "sk-local")
    with OpenAIServer(reply_fn=lambda body: text) as server:
        options = {"api_base": server.base_url, "api_key_env": "XRAYBENCH_TEST_KEY"}
        model = litellm_model_class("openai/tiny-test-model", options, ModelContext(), GenerateConfig(timeout_s=2.0))
        gen = model.generate([sample], [PROMPT])[0]
    assert gen.text.replace(" ", "") == text.replace(" ", "")
    assert gen.text.startswith("<think>") and "[10, 300, 120, 420]" in gen.text and gen.text.endswith("\\boxed{yes}")


@pytest.mark.parametrize("name", ["choices_dict", "message_string", "finish_reason_list", "deeply_nested"])
def test_odd_answers_are_failures_with_a_reason(model: Any, server: OpenAIServer, sample: Sample, name: str) -> None:
    from xraybench.testing.openai_server import ODD_BODIES

    model.generate([sample], [PROMPT])  # litellm's first call in a process sets up its SDKs
    server.fault_plan[:] = [Fault.odd(ODD_BODIES[name])]
    with pytest.raises(TransientError) as info:
        model.generate([sample], [PROMPT])
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 1000
    assert model.generate([sample], [PROMPT])[0].text


def test_deadline_and_answer_cap(
    litellm_model_class: type, server: OpenAIServer, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from xraybench.llm.completion import AnswerTooLarge

    monkeypatch.setenv("XRAYBENCH_TEST_KEY", "sk-local")
    options = {"api_base": server.base_url, "api_key_env": "XRAYBENCH_TEST_KEY"}
    decoding = GenerateConfig(timeout_s=2.0, max_answer_bytes=1 << 20)
    model = litellm_model_class("openai/tiny-test-model", options, ModelContext(), decoding)
    model.generate([sample], [PROMPT])  # warm: the first call's deadline has a grace for litellm's set-up
    server.fault_plan[:] = [Fault.drip(0.4), Fault.huge(3 << 20)]
    start = time.monotonic()
    with pytest.raises(TransientError, match="deadline for the whole request"):
        model.generate([sample], [PROMPT])
    assert time.monotonic() - start < 15  # the drip lasts minutes
    with pytest.raises(AnswerTooLarge, match="1048576-byte cap"):
        model.generate([sample], [PROMPT])
