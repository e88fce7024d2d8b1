"""Arena judges: the `Judge` protocol, the lazy registry of judges, and `build_judge`, the one way to get one.

A judge decides one battle: it builds the request for (reference, candidate A, candidate B, context), and
parses the answer into a 5-level verdict. Every judge runs on the same engine and store: each battle is one
`xraybench.llm.calls.LLMCall` that `CallRunner` keys, de-duplicates, leases, runs, shows in its progress and
commits to the call store (`arena.judging.Judging`). What differs is the judge's `client`:

- an LLM judge (`arena.judges.llm.LLMJudge`, any litellm PROVIDER/MODEL) asks a model over the network, with
  its own prompt (`arena.prompt.PromptTemplate`) and verdict parser;
- a local judge (`arena.judges.local.LocalJudge`) decides in-process, free and offline: the reference-based
  `metric:` proxy judges (`metric:clinical`, `metric:lexical`, `metric:paper-score`) are local judges.

A judgment's key hashes the judge's `name`, `params` and `prompt_version` with the battle, so a judge whose
parameters or prompt change makes new judgments instead of mixing old and new decisions.

A new judge is one file (a class with the members of `Judge` and a `create` class method; subclass
`LocalJudge` for an in-process one) plus one registration line below, or `JUDGES.register(...)` from anywhere
(a plugin: the entry point `judge.NAME = "package.module:Class"` in the group `xraybench.plugins`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from xraybench.registry import Registry, has_members

if TYPE_CHECKING:
    from arena.prompt import JudgePrompt
    from xraybench.llm.client import LLMAnswer
    from xraybench.llm.options import LLMOptions
    from xraybench.records import Sample

LLM = "PROVIDER/MODEL"  # the registry entry every litellm model string resolves to
METRIC_PREFIX = "metric:"


@runtime_checkable
class JudgeClient(Protocol):
    """What the call engine (`CallRunner`) and the governance check use of a judge's client: an `LLMClient`,
    or a `LocalClient` that decides in-process."""

    model: str
    provider: str
    api_base: str | None
    timeout_s: float
    max_tokens: int

    @property
    def local(self) -> bool: ...

    def prices(self) -> tuple[float, float] | None: ...

    def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer: ...


@runtime_checkable
class Judge(Protocol):
    """A judge of arena battles.

    `name` names it in every judgment key, plan entry and leaderboard; `params` (what decides its verdicts:
    decoding parameters, thresholds, versions) and `prompt_version` are part of every judgment key;
    `parser_version` is stored with each parsed verdict (`arena reparse` updates older ones).
    `expected_completion_tokens` sizes the cost estimate; `client` is what the call engine asks.
    """

    name: str
    prompt_version: str
    parser_version: str
    expected_completion_tokens: int
    client: JudgeClient

    @property
    def params(self) -> dict[str, Any]: ...

    def prices(self) -> tuple[float, float] | None: ...

    def prepare(self, *, structured_output: str | None = None, dry_run: bool = False, plan: Path | None = None) -> None:
        """Settle what the keys depend on before planning (an LLM judge's structured output; see `build_judge`)."""
        ...

    def build_request(self, reference: str, text_a: str, text_b: str, context: dict[str, Any]) -> JudgePrompt:
        """The messages of one battle (A shown first) and the injection flags of both candidates."""
        ...

    def parse_verdict(self, text: str) -> dict[str, Any] | None:
        """`{"verdict", "errors_a", "errors_b"}` from an answer, or None when it has no readable verdict."""
        ...

    def reask(self, request: JudgePrompt, answer: str) -> list[dict[str, Any]]:
        """The messages of the one re-ask after an answer without a readable verdict."""
        ...


# A registered target is a class with the `Judge` members and `create(name, options) -> Judge`.
JUDGES: Registry[Any] = Registry(
    "judge",
    plugin_kind="judge",
    check=has_members("create", "build_request", "parse_verdict", "reask", "prepare", "prices", cls=True),
)
JUDGES.register(LLM, "arena.judges.llm:LLMJudge", help="any litellm model string, e.g. openai/gpt-4o-mini")
JUDGES.register("metric:clinical", "arena.judges.clinical:ClinicalJudge", help="CheXpert label disagreements")
JUDGES.register("metric:lexical", "arena.judges.lexical:LexicalJudge", help="ROUGE-L and BLEU-4 overlap")
JUDGES.register("metric:paper-score", "arena.judges.paper_score:PaperScoreJudge", help="the paper's answer score")
JUDGES.register(
    "metric:findings", "arena.judges.findings:FindingsJudge", help="findings with side, severity, comparison"
)


def is_metric_judge(name: str | None) -> bool:
    """A `metric:` judge: an offline, reference-based proxy for a clinical judge (leaderboards say so)."""
    return bool(name) and str(name).startswith(METRIC_PREFIX)


def registry_name(name: str) -> str:
    """The registry entry of a judge name: itself when registered, `PROVIDER/MODEL` for any other model string."""
    return name if name in JUDGES or "/" not in name or is_metric_judge(name) else LLM


def build_judge(
    name: str,
    options: LLMOptions | None = None,
    *,
    samples: Iterable[Sample] = (),
    action: str = "judge",
    structured_output: str | None = None,
    dry_run: bool = False,
    plan: Path | None = None,
) -> Judge:
    """The judge called `name`, ready to plan and run.

    `options` (an `LLMOptions`, e.g. the command's config) give an LLM judge its endpoint, key, decoding and
    price; a local judge needs none. Governance is checked for `samples` before anything is asked (a local
    judge sends nothing anywhere). `structured_output` (`auto`, `json_schema`, `json_object`, `off`) chooses an
    LLM judge's output protocol (`auto` may ask the server's model listing; a dry run asks nothing and reuses
    what `plan` recorded); without it, the protocol the arena's `plan` recorded for this judge, else text.
    """
    from xraybench.llm.governance import check_governance
    from xraybench.llm.options import LLMOptions

    options = options if options is not None else LLMOptions()
    judge: Judge = JUDGES.get(registry_name(name)).create(name, options)
    check_governance(samples, judge.client, options.allow_provider, action=action)  # type: ignore[arg-type]
    judge.prepare(structured_output=structured_output, dry_run=dry_run, plan=plan)
    return judge


def as_judge(judge: Any) -> Judge:
    """A `Judge` as is; a bare `LLMClient` as the LLM judge with the arena's prompt and parser."""
    from xraybench.llm.client import LLMClient

    if isinstance(judge, LLMClient):
        from arena.judges.llm import LLMJudge

        return LLMJudge(judge)
    return judge  # type: ignore[no-any-return]
