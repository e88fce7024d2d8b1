"""Structured output for LLM judges: the verdict JSON schema and the dialect each endpoint speaks.

An LLM judge (`arena.judges.llm.LLMJudge`) asks the core LLM client (`xraybench.llm.client`): one chat
request per call, no retries (the call engine retries), errors mapped to `TransientError` or `XrayBenchError`,
prices from litellm's map or the user's price per 1,000 tokens. Judges in general: `arena.judges`.

Structured output: small local judges (SmolLM2-135M) rarely write the verdict object in form, but every common
server can constrain an answer to a JSON schema. `use_structured_output` sets the judge's `response_format`
to `VERDICT_SCHEMA` in the dialect its endpoint speaks:

- `json_schema`: OpenAI's `{"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM guided decoding,
  SGLang, Ollama, llama.cpp's own server);
- `json_object`: `{"type": "json_object", "schema": {...}}` (llama-cpp-python's server turns the schema into a
  grammar; it refuses the `json_schema` form);
- `off`: the text protocol (the prompt's ```json block, read by `arena.verdict.parse_verdict`).

`auto` asks a direct OpenAI-compatible endpoint (`openai/` with `--api-base`) who serves it: `GET /models` (no
chat request, no cost) names the server family in `owned_by` ("vllm", "sglang", "llamacpp", Ollama's
"library", llama-cpp-python's "me"); an unknown server gets the text protocol (ask with an explicit dialect).
Any other provider is looked up in litellm's model map. The protocol is part
of the judge's decoding parameters, so it is part of every judgment key and of the judge configuration a
leaderboard names.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path
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
# what `GET {api_base}/models` says each entry is `owned_by`, per server family, and the dialect it speaks
SERVER_DIALECTS = {
    "vllm": "json_schema", "sglang": "json_schema", "llamacpp": "json_schema", "library": "json_schema",
    "ollama": "json_schema", "openai": "json_schema", "system": "json_schema", "me": "json_object",
}  # fmt: skip


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


def server_family(judge: LLMClient) -> str | None:
    """Who serves a direct endpoint, from the `owned_by` of its `GET /models` listing (free: no chat request);
    None when it does not say (no listing, an error, an unknown answer)."""
    assert judge.api_base is not None
    request = urllib.request.Request(f"{judge.api_base.rstrip('/')}/models", headers={"Accept": "application/json"})
    if judge.api_key:
        request.add_header("Authorization", f"Bearer {judge.api_key}")
    try:
        with urllib.request.urlopen(request, timeout=min(10.0, judge.timeout_s)) as response:
            listing = json.loads(response.read(1_000_000))
        entries = listing.get("data") if isinstance(listing, dict) else None
        owners = [e.get("owned_by") for e in entries or [] if isinstance(e, dict)]
    except (OSError, ValueError) as exc:  # URLError, HTTP errors, timeouts, bad JSON
        log.info("%s: no server listing at %s/models (%s)", judge.model, judge.api_base, exc)
        return None
    wanted = judge.model.split("/", 1)[1]
    mine = [e.get("owned_by") for e in entries or [] if isinstance(e, dict) and e.get("id") == wanted]
    owner = (mine or owners or [None])[0]
    return str(owner).lower() if owner else None


def detect_dialect(judge: LLMClient) -> str:
    """`auto`'s choice: a direct endpoint by the server family its model listing names (unknown: the text
    protocol); any other provider by litellm's model map."""
    if judge.direct:
        family = server_family(judge)
        dialect = SERVER_DIALECTS.get(family or "", "off")
        if dialect == "off":
            log.warning(
                "%s: server %s (owned_by %r) is not known to take a JSON schema; using the text protocol "
                "(pass --structured-output json_schema or json_object to ask anyway)", judge.model, judge.api_base,
                family,
            )  # fmt: skip
        return dialect
    try:
        from xraybench.llm.litellm_transport import import_litellm  # the engine's one import (offline price map)

        supported = bool(import_litellm().supports_response_schema(model=judge.model))
    except Exception:  # noqa: BLE001  (litellm missing, or an unknown model: it raises on its own map)
        supported = False
    return "json_schema" if supported else "off"


def use_structured_output(
    judge: LLMClient, mode: str = "auto", *, dry_run: bool = False, plan: Path | None = None
) -> str:
    """Set the judge's `response_format` for `mode` (see the module doc); returns the dialect now in use.

    A dry run makes no request at all, not even the model listing: `auto` then takes the structured output the
    arena's `plan` recorded for this judge (so the estimate counts the judgments already done), else none."""
    if mode not in STRUCTURED_OUTPUT:
        raise XrayBenchError(f"--structured-output must be one of {', '.join(STRUCTURED_OUTPUT)}, got {mode!r}")
    if mode == "auto" and dry_run and judge.direct:
        from arena.judging import recorded_response_format

        judge.response_format = None if plan is None else recorded_response_format(plan, judge.model)
        kind = (judge.response_format or {}).get("type", "off")
        return {"json_schema": "json_schema", "json_object": "json_object"}.get(kind, "off")
    dialect = detect_dialect(judge) if mode == "auto" else mode
    judge.response_format = response_format(dialect)
    return dialect
