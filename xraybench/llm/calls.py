"""Run many paid LLM calls against the append-only call store: each key answered once, never lost, never twice.

A call (`LLMCall`) is keyed by a hash of everything that decides its answer (`CallStore.key_of(**identity)`).
`CallRunner.run(calls)` skips keys already answered, leases each remaining key right before paying for it (so
two processes on one store never ask the same key at the same time), spaces requests by `rpm`, retries
transient failures, and commits every answer or failure to the store before it counts. Results are read back
from the store (`store.get(key).parsed`), so a rerun after a crash or `kill -9` continues where it stopped.
`calls` may be a generator: it is read a chunk at a time while the first calls run, so planning many calls
(rendering prompts, hashing keys) does not delay the first request.

Answers are never trusted blindly: an answer cut off by the token limit is a failure (never a result), and
an answer `parse` cannot read is asked again once (`reask`), then stored as a failure; failures are pending
again on the next run.

Failing fast: the first call of a run is sent alone, the others once it has ended, so a run that cannot work
(wrong key, no key, unknown model) pays one request, not a pool's worth. A `FatalError` (see
`xraybench.retry.status_error`) is not retried and not recorded: its key is given back, no new call starts, the
calls in flight are written, and `run` raises it. `ABORT_AFTER_FAILURES` calls in a row that end without an
answer (each after its retries) stop the run the same way, as `xraybench run` stops after as many failed batches.

Pacing and money go through the one request path of every paid call, `xraybench.llm.meter.Meter` (also the
path of a model under test behind an API in `xraybench run`). The cost of the pending calls is estimated
(prompt tokens ~ characters / 4, plus `expected_completion_tokens` per answer, at the client's price; a dry run
gives it before any call); with `budget_usd` a request starts only if its worst case (its prompt plus a full
`max_tokens` answer) fits in what is left, and the first one that does not fit stops the run (a cap means "stop
here", not "skip to cheaper calls").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

from xraybench.callstore import TRUNCATED_FINISH_REASONS, UNPARSEABLE, CallResult, CallStore, default_owner
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.llm.meter import (  # noqa: F401 - RateLimiter, CHARS_PER_TOKEN: their old home, kept importable
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    Budget,
    BudgetExhausted,
    Meter,
    RateLimiter,
    prompt_tokens,
)
from xraybench.progress import progress_bar
from xraybench.records import Generation
from xraybench.retry import ABORT_AFTER_FAILURES, FatalError, RetryPolicy, call_with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def estimate_calls(
    calls: list[LLMCall], prices: tuple[float, float] | None, expected_completion_tokens: int
) -> Estimate:
    """Expected tokens and cost of one request per call, at (input, output) USD per token when known."""
    return _estimate(len(calls), sum(prompt_tokens(c.messages) for c in calls), prices, expected_completion_tokens)


def _estimate(
    n_calls: int, p_tok: int, prices: tuple[float, float] | None, expected_completion_tokens: int
) -> Estimate:
    c_tok = expected_completion_tokens * n_calls
    cost = None if prices is None else p_tok * prices[0] + c_tok * prices[1]
    return Estimate(n_calls, p_tok, c_tok, cost)


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


class Committer(Generic[T]):
    """Writes items handed over by many threads in groups, on its own thread: `write(items)` gets everything
    that arrived while the previous write ran (one fsynced transaction for the call store), then
    `done(items)` counts them; a write that raises is kept in `error` and passed to `failed`.

    `submit` does not wait, so a worker sends its next request while its last answer is being written. Why:
    with 64 calls in flight, waiting for the commit of each answer before the next request cost 6-8 ms per
    call (one fsync, often two when a write was already running). Nothing counts (`done`) before its write
    has returned; how many answers may wait here is bounded by the caller (`CallRunner` counts a lease until
    its answer is written, and leases at most 2 x `max_concurrency` keys).
    """

    def __init__(
        self,
        write: Callable[[list[T]], object],
        done: Callable[[list[T]], object] = lambda items: None,
        failed: Callable[[BaseException], object] = lambda exc: None,
    ):
        self._write, self._done, self._failed = write, done, failed
        self._cond = threading.Condition()
        self._queue: list[T] = []
        self._busy = False
        self._closing = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="llm-commit", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the committer is closed")
            self._queue.append(item)
            self._cond.notify_all()

    def flush(self) -> None:
        """Wait until everything submitted so far is written; raises the first write error, if any."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Write what is queued, then stop the thread (errors stay in `error`; `flush` raises them)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                items, self._queue, self._busy = self._queue, [], True
            error: BaseException | None = None
            try:
                self._write(items)
                self._done(items)
            except BaseException as exc:  # kept for `flush`; the next group is still written
                error = exc
            with self._cond:
                if error is not None and self.error is None:
                    self.error = error
                self._busy = False
                self._cond.notify_all()
            if error is not None:
                self._failed(error)  # after `error` is set, so whoever it wakes sees it


class _PendingCalls:
    """The pending calls of an iterable, read lazily, `chunk` at a time: unique by key (the first of each)
    and not yet answered in the store (one query per chunk). Counts what it skipped and the pending calls'
    prompt tokens for the estimate.

    Why lazily: a caller can hand over a generator that plans its calls (renders prompts, hashes keys) as
    they are taken, so the first requests start while the rest is still being planned. It reads only what
    `take` asks for (at least `MIN_READ`), because a generator may decide its next calls from the answers
    so far (the adaptive arena schedule): reading further ahead would decide them on staler answers.
    """

    MIN_READ = 16  # calls per store query at least (the runner asks for half a pool's worth or more anyway)

    def __init__(self, store: CallStore, calls: Iterable[LLMCall], chunk: int, skipped: Callable[[int], None]):
        self._store, self._calls, self._chunk, self._skipped = store, iter(calls), chunk, skipped
        self._seen: set[str] = set()
        self._buffer: deque[LLMCall] = deque()
        self._exhausted = False
        self.n_calls = self.n_unique = self.n_done_before = self.n_pending = self.prompt_tokens = 0

    @property
    def empty(self) -> bool:
        return self._exhausted and not self._buffer

    def take(self, n: int) -> list[LLMCall]:
        """Up to `n` pending calls (fewer only at the end)."""
        while len(self._buffer) < n and not self._exhausted:
            self._read(n - len(self._buffer))
        return [self._buffer.popleft() for _ in range(min(n, len(self._buffer)))]

    def __iter__(self) -> Iterator[LLMCall]:
        while not self.empty:
            yield from self.take(self._chunk)

    def _read(self, want: int) -> None:
        chunk = list(islice(self._calls, max(want, self.MIN_READ)))
        if not chunk:
            self._exhausted = True
            return
        fresh = []
        for call in chunk:
            if call.key not in self._seen:
                self._seen.add(call.key)
                fresh.append(call)
        todo = set(self._store.pending(c.key for c in fresh))
        pending = [c for c in fresh if c.key in todo]
        self.n_calls += len(chunk)
        self.n_unique += len(fresh)
        self.n_done_before += len(fresh) - len(pending)
        self.n_pending += len(pending)
        self.prompt_tokens += sum(prompt_tokens(c.messages) for c in pending)
        self._buffer.extend(pending)
        self._skipped(len(chunk) - len(pending))


@dataclass
class _Outcome:
    """How one call ended: the final answer (if any), what it parsed to, and every paid answer on the way."""

    ok: bool = False
    error: str | None = None
    answer: Generation | None = None
    parsed: Any = None
    spend: list[Generation] = field(default_factory=list)
    requests: int = 0
    first_text: str | None = None  # the unparseable first answer, when a re-ask followed (stored for `reparse`)


class CallRunner:
    """Runs the pending calls of a list or generator against one store, `max_concurrency` at a time; one per run."""

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
        meter: Meter | None = None,
    ):
        """`meter` (else one built from `rpm` and `budget_usd`) paces, caps and counts the requests."""
        if max_concurrency < 1:
            raise XrayBenchError(f"--max-concurrency must be at least 1, got {max_concurrency}")
        self.client, self.store = client, store
        self.max_concurrency = max_concurrency
        self.meter = meter or Meter(rpm=rpm, budget_usd=budget_usd)
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.expected_completion_tokens = expected_completion_tokens
        self.progress = progress
        self.owner = default_owner()
        self.ttl_s = (
            client.timeout_s * self.policy.max_attempts * 2 + self.policy.max_delay_s * self.policy.max_attempts
        )
        self.prices = client.prices()
        self.meter.check_priced(client)
        self._lock = threading.Lock()
        self._committer: Committer[_Finished] | None = None
        self._n_leased = 0  # keys leased by this run and not yet recorded or given back
        self._events: SimpleQueue[Future[None] | None] = SimpleQueue()  # wakes `_feed`: a call or a commit ended
        self._advance: Callable[..., None] = lambda n, failed=0: None  # progress: items done, of them failed
        self._abort: XrayBenchError | None = None  # set once the run must stop (fatal error, failures in a row)
        self._failed_in_a_row = 0
        self.report = CallReport()

    @property
    def budget(self) -> Budget:
        return self.meter.budget

    @budget.setter
    def budget(self, budget: Budget) -> None:  # one cap over two runners (a teacher and its checker)
        self.meter.budget = budget

    @property
    def limiter(self) -> RateLimiter | None:
        return self.meter.limiter

    def pending(self, calls: list[LLMCall]) -> list[LLMCall]:
        """The calls to make: one per key (the first), not yet answered in the store."""
        unique = _unique(calls)
        todo = set(self.store.pending(c.key for c in unique))
        return [c for c in unique if c.key in todo]

    def estimate(self, calls: list[LLMCall]) -> Estimate:
        """Expected tokens and cost of `calls` (one request each); the budget cap uses the worst case instead."""
        return estimate_calls(calls, self.prices, self.expected_completion_tokens)

    def run(self, calls: Iterable[LLMCall], *, dry_run: bool = False, total: int | None = None) -> CallReport:
        """Make the pending ones of `calls` (a dry run only estimates them); the report adds up over runs.

        `calls` may be a generator: it is read a chunk at a time while the calls run, so calls that are costly
        to plan start at once. `total` (how many calls it yields; `len(calls)` when it has one) only sizes the
        progress bar.
        """
        if not dry_run:
            self.report.n_leases_recovered += release_dead_leases(self.store)
        if total is None and isinstance(calls, Sized):
            total = len(calls)
        with progress_bar(total, "LLM calls", enabled=self.progress and not dry_run) as advance:
            source = _PendingCalls(self.store, calls, max(64, self.max_concurrency), advance)
            try:
                if dry_run:
                    for _ in source:
                        pass
                else:
                    self._run(source, advance)
            finally:
                self.report.n_calls += source.n_calls
                self.report.n_unique += source.n_unique
                self.report.n_done_before += source.n_done_before
                self.report.estimate = _estimate(
                    source.n_pending, source.prompt_tokens, self.prices, self.expected_completion_tokens
                )
                self.report.cost_usd = self.budget.spent
        return self.report

    def _run(self, source: _PendingCalls, advance: Callable[[int], None]) -> None:
        """The pool of workers and the committer for one run; every answer is written before `run` returns."""
        self._advance, self._n_leased, self._events = advance, 0, SimpleQueue()
        self._abort, self._failed_in_a_row = None, 0
        self._committer = Committer(self._write_group, self._count_group, lambda exc: self._events.put(None))
        try:
            with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="llm-call") as pool:
                self._feed(pool, source, advance)
            self._committer.flush()
        finally:
            self._committer.close()
            self._committer = None
        if self._abort is not None:  # every answer in flight is written by now
            raise self._abort

    def _feed(self, pool: ThreadPoolExecutor, source: _PendingCalls, advance: Callable[[int], None]) -> None:
        """Lease the pending calls in chunks and hand the leased ones to the pool: at most 2 x `max_concurrency`
        keys are leased and not yet recorded at any time, and the next chunk is leased (one transaction) once
        half a pool's worth of them has been recorded. The first chunk is one pool's worth, so the first
        requests start as soon as it is planned and leased.

        Why chunks: a lease is a committed, fsynced transaction; taken one by one, every call would wait for
        its own fsync behind the others. A key leased here but not started when the budget stops the run is
        given back by `_one`; one left by a killed process is taken back by `release_dead_leases`. When no call
        is running but leases are still held, their answers are waiting for the committer, whose writes (or
        failure) wake the loop.
        """
        limit = 2 * self.max_concurrency
        refill_at = limit - max(1, self.max_concurrency // 2)
        running: set[Future[None]] = set()
        probing = True  # the first call goes alone: a run that cannot work fails after one request
        while True:
            if self._abort is not None:
                if not running:
                    return
            elif not source.empty and self._n_leased <= refill_at and not (probing and running):
                if self.budget.stopped.is_set():
                    left = sum(1 for _ in source)
                    self._count("n_budget_stopped", left)
                    advance(left)
                    continue
                chunk = source.take(1 if probing else min(self.max_concurrency, limit - self._n_leased))
                if chunk:
                    taken = set(self.store.claim_many([c.key for c in chunk], self.owner, self.ttl_s))
                    self._count("n_claimed_elsewhere", len(chunk) - len(taken))
                    self._leased(len(taken))
                    advance(len(chunk) - len(taken))
                    for call in chunk:
                        if call.key in taken:
                            future = pool.submit(self._one, call)
                            future.add_done_callback(self._events.put)
                            running.add(future)
                    if probing and not running:
                        probing = False  # the first chunk was leased elsewhere: nothing to wait for
                continue
            if not running and source.empty:
                return
            event = self._events.get()  # a call finished, or a group write ended leases (or failed)
            if event is not None:
                running.discard(event)
                probing = False
                event.result()
            elif self._committer is not None and self._committer.error is not None:
                raise self._committer.error

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    def _leased(self, n: int) -> None:
        with self._lock:
            self._n_leased += n

    # -- one call ---------------------------------------------------------------------------------------------

    def _one(self, call: LLMCall) -> None:
        """Make one leased call and record how it ended; a call the budget stopped gives its lease back."""
        if self.budget.stopped.is_set() or self._abort is not None:
            self._give_back(call, budget=self._abort is None)
            return
        outcome = _Outcome()
        try:
            self._answer(call, outcome)
        except BudgetExhausted as exc:
            if not outcome.spend:  # nothing paid for this call: give the key back untouched
                self._give_back(call)
                return
            outcome.ok, outcome.error, outcome.answer = False, str(exc), outcome.spend[-1]
        except FatalError as exc:
            self._stop(exc)
            if not outcome.spend:  # nothing paid (a re-ask's fatal error keeps the paid first answer below)
                self._give_back(call, budget=False)
                return
            outcome.ok, outcome.error, outcome.answer = False, str(exc), outcome.spend[-1]
        except XrayBenchError as exc:
            outcome.ok, outcome.error, outcome.answer = False, str(exc), None
            self._failed_in_a_row_add(str(exc))
            self._record(call, outcome)
            return
        with self._lock:
            self._failed_in_a_row = 0  # the endpoint answered
        self._record(call, outcome)

    def _stop(self, error: XrayBenchError) -> None:
        """Stop the run: no new call starts; `run` raises `error` once the calls in flight are written."""
        with self._lock:
            if self._abort is None:
                self._abort = error
        self._events.put(None)  # wakes `_feed`

    def _failed_in_a_row_add(self, error: str) -> None:
        """One more call ended without an answer; `ABORT_AFTER_FAILURES` in a row stop the run."""
        with self._lock:
            self._failed_in_a_row += 1
            n = self._failed_in_a_row
        if n >= ABORT_AFTER_FAILURES:
            self._stop(
                XrayBenchError(
                    f"stopping: the last {n} calls all failed, most recently with: {error}. Answers so far are kept "
                    f"in {self.store.path}; fix the cause and rerun to continue."
                )
            )

    def _answer(self, call: LLMCall, outcome: _Outcome) -> None:
        """Ask, check for truncation, parse; one re-ask for an unparseable answer when the call has `reask`."""
        answer = self._ask(call.messages, outcome)
        if answer.finish_reason in TRUNCATED_FINISH_REASONS:
            outcome.error = f"truncated answer (finish_reason={answer.finish_reason!r}); never counted as a result"
            return
        parsed, crash = _parse(call, answer.text)
        if crash is not None:
            outcome.error = crash
            return
        if parsed is None and call.reask is not None:
            with self._lock:
                self.report.n_reasked += 1
            outcome.first_text = answer.text
            answer = self._ask(call.reask(answer.text), outcome)
            if answer.finish_reason in TRUNCATED_FINISH_REASONS:
                outcome.error = f"truncated answer to the re-ask (finish_reason={answer.finish_reason!r})"
                return
            parsed, crash = _parse(call, answer.text)
            if crash is not None:
                outcome.error = crash
                return
        if parsed is None:
            again = ", also after one re-ask" if call.reask is not None else ""
            outcome.error = f"{UNPARSEABLE}{again}"
            return
        outcome.ok, outcome.parsed = True, parsed

    def _ask(self, messages: list[dict[str, Any]], outcome: _Outcome) -> Generation:
        """One answer through `call_with_retries` and the meter; every request is counted, every paid answer kept."""

        def once() -> Generation:
            return self.meter.ask(self.client, messages, on_start=lambda: self._started(outcome))

        answer = call_with_retries(once, self.policy, sleep=self.sleep)
        outcome.spend.append(answer)
        outcome.answer = answer
        return answer

    def _started(self, outcome: _Outcome) -> None:
        """A request passed the limiter and the budget and is being sent: count it."""
        outcome.requests += 1
        with self._lock:
            self.report.n_requests += 1

    def _give_back(self, call: LLMCall, *, budget: bool = True) -> None:
        """Release a leased key unanswered (pending again on the next run); `budget`: counted as budget-stopped."""
        self.store.release(call.key, self.owner)
        self._leased(-1)
        if budget:
            self._count("n_budget_stopped", 1)
        self._advance(1)

    def _record(self, call: LLMCall, outcome: _Outcome) -> None:
        """Hand the outcome (answer or failure, with the spend of every request) to the committer, which counts
        it once written; the worker goes on to its next call meanwhile. Its key stays leased (and counted
        against the 2 x `max_concurrency` leases of `_feed`) until then, so a `kill -9` loses at most that many
        answers (in flight or waiting for their write); they are asked again on the rerun, never a stored one."""
        spend, answer = outcome.spend, outcome.answer
        result = CallResult(
            call.key, call.identity, outcome.ok and answer is not None,
            raw_text=None if answer is None else answer.text,
            parsed=outcome.parsed if outcome.ok else None,
            parser_version=call.parser_version if outcome.ok else None,
            error=None if outcome.ok else outcome.error or "unknown error",
            finish_reason=None if answer is None else answer.finish_reason,
            prompt_tokens=sum(a.prompt_tokens or 0 for a in spend),
            completion_tokens=sum(a.completion_tokens or 0 for a in spend),
            cost_usd=sum(a.cost_usd or 0.0 for a in spend),
            latency_s=sum(a.latency_s for a in spend) or None,
            attempts=max(1, outcome.requests), first_text=outcome.first_text,
        )  # fmt: skip
        assert self._committer is not None  # set for the whole of `_run`
        self._committer.submit(_Finished(call, outcome, result))

    def _write_group(self, finished: list[_Finished]) -> None:
        self.store.record_many([f.result for f in finished])

    def _count_group(self, finished: list[_Finished]) -> None:
        """Count written outcomes (only written ones count: they survive a crash); their leases have ended, which
        may let the feeding loop lease the next chunk: it is woken."""
        with self._lock:
            self._n_leased -= len(finished)
            for f in finished:
                if f.outcome.ok:
                    self.report.n_ok += 1
                else:
                    self.report.n_failed += 1
                    self.report.failures.append({"key": f.call.key, **f.call.label, "error": f.outcome.error or ""})
        self._advance(len(finished), failed=sum(not f.outcome.ok for f in finished))
        self._events.put(None)


@dataclass(frozen=True)
class _Finished:
    """A call's outcome on its way to the store."""

    call: LLMCall
    outcome: _Outcome
    result: CallResult


def _parse(call: LLMCall, text: str) -> tuple[Any, str | None]:
    """(`call.parse(text)`, None), or (None, why) when the parser raised on hostile text: a failure of this call
    that keeps its paid answer (re-parsing it later costs no call), not a crash that drops the answers in flight."""
    try:
        return call.parse(text), None
    except Exception as exc:  # RecursionError included
        log.warning("the parser of call %s raised on its answer", call.key, exc_info=True)
        return None, f"the answer could not be parsed: the parser raised {type(exc).__name__}: {str(exc)[:300]}"


def _unique(calls: list[LLMCall]) -> list[LLMCall]:
    """One call per key, the first of each, in order."""
    seen: dict[str, LLMCall] = {}
    for call in calls:
        seen.setdefault(call.key, call)
    return list(seen.values())
