"""One chat completion against any LLM provider: the client under judges, teachers and metric judges.

`LLMClient.complete(messages)` makes exactly one request and returns the one answer record,
`xraybench.records.Generation` (text, usage, finish reason, latency, cost), for judges, teachers and models under
test alike (the `openai:` and `litellm:` adapters are request builders on this client). It never retries (litellm's own retries are switched off): the caller wraps it in
`xraybench.retry.call_with_retries` (see `xraybench.llm.calls.CallRunner`), and errors are mapped to
`TransientError` (429, 5xx, timeouts: retry), `FatalError` (authentication, permission, missing credentials,
unknown model, context length: the run stops at once) or `XrayBenchError` (another 4xx: this call fails), by the
one classification in `xraybench.retry`. A provider's separate `reasoning_content` is put back in front of the
answer as `<think>…</think>` (`xraybench.llm.completion.model_output`), for every caller.

Local servers (vLLM, SGLang, Ollama, the test server) are reached with the `openai/` prefix and `api_base`.
Those requests (`openai/...` with an `api_base`) take a direct path: the standard library's `http.client`
posting to `{api_base}/chat/completions` over one keep-alive connection per thread (through the proxy the
environment names, as httpx and litellm would), with the same errors, usage and cost as through litellm.
Why: `litellm.completion` costs ~7 ms of CPU per call and httpx ~0.5 ms, `http.client` ~0.12 ms; with 64
calls in flight the GIL turns that CPU into waiting (litellm capped a judging run at 25-47% of the ideal
rate against a 200 ms server, httpx cost ~5 points; see `benchmarks/arena_throughput/`). Every other
provider goes through litellm (`xraybench.llm.litellm_transport`), imported on first use; `transport="litellm"`
sends an OpenAI-compatible server's requests through litellm too (the `litellm:` adapter).

Both paths read the answer with `xraybench.llm.completion.parse_completion` (an odd 200 body is a
`TransientError` with its reason, never a traceback), refuse answers over `max_answer_bytes`
(`AnswerTooLarge`), and hold `timeout_s` as a wall-clock deadline for the whole request
(`xraybench.llm.transport`).

Prices come from litellm's bundled cost map (`LITELLM_LOCAL_MODEL_COST_MAP=True`: no network at import; the direct
path reads the same bundled file without importing litellm), or from a user-given price per 1,000 tokens, which
wins. A cost is None when it is unknown (no price, or no usage in the answer), never a made-up 0.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from xraybench.errors import MissingExtraError, TransientError, XrayBenchError
from xraybench.llm.completion import OddAnswer, decode_body, max_answer_bytes, parse_completion
from xraybench.llm.transport import HTTPTransport, error_text, is_local
from xraybench.records import Generation
from xraybench.retry import parse_retry_after, status_error

# The answer record of every LLM call (kept under its old name for callers that import it from here)
LLMAnswer = Generation
Transport = Literal["auto", "direct", "litellm"]


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
        api_key: str | None = None,
        transport: Transport = "auto",
        max_tokens_field: str = "max_tokens",
    ):
        """`api_key` (else `api_key_env`) is sent as the key; `transport` "auto" takes the direct HTTP path for
        `openai/...` with an `api_base` and litellm otherwise; `max_tokens_field` names the answer limit in the
        request body (newer OpenAI models want `max_completion_tokens`)."""
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
        self.max_tokens_field = max_tokens_field
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and self.api_key is None:
            raise XrayBenchError(f"model {model} needs an API key in the environment variable {api_key_env}")
        if self.api_key is None and is_local(api_base):
            self.api_key = "sk-local"  # local servers ignore it, but the OpenAI client insists on one
        # True: requests go over the direct HTTP path; set it to False to send them through litellm instead
        if transport not in ("auto", "direct", "litellm"):
            raise XrayBenchError(f"transport {transport!r}: expected auto, direct or litellm")
        if transport == "direct" and not api_base:
            raise XrayBenchError(f"model {model}: the direct HTTP path needs an api_base")
        self.direct = transport == "direct" or (transport == "auto" and self.provider == "openai" and bool(api_base))
        self._prices: tuple[float, float] | None | bool = False  # False: not looked up yet
        self._litellm_module: Any = None
        self._transport: HTTPTransport | None = None
        if self.direct:
            self._transport = self._open_direct()
        else:
            self._litellm_module = _litellm()  # fail now, naming the extra, not at the first call

    @property
    def price_per_1k_tokens(self) -> float | None:
        """The user's price in USD per 1,000 tokens (None: litellm's price map)."""
        return self._price_per_1k

    @price_per_1k_tokens.setter
    def price_per_1k_tokens(self, value: float | None) -> None:
        if value is not None and not value >= 0:
            raise XrayBenchError(f"--price-per-1k-tokens must be a non-negative number of USD, got {value}")
        self._price_per_1k, self._prices = value, False  # looked up again

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
        if self._prices is False:  # looked up once: every answer is priced, and the map does not change
            cost_map = self._price_map()
            info = None if cost_map is None else cost_map.get(self.model) or cost_map.get(self.model.split("/", 1)[1])
            if not info or info.get("input_cost_per_token") is None:
                self._prices = None
            else:
                self._prices = float(info["input_cost_per_token"]), float(info.get("output_cost_per_token") or 0.0)
        return self._prices  # type: ignore[return-value]

    def _price_map(self) -> dict[str, Any] | None:
        """litellm's price map; on the direct path, litellm's bundled copy read without importing litellm (seconds
        of imports for one dictionary), None when litellm is not installed (the direct path works without it)."""
        if self.direct and "litellm" not in sys.modules:
            spec = importlib.util.find_spec("litellm")
            locations = list(spec.submodule_search_locations or []) if spec is not None else []
            for folder in locations:
                bundled = Path(folder) / "model_prices_and_context_window_backup.json"
                if bundled.is_file():
                    return json.loads(bundled.read_text(encoding="utf-8"))
        try:
            return self._litellm().model_cost
        except MissingExtraError:
            if self.direct:  # the direct path works without litellm; only its price list is missing
                return None
            raise

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """USD for these token counts; None when the price or a count is unknown."""
        prices = self.prices()
        if prices is None or prompt_tokens is None or completion_tokens is None:
            return None
        return prompt_tokens * prices[0] + completion_tokens * prices[1]

    def complete(self, messages: list[dict[str, Any]], *, where: str | None = None, **params: Any) -> Generation:
        """One request, no retries; raises `TransientError` or `XrayBenchError` on failure. `params` are further
        request fields (`top_p`, `seed`); `where` names the request in error messages (default: the model)."""
        where = where or self.model
        if self.direct:
            return self._complete_direct(messages, where, params)
        return self._complete_litellm(messages, where, params)

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

    def _answer(self, answer: Generation, latency: float) -> Generation:
        """The parsed answer (reasoning_content already back in front as <think>) with its latency and cost."""
        return replace(answer, latency_s=latency, cost_usd=self.cost(answer.prompt_tokens, answer.completion_tokens))

    def _complete_litellm(self, messages: list[dict[str, Any]], where: str, params: dict[str, Any]) -> Generation:
        from xraybench.llm.litellm_transport import complete_with_deadline

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **params,
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
        answer = complete_with_deadline(self._litellm(), kwargs, self.timeout_s, where)
        return self._answer(answer, time.perf_counter() - start)

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

    def _complete_direct(self, messages: list[dict[str, Any]], where: str, params: dict[str, Any]) -> Generation:
        """POST `{api_base}/chat/completions`; errors sorted like litellm sorts them (see `_status_error`)."""
        assert self._transport is not None
        body = {
            "model": self.model.split("/", 1)[1],
            "messages": messages,
            "temperature": self.temperature,
            self.max_tokens_field: self.max_tokens,
            **params,
        }
        if self.response_format is not None:
            body["response_format"] = self.response_format
        try:
            answer = self._transport.post_json(body)
        except TransientError as exc:
            raise TransientError(f"{where}: {exc}") from exc
        if answer.status >= 400:
            raise self._status_error(answer.status, answer.retry_after, answer.body, where)
        try:
            parsed = parse_completion(decode_body(answer.body))
        except OddAnswer as exc:
            raise TransientError(
                f"{where}: InternalServerError: {self._transport.url} answered 200 with no usable chat completion "
                f"(a body that is not a chat completion): {exc}"
            ) from None
        return self._answer(parsed, answer.latency_s)

    def _status_error(self, status: int, retry_after: str | None, content: bytes, where: str) -> XrayBenchError:
        """Sorted by the one classification, `xraybench.retry.status_error` (retry, fatal, or this call fails)."""
        message, code = error_text(content)
        return status_error(where, status, message, code, parse_retry_after(retry_after))


def _answer_cap(value: int | None) -> int:
    return max_answer_bytes(value)


def _litellm() -> Any:
    """litellm without its network look-up at import, its "Give Feedback" banner switched off."""
    from xraybench.llm.litellm_transport import import_litellm

    litellm = import_litellm()
    litellm.suppress_debug_info = True
    return litellm
