"""`LLMClient`: the direct HTTP path for OpenAI-compatible servers answers and fails exactly like litellm."""

from __future__ import annotations

from typing import Any

import pytest

from xraybench.errors import TransientError, XrayBenchError
from xraybench.llm.client import LLMAnswer, LLMClient
from xraybench.retry import FatalError
from xraybench.testing.openai_server import Fault, OpenAIServer

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.usefixtures("litellm_ready"),
]  # pydantic chatter while litellm imports
MODEL = "openai/test-model"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is the heart size normal?"}]


def outcome(client: LLMClient) -> tuple[str, Any]:
    """What one request gave: ("answer", fields without latency) or (error class, retry_after)."""
    try:
        answer = client.complete(MESSAGES)
    except TransientError as exc:
        return "transient", (exc.retry_after, str(exc))
    except FatalError as exc:
        return "fatal", (None, str(exc))
    except XrayBenchError as exc:
        return "error", (None, str(exc))
    fields = (answer.text, answer.finish_reason, answer.prompt_tokens, answer.completion_tokens, answer.cost_usd)
    return "answer", fields


FAULTS = [
    (Fault("ok"), "answer", None),
    (Fault("length"), "answer", None),
    (Fault.rate_limit(retry_after=3), "transient", "Rate limit reached"),
    (Fault.rate_limit(), "transient", "Rate limit reached"),
    (Fault.server_error(500), "transient", "server had an error"),
    (Fault.server_error(503), "transient", "server had an error"),
    (Fault("bad_request", message="unsupported parameter: foo"), "error", "unsupported parameter: foo"),
    (Fault("context_length"), "fatal", "maximum context length is 128 tokens"),
    (Fault.server_error(401), "fatal", "AuthenticationError"),
    (Fault.server_error(404), "fatal", "NotFoundError"),
    (Fault.auth(), "fatal", "Incorrect API key provided"),
    (Fault.model_not_found(), "fatal", "does not exist"),
    (Fault.server_error(403), "fatal", "PermissionDeniedError"),
    (Fault.timeout(delay_s=2.0), "transient", "Timeout"),
    (Fault("malformed"), "transient", "InternalServerError"),
]


@pytest.mark.usefixtures("needs_litellm")  # compares with litellm's own mapping
@pytest.mark.parametrize(("fault", "expected", "text"), FAULTS, ids=[f[0].kind + str(f[0].status) for f in FAULTS])
def test_direct_path_maps_like_litellm(fault: Fault, expected: str, text: str | None) -> None:
    results = {}
    for direct in (True, False):
        with OpenAIServer(fault_plan=[fault]) as server:
            client = LLMClient(MODEL, api_base=server.base_url, timeout_s=0.5, price_per_1k_tokens=2.0)
            assert client.direct
            client.direct = direct  # False: the litellm path every other provider takes
            results[direct] = outcome(client)
            client.close()
    (kind_direct, detail_direct), (kind_litellm, detail_litellm) = results[True], results[False]
    assert kind_direct == kind_litellm == expected
    if expected == "answer":
        assert detail_direct == detail_litellm  # same text, finish reason, usage and cost
        assert detail_direct[4] == pytest.approx((detail_direct[2] + detail_direct[3]) * 0.002)
    else:
        assert detail_direct[0] == detail_litellm[0]  # the same Retry-After (or none)
        assert text is not None and text in detail_direct[1] and MODEL in detail_direct[1]
    if fault.kind == "context_length":
        assert "ContextWindowExceededError" in detail_direct[1] and "ContextWindowExceededError" in detail_litellm[1]


def test_direct_request_body_headers_and_connection_reuse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-secret")
    with OpenAIServer() as server:
        client = LLMClient(MODEL, api_base=server.base_url + "/", api_key_env="JUDGE_KEY", temperature=0.3,
                           max_tokens=77)  # fmt: skip
        first, second = client.complete(MESSAGES), client.complete(MESSAGES)
        assert isinstance(first, LLMAnswer) and first.text == second.text and first.latency_s > 0
        requests = server.chat_requests()
        assert requests[0].path == "/v1/chat/completions"
        assert requests[0].body == {"model": "test-model", "messages": MESSAGES, "temperature": 0.3, "max_tokens": 77}
        assert requests[0].headers["authorization"] == "Bearer sk-secret"
        assert len({r.headers.get("connection", "keep-alive") for r in requests}) == 1
        client.close()
        assert client.complete(MESSAGES).text == first.text  # a closed client opens new connections


def test_transport_failure_is_transient() -> None:
    with OpenAIServer() as server:
        base = server.base_url
    client = LLMClient(MODEL, api_base=base, timeout_s=1.0)  # the server is gone: connection refused
    with pytest.raises(TransientError, match="APIConnectionError"):
        client.complete(MESSAGES)


def test_other_providers_and_openai_without_api_base_use_litellm() -> None:
    assert not LLMClient("anthropic/claude-3-5-haiku-20241022").direct
    assert not LLMClient("openai/gpt-4o-mini").direct
    assert LLMClient("openai/gpt-4o-mini", api_base="https://api.openai.com/v1").direct
    priced = LLMClient("openai/gpt-4o-mini", api_base="https://api.openai.com/v1").prices()
    assert priced is not None and priced[0] > 0  # the direct path still prices from litellm's map
    with pytest.raises(XrayBenchError, match="PROVIDER/MODEL"):
        LLMClient("gpt-4o")
    with pytest.raises(XrayBenchError, match="NO_SUCH_VARIABLE"):
        LLMClient(MODEL, api_key_env="NO_SUCH_VARIABLE")


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_direct_path_goes_through_the_environments_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)
    with OpenAIServer() as proxy:  # answers the absolute-form request a plain-HTTP proxy receives
        port = proxy.base_url.split(":")[-1].split("/")[0]
        monkeypatch.setenv("http_proxy", f"http://user:p%40ss@127.0.0.1:{port}")
        client = LLMClient(MODEL, api_base="http://judge.example:8000/v1", timeout_s=5.0)
        assert client.complete(MESSAGES).text
        request = proxy.chat_requests()[0]
        assert request.path == "http://judge.example:8000/v1/chat/completions"
        assert request.headers["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss
        client.close()
    monkeypatch.setenv("no_proxy", "judge.example")
    assert LLMClient(MODEL, api_base="http://judge.example:8000/v1")._proxy is None
    assert LLMClient(MODEL, api_base="http://127.0.0.1:8000/v1")._proxy is None  # local: never proxied
    monkeypatch.setenv("https_proxy", "https://proxy.example:3128")
    with pytest.raises(XrayBenchError, match="only http:// proxies"):
        LLMClient(MODEL, api_base="https://api.example.com/v1")
    with pytest.raises(XrayBenchError, match="expected an http:// or https:// URL"):
        LLMClient(MODEL, api_base="localhost:8000/v1")
