"""openai:MODEL — any OpenAI-compatible chat-completions server (OpenAI, vLLM serve, SGLang, Ollama, ...).

One synchronous httpx request per sample; the runner supplies threads (`concurrency`) and retries. Failures
are sorted here, by the one classification `xraybench.retry.status_error`, into worth-retrying (`TransientError`:
408/409/429/5xx, timeouts, dropped connections, a cut-off body, a 200 body that is not a chat completion), fatal
(`FatalError`: 401/403, 404 such as an unknown model, a context-length error: the run stops at once) and this
call fails (`XrayBenchError` with the server's own message: another 400; an answer over `max_answer_bytes`),
because only the adapter can see the HTTP status. The request goes through the shared `xraybench.llm.transport` (`--timeout-s`
is a wall-clock deadline per request; the answer is read at most `max_answer_bytes`, `--model-arg
max_answer_bytes=N`) and the body is read by the one parser, `xraybench.llm.completion.parse_completion`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xraybench.errors import TransientError, XrayBenchError
from xraybench.llm.completion import OddAnswer, decode_body, model_output, parse_completion
from xraybench.llm.transport import HTTPTransport, error_text, is_local
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelArgs, ModelContext, build_options, model_option
from xraybench.models.images import image_data_url, input_size
from xraybench.records import Generation, Sample
from xraybench.retry import parse_retry_after, status_error

DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def chat_messages(prompt: str, image_urls: list[str], system: str | None = None) -> list[dict]:
    """OpenAI-style messages: images first (as most chest X-ray VLMs were trained), then the prompt."""
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    content.append({"type": "text", "text": prompt})
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    return messages


@dataclass(kw_only=True)
class ChatOptions(ModelArgs):
    """`--model-arg` options of the API adapters (`--api-base`, `--api-key-env` and `--concurrency` fill the
    fields of the same name)."""

    api_base: str | None = model_option(help="base URL of the chat-completions server", identity=True)
    api_key_env: str | None = model_option(help="environment variable holding the API key")
    concurrency: int = model_option(8, help="requests in flight at once (--concurrency)")
    system_prompt: str | None = model_option(help="a system message sent before each prompt", identity=True)
    max_tokens_field: str = model_option(
        "max_tokens", help="the request field of the answer limit (newer OpenAI models: max_completion_tokens)",
        choices=("max_tokens", "max_completion_tokens"),
    )  # fmt: skip


class OpenAIModel:
    """Chat completions over HTTP; `batch_size` 1 and `concurrency` threads (option `concurrency`, default 8)."""

    Options = ChatOptions
    batch_size = 1

    def __init__(
        self,
        arg: str,
        options: ChatOptions | Mapping[str, Any] | None = None,
        context: ModelContext | None = None,
        generate: GenerateConfig | None = None,
    ):
        if not arg:
            raise XrayBenchError("openai: needs a model name, e.g. openai:gpt-4o-mini")
        self.model = arg
        self.options = options = build_options(ChatOptions, options, spec=f"openai:{arg}")
        self.decoding = generate or GenerateConfig()
        self.name = options.name or arg
        self.context = context or ModelContext()
        self.api_base = (options.api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE).rstrip("/")
        self.concurrency = options.concurrency
        self.system_prompt = options.system_prompt
        self.image_kwargs = self.context.image_kwargs()
        headers = {}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._transport = HTTPTransport(
            self.api_base,
            headers=headers,
            timeout_s=self.decoding.timeout_s,
            max_answer_bytes=self.decoding.max_answer_bytes,
        )

    def _api_key(self) -> str | None:
        env = self.options.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env)
        if key is None and (self.options.api_key_env or not is_local(self.api_base)):
            raise XrayBenchError(
                f"openai:{self.model} at {self.api_base} needs an API key in the environment variable {env}"
                " (set it, or pass --api-key-env NAME)"
            )
        return key

    def payload(self, sample: Sample, prompt: str) -> dict[str, Any]:
        """The JSON body for one sample (images inlined as data URLs), decoding parameters from the options."""
        urls = [image_data_url(p, sample.id, **self.image_kwargs) for p in sample.image_paths]
        gen = self.decoding
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt, urls, self.system_prompt),
            "temperature": gen.temperature,
            "top_p": gen.top_p,
            self.options.max_tokens_field: gen.max_tokens,
        }
        if gen.temperature > 0:
            body["seed"] = gen.sampling_seed()
        if gen.stop_seqs:
            body["stop"] = list(gen.stop_seqs)
        return body

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        return [self._complete(sample, prompt) for sample, prompt in zip(samples, prompts, strict=True)]

    def _complete(self, sample: Sample, prompt: str) -> Generation:
        url = self._transport.url
        body = self.payload(sample, prompt)
        try:
            answer = self._transport.post_json(body)
        except TransientError as exc:
            raise TransientError(f"sample {sample.id}: {exc}") from exc
        except XrayBenchError as exc:  # over the size cap
            raise XrayBenchError(f"sample {sample.id}: {exc}") from exc
        if answer.status >= 400:  # sorted by the one classification: retried, fatal (the run stops), or failed
            message, code = error_text(answer.body)
            where = f"{url} (sample {sample.id})"
            raise status_error(where, answer.status, message, code, parse_retry_after(answer.retry_after))
        try:
            completion = parse_completion(decode_body(answer.body))
        except OddAnswer as exc:
            raise TransientError(
                f"{url} answered sample {sample.id} with 200 but no usable chat completion: {exc}"
            ) from None
        return Generation(
            text=model_output(completion),  # a server's separate reasoning_content put back in front
            latency_s=answer.latency_s,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
            input_size=input_size(sample.image_paths, sample.id, **self.image_kwargs),
        )

    def close(self) -> None:
        self._transport.close()
