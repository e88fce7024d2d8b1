"""Local judges: decide a battle in-process (offline, free, deterministic), on the same engine as LLM judges.

A local judge's request carries the battle itself (reference, both candidates, context) as one structured
message part instead of prompt text, and its `client` (`LocalClient`) answers it by calling the judge's
`decide`: a readable explanation that ends in the verdict JSON, so `arena.verdict.parse_verdict` reads the
decision back (and `arena reparse` reads it unchanged). The call runner keys, de-duplicates, leases, shows
progress and stores these "calls" exactly as it does an LLM's; each costs nothing and stores 0 tokens.

Subclass `LocalJudge`, set `NAME`, `params` and `decide`, and register the class in `arena.judges.JUDGES`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.prompt import JudgePrompt, injection_flags
from arena.verdict import PARSER_VERSION, parse_verdict
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMAnswer
from xraybench.llm.options import LLMOptions

BATTLE_PART = "battle"  # the content part type of a local judge's request


@dataclass(frozen=True)
class Thresholds:
    """A score difference of at least `strong` is a strong win, of at least `win` a win, else a tie."""

    strong: float
    win: float

    def level(self, diff: float) -> str:
        """The 5-level verdict for `diff` = score(A) - score(B) (higher score = better)."""
        size = abs(diff)
        if size >= self.strong:
            return "A>>B" if diff > 0 else "B>>A"
        if size >= self.win:
            return "A>B" if diff > 0 else "B>A"
        return "tie"


@dataclass(frozen=True)
class Decision:
    """One battle's decision: the readable explanation (stored as the raw text) and the parsed verdict."""

    text: str
    parsed: dict[str, Any]


def decision(lines: list[str], level: str, errors_a: list[dict[str, str]], errors_b: list[dict[str, str]]) -> Decision:
    """The explanation `lines` followed by the verdict JSON, checked to read back as `level`."""
    verdict = {"errors_a": errors_a, "errors_b": errors_b, "verdict": level}
    text = "\n".join([*lines, json.dumps(verdict, ensure_ascii=False)])
    parsed = parse_verdict(text)
    if parsed is None or parsed["verdict"] != level:  # a parser change that would misread us must fail loudly
        raise XrayBenchError(f"the verdict parser does not read back the local judge's verdict {level!r}")
    return Decision(text, parsed)


class LocalClient:
    """The call engine's client of a local judge: `complete` decides the battle in its request, in-process."""

    provider = "local"
    api_base: str | None = None
    local = True  # nothing leaves the machine: governance lets any data through
    timeout_s = 60.0  # sizes the engine's lease time; a decision takes milliseconds
    max_tokens = 0

    def __init__(self, judge: LocalJudge):
        self.judge = judge
        self.model = judge.name

    def prices(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        parts = messages[-1]["content"]
        battle = next(p for p in parts if isinstance(p, dict) and p.get("type") == BATTLE_PART)
        start = time.perf_counter()
        text = self.judge.decide(battle["reference"], battle["text_a"], battle["text_b"]).text
        return LLMAnswer(
            text=text, finish_reason="stop", prompt_tokens=0, completion_tokens=0, cost_usd=0.0,
            latency_s=time.perf_counter() - start,
        )  # fmt: skip

    def close(self) -> None:
        """Nothing to close (the engine closes LLM clients the same way)."""


class LocalJudge:
    """Base of the in-process judges: a subclass sets `NAME`, `params` and `decide`."""

    NAME = ""
    prompt_version = "local"  # no prompt; a subclass whose wording of decisions is versioned overrides it
    parser_version = PARSER_VERSION
    expected_completion_tokens = 0  # no answer tokens; the estimate's prompt tokens are ~1 per call, at price 0

    def __init__(self, name: str | None = None):
        self.name = name or self.NAME
        if not self.name:
            raise XrayBenchError(f"{type(self).__name__} has no NAME")
        self.client = LocalClient(self)

    @classmethod
    def create(cls, name: str, options: LLMOptions) -> LocalJudge:
        """Built by `arena.judges.build_judge`; the LLM options do not apply."""
        return cls(name)

    @property
    def params(self) -> dict[str, Any]:
        """What decides a verdict (part of every judgment key, like an LLM judge's decoding parameters)."""
        return {}

    def prices(self) -> tuple[float, float]:
        """Free: no tokens are billed."""
        return (0.0, 0.0)

    def prepare(self, *, structured_output: str | None = None, dry_run: bool = False, plan: Path | None = None) -> None:
        """Nothing to settle: a local judge has no output protocol."""

    def build_request(self, reference: str, text_a: str, text_b: str, context: dict[str, Any]) -> JudgePrompt:
        part = {"type": BATTLE_PART, "reference": reference, "text_a": text_a, "text_b": text_b, "context": context}
        return JudgePrompt([{"role": "user", "content": [part]}], injection_flags(text_a), injection_flags(text_b))

    def parse_verdict(self, text: str) -> dict[str, Any] | None:
        return parse_verdict(text)

    def reask(self, request: JudgePrompt, answer: str) -> list[dict[str, Any]]:
        """Never needed (`decide` checks that its verdict reads back); asking again gives the same decision."""
        return request.messages

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        """Compare two candidates (A shown first) with the reference."""
        raise NotImplementedError
