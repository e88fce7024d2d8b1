"""RetryPolicy / call_with_retries: backoff bounds, jitter, Retry-After, and what is never retried."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.errors import TransientError, XrayBenchError
from xraybench.retry import RetryPolicy, call_with_retries, parse_retry_after


class Flaky:
    """Fails with the given errors in order, then returns 'ok'."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_succeeds_after_transient_errors_with_exponential_caps() -> None:
    waits: list[float] = []
    fn = Flaky(TransientError("a"), TransientError("b"), TransientError("c"))
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=60.0, jitter=False)
    assert call_with_retries(fn, policy, sleep=waits.append) == "ok"
    assert fn.calls == 4
    assert waits == [1.0, 2.0, 4.0]


def test_full_jitter_stays_within_the_cap_and_the_maximum() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=10.0)
    rng = random.Random(0)
    for retry in range(1, 12):
        cap = min(10.0, 2 ** (retry - 1))
        samples = [policy.delay(retry, rng=rng) for _ in range(200)]
        assert all(0.0 <= s <= cap for s in samples)
        assert max(samples) > cap / 2  # really spread over the range, not stuck at 0


def test_retry_after_is_a_floor_cut_to_max_delay() -> None:
    waits: list[float] = []
    fn = Flaky(TransientError("slow down", retry_after=7.5), TransientError("again", retry_after=500))
    policy = RetryPolicy(base_delay_s=0.01, max_delay_s=30.0)
    assert call_with_retries(fn, policy, sleep=waits.append, rng=random.Random(1)) == "ok"
    assert waits[0] >= 7.5
    assert waits[1] == 30.0


def test_non_transient_errors_are_never_retried() -> None:
    waits: list[float] = []
    fn = Flaky(XrayBenchError("400 context length"))
    with pytest.raises(XrayBenchError, match="context length"):
        call_with_retries(fn, RetryPolicy(), sleep=waits.append)
    assert fn.calls == 1 and waits == []
    fn = Flaky(ValueError("bug"))
    with pytest.raises(ValueError):
        call_with_retries(fn, RetryPolicy(), sleep=waits.append)
    assert fn.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    waits: list[float] = []
    retries: list[tuple[int, str, float]] = []
    fn = Flaky(*[TransientError(f"e{i}") for i in range(10)])
    with pytest.raises(TransientError, match="e2"):
        call_with_retries(
            fn,
            RetryPolicy(max_attempts=3, jitter=False),
            sleep=waits.append,
            on_retry=lambda n, exc, wait: retries.append((n, str(exc), wait)),
        )
    assert fn.calls == 3
    assert retries == [(1, "e0", 1.0), (2, "e1", 2.0)]
    assert waits == [1.0, 2.0]


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0  # 2023-11-14 22:13:20 GMT
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == pytest.approx(30.0)


def test_retries_are_logged_with_attempt_numbers(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("connection refused")
        return "ok"

    with caplog.at_level("WARNING", logger="xraybench.retry"):
        assert (
            call_with_retries(flaky, RetryPolicy(max_attempts=4, jitter=False, base_delay_s=0.0), sleep=lambda s: None)
            == "ok"
        )
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "connection refused; retrying (attempt 2 of 4) in 0.0 s",
        "connection refused; retrying (attempt 3 of 4) in 0.0 s",
    ]


def test_refused_api_base_says_it_is_retrying(tmp_path: Path) -> None:
    """A real `xraybench run` against a closed port prints each retry on stderr while it retries."""
    with socket.socket() as sock:  # a port that was free a moment ago: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "openai:m", "--api-base", f"http://127.0.0.1:{port}",
            "--tasks", "demo_vqa", "--limit", "1", "--max-attempts", "3", "--out", str(tmp_path / "r"), "--no-progress"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3  # the run ends incomplete (the item is a recorded failure), not with a traceback
    assert "Connection refused" in proc.stderr or "connection refused" in proc.stderr.lower()
    assert "retrying (attempt 2 of 3)" in proc.stderr and "retrying (attempt 3 of 3)" in proc.stderr
