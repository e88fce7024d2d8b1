"""The LLM judge: one chat completion through litellm, for any provider string or a local OpenAI-compatible server.

`LiteLLMJudge.judge(messages)` makes exactly one request and returns the raw answer with its usage, finish
reason, latency and cost. It never retries (litellm's own retries are switched off): the caller wraps it in
`xraybench.retry.call_with_retries`, and errors are mapped like the litellm model adapter's, to
`TransientError` (429, 5xx, timeouts: retry) or `XrayBenchError` (400, context length, auth: do not).

Local servers (vLLM, SGLang, Ollama, the test server) are reached with the `openai/` prefix and `api_base`.
Prices come from litellm's bundled cost map (`LITELLM_LOCAL_MODEL_COST_MAP=True`: no network at import), or
from a user-given price per 1,000 tokens, which wins.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from xraybench.errors import XrayBenchError
from xraybench.models.litellm_model import import_litellm, map_litellm_error

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class JudgeAnswer:
    """One answer of the judge and what it cost; token counts are 0 when the server reports no usage."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float


def is_local(api_base: str | None) -> bool:
    """True when `api_base` points at this machine, so no report text leaves it."""
    return api_base is not None and (urlparse(api_base).hostname or "") in LOCAL_HOSTS


class LiteLLMJudge:
    """A judge model: `model` is a litellm provider string ("openai/gpt-4o", "anthropic/claude-...")."""

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
    ):
        if "/" not in model:
            raise XrayBenchError(f"judge {model!r}: expected PROVIDER/MODEL, e.g. openai/gpt-4o-mini")
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.price_per_1k_tokens = price_per_1k_tokens
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and self.api_key is None:
            raise XrayBenchError(f"judge {model} needs an API key in the environment variable {api_key_env}")
        if self.api_key is None and is_local(api_base):
            self.api_key = "sk-local"  # local servers ignore it, but the OpenAI client insists on one
        self._litellm = import_litellm()
        self._litellm.suppress_debug_info = True  # no "Give Feedback" banner on stdout for every failed call

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def local(self) -> bool:
        return is_local(self.api_base)

    @property
    def params(self) -> dict[str, Any]:
        """The decoding parameters that decide an answer (part of every judgment key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def prices(self) -> tuple[float, float] | None:
        """(input, output) USD per token: the user's price, else litellm's map, else None (unknown)."""
        if self.price_per_1k_tokens is not None:
            per_token = self.price_per_1k_tokens / 1000.0
            return per_token, per_token
        info = self._litellm.model_cost.get(self.model) or self._litellm.model_cost.get(self.model.split("/", 1)[1])
        if not info or info.get("input_cost_per_token") is None:
            return None
        return float(info["input_cost_per_token"]), float(info.get("output_cost_per_token") or 0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        prices = self.prices()
        return 0.0 if prices is None else prompt_tokens * prices[0] + completion_tokens * prices[1]

    def judge(self, messages: list[dict[str, Any]]) -> JudgeAnswer:
        """One request, no retries; raises `TransientError` or `XrayBenchError` on failure."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        start = time.perf_counter()
        try:
            response = self._litellm.completion(**kwargs)
        except Exception as exc:  # litellm raises its own hierarchy (and sometimes plain httpx/openai errors)
            raise map_litellm_error(self._litellm, exc, f"judge {self.model}") from exc
        latency = time.perf_counter() - start
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return JudgeAnswer(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens),
            latency_s=latency,
        )
