"""Read one chat-completion answer, whatever shape a server sends: the single parser behind every LLM call.

Models under test (`openai:`, `litellm:`) and judges/teachers (`xraybench.llm.client`) all turn a response body
into the one answer record, `xraybench.records.Generation`, here, so an odd answer is refused the same way everywhere: `OddAnswer` (a `ValueError`)
with the reason, which each caller turns into its recorded failure. Nothing a server sends can raise
anything else: `choices` as a dict, `message` as a string, `finish_reason` as a list and a body nested
100,000 deep are all reasons, not tracebacks. `content` given as a list of parts is legitimate (OpenAI's
multi-part content): its text parts are joined.

Usage is bookkeeping, not the answer: a `usage` that is not an object (or token counts that are not counts)
is read as "no usage reported" and logged, so the answer itself is kept.

The size cap (`max_answer_bytes`) lives here too, the one place that says how large an answer may be.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.records import Generation

log = logging.getLogger(__name__)

DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_ANSWER_BYTES_ENV = "XRAYBENCH_MAX_ANSWER_BYTES"
_PREVIEW = 200  # bytes of an odd body quoted in its failure


class OddAnswer(ValueError):
    """A 200 answer that is not a usable chat completion; the message says why."""


class AnswerTooLarge(XrayBenchError):
    """An answer over the size cap: refused before it is read whole (never stored, not retried)."""


def model_output(content: str, reasoning: str | None) -> str:
    """An answer as the model wrote it, for every LLM call (models under test, judges, teachers): servers and
    litellm move a leading `<think>…</think>` block into `reasoning_content`; it is put back in front, so the
    output parser, the format and coordinate rewards and a teacher's filter see the reasoning."""
    if reasoning and not content.lstrip().startswith("<think>"):
        return f"<think>{reasoning}</think>{content}"
    return content


def max_answer_bytes(value: int | str | None = None) -> int:
    """The answer size cap in bytes: `value` if given, else `$XRAYBENCH_MAX_ANSWER_BYTES`, else 4 MiB."""
    source = "max_answer_bytes"
    if value is None:
        value, source = os.environ.get(MAX_ANSWER_BYTES_ENV), MAX_ANSWER_BYTES_ENV
    if value is None or value == "":
        return DEFAULT_MAX_ANSWER_BYTES
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise XrayBenchError(f"{source}={value!r}: expected a whole number of bytes, e.g. 4194304") from None
    if limit < 1:
        raise XrayBenchError(f"{source}={value!r}: must be at least 1 byte")
    return limit


def too_large(where: str, size: int | str, limit: int) -> AnswerTooLarge:
    """The failure for an answer over the cap, naming both knobs that raise it."""
    return AnswerTooLarge(
        f"{where}: answer of {size} bytes is over the {limit}-byte cap; it was not stored "
        f"(raise it with --max-answer-bytes N or ${MAX_ANSWER_BYTES_ENV}; see docs/limits.md)"
    )


def check_text_size(where: str, text: str, limit: int) -> None:
    """For answers that arrive already read (the litellm path): refuse one over the cap all the same."""
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:  # cheap test first
        raise too_large(where, len(text.encode("utf-8", "surrogatepass")), limit)


def decode_body(body: bytes) -> Any:
    """The JSON of a response body; `OddAnswer` for bytes that are not JSON or nest too deeply to read."""
    try:
        return json.loads(body)
    except RecursionError:
        raise OddAnswer(f"a body nested too deeply to read: {preview(body)}") from None
    except ValueError as exc:  # UnicodeDecodeError is one
        raise OddAnswer(f"a body that is not JSON ({exc}): {preview(body)}") from None


def preview(body: bytes | str) -> str:
    """The start of an odd body for an error message."""
    if isinstance(body, str):
        return repr(body[:_PREVIEW])
    return repr(body[:_PREVIEW].decode("utf-8", "replace"))


def parse_completion(data: Any) -> Generation:
    """The first choice of a chat-completion object (a dict as JSON gives it) as the one answer record (text with
    any `reasoning_content` put back in front, finish reason, token counts; no latency or cost yet: the caller
    adds them); `OddAnswer` if it has no usable answer."""
    if not isinstance(data, dict):
        raise OddAnswer(f"the body is a JSON {_kind(data)}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise OddAnswer(f"'choices' is {_kind(choices)}, not a list")
    if not choices:
        raise OddAnswer("'choices' is empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise OddAnswer(f"choices[0] is {_kind(choice)}, not an object")
    message = choice.get("message")
    if message is None and isinstance(choice.get("text"), str):
        message = {"content": choice["text"]}  # the legacy completions shape some servers still send
    if not isinstance(message, dict):
        raise OddAnswer(f"choices[0].message is {_kind(message)}, not an object")
    finish_reason = choice.get("finish_reason")
    if finish_reason is not None and not isinstance(finish_reason, str):
        raise OddAnswer(f"choices[0].finish_reason is {_kind(finish_reason)}, not a string")
    text = _content_text(message.get("content"), "choices[0].message.content")
    reasoning = message.get("reasoning_content")
    if reasoning is not None:
        reasoning = _content_text(reasoning, "choices[0].message.reasoning_content") or None
    prompt_tokens, completion_tokens = _usage(data.get("usage"))
    return Generation(
        text=model_output(text, reasoning),
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning=reasoning,
    )


def _content_text(content: Any, where: str) -> str:
    """A message's text: a string, None (no text), or a list of parts whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise OddAnswer(f"{where} is {_kind(content)}, not text")
    texts = []
    for i, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise OddAnswer(f"{where}[{i}] is {_kind(part)}, not a content part")
        text = part.get("text")
        if part.get("type", "text") in ("text", "output_text") and text is not None:
            if not isinstance(text, str):
                raise OddAnswer(f"{where}[{i}].text is {_kind(text)}, not text")
            texts.append(text)
    return "".join(texts)


def _usage(usage: Any) -> tuple[int | None, int | None]:
    """(prompt, completion) token counts, None where not reported or not a count (logged, answer kept)."""
    if usage is None:
        return None, None
    if not isinstance(usage, dict):
        log.warning("ignoring a usage that is %s, not an object: tokens unknown for this answer", _kind(usage))
        return None, None
    counts = []
    for name in ("prompt_tokens", "completion_tokens"):
        value = usage.get(name)
        if isinstance(value, bool) or not (value is None or isinstance(value, int) and 0 <= value < 2**53):
            log.warning("ignoring usage.%s = %s: not a token count", name, preview(str(value)))
            value = None
        counts.append(value)
    return counts[0], counts[1]


def _kind(value: Any) -> str:
    """What a JSON value is, in words (for failure reasons)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "missing (null)" if value is None else names.get(type(value), type(value).__name__)
