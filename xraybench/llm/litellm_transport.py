"""The litellm transport: every provider other than an OpenAI-compatible server with an `api_base` goes this way.

litellm is imported on first use with `LITELLM_LOCAL_MODEL_COST_MAP=True`, so importing it does not fetch the
price list from the network. litellm's own retries are switched off (`num_retries=0`): the caller retries by the
one policy (`xraybench.retry`). litellm's exceptions are mapped by the one classification to `TransientError`
(rate limits, 5xx, timeouts, dropped connections), `FatalError` (authentication, missing key, unknown model,
context length: the run stops at once) or `XrayBenchError` (another bad request) with the provider's message; its
answer is read by the one parser (`xraybench.llm.completion.parse_completion`), so `reasoning_content` is put
back in front of the answer here exactly as on the direct HTTP path.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from xraybench.errors import TransientError, XrayBenchError
from xraybench.lazy import require
from xraybench.llm.completion import OddAnswer, check_text_size, max_answer_bytes, parse_completion
from xraybench.llm.transport import call_with_deadline
from xraybench.records import Generation
from xraybench.retry import RETRYABLE_STATUS, FatalError, is_fatal_message, parse_retry_after

TRANSIENT_NAMES = ("RateLimitError", "Timeout", "APIConnectionError", "ServiceUnavailableError", "InternalServerError")
FATAL_NAMES = ("AuthenticationError", "PermissionDeniedError", "NotFoundError", "ContextWindowExceededError")
# litellm's first completion in a process imports and sets up its provider SDKs (seconds, 11 s on a busy CI
# machine): that CPU time is not the server's, so the first call's deadline gets this much on top
FIRST_CALL_GRACE_S = 60.0
_warm = threading.Event()


def import_litellm() -> Any:
    """litellm without its import-time network look-up, or a `MissingExtraError` naming the `judge` extra."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return require("litellm", "judge", "litellm: models")


def litellm_completion(response: Any) -> Generation:
    """litellm's response object read by the one parser (its pydantic dump is the OpenAI JSON shape);
    `OddAnswer` when it is not a usable chat completion."""
    dump = getattr(response, "model_dump", None)
    try:
        data = dump() if callable(dump) else response
    except Exception as exc:  # a response object litellm built from an odd body may not even dump
        raise OddAnswer(f"litellm could not read the answer ({type(exc).__name__}: {exc})") from None
    return parse_completion(data)


def complete_with_deadline(litellm: Any, kwargs: dict[str, Any], timeout_s: float, where: str) -> Generation:
    """`litellm.completion(**kwargs)` held to a wall-clock deadline (litellm's own `timeout` is per read), its
    errors mapped (`map_litellm_error`), its answer read by the one parser: an odd one is a `TransientError`
    with the reason, one over `max_answer_bytes` an `AnswerTooLarge`."""
    limit = max_answer_bytes(kwargs.pop("max_answer_bytes", None))
    deadline = timeout_s if _warm.is_set() else timeout_s + FIRST_CALL_GRACE_S
    try:
        response = call_with_deadline(lambda: litellm.completion(**kwargs), deadline, where)
    except TransientError:
        raise
    except Exception as exc:  # litellm raises its own hierarchy (and sometimes plain httpx/openai errors)
        _warm.set()
        raise map_litellm_error(litellm, exc, where) from exc
    _warm.set()
    try:
        answer = litellm_completion(response)
    except OddAnswer as exc:
        raise TransientError(
            f"{where}: InternalServerError: no usable chat completion (the answer is not a chat completion): {exc}"
        ) from None
    check_text_size(where, answer.text, limit)
    return answer


def _retry_after(exc: BaseException) -> float | None:
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if headers is not None and hasattr(headers, "get"):
            value = headers.get("retry-after") or headers.get("Retry-After")
            if value is not None:
                return parse_retry_after(str(value))
    return None


def _short(message: str, limit: int = 600) -> str:
    """litellm puts whole tracebacks (and the odd body) into its messages: keep the part before them, cut."""
    message = message.split("Traceback (most recent call last)", 1)[0].strip() or message
    return message if len(message) <= limit else message[:limit] + " ..."


def map_litellm_error(litellm: Any, exc: BaseException, where: str) -> XrayBenchError:
    """The error to raise for a litellm exception, by the one classification of `xraybench.retry`: fatal first
    (authentication, permission, unknown model, context length, and a missing key, which litellm reports for
    OpenAI as a 500 "Missing credentials"), then transient (rate limits, 5xx, timeouts), else this call fails."""
    status = getattr(exc, "status_code", None)
    transient_types = tuple(getattr(litellm, name) for name in TRANSIENT_NAMES if hasattr(litellm, name))
    fatal_types = tuple(getattr(litellm, name) for name in FATAL_NAMES if hasattr(litellm, name))
    message = _short(str(getattr(exc, "message", None) or exc))
    text = f"{where}: {type(exc).__name__}: {message}"
    if isinstance(exc, fatal_types) or status in (401, 403, 404) or is_fatal_message(message):
        return FatalError(f"{text} (not retried: no request can succeed until this is fixed)")
    if isinstance(exc, transient_types) or (isinstance(status, int) and (status in RETRYABLE_STATUS or status >= 500)):
        return TransientError(text, _retry_after(exc))
    return XrayBenchError(text)
