"""openai:MODEL — any OpenAI-compatible chat-completions server (OpenAI, vLLM serve, SGLang, Ollama, ...).

One synchronous httpx request per sample; the runner supplies threads (`concurrency`) and retries. Failures
are sorted here into worth-retrying (`TransientError`: 408/409/429/5xx, timeouts, dropped connections, a
cut-off body) and not (`XrayBenchError` with the server's own message: 400 such as a context-length error,
401/403, 404), because only the adapter can see the HTTP status.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from xraybench.errors import TransientError, XrayBenchError
from xraybench.models.base import ModelContext, ModelOptions
from xraybench.models.images import image_data_url, image_options, input_size
from xraybench.records import Generation, Sample
from xraybench.retry import parse_retry_after

DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
RETRYABLE_STATUS = frozenset({408, 409, 429})
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def chat_messages(prompt: str, image_urls: list[str], system: str | None = None) -> list[dict]:
    """OpenAI-style messages: images first (as most chest X-ray VLMs were trained), then the prompt."""
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    content.append({"type": "text", "text": prompt})
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    return messages


def _error_message(response: httpx.Response) -> str:
    """The server's own error text: OpenAI's `{"error": {"message": ...}}`, else the body, shortened."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if payload.get("message"):
            return str(payload["message"])
    return response.text[:500]


def _is_local(api_base: str) -> bool:
    host = httpx.URL(api_base).host
    return host in LOCAL_HOSTS


class OpenAIModel:
    """Chat completions over HTTP; `batch_size` 1 and `concurrency` threads (option `concurrency`, default 8)."""

    batch_size = 1

    def __init__(self, arg: str, options: ModelOptions, context: ModelContext | None = None):
        if not arg:
            raise XrayBenchError("openai: needs a model name, e.g. openai:gpt-4o-mini")
        self.model = arg
        self.name = str(options.extra.get("name") or arg)
        self.options = options
        self.context = context or ModelContext()
        self.api_base = (options.api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE).rstrip("/")
        self.concurrency = int(options.extra.get("concurrency", 8))
        self.system_prompt = options.extra.get("system_prompt")
        self.image_kwargs = image_options(options.extra)
        headers = {"Content-Type": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(timeout=options.timeout_s, headers=headers)

    def _api_key(self) -> str | None:
        env = self.options.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env)
        if key is None and (self.options.api_key_env or not _is_local(self.api_base)):
            raise XrayBenchError(
                f"openai:{self.model} at {self.api_base} needs an API key in the environment variable {env}"
                " (set it, or pass --api-key-env NAME)"
            )
        return key

    def payload(self, sample: Sample, prompt: str) -> dict[str, Any]:
        """The JSON body for one sample (images inlined as data URLs), decoding parameters from the options."""
        urls = [image_data_url(p, sample.id, **self.image_kwargs) for p in sample.image_paths]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt, urls, self.system_prompt),
            "temperature": self.options.temperature,
            "top_p": self.options.top_p,
            str(self.options.extra.get("max_tokens_field", "max_tokens")): self.options.max_new_tokens,
        }
        if self.options.temperature > 0:
            body["seed"] = self.context.seed
        return body

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        return [self._complete(sample, prompt) for sample, prompt in zip(samples, prompts, strict=True)]

    def _complete(self, sample: Sample, prompt: str) -> Generation:
        url = f"{self.api_base}/chat/completions"
        body = self.payload(sample, prompt)
        start = time.perf_counter()
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{url}: no answer within {self.options.timeout_s:g}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{url}: connection failed: {exc!r}") from exc
        latency = time.perf_counter() - start
        status = response.status_code
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientError(f"{url} returned {status}: {_error_message(response)}", retry_after)
        if status >= 400:
            raise XrayBenchError(f"{url} returned {status} for sample {sample.id}: {_error_message(response)}")
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError(f"{url} returned a body that is not JSON: {response.text[:200]!r}") from exc
        generation = self._parse(data, url, sample, latency)
        generation.input_size = input_size(sample.image_paths, sample.id, **self.image_kwargs)
        return generation

    @staticmethod
    def _parse(data: Any, url: str, sample: Sample, latency: float) -> Generation:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise XrayBenchError(f"{url} answered sample {sample.id} without choices: {str(data)[:300]}")
        choice = choices[0]
        message = choice.get("message") or {}
        usage = data.get("usage") or {}
        return Generation(
            text=message.get("content") or "",
            latency_s=latency,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
        )

    def close(self) -> None:
        self._client.close()
