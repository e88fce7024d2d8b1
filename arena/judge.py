"""The arena's judge is the core LLM client (`xraybench.llm.client`); these names keep the arena's vocabulary.

A judge is any `LLMClient`: one chat request per call, no retries (the call engine retries), errors mapped to
`TransientError` or `XrayBenchError`, prices from litellm's map or the user's price per 1,000 tokens.

Structured output: small local judges (SmolLM2-135M) rarely write the verdict object in form, but every common
server can constrain an answer to a JSON schema. `use_structured_output` sets the judge's `response_format`
to `VERDICT_SCHEMA` in the dialect its endpoint speaks:

- `json_schema`: OpenAI's `{"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM guided decoding,
  SGLang, Ollama, llama.cpp's own server);
- `json_object`: `{"type": "json_object", "schema": {...}}` (llama-cpp-python's server turns the schema into a
  grammar; it refuses the `json_schema` form);
- `off`: the text protocol (the prompt's ```json block, read by `arena.verdict.parse_verdict`).

`auto` asks a direct OpenAI-compatible endpoint (`openai/` with `--api-base`) with a one-request probe (8
tokens) which dialect it accepts, and asks litellm's model map for any other provider. The protocol is part
of the judge's decoding parameters, so it is part of every judgment key and of the judge configuration a
leaderboard names.
"""

from __future__ import annotations

import logging
from typing import Any

from arena.prompt import ERROR_TYPES, VERDICT_LEVELS
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMAnswer as JudgeAnswer
from xraybench.llm.client import LLMClient
from xraybench.llm.client import LLMClient as LiteLLMJudge

__all__ = [
    "STRUCTURED_OUTPUT", "VERDICT_SCHEMA", "JudgeAnswer", "LiteLLMJudge", "response_format", "use_structured_output",
]  # fmt: skip

log = logging.getLogger(__name__)
STRUCTURED_OUTPUT = ("auto", "json_schema", "json_object", "off")
MAX_ERRORS = 6  # per candidate: bounds what a constrained small model can ramble into
MAX_DESCRIPTION_CHARS = 200
_ERROR = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(ERROR_TYPES)},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
    },
    "required": ["type", "description"],
    "additionalProperties": False,
}
# errors first, verdict last: a constrained decoder writes the reasons before it commits to a verdict
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "errors_a": {"type": "array", "items": _ERROR, "maxItems": MAX_ERRORS},
        "errors_b": {"type": "array", "items": _ERROR, "maxItems": MAX_ERRORS},
        "verdict": {"type": "string", "enum": list(VERDICT_LEVELS)},
    },
    "required": ["errors_a", "errors_b", "verdict"],
    "additionalProperties": False,
}
_PROBE = [{"role": "user", "content": "Compare report A and report B; answer with the verdict JSON object."}]


def response_format(dialect: str) -> dict[str, Any] | None:
    """The `response_format` of one dialect (None for `off`)."""
    if dialect == "json_schema":
        # strict=False: OpenAI's strict mode refuses maxLength/maxItems; servers that constrain decoding use them
        return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": False}}
    if dialect == "json_object":
        return {"type": "json_object", "schema": VERDICT_SCHEMA}
    if dialect == "off":
        return None
    raise XrayBenchError(f"--structured-output must be one of {', '.join(STRUCTURED_OUTPUT)}, got {dialect!r}")


def _accepts(judge: LLMClient, dialect: str) -> bool:
    """Does the endpoint take this dialect? One short request; a 4xx refusal says no."""
    saved_format, saved_tokens = judge.response_format, judge.max_tokens
    judge.response_format, judge.max_tokens = response_format(dialect), 8
    try:
        judge.complete(_PROBE)
    except XrayBenchError as exc:  # 400/422: the server does not know this response_format (or failed on it)
        log.info("%s refused response_format %s: %s", judge.model, dialect, exc)
        return False
    finally:
        judge.response_format, judge.max_tokens = saved_format, saved_tokens
    return True


def detect_dialect(judge: LLMClient, *, probe: bool = True) -> str:
    """`auto`'s choice: probe a direct endpoint (json_schema, then json_object), ask litellm for the others.

    Without `probe` (a dry run to a paid endpoint) a direct endpoint is assumed to speak `json_schema`."""
    if judge.direct:
        if not probe:
            return "json_schema"
        for dialect in ("json_schema", "json_object"):
            if _accepts(judge, dialect):
                return dialect
        return "off"
    try:
        import litellm  # noqa: PLC0415  (the judge extra; the client has imported it already)

        supported = litellm.supports_response_schema(model=judge.model)
    except Exception:  # noqa: BLE001  (an unknown model: litellm raises on its own map)
        supported = False
    return "json_schema" if supported else "off"


def use_structured_output(judge: LLMClient, mode: str = "auto", *, probe: bool = True) -> str:
    """Set the judge's `response_format` for `mode` (see the module doc); returns the dialect now in use."""
    if mode not in STRUCTURED_OUTPUT:
        raise XrayBenchError(f"--structured-output must be one of {', '.join(STRUCTURED_OUTPUT)}, got {mode!r}")
    dialect = detect_dialect(judge, probe=probe) if mode == "auto" else mode
    judge.response_format = response_format(dialect)
    return dialect
