"""One chat completion against any LLM provider: the client under judges, teachers and metric judges.

`LLMClient.complete(messages)` makes exactly one request and returns the raw answer with its usage, finish
reason, latency and cost. It never retries (litellm's own retries are switched off): the caller wraps it in
`xraybench.retry.call_with_retries` (see `xraybench.llm.calls.CallRunner`), and errors are mapped to
`TransientError` (429, 5xx, timeouts: retry), `FatalError` (authentication, permission, missing credentials,
unknown model, context length: the run stops at once) or `XrayBenchError` (another 4xx: this call fails), by the
one classification in `xraybench.retry`. A provider's separate `reasoning_content` is put back in front of the
answer as `<think>…</think>` (`xraybench.llm.completion.model_output`), as for models under test.

Local servers (vLLM, SGLang, Ollama, the test server) are reached with the `openai/` prefix and `api_base`.
Those requests (`openai/...` with an `api_base`) take a direct path: the standard library's `http.client`
posting to `{api_base}/chat/completions` over one keep-alive connection per thread (through the proxy the
environment names, as httpx and litellm would), with the same errors, usage and cost as through litellm.
Why: `litellm.completion` costs ~7 ms of CPU per call and httpx ~0.5 ms, `http.client` ~0.12 ms; with 64
calls in flight the GIL turns that CPU into waiting (litellm capped a judging run at 25-47% of the ideal
rate against a 200 ms server, httpx cost ~5 points; see `benchmarks/arena_throughput/`). Every other
provider goes through litellm, imported on first use.

Both paths read the answer with `xraybench.llm.completion.parse_completion` (an odd 200 body is a
`TransientError` with its reason, never a traceback), refuse answers over `max_answer_bytes`
(`AnswerTooLarge`), and hold `timeout_s` as a wall-clock deadline for the whole request
(`xraybench.llm.transport`).

Prices come from litellm's bundled cost map (`LITELLM_LOCAL_MODEL_COST_MAP=True`: no network at import), or
from a user-given price per 1,000 tokens, which wins.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from xraybench.errors import MissingExtraError, TransientError, XrayBenchError
from xraybench.llm.completion import (
    Completion,
    OddAnswer,
    decode_body,
    max_answer_bytes,
    model_output,
    parse_completion,
)
from xraybench.llm.transport import HTTPTransport, error_text, is_local
from xraybench.retry import parse_retry_after, status_error


@dataclass(frozen=True)
class LLMAnswer:
    """One answer and what it cost; token counts are 0 when the server reports no usage (`usage_reported`
    False: its cost is then unknown, and the budget charges the request's worst case instead)."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    usage_reported: bool = True


class LLMClient:
    """A chat model: `model` is a litellm provider string ("openai/gpt-4o", "anthropic/claude-...")."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        price_per_1k_tokens: float | None = None,
        max_answer_bytes: int | None = None,
    ):
        if "/" not in model:
            raise XrayBenchError(f"model {model!r}: expected PROVIDER/MODEL, e.g. openai/gpt-4o-mini")
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.price_per_1k_tokens = price_per_1k_tokens
        self.max_answer_bytes = _answer_cap(max_answer_bytes)
        # OpenAI's `response_format` (a JSON schema the server constrains the answer to), passed through when set;
        # the arena sets it for judges whose endpoint supports it (`arena.judge.use_structured_output`)
        self.response_format: dict[str, Any] | None = None
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and self.api_key is None:
            raise XrayBenchError(f"model {model} needs an API key in the environment variable {api_key_env}")
        if self.api_key is None and is_local(api_base):
            self.api_key = "sk-local"  # local servers ignore it, but the OpenAI client insists on one
        # True: requests go over the direct HTTP path; set it to False to send them through litellm instead
        self.direct = self.provider == "openai" and bool(api_base)
        self._litellm_module: Any = None
        self._transport: HTTPTransport | None = None
        if self.direct:
            self._transport = self._open_direct()
        else:
            self._litellm_module = _litellm()  # fail now, naming the extra, not at the first call

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def local(self) -> bool:
        return is_local(self.api_base)

    @property
    def params(self) -> dict[str, Any]:
        """The decoding parameters that decide an answer (part of every call key)."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.response_format is not None:
            params["response_format"] = self.response_format
        return params

    def prices(self) -> tuple[float, float] | None:
        """(input, output) USD per token: the user's price, else litellm's map, else None (unknown)."""
        if self.price_per_1k_tokens is not None:
            per_token = self.price_per_1k_tokens / 1000.0
            return per_token, per_token
        try:
            cost_map = self._litellm().model_cost
        except MissingExtraError:
            if self.direct:  # the direct path works without litellm; only its price list is missing
                return None
            raise
        info = cost_map.get(self.model) or cost_map.get(self.model.split("/", 1)[1])
        if not info or info.get("input_cost_per_token") is None:
            return None
        return float(info["input_cost_per_token"]), float(info.get("output_cost_per_token") or 0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        prices = self.prices()
        return 0.0 if prices is None else prompt_tokens * prices[0] + completion_tokens * prices[1]

    def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        """One request, no retries; raises `TransientError` or `XrayBenchError` on failure."""
        if self.direct:
            return self._complete_direct(messages)
        return self._complete_litellm(messages)

    def close(self) -> None:
        """Close the pooled HTTP connections of the direct path (a later call opens new ones)."""
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _litellm(self) -> Any:
        if self._litellm_module is None:
            self._litellm_module = _litellm()
        return self._litellm_module

    def _answer(self, completion: Completion, latency: float) -> LLMAnswer:
        prompt_tokens = completion.prompt_tokens or 0
        completion_tokens = completion.completion_tokens or 0
        return LLMAnswer(
            text=model_output(completion),  # a provider's separate reasoning_content back in front as <think>
            finish_reason=completion.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens),
            latency_s=latency,
            usage_reported=completion.prompt_tokens is not None and completion.completion_tokens is not None,
        )

    def _complete_litellm(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        from xraybench.models.litellm_model import complete_with_deadline

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,
            "max_answer_bytes": self.max_answer_bytes,
        }
        if self.response_format is not None:
            kwargs["response_format"] = self.response_format
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        start = time.perf_counter()
        completion = complete_with_deadline(self._litellm(), kwargs, self.timeout_s, self.model)
        return self._answer(completion, time.perf_counter() - start)

    def _open_direct(self) -> HTTPTransport:
        """The shared transport (deadline, size cap, proxy, one keep-alive connection per thread)."""
        assert self.api_base is not None  # the direct path is taken only with an api_base
        headers = {}
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return HTTPTransport(
            self.api_base, headers=headers, timeout_s=self.timeout_s, max_answer_bytes=self.max_answer_bytes
        )

    @property
    def _proxy(self) -> Any:
        return None if self._transport is None else self._transport.proxy

    def _complete_direct(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        """POST `{api_base}/chat/completions`; errors sorted like litellm sorts them (see `_status_error`)."""
        assert self._transport is not None
        body = {
            "model": self.model.split("/", 1)[1],
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.response_format is not None:
            body["response_format"] = self.response_format
        try:
            answer = self._transport.post_json(body)
        except TransientError as exc:
            raise TransientError(f"{self.model}: {exc}") from exc
        if answer.status >= 400:
            raise self._status_error(answer.status, answer.retry_after, answer.body)
        try:
            completion = parse_completion(decode_body(answer.body))
        except OddAnswer as exc:
            raise TransientError(
                f"{self.model}: InternalServerError: {self._transport.url} answered 200 with a body that is not a "
                f"chat completion: {exc}"
            ) from None
        return self._answer(completion, answer.latency_s)

    def _status_error(self, status: int, retry_after: str | None, content: bytes) -> XrayBenchError:
        """Sorted by the one classification, `xraybench.retry.status_error` (retry, fatal, or this call fails)."""
        message, code = error_text(content)
        return status_error(self.model, status, message, code, parse_retry_after(retry_after))


def _answer_cap(value: int | None) -> int:
    return max_answer_bytes(value)


def _litellm() -> Any:
    """litellm without its network look-up at import, its "Give Feedback" banner switched off."""
    from xraybench.models.litellm_model import import_litellm

    litellm = import_litellm()
    litellm.suppress_debug_info = True
    return litellm
