"""Retry with exponential backoff and full jitter, shared by the runner and the arena.

Adapters never retry: they raise `TransientError` (optionally with the server's `Retry-After`) and the
caller decides how long to wait. Keeping the policy in one place means one set of knobs, one set of tests.

The error classification of every LLM call lives here too (`status_error`, `is_fatal_message`), so the
`openai:`/`litellm:` adapters and the judge/teacher client sort failures alike: 408/409/429/5xx and timeouts
are retried; authentication, permission, missing credentials, an unknown model and a context-length error are
`FatalError`s (no retry, no further call can succeed: the run stops at once with the server's message); any
other 4xx fails its one call.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from xraybench.errors import TransientError, XrayBenchError

T = TypeVar("T")
log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx
# A caller that sees this many calls (or batches) in a row fail stops instead of marking every remaining one
# failed: a bad key, a wrong model name or a server down past all retries fails them all the same
ABORT_AFTER_FAILURES = 5
# litellm's names for what an HTTP status means, so every path words its errors alike
STATUS_NAMES = {
    400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
    408: "Timeout", 409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError",
    503: "ServiceUnavailableError",
}  # fmt: skip
FATAL_STATUS = frozenset({401, 403, 404})
# what providers and SDKs say when no key was given: the OpenAI SDK's "Missing credentials" reaches litellm as a
# 500 InternalServerError, so the status alone would retry it
_MISSING_KEY_PHRASES = (
    "missing credentials", "api_key client option must be set", "no api key", "api key not found",
    "incorrect api key", "invalid api key", "invalid x-api-key", "api key is missing",
)  # fmt: skip
_CONTEXT_PHRASES = ("context_length", "context length", "context window", "maximum context")
_UNKNOWN_MODEL_PHRASES = ("model_not_found", "does not exist", "model not found", "unknown model", "no such model")


class FatalError(XrayBenchError):
    """A failure no retry and no other call of the run can fix: authentication, permission, missing credentials,
    an unknown model, a context-length error. Never retried; callers stop the whole run on it at once."""


def is_fatal_message(message: str, code: str = "") -> bool:
    """Does an error's text (or code) say missing/invalid credentials, an unknown model or a context-length error?"""
    text = f"{message} {code}".lower()
    missing_key = any(p in text for p in _MISSING_KEY_PHRASES) or ("missing" in text and "api key" in text)
    return missing_key or any(p in text for p in _CONTEXT_PHRASES) or any(p in text for p in _UNKNOWN_MODEL_PHRASES)


def status_error(
    where: str, status: int, message: str, code: str = "", retry_after: float | None = None
) -> XrayBenchError:
    """The error for an HTTP error answer: `TransientError` (408/409/429/5xx), `FatalError` (401/403/404, missing
    credentials, context length, unknown model, whatever the status) or `XrayBenchError` (any other 4xx: this
    call fails, the next may not)."""
    lowered = f"{message} {code}".lower()
    if status == 400 and any(p in lowered for p in _CONTEXT_PHRASES):
        name = "ContextWindowExceededError"
    else:
        name = STATUS_NAMES.get(status, "InternalServerError" if status >= 500 else "APIError")
    text = f"{where}: {name}: HTTP {status}: {message}"
    if status in FATAL_STATUS or is_fatal_message(message, code):
        return FatalError(f"{text} (not retried: no request can succeed until this is fixed)")
    if status in RETRYABLE_STATUS or status >= 500:
        return TransientError(text, retry_after)
    return XrayBenchError(text)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    The n-th retry waits a uniform random time in `[0, min(max_delay_s, base_delay_s * 2**(n-1))]` ("full
    jitter", which spreads out clients that failed together), or the upper bound itself when `jitter` is
    off. A server's `Retry-After` is a floor on the wait, cut to `max_delay_s` so that one bad header
    cannot stall a run for hours.
    """

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry delays must be non-negative")

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        wait = (rng or random).uniform(0.0, cap) if self.jitter else cap
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay_s))
        return wait


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    on_retry: Callable[[int, TransientError, float], object] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Call `fn` until it succeeds, retrying only `TransientError`s, at most `policy.max_attempts` calls.

    `on_retry(retry_number, error, wait_s)` is called before each wait (for logs and progress bars); without it
    each retry is logged as a warning, "retrying (attempt k of n)", so a refused connection is never silent. Any other
    exception propagates at once; when the attempts run out the last `TransientError` propagates.
    """
    policy = policy or RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except TransientError as exc:
            if attempt == policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc.retry_after, rng)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            else:
                log.warning("%s; retrying (attempt %d of %d) in %.1f s", exc, attempt + 1, policy.max_attempts, wait)
            sleep(wait)
    raise AssertionError("unreachable: the loop either returns or raises")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None if absent or invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)
