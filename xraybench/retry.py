"""Retry with exponential backoff and full jitter, shared by the runner and the arena.

Adapters never retry: they raise `TransientError` (optionally with the server's `Retry-After`) and the
caller decides how long to wait. Keeping the policy in one place means one set of knobs, one set of tests.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from xraybench.errors import TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)


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
