"""The core call engine (`CallRunner`) on generic calls against the real local OpenAI-compatible server."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.llm.calls import CallRunner, LLMCall, RateLimiter, release_dead_leases
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import Fault, OpenAIServer

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.usefixtures("litellm_ready"),
]  # pydantic chatter while litellm imports
MODEL = "openai/test-model"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.1)
REASK = "Answer with a number only."


def parse_number(text: str) -> int | None:
    """A toy parser: the answer must be an integer."""
    try:
        return int(text.strip())
    except ValueError:
        return None


def make_call(i: int, kind: str = "teacher", reask: bool = True) -> LLMCall:
    identity = {"kind": kind, "model": MODEL, "question": f"what is {i} + 1?"}
    messages = [{"role": "user", "content": identity["question"]}]
    return LLMCall(
        key=CallStore.key_of(**identity),
        identity=identity,
        messages=messages,
        parse=parse_number,
        reask=(lambda bad: [*messages, {"role": "assistant", "content": bad}, {"role": "user", "content": REASK}])
        if reask
        else None,
        parser_version="n1",
        label={"item": i},
    )


def adder(body: dict[str, Any]) -> str:
    """Answers `what is N + 1?` with N + 1, and the re-ask with the number of the first question."""
    question = body["messages"][0]["content"]
    return str(int(question.split()[2]) + 1)


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(reply_fn=adder) as srv:
        yield srv


def client(server: OpenAIServer, **kw: Any) -> LLMClient:
    return LLMClient(MODEL, api_base=server.base_url, timeout_s=kw.pop("timeout_s", 5.0), **kw)


def test_run_stores_parsed_answers_and_a_rerun_pays_nothing(server: OpenAIServer, tmp_path: Path) -> None:
    calls = [make_call(i) for i in range(10)]
    with CallStore(tmp_path / "c.sqlite") as store:
        report = CallRunner(client(server), store, max_concurrency=4, policy=FAST).run([*calls, calls[0]])
        assert (report.n_calls, report.n_unique, report.n_ok, report.n_failed) == (11, 10, 10, 0)
        assert report.n_requests == len(server.chat_requests()) == 10
        record = store.get(calls[3].key)
        assert record is not None and record.parsed == 4 and record.parser_version == "n1"
        assert record.identity["kind"] == "teacher" and record.finish_reason == "stop"
        assert {r["parsed"] for r in store.export(kind="teacher", status="ok")} == set(range(1, 11))
        again = CallRunner(client(server), store, policy=FAST).run(calls)
        assert again.n_done_before == 10 and again.n_requests == 0 and len(server.chat_requests()) == 10


def test_unparseable_answer_is_reasked_once_then_failed(tmp_path: Path) -> None:
    replies = iter(["four?", "4", "hmm", "still no", "nope"])
    with OpenAIServer(reply_fn=lambda body: next(replies)) as server, CallStore(tmp_path / "c.sqlite") as store:
        runner = CallRunner(client(server), store, max_concurrency=1, policy=FAST)
        report = runner.run([make_call(3), make_call(5)])
        assert report.n_reasked == 2 and report.n_ok == 1 and report.n_failed == 1
        assert server.chat_requests()[1].body["messages"][-1]["content"] == REASK
        assert report.failures == [
            {"key": make_call(5).key, "item": 5, "error": "no parseable answer, also after one re-ask"}
        ]
        failed = store.get(make_call(5).key)
        assert failed is not None and failed.status == "failed" and failed.raw_text == "still no"
        assert failed.attempts == 2
        # without a re-ask the first unparseable answer is a failure at once
        report = CallRunner(client(server), store, policy=FAST).run([make_call(7, reask=False)])
        assert report.n_failed == 1 and report.n_reasked == 0 and report.failures[0]["error"] == "no parseable answer"


def test_truncated_answer_is_a_failure_never_a_result(tmp_path: Path) -> None:
    with (
        OpenAIServer(reply_fn=lambda body: "1 2 3 4 5", fault_plan=[Fault("length")]) as server,
        CallStore(tmp_path / "c.sqlite") as store,
    ):
        report = CallRunner(client(server), store, policy=FAST).run([make_call(1)])
        assert report.n_failed == 1 and "truncated" in report.failures[0]["error"]
        assert store.pending([make_call(1).key]) == [make_call(1).key]


def test_transient_faults_are_retried_and_hard_errors_fail(server: OpenAIServer, tmp_path: Path) -> None:
    server.fault_plan.extend([Fault.rate_limit(retry_after=0.01), Fault.server_error(503), Fault("bad_request")])
    with CallStore(tmp_path / "c.sqlite") as store:
        report = CallRunner(client(server), store, max_concurrency=1, policy=FAST).run([make_call(1), make_call(2)])
        assert report.n_requests == 4 and report.n_ok == 1 and report.n_failed == 1
        assert "bad request" in report.failures[0]["error"]
        assert store.totals().n_claimed == 0  # every lease ended with a record


def test_dry_run_estimates_and_makes_no_request(server: OpenAIServer, tmp_path: Path) -> None:
    calls = [make_call(i) for i in range(5)]
    with CallStore(tmp_path / "c.sqlite") as store:
        runner = CallRunner(client(server, price_per_1k_tokens=2.0), store, expected_completion_tokens=10)
        report = runner.run(calls, dry_run=True)
        est = report.estimate
        assert est is not None and est.n_calls == 5 and est.completion_tokens == 50
        assert est.prompt_tokens == sum(len(c.messages[0]["content"]) // 4 + 1 for c in calls)
        assert est.cost_usd == pytest.approx((est.prompt_tokens + est.completion_tokens) * 0.002)
        assert server.requests == [] and runner.pending(calls) == calls


def test_budget_stops_before_exceeding_and_releases_unpaid_keys(server: OpenAIServer, tmp_path: Path) -> None:
    calls = [make_call(i) for i in range(20)]
    with CallStore(tmp_path / "c.sqlite") as store:
        llm = client(server, price_per_1k_tokens=1.0, max_tokens=1000)  # worst case ~$1.005, actual ~$0.005
        report = CallRunner(llm, store, max_concurrency=2, budget_usd=1.05, policy=FAST).run(calls)
        assert 0 < report.n_ok < 20 and report.n_budget_stopped == 20 - report.n_ok
        assert report.cost_usd <= 1.05 and store.totals().cost_usd == pytest.approx(report.cost_usd)
        assert store.totals().n_claimed == 0
        with pytest.raises(XrayBenchError, match="--price-per-1k-tokens"):
            CallRunner(client(server), store, budget_usd=1.0)
        with pytest.raises(XrayBenchError, match="--max-concurrency"):
            CallRunner(llm, store, max_concurrency=0)


def test_dead_leases_are_recovered(server: OpenAIServer, tmp_path: Path) -> None:
    import socket

    with CallStore(tmp_path / "c.sqlite") as store:
        call = make_call(1)
        dead_pid = 2**22 + 12345  # above the default pid_max: no such process
        assert store.claim(call.key, f"{socket.gethostname()}:{dead_pid}:abcd", 600)
        assert store.claim(make_call(2).key, "otherhost:1:abcd", 600)
        assert release_dead_leases(store) == 1
        report = CallRunner(client(server), store, policy=FAST).run([call, make_call(2)])
        assert report.n_ok == 1 and report.n_claimed_elsewhere == 1 and report.n_leases_recovered == 0


def test_report_adds_up_over_runs(server: OpenAIServer, tmp_path: Path) -> None:
    with CallStore(tmp_path / "c.sqlite") as store:
        runner = CallRunner(client(server), store, policy=FAST)
        runner.run([make_call(1), make_call(2)])
        report = runner.run([make_call(2), make_call(3)])
        assert (report.n_calls, report.n_unique, report.n_done_before, report.n_ok) == (4, 4, 1, 3)
        assert json.loads(json.dumps(report.__dict__, default=str))  # plain data, printable as JSON


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    waits: list[float] = []
    limiter = RateLimiter(120, clock=lambda: now[0], sleep=waits.append)
    for _ in range(3):
        limiter.wait()
    assert waits == [0.5, 1.0]
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_committer_writes_in_groups_without_blocking_submitters() -> None:
    import threading
    import time

    from xraybench.llm.calls import Committer

    writes: list[list[int]] = []
    counted: list[int] = []
    failures: list[BaseException] = []
    gate = threading.Event()

    def write(items: list[int]) -> None:
        gate.wait(5)  # a slow fsync: what arrives meanwhile queues up for the next group
        writes.append(items)
        time.sleep(0.005)
        if -1 in items:
            raise RuntimeError("disk full")

    committer: Committer[int] = Committer(write, counted.extend, failures.append)
    try:
        for i in range(40):
            committer.submit(i)  # returns at once: nothing is written yet
        assert counted == []
        gate.set()
        committer.flush()
        assert sorted(i for w in writes for i in w) == list(range(40)) and len(writes) < 40
        assert sorted(counted) == list(range(40))  # counted only after their write returned
        committer.submit(-1)
        with pytest.raises(RuntimeError, match="disk full"):
            committer.flush()
        assert -1 not in counted and len(failures) == 1
        committer.submit(3)
        with pytest.raises(RuntimeError, match="disk full"):
            committer.flush()  # the run learns of the failure, and the next group is still written
        assert counted[-1] == 3
    finally:
        committer.close()


def test_calls_are_read_lazily_while_the_first_ones_run(server: OpenAIServer, tmp_path: Path) -> None:
    read: list[int] = []

    def planned() -> Iterator[LLMCall]:
        for i in range(12):
            read.append(i)
            if i == 11:  # by the time the last call is planned, the first ones have been asked
                assert len(server.chat_requests()) > 0
            yield make_call(i % 10)

    with CallStore(tmp_path / "c.sqlite") as store:
        store.record_ok(make_call(0).key, make_call(0).identity, raw_text="1", parsed=1)
        runner = CallRunner(client(server), store, max_concurrency=2, policy=FAST)
        runner_chunk_sized = [make_call(i) for i in range(100, 164)]  # one full chunk first, so reading pauses
        report = runner.run(itertools.chain(runner_chunk_sized, planned()))
        assert read == list(range(12))
        assert (report.n_calls, report.n_unique, report.n_done_before, report.n_ok) == (76, 74, 1, 73)
        assert report.estimate is not None and report.estimate.n_calls == 73


def test_a_slow_disk_holds_the_run_to_two_pools_of_unwritten_answers(tmp_path: Path) -> None:
    import threading
    import time

    lock = threading.Lock()
    asked: list[int] = []
    written: list[int] = []
    gaps: list[int] = []  # answers asked for but not yet on disk, seen at each request

    def reply(body: dict[str, Any]) -> str:
        with lock:
            asked.append(1)
            gaps.append(len(asked) - len(written))
        return adder(body)

    with OpenAIServer(reply_fn=reply) as server, CallStore(tmp_path / "c.sqlite") as store:
        record_many = store.record_many

        def slow_record_many(results: Any) -> None:
            results = list(results)
            time.sleep(0.05)  # a slow fsync: without back-pressure the workers would run far ahead of the disk
            record_many(results)
            with lock:
                written.extend(1 for _ in results)

        store.record_many = slow_record_many  # type: ignore[method-assign]
        report = CallRunner(client(server), store, max_concurrency=2, policy=FAST).run(
            [make_call(i) for i in range(20)]
        )
    assert report.n_ok == 20
    # a key stays leased until its answer is written and at most 2 x max_concurrency keys are leased: what a
    # kill -9 could lose (requests in flight plus answers waiting for their write) never exceeds that
    assert max(gaps) <= 2 * 2


def test_an_image_counts_as_image_tokens_not_as_its_data_url() -> None:
    from xraybench.llm.calls import IMAGE_TOKENS, estimate_calls, prompt_tokens

    text = "Describe the findings. " * 20  # 460 characters
    data_url = "data:image/png;base64," + "A" * 300_000  # the size of a 512x512 PNG
    with_image = [
        {"role": "system", "content": "You are a radiologist."},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": data_url}}, {"type": "text", "text": text}],
        },
    ]
    text_only = [{"role": "system", "content": "You are a radiologist."}, {"role": "user", "content": text}]
    assert prompt_tokens(with_image) == prompt_tokens(text_only) + IMAGE_TOKENS
    assert prompt_tokens(text_only) == (len("You are a radiologist.") + len(text)) // 4 + 1
    call = LLMCall(key="k", identity={"kind": "test"}, messages=with_image, parse=str)
    estimate = estimate_calls([call, call], (1e-6, 4e-6), expected_completion_tokens=600)
    assert estimate.prompt_tokens == 2 * prompt_tokens(with_image) < 2 * 1_000
    assert estimate.cost_usd == pytest.approx(estimate.prompt_tokens * 1e-6 + 1_200 * 4e-6)
