"""An LLM judge: any litellm PROVIDER/MODEL (or an OpenAI-compatible server) with its own prompt and parser.

The prompt (`arena.prompt.PromptTemplate`) and the verdict parser are attributes of the judge, not module
globals, so two LLM judges with different prompts run side by side in one process, each keyed by its own
prompt version. The defaults are the arena's prompt (`arena.prompt.DEFAULT_PROMPT`) and parser
(`arena.verdict.parse_verdict`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from arena.prompt import DEFAULT_PROMPT, JudgePrompt, PromptTemplate
from arena.verdict import PARSER_VERSION, parse_verdict
from xraybench.llm.client import LLMClient
from xraybench.llm.options import LLMOptions

EXPECTED_COMPLETION_TOKENS = 400  # a verdict with short error lists; used only for the estimate


class LLMJudge:
    """A judge that asks `client`; its name is the client's model string, its params the client's decoding
    parameters (the structured output included)."""

    expected_completion_tokens = EXPECTED_COMPLETION_TOKENS

    def __init__(
        self,
        client: LLMClient,
        prompt: PromptTemplate = DEFAULT_PROMPT,
        parser: Callable[[str], dict[str, Any] | None] = parse_verdict,
        parser_version: str = PARSER_VERSION,
    ):
        self.client = client
        self.prompt = prompt
        self.parser = parser
        self.parser_version = parser_version

    @classmethod
    def create(cls, name: str, options: LLMOptions) -> LLMJudge:
        return cls(options.client(name))

    @property
    def name(self) -> str:
        return self.client.model

    @property
    def prompt_version(self) -> str:
        return self.prompt.version

    @property
    def params(self) -> dict[str, Any]:
        return self.client.params

    def prices(self) -> tuple[float, float] | None:
        return self.client.prices()

    def prepare(self, *, structured_output: str | None = None, dry_run: bool = False, plan: Path | None = None) -> None:
        """Set the output protocol (`arena.judge.use_structured_output`), or take the one `plan` recorded."""
        if structured_output is not None:
            from arena.judge import use_structured_output

            use_structured_output(self.client, structured_output, dry_run=dry_run, plan=plan)
        elif plan is not None:
            from arena.judging import recorded_response_format

            self.client.response_format = recorded_response_format(plan, self.name)

    def build_request(self, reference: str, text_a: str, text_b: str, context: dict[str, Any]) -> JudgePrompt:
        return self.prompt.render(reference, text_a, text_b, context)

    def parse_verdict(self, text: str) -> dict[str, Any] | None:
        return self.parser(text)

    def reask(self, request: JudgePrompt, answer: str) -> list[dict[str, Any]]:
        return self.prompt.reask_messages(request, answer)
