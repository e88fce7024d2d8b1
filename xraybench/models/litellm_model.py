"""litellm:PROVIDER/MODEL — any API litellm speaks (OpenAI, Anthropic, Gemini, Azure, Bedrock, local servers).

litellm is imported on first use with `LITELLM_LOCAL_MODEL_COST_MAP=True`, so importing it does not fetch
the price list from the network. litellm's own retries are switched off (`num_retries=0`): the runner retries,
and this adapter maps litellm's exceptions to `TransientError` (rate limits, 5xx, timeouts, dropped
connections) or `XrayBenchError` (bad request, context length, authentication) with the provider's message.
"""

from __future__ import annotations

import os
import time
from typing import Any

from xraybench.errors import TransientError, XrayBenchError
from xraybench.lazy import require
from xraybench.models.base import ModelContext, ModelOptions
from xraybench.models.images import image_data_url, image_options, input_size
from xraybench.models.openai_compat import chat_messages
from xraybench.records import Generation, Sample
from xraybench.retry import parse_retry_after

RETRYABLE_STATUS = frozenset({408, 409, 429})
TRANSIENT_NAMES = ("RateLimitError", "Timeout", "APIConnectionError", "ServiceUnavailableError", "InternalServerError")


def message_text(message: Any) -> str:
    """The answer as the model wrote it: litellm moves a leading `<think>…</think>` block (or a provider's
    separate reasoning) into `reasoning_content`; it is put back in front, so the output parser, the format and
    coordinate rewards and a teacher's filter see the reasoning."""
    content = getattr(message, "content", None) or ""
    reasoning = getattr(message, "reasoning_content", None)
    if reasoning and not content.lstrip().startswith("<think>"):
        return f"<think>{reasoning}</think>{content}"
    return content


def import_litellm() -> Any:
    """litellm without its import-time network look-up, or a `MissingExtraError` naming the `judge` extra."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return require("litellm", "judge", "litellm: models")


def _retry_after(exc: BaseException) -> float | None:
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if headers is not None and hasattr(headers, "get"):
            value = headers.get("retry-after") or headers.get("Retry-After")
            if value is not None:
                return parse_retry_after(str(value))
    return None


def map_litellm_error(litellm: Any, exc: BaseException, where: str) -> XrayBenchError:
    """The error to raise for a litellm exception: transient ones are worth retrying, the rest are not."""
    status = getattr(exc, "status_code", None)
    transient_types = tuple(getattr(litellm, name) for name in TRANSIENT_NAMES if hasattr(litellm, name))
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, transient_types) or (isinstance(status, int) and (status in RETRYABLE_STATUS or status >= 500)):
        return TransientError(f"{where}: {type(exc).__name__}: {message}", _retry_after(exc))
    return XrayBenchError(f"{where}: {type(exc).__name__}: {message}")


class LiteLLMModel:
    """`litellm.completion` per sample; `batch_size` 1 and `concurrency` threads (option, default 8)."""

    batch_size = 1

    def __init__(self, arg: str, options: ModelOptions, context: ModelContext | None = None):
        if "/" not in arg:
            raise XrayBenchError(f"litellm:{arg}: expected PROVIDER/MODEL, e.g. litellm:openai/gpt-4o-mini")
        self._litellm = import_litellm()
        self.model = arg
        self.name = str(options.extra.get("name") or arg)
        self.options = options
        self.context = context or ModelContext()
        self.concurrency = int(options.extra.get("concurrency", 8))
        self.system_prompt = options.extra.get("system_prompt")
        self.image_kwargs = image_options(options.extra)
        self.api_key = os.environ.get(options.api_key_env) if options.api_key_env else None
        if options.api_key_env and self.api_key is None:
            raise XrayBenchError(f"litellm:{arg} needs an API key in the environment variable {options.api_key_env}")

    def _kwargs(self, sample: Sample, prompt: str) -> dict[str, Any]:
        urls = [image_data_url(p, sample.id, **self.image_kwargs) for p in sample.image_paths]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt, urls, self.system_prompt),
            "temperature": self.options.temperature,
            "top_p": self.options.top_p,
            "max_tokens": self.options.max_new_tokens,
            "timeout": self.options.timeout_s,
            "num_retries": 0,
        }
        if self.options.temperature > 0:
            kwargs["seed"] = self.context.seed
        if self.options.api_base:
            kwargs["api_base"] = self.options.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return kwargs

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        return [self._complete(sample, prompt) for sample, prompt in zip(samples, prompts, strict=True)]

    def _complete(self, sample: Sample, prompt: str) -> Generation:
        kwargs = self._kwargs(sample, prompt)
        where = f"litellm:{self.model} (sample {sample.id})"
        start = time.perf_counter()
        try:
            response = self._litellm.completion(**kwargs)
        except Exception as exc:  # litellm raises its own hierarchy (and sometimes plain httpx/openai errors)
            raise map_litellm_error(self._litellm, exc, where) from exc
        latency = time.perf_counter() - start
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        return Generation(
            text=message_text(choice.message),
            latency_s=latency,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=choice.finish_reason,
            input_size=input_size(sample.image_paths, sample.id, **self.image_kwargs),
        )
