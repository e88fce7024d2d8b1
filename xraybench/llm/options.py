"""The options of every command that pays for LLM calls, defined once, and the builders that use them.

Judging an arena, auditing a judge, submitting to an arena, scoring reasoning and synthesizing teacher answers
all take the same options: where the model is served (`api_base`, `api_key_env`), how it decodes
(`temperature`, `max_tokens`, `timeout_s`), what it costs and may cost (`price_per_1k_tokens`, `budget_usd`),
how hard the provider is pushed (`max_concurrency`, `rpm`, `max_attempts`) and where credentialed data may go
(`allow_provider`). A command's config inherits `LLMOptions` (and `DryRun` when it can plan without calling),
so a flag, its default, its help and its YAML key are the same everywhere, and builds its client, runner and
governance check with the methods here rather than copying the wiring.

A command that needs another default (a longer answer limit) redeclares the field with `llm_option(name,
default)`; a second model of one command (the synthesis checker) gets prefixed copies with `llm_option(name,
who="checker")` and builds its client with `client(model, prefix="checker_")`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xraybench.config import option, shared_option
from xraybench.generate import GenerateConfig, check_generation

if TYPE_CHECKING:
    from xraybench.callstore import CallStore
    from xraybench.llm.calls import CallRunner
    from xraybench.llm.client import LLMClient
    from xraybench.records import Sample
    from xraybench.retry import RetryPolicy

GROUP = "LLM calls"
CLIENT_OPTIONS = (
    "api_base", "api_key_env", "temperature", "max_tokens", "timeout_s", "price_per_1k_tokens", "max_answer_bytes",
)  # fmt: skip
_SAME = object()


@dataclass(kw_only=True)
class LLMOptions:
    """How a command reaches, pays for and paces its LLM, and where credentialed data may go."""

    option_group = GROUP

    api_base: str | None = option(
        None, help="OpenAI-compatible server URL, e.g. a local vLLM/SGLang/Ollama (use the openai/ model prefix)"
    )
    api_key_env: str | None = option(None, help="environment variable holding the model's API key")
    # the decoding and request limits are `GenerateConfig`'s (one definition with `run`); the client takes these
    temperature: float = shared_option(GenerateConfig, "temperature")
    max_tokens: int = shared_option(
        GenerateConfig, "max_tokens", 1024, help="answer token limit (an answer cut off by it is a failure)"
    )
    timeout_s: float = shared_option(GenerateConfig, "timeout_s")
    max_answer_bytes: int | None = shared_option(GenerateConfig, "max_answer_bytes")
    price_per_1k_tokens: float | None = option(None, help="USD per 1,000 tokens (default: litellm's price map)")
    budget_usd: float | None = option(None, help="hard cap in USD: no request starts that could take the spend past it")
    max_concurrency: int = option(8, help="requests in flight at once")
    rpm: float | None = option(None, metavar="R", help="at most R requests per minute")
    max_attempts: int = option(6, help="attempts per request on 429 / 5xx / timeouts")
    allow_provider: list[str] = option(
        [], repeat=True, metavar="PROVIDER",
        help="allow credentialed data to go to this non-local provider (repeatable; default: local endpoints only)",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_generation(self)  # a bad --temperature / --max-tokens fails before any call, as for `run`

    def client(self, model: str, *, prefix: str = "", **overrides: Any) -> LLMClient:
        """The client of `model`. With `prefix`, a client option this config also has as `prefix + name` (the
        checker's own `checker_api_base`) takes that value; `overrides` win over both."""
        from xraybench.llm.client import LLMClient

        values = {name: getattr(self, prefix + name, getattr(self, name)) for name in CLIENT_OPTIONS}
        return LLMClient(model, **{**values, **overrides})

    def policy(self) -> RetryPolicy:
        from xraybench.retry import RetryPolicy

        return RetryPolicy(max_attempts=self.max_attempts)

    def runner_options(self) -> dict[str, Any]:
        """The pacing and money keywords of `CallRunner` (and of the arena's `Judging`, which passes them on)."""
        return {
            "max_concurrency": self.max_concurrency, "rpm": self.rpm, "budget_usd": self.budget_usd,
            "policy": self.policy(),
        }  # fmt: skip

    def runner(self, client: LLMClient, store: CallStore, **kwargs: Any) -> CallRunner:
        """A `CallRunner` with these options; `kwargs` (e.g. `expected_completion_tokens`, `policy`) win."""
        from xraybench.llm.calls import CallRunner

        return CallRunner(client, store, **{**self.runner_options(), **kwargs})

    def check_governance(self, samples: Iterable[Sample], client: LLMClient, *, action: str = "judge") -> None:
        """Refuse, before any call, to send credentialed samples to a non-local provider not in `allow_provider`."""
        from xraybench.llm.governance import check_governance

        check_governance(samples, client, self.allow_provider, action=action)


@dataclass(kw_only=True)
class DryRun:
    """The `--dry-run` of a command that can plan and price its calls without making them."""

    option_group = GROUP

    dry_run: bool = option(False, help="print the plan and the cost estimate; make no call")


def llm_option(name: str, default: Any = _SAME, *, who: str | None = None) -> Any:
    """The `LLMOptions` field `name` with another `default`, or, with `who`, its copy for a second model: declare
    it as `f"{who}_{name}"` (flag `--{who}-{name}`, help naming `who`)."""
    base = {f.name: f for f in dataclasses.fields(LLMOptions)}[name]
    meta = dict(base.metadata)
    if who:
        meta["help"] = f"{who}: {meta['help']}"
    if default is _SAME:
        default = base.default if base.default is not dataclasses.MISSING else base.default_factory()  # type: ignore[misc]
    return option(default, kw_only=True, **meta)
