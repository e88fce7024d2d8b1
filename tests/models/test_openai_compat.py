"""openai: adapter against a real local OpenAI-compatible server started by the test (faults included)."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from xraybench.errors import TransientError, XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelContext
from xraybench.models.openai_compat import OpenAIModel
from xraybench.records import Generation, Sample
from xraybench.retry import RetryPolicy, call_with_retries
from xraybench.testing.openai_server import Fault, OpenAIServer, default_reply

PROMPT = "Describe the findings of this chest X-ray."


def make_model(
    server: OpenAIServer, image_size: int | None = None, timeout_s: float = 120.0, **options: object
) -> OpenAIModel:
    context, decoding = ModelContext(image_size=image_size), GenerateConfig(timeout_s=timeout_s)
    return OpenAIModel("tiny-test-model", {"api_base": server.base_url, **options}, context, decoding)


def call(model: OpenAIModel, sample: Sample, waits: list[float]) -> Generation:
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=60.0)
    return call_with_retries(lambda: model.generate([sample], [PROMPT])[0], policy, sleep=waits.append)


def test_success_records_text_usage_and_finish_reason(server: OpenAIServer, sample: Sample) -> None:
    model = make_model(server)
    assert model.batch_size == 1 and model.concurrency == 8
    gen = model.generate([sample], [PROMPT])[0]
    body = server.chat_requests()[0].body
    assert gen.text == default_reply(body)
    assert gen.finish_reason == "stop"
    assert gen.completion_tokens == len(gen.text.split())
    assert isinstance(gen.prompt_tokens, int) and gen.prompt_tokens > 0
    assert gen.latency_s > 0
    assert body["model"] == "tiny-test-model"
    assert body["temperature"] == 0.0 and body["max_tokens"] == 512 and "seed" not in body


def test_images_are_sent_as_data_urls(server: OpenAIServer, sample: Sample) -> None:
    make_model(server).generate([sample], [PROMPT])
    content = server.chat_requests()[0].body["messages"][-1]["content"]
    assert content[-1] == {"type": "text", "text": PROMPT}
    url = content[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (40, 30)


def test_images_are_resized_when_asked(server: OpenAIServer, sample: Sample) -> None:
    make_model(server, image_size=16).generate([sample], [PROMPT])
    url = server.chat_requests()[0].body["messages"][-1]["content"][0]["image_url"]["url"]
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (16, 16)


def test_rate_limit_retry_after_is_honoured(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault.rate_limit(retry_after=3)]
    waits: list[float] = []
    gen = call(make_model(server), sample, waits)
    assert gen.text
    assert len(server.chat_requests()) == 2
    assert len(waits) == 1 and waits[0] >= 3.0


def test_rate_limit_error_carries_retry_after(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault.rate_limit(retry_after=2.5)]
    with pytest.raises(TransientError, match="429") as info:
        make_model(server).generate([sample], [PROMPT])
    assert info.value.retry_after == 2.5


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_then_success(server: OpenAIServer, sample: Sample, status: int) -> None:
    server.fault_plan[:] = [Fault.server_error(status)]
    waits: list[float] = []
    assert call(make_model(server), sample, waits).text
    assert [r.fault for r in server.chat_requests()] == ["server_error", "ok"]
    assert len(waits) == 1


def test_timeout_then_success(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault.timeout(delay_s=3.0)]
    waits: list[float] = []
    start = time.perf_counter()
    gen = call(make_model(server, timeout_s=0.3), sample, waits)
    assert gen.text and gen.finish_reason == "stop"
    assert len(waits) == 1
    assert time.perf_counter() - start < 2.5  # the client gave up on the slow answer


def test_bad_request_is_not_retried(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault("context_length")]
    waits: list[float] = []
    with pytest.raises(XrayBenchError, match="maximum context length") as info:
        call(make_model(server), sample, waits)
    assert not isinstance(info.value, TransientError)
    assert len(server.chat_requests()) == 1 and waits == []


def test_truncated_answer_reports_length(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault("length", max_words=2)]
    gen = make_model(server).generate([sample], [PROMPT])[0]
    assert gen.finish_reason == "length"
    assert len(gen.text.split()) == 2


def test_malformed_json_is_transient(server: OpenAIServer, sample: Sample) -> None:
    server.fault_plan[:] = [Fault("malformed")]
    waits: list[float] = []
    assert call(make_model(server), sample, waits).text
    assert len(server.chat_requests()) == 2


def test_connection_refused_is_transient(sample: Sample) -> None:
    with OpenAIServer() as srv:
        base = srv.base_url
    model = OpenAIModel("m", {"api_base": base}, ModelContext(), GenerateConfig(timeout_s=2))
    with pytest.raises(TransientError, match="connection failed"):
        model.generate([sample], [PROMPT])


def test_sampling_sends_seed_and_decoding(server: OpenAIServer, sample: Sample) -> None:
    decoding = GenerateConfig(temperature=0.7, top_p=0.9, max_tokens=64, seed=11)
    OpenAIModel("m", {"api_base": server.base_url}, ModelContext(), decoding).generate([sample], [PROMPT])
    body = server.chat_requests()[0].body
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.7, 0.9, 64, 11)


def test_api_key_is_sent_and_required_for_remote_bases(
    server: OpenAIServer, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    make_model(server, api_key_env="MY_KEY").generate([sample], [PROMPT])
    assert server.chat_requests()[0].headers["authorization"] == "Bearer sk-test"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(XrayBenchError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-4o-mini", {}, ModelContext())
    with pytest.raises(XrayBenchError, match="MISSING_KEY"):
        make_model(server, api_key_env="MISSING_KEY")


def test_missing_image_names_sample_and_path(server: OpenAIServer, sample: Sample, tmp_path: Path) -> None:
    missing = Sample(**{**sample.to_json(), "image_paths": [str(tmp_path / "nope.png")]})
    with pytest.raises(XrayBenchError, match=r"sample s1: image not found: .*nope\.png"):
        make_model(server).generate([missing], [PROMPT])
    assert server.chat_requests() == []


def test_server_records_requests_and_lists_models(server: OpenAIServer) -> None:
    import httpx

    response = httpx.get(f"{server.base_url}/models")
    assert response.json()["data"][0]["id"] == "tiny-test-model"
    assert server.requests[0].method == "GET"
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("explode")
