"""openai:MODEL — any OpenAI-compatible chat-completions server (OpenAI, vLLM serve, SGLang, Ollama, ...).

The API adapters are request builders on the one LLM engine: `ChatModel` turns a sample into chat messages
(images inlined as data URLs, then the prompt) and decoding fields, and asks through `xraybench.llm.meter.Meter`
and `xraybench.llm.client.LLMClient`, the path of every judge and teacher call. So a model under test gets the
same transport (`xraybench.llm.transport`: `--timeout-s` is a wall-clock deadline per request, the answer is
read at most `max_answer_bytes`), the one parser (`reasoning_content` back in front as `<think>`), the one error
classification (`xraybench.retry.status_error`: 408/409/429/5xx, timeouts and odd 200 bodies are
`TransientError`s; 401/403/404, a missing key or an unknown model and a context-length error are `FatalError`s:
the run stops at once; another 4xx fails its item), and the same rate limit, budget cap and cost ledger, which
the runner attaches (`xraybench.llm.meter.attach_meter`). The runner supplies threads (`max_concurrency`) and
retries (one `RetryPolicy`).

`openai:` posts over the direct HTTP path; `litellm:` (`xraybench.models.litellm_model`) sends the same request
through litellm.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.llm.client import LLMClient, Transport
from xraybench.llm.meter import Meter
from xraybench.llm.transport import is_local
from xraybench.models.base import ModelArgs, ModelContext, build_options, model_option
from xraybench.models.images import check_max_images, image_data_url, input_size
from xraybench.records import Generation, Sample

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
    """`--model-arg` options of the API adapters (`--api-base`, `--api-key-env` and `--max-concurrency` fill the
    fields of the same name)."""

    api_base: str | None = model_option(help="base URL of the chat-completions server", identity=True)
    api_key_env: str | None = model_option(help="environment variable holding the API key")
    max_concurrency: int = model_option(
        8, help="requests in flight at once (--max-concurrency, as the judges')", deprecated=("concurrency",)
    )
    system_prompt: str | None = model_option(help="a system message sent before each prompt", identity=True)
    max_images: int | None = model_option(
        help="images per request at most (a study's key view comes first; default every view)", identity=True
    )
    max_tokens_field: str = model_option(
        "max_tokens", help="the request field of the answer limit (newer OpenAI models: max_completion_tokens)",
        choices=("max_tokens", "max_completion_tokens"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_max_images(self.max_images)


class ChatModel:
    """A model under test behind a chat-completions API: one request per sample through the engine;
    `batch_size` 1 and `max_concurrency` threads. A subclass says how its client reaches the model (`make_client`)."""

    Options = ChatOptions
    batch_size = 1
    kind = "openai"

    def __init__(
        self,
        arg: str,
        options: ChatOptions | Mapping[str, Any] | None = None,
        context: ModelContext | None = None,
        generate: GenerateConfig | None = None,
    ):
        self.model = arg
        self.options = opts = build_options(ChatOptions, options, spec=f"{self.kind}:{arg}")
        self.name = opts.name or arg
        self.context = context or ModelContext()
        self.decoding = generate or GenerateConfig()
        self.concurrency = opts.max_concurrency  # the runner's hint every adapter gives (`Model.concurrency`)
        self.system_prompt = opts.system_prompt
        self.image_kwargs = self.context.image_kwargs()
        self.client = self.make_client(arg, opts, self.decoding)
        # paces, caps and counts the requests; the runner attaches the run's own (rpm, budget, ledger)
        self.meter = Meter()

    def make_client(self, arg: str, options: ChatOptions, generate: GenerateConfig) -> LLMClient:
        raise NotImplementedError

    def payload(self, sample: Sample, prompt: str) -> dict[str, Any]:
        """The JSON body for one sample (images inlined as data URLs), decoding parameters from the options."""
        paths = sample.image_paths[: self.options.max_images]  # the key (frontal) view first, as loaders order them
        urls = [image_data_url(p, sample.id, **self.image_kwargs) for p in paths]
        gen = self.decoding
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt, urls, self.system_prompt),
            "temperature": gen.temperature,
            "top_p": gen.top_p,
            self.client.max_tokens_field: gen.max_tokens,
        }
        if gen.temperature > 0:
            body["seed"] = gen.sampling_seed()
        if gen.stop_seqs:
            body["stop"] = list(gen.stop_seqs)
        return body

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        return [self._complete(sample, prompt) for sample, prompt in zip(samples, prompts, strict=True)]

    def _where(self, sample: Sample) -> str:
        return f"{self.kind}:{self.model} (sample {sample.id})"

    def _complete(self, sample: Sample, prompt: str) -> Generation:
        body = self.payload(sample, prompt)
        # the client sends the model, temperature and answer limit itself; the other fields (top_p, seed) ride along
        own = ("model", "messages", "temperature", self.client.max_tokens_field)
        params = {k: v for k, v in body.items() if k not in own}
        answer = self.meter.ask(self.client, body["messages"], where=self._where(sample), **params)
        answer.input_size = input_size(sample.image_paths, sample.id, **self.image_kwargs)
        return answer

    def close(self) -> None:
        self.client.close()


def engine_client(
    model: str,
    options: ChatOptions,
    gen: GenerateConfig,
    *,
    api_base: str | None,
    api_key: str | None,
    transport: Transport,
) -> LLMClient:
    """The engine's client for a model under test: its server and key from the options, its request limits
    (`timeout_s`, `max_answer_bytes`) and decoding from the `GenerateConfig`."""
    return LLMClient(
        model,
        api_base=api_base,
        api_key_env=options.api_key_env,
        api_key=api_key,
        temperature=gen.temperature,
        max_tokens=gen.max_tokens,
        timeout_s=gen.timeout_s,
        max_answer_bytes=gen.max_answer_bytes,
        transport=transport,
        max_tokens_field=options.max_tokens_field,
    )


class OpenAIModel(ChatModel):
    """Chat completions over the direct HTTP path."""

    def make_client(self, arg: str, options: ChatOptions, generate: GenerateConfig) -> LLMClient:
        if not arg:
            raise XrayBenchError("openai: needs a model name, e.g. openai:gpt-4o-mini")
        self.api_base = (options.api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE).rstrip("/")
        key = self._api_key(arg, options)
        return engine_client(
            f"openai/{arg}", options, generate, api_base=self.api_base, api_key=key, transport="direct"
        )

    def _api_key(self, arg: str, options: ChatOptions) -> str | None:
        env = options.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env)
        if key is None and (options.api_key_env or not is_local(self.api_base)):
            raise XrayBenchError(
                f"openai:{arg} at {self.api_base} needs an API key in the environment variable {env}"
                " (set it, or pass --api-key-env NAME)"
            )
        return key

    def _where(self, sample: Sample) -> str:
        return f"openai:{self.model} at {self.api_base} (sample {sample.id})"
