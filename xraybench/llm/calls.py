"""Run many paid LLM calls against the append-only call store: each key answered once, never lost, never twice.

A call (`LLMCall`) is keyed by a hash of everything that decides its answer (`CallStore.key_of(**identity)`).
`CallRunner.run(calls)` skips keys already answered, leases each remaining key right before paying for it (so
two processes on one store never ask the same key at the same time), spaces requests by `rpm`, retries
transient failures, and commits every answer or failure to the store before it counts. Results are read back
from the store (`store.get(key).parsed`), so a rerun after a crash or `kill -9` continues where it stopped.

Answers are never trusted blindly: an answer cut off by the token limit is a failure (never a result), and
an answer `parse` cannot read is asked again once (`reask`), then stored as a failure; failures are pending
again on the next run.

Money: the cost of the pending calls is estimated before any call (prompt tokens ~ characters / 4, plus
`expected_completion_tokens` per answer, at the client's price); with `budget_usd` a request starts only if
its worst case (its prompt plus a full `max_tokens` answer) fits in what is left, and the first one that does
not fit stops the run (a cap means "stop here", not "skip to cheaper calls").
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from xraybench.callstore import TRUNCATED_FINISH_REASONS, CallResult, CallStore, default_owner
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMAnswer, LLMClient
from xraybench.progress import progress_bar
from xraybench.retry import RetryPolicy, call_with_retries

CHARS_PER_TOKEN = 4
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class LLMCall:
    """One call to make: its key and identity (what was hashed, `kind` included), the messages, how to read the
    answer (`parse` returns None for an unreadable one) and, optionally, the messages of the one re-ask.

    `label` is shown in failure listings (study id, models, ...); it is not part of the key.
    """

    key: str
    identity: dict[str, Any]
    messages: list[dict[str, Any]]
    parse: Callable[[str], Any | None]
    reask: Callable[[str], list[dict[str, Any]]] | None = None
    parser_version: str | None = None
    label: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """What the pending calls should cost; `cost_usd` is None when no price is known."""

    n_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


@dataclass
class CallReport:
    """What the runs of one `CallRunner` did, added up over its `run()` calls.

    `n_done_before` keys were already answered in the store and cost nothing; `n_requests` counts every HTTP
    request (retries and re-asks included); `estimate` is that of the latest run's pending calls.
    """

    n_calls: int = 0
    n_unique: int = 0
    n_done_before: int = 0
    n_ok: int = 0
    n_failed: int = 0
    n_budget_stopped: int = 0
    n_claimed_elsewhere: int = 0
    n_requests: int = 0
    n_reasked: int = 0
    cost_usd: float = 0.0
    estimate: Estimate | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    n_leases_recovered: int = 0


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A price-free token count for estimates and budget bounds: characters / 4, plus one."""
    return sum(len(str(m.get("content", ""))) for m in messages) // CHARS_PER_TOKEN + 1


def estimate_calls(
    calls: list[LLMCall], prices: tuple[float, float] | None, expected_completion_tokens: int
) -> Estimate:
    """Expected tokens and cost of one request per call, at (input, output) USD per token when known."""
    p_tok = sum(prompt_tokens(c.messages) for c in calls)
    c_tok = expected_completion_tokens * len(calls)
    cost = None if prices is None else p_tok * prices[0] + c_tok * prices[1]
    return Estimate(len(calls), p_tok, c_tok, cost)


class RateLimiter:
    """At most `rpm` request starts per minute, evenly spaced; thread-safe; waits outside the lock."""

    def __init__(
        self, rpm: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep
    ):
        if rpm <= 0:
            raise ValueError(f"rpm must be positive, got {rpm}")
        self.interval = 60.0 / rpm
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class BudgetExhausted(XrayBenchError):
    """The next request could take the run past `--budget-usd`; it is not made (never retried)."""


class Budget:
    """Spent plus in-flight upper bounds never exceed the cap: a request starts only if its worst case fits.

    Once one request does not fit, `stopped` is set and the run starts no new call.
    """

    def __init__(self, cap: float | None):
        self.cap, self.spent, self.reserved = cap, 0.0, 0.0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> bool:
        with self._lock:
            if self.cap is not None and self.spent + self.reserved + amount > self.cap:
                self.stopped.set()
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += actual


def _owner_is_dead(owner: str, host: str) -> bool:
    """Is a lease owner (`host:pid:suffix`, see `default_owner`) a process of this host that no longer runs?"""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # some other user's live process has that pid
    return False


def release_dead_leases(store: CallStore) -> int:
    """Give back the leases of processes on this host that were killed (`kill -9` leaves them behind).

    Without this a rerun right after a kill would skip the killed run's in-flight keys as "claimed elsewhere"
    until their leases expire (minutes). Leases of live processes, and of other hosts, are left alone: those
    wait for their expiry.
    """
    host = socket.gethostname()
    dead = [(key, owner) for key, owner, _ in store.leases() if _owner_is_dead(owner, host)]
    for key, owner in dead:
        store.release(key, owner)
    return len(dead)


class GroupCommit(Generic[T, R]):
    """Hands items from many threads to `write(items) -> results` in groups; each thread gets its own result.

    The first thread to arrive while no write is running leads: it writes everything queued so far (its own
    item included) in one call, while later arrivals queue for the next group. A thread returns only after
    the write that holds its item has returned, so with a durable `write` (one fsynced transaction) nothing
    counts before it is on disk. Why: the call store fsyncs each transaction (milliseconds on a busy disk);
    64 threads committing one by one queue behind each other, in groups they share one fsync.
    """

    def __init__(self, write: Callable[[list[T]], list[R]]):
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R:
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done and self._busy:
                self._cond.wait()
            if not ticket.done:
                batch, self._queue, self._busy = self._queue, [], True
        if not ticket.done:
            self._lead(batch)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self, batch: list[_Ticket[T, R]]) -> None:
        results: list[R] = []
        error: BaseException | None = None
        try:
            results = self._write([t.item for t in batch])
        except BaseException as exc:  # every thread of the group sees the failure of its write
            error = exc
        with self._cond:
            for i, t in enumerate(batch):
                t.result, t.error, t.done = (results[i] if error is None else None), error, True
            self._busy = False
            self._cond.notify_all()


@dataclass
class _Ticket(Generic[T, R]):
    item: T
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class _Outcome:
    """How one call ended: the final answer (if any), what it parsed to, and every paid answer on the way."""

    ok: bool = False
    error: str | None = None
    answer: LLMAnswer | None = None
    parsed: Any = None
    spend: list[LLMAnswer] = field(default_factory=list)
    requests: int = 0


class CallRunner:
    """Runs the pending calls of a list against one store with `max_concurrency` threads; one per run."""

    def __init__(
        self,
        client: LLMClient,
        store: CallStore,
        *,
        max_concurrency: int = 8,
        rpm: float | None = None,
        budget_usd: float | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        expected_completion_tokens: int = 400,
        progress: bool = False,
    ):
        if max_concurrency < 1:
            raise XrayBenchError(f"--max-concurrency must be at least 1, got {max_concurrency}")
        self.client, self.store = client, store
        self.max_concurrency = max_concurrency
        self.limiter = RateLimiter(rpm) if rpm else None
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.expected_completion_tokens = expected_completion_tokens
        self.progress = progress
        self.owner = default_owner()
        self.ttl_s = (
            client.timeout_s * self.policy.max_attempts * 2 + self.policy.max_delay_s * self.policy.max_attempts
        )
        self.prices = client.prices()
        if budget_usd is not None and self.prices is None:
            raise XrayBenchError(
                f"--budget-usd needs a price, and litellm's cost map has none for {client.model}: "
                "pass --price-per-1k-tokens"
            )
        self.budget = Budget(budget_usd)
        self._lock = threading.Lock()
        self._records: GroupCommit[CallResult, None] = GroupCommit(self._record_group)
        self.report = CallReport()

    def pending(self, calls: list[LLMCall]) -> list[LLMCall]:
        """The calls to make: one per key (the first), not yet answered in the store."""
        unique = _unique(calls)
        todo = set(self.store.pending(c.key for c in unique))
        return [c for c in unique if c.key in todo]

    def estimate(self, calls: list[LLMCall]) -> Estimate:
        """Expected tokens and cost of `calls` (one request each); the budget cap uses the worst case instead."""
        return estimate_calls(calls, self.prices, self.expected_completion_tokens)

    def run(self, calls: list[LLMCall], *, dry_run: bool = False) -> CallReport:
        """Make the pending ones of `calls` (a dry run only estimates them); the report adds up over runs."""
        if not dry_run:
            self.report.n_leases_recovered += release_dead_leases(self.store)
        unique = _unique(calls)
        todo = self.pending(unique)
        self.report.n_calls += len(calls)
        self.report.n_unique += len(unique)
        self.report.n_done_before += len(unique) - len(todo)
        self.report.estimate = self.estimate(todo)
        if dry_run or not todo:
            return self.report
        kind = str(todo[0].identity.get("kind", "call"))
        with (
            progress_bar(len(todo), f"{kind} calls", enabled=self.progress) as advance,
            ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="llm-call") as pool,
        ):
            self._feed(pool, deque(todo), advance)
        self.report.cost_usd = self.budget.spent
        return self.report

    def _feed(self, pool: ThreadPoolExecutor, queue: deque[LLMCall], advance: Callable[[int], None]) -> None:
        """Lease the queued calls in chunks and hand the leased ones to the pool: at most 2 x `max_concurrency`
        keys are leased and unfinished at any time, and the next chunk is leased (one transaction) once half a
        pool's worth of them has finished.

        Why chunks: a lease is a committed, fsynced transaction; taken one by one, every call would wait for
        its own fsync behind the others. A key leased here but not started when the budget stops the run is
        given back by `_one`; one left by a killed process is taken back by `release_dead_leases`.
        """
        limit = 2 * self.max_concurrency
        refill_at = limit - max(1, self.max_concurrency // 2)
        running: set[Future[None]] = set()
        while queue or running:
            if queue and len(running) <= refill_at:
                if self.budget.stopped.is_set():
                    self._count("n_budget_stopped", len(queue))
                    advance(len(queue))
                    queue.clear()
                    continue
                chunk = [queue.popleft() for _ in range(min(limit - len(running), len(queue)))]
                taken = set(self.store.claim_many([c.key for c in chunk], self.owner, self.ttl_s))
                self._count("n_claimed_elsewhere", len(chunk) - len(taken))
                advance(len(chunk) - len(taken))
                running.update(pool.submit(self._one, call) for call in chunk if call.key in taken)
                continue
            if running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
                advance(len(done))

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    # -- one call ---------------------------------------------------------------------------------------------

    def _one(self, call: LLMCall) -> None:
        """Make one leased call and record how it ended; a call the budget stopped gives its lease back."""
        if self.budget.stopped.is_set():
            self.store.release(call.key, self.owner)
            self._count("n_budget_stopped", 1)
            return
        outcome = _Outcome()
        try:
            self._answer(call, outcome)
        except BudgetExhausted as exc:
            if not outcome.spend:  # nothing paid for this call: give the key back untouched
                self.store.release(call.key, self.owner)
                self._count("n_budget_stopped", 1)
                return
            outcome.ok, outcome.error, outcome.answer = False, str(exc), outcome.spend[-1]
        except XrayBenchError as exc:
            outcome.ok, outcome.error, outcome.answer = False, str(exc), None
        self._record(call, outcome)

    def _answer(self, call: LLMCall, outcome: _Outcome) -> None:
        """Ask, check for truncation, parse; one re-ask for an unparseable answer when the call has `reask`."""
        answer = self._ask(call.messages, outcome)
        if answer.finish_reason in TRUNCATED_FINISH_REASONS:
            outcome.error = f"truncated answer (finish_reason={answer.finish_reason!r}); never counted as a result"
            return
        parsed = call.parse(answer.text)
        if parsed is None and call.reask is not None:
            with self._lock:
                self.report.n_reasked += 1
            answer = self._ask(call.reask(answer.text), outcome)
            if answer.finish_reason in TRUNCATED_FINISH_REASONS:
                outcome.error = f"truncated answer to the re-ask (finish_reason={answer.finish_reason!r})"
                return
            parsed = call.parse(answer.text)
        if parsed is None:
            again = ", also after one re-ask" if call.reask is not None else ""
            outcome.error = f"no parseable answer{again}"
            return
        outcome.ok, outcome.parsed = True, parsed

    def _ask(self, messages: list[dict[str, Any]], outcome: _Outcome) -> LLMAnswer:
        """One answer through `call_with_retries`; every request is counted, every paid answer kept."""

        def once() -> LLMAnswer:
            if self.limiter is not None:
                self.limiter.wait()
            bound = self._request_bound(messages)
            if not self.budget.reserve(bound):
                raise BudgetExhausted(f"the next request (up to ${bound:.4f}) could exceed --budget-usd")
            outcome.requests += 1
            with self._lock:
                self.report.n_requests += 1
            try:
                answer = self.client.complete(messages)
            except BaseException:
                self.budget.settle(bound, 0.0)  # a refused request (429, 5xx, timeout) is not billed
                raise
            self.budget.settle(bound, answer.cost_usd)
            return answer

        answer = call_with_retries(once, self.policy, sleep=self.sleep)
        outcome.spend.append(answer)
        outcome.answer = answer
        return answer

    def _request_bound(self, messages: list[dict[str, Any]]) -> float:
        """Worst-case cost of one request: the prompt (characters / 4) plus a full `max_tokens` answer."""
        if self.prices is None:
            return 0.0
        return prompt_tokens(messages) * self.prices[0] + self.client.max_tokens * self.prices[1]

    def _record(self, call: LLMCall, outcome: _Outcome) -> None:
        """Commit the outcome (answer or failure, with the spend of every request) before it counts."""
        spend, answer = outcome.spend, outcome.answer
        self._records.submit(
            CallResult(
                call.key, call.identity, outcome.ok and answer is not None,
                raw_text=None if answer is None else answer.text,
                parsed=outcome.parsed if outcome.ok else None,
                parser_version=call.parser_version if outcome.ok else None,
                error=None if outcome.ok else outcome.error or "unknown error",
                finish_reason=None if answer is None else answer.finish_reason,
                prompt_tokens=sum(a.prompt_tokens for a in spend),
                completion_tokens=sum(a.completion_tokens for a in spend),
                cost_usd=sum(a.cost_usd for a in spend),
                latency_s=sum(a.latency_s for a in spend) or None,
                attempts=max(1, outcome.requests),
            )
        )  # fmt: skip
        with self._lock:
            if outcome.ok:
                self.report.n_ok += 1
            else:
                self.report.n_failed += 1
                self.report.failures.append({"key": call.key, **call.label, "error": outcome.error or ""})

    def _record_group(self, results: list[CallResult]) -> list[None]:
        self.store.record_many(results)
        return [None] * len(results)


def _unique(calls: list[LLMCall]) -> list[LLMCall]:
    """One call per key, the first of each, in order."""
    seen: dict[str, LLMCall] = {}
    for call in calls:
        seen.setdefault(call.key, call)
    return list(seen.values())
