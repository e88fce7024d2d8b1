"""Judges and teachers against an endpoint that answers strangely (real HTTP, the fault server): every unusable
answer is a failure with its reason in the call store, never a crash; `timeout_s` is a wall-clock deadline;
answers over the size cap are refused without being read whole."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xraybench.callstore import CallStore
from xraybench.errors import TransientError, XrayBenchError
from xraybench.llm.calls import CallRunner, LLMCall
from xraybench.llm.client import LLMClient
from xraybench.llm.completion import AnswerTooLarge, OddAnswer, decode_body, max_answer_bytes, parse_completion
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import ODD_BODIES, USABLE_ODD_BODIES, Fault, OpenAIServer

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("litellm_ready")]
MODEL = "openai/test-model"
MESSAGES = [{"role": "user", "content": "Is the heart size normal?"}]
ONCE = RetryPolicy(max_attempts=1)


def make_call(i: int, parse: Any = lambda text: text or None) -> LLMCall:
    identity = {"kind": "judge", "model": MODEL, "question": f"study {i}"}
    return LLMCall(
        key=CallStore.key_of(**identity),
        identity=identity,
        messages=[{"role": "user", "content": identity["question"]}],
        parse=parse,
        label={"item": i},
    )


@pytest.mark.parametrize("name", sorted(ODD_BODIES))
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_odd_200_body_is_a_transient_failure_with_its_reason(name: str, direct: bool) -> None:
    with OpenAIServer(fault_plan=[Fault.odd(ODD_BODIES[name])]) as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=30.0)
        client.direct = direct
        with pytest.raises(TransientError) as info:
            client.complete(MESSAGES)
        message = str(info.value)
        assert MODEL in message and "Traceback" not in message and len(message) < 1200
        if direct:
            assert "not a chat completion" in message
        assert client.complete(MESSAGES).text  # the next, normal answer is read as ever
        client.close()


@pytest.mark.parametrize("name", sorted(USABLE_ODD_BODIES))
def test_content_parts_are_joined_and_odd_usage_is_ignored(name: str) -> None:
    body, text = USABLE_ODD_BODIES[name]
    with OpenAIServer(fault_plan=[Fault.odd(body)]) as server:
        answer = LLMClient(MODEL, api_base=server.base_url, price_per_1k_tokens=1.0).complete(MESSAGES)
    assert answer.text == text and answer.finish_reason == "stop"
    if name.startswith("usage"):
        # unknown, not a made-up 0: the one answer record says so alike for judges and models under test
        assert (answer.prompt_tokens, answer.completion_tokens, answer.cost_usd) == (None, None, None)
        assert not answer.usage_reported


def test_judging_run_records_odd_answers_as_failures_and_keeps_the_rest(tmp_path: Path) -> None:
    """The crash of `arena judge`: a run over many calls with odd bodies among them finishes, every good
    answer is stored, every odd one is a failure with its reason, pending again on the next run."""
    plan = [Fault.odd(body) for body in ODD_BODIES.values()] + [Fault.huge(2 << 20)]
    calls = [make_call(i) for i in range(len(plan) + 6)]
    # good answers among the odd ones (two odd, one good): five failures in a row would stop the run by design.
    # One call at a time, so answers end in the plan's order (in parallel a slow good answer could end after five
    # odd ones and stop the run, as designed); odd answers with calls in flight: tests/models/test_run_hostile_endpoints.py
    mixed = [f for i in range(0, len(plan), 2) for f in (*plan[i : i + 2], Fault("ok"))]
    with OpenAIServer(fault_plan=mixed) as server, CallStore(tmp_path / "calls.sqlite") as store:
        client = LLMClient(MODEL, api_base=server.base_url, max_answer_bytes=1 << 20)
        report = CallRunner(client, store, max_concurrency=1, policy=ONCE).run(calls)
        assert report.n_ok == 6 and report.n_failed == len(plan)
        failed = store.export(kind="judge", status="failed")
        assert len(failed) == len(plan)
        reasons = " | ".join(row["error"] for row in failed)
        for needle in ("'choices' is an object", "message is a string", "finish_reason is a list",
                       "nested too deeply", "1048576-byte cap"):  # fmt: skip
            assert needle in reasons
        assert all(row["raw_text"] is None for row in failed)  # nothing odd or huge stored as an answer
        assert len(store.pending(c.key for c in calls)) == len(plan)
        again = CallRunner(client, store, max_concurrency=4, policy=ONCE).run(calls)  # the server behaves now
        assert again.n_ok == len(plan) and store.pending(c.key for c in calls) == []


def test_a_parser_that_raises_fails_its_call_and_keeps_the_answer(tmp_path: Path) -> None:
    def explode(text: str) -> Any:
        if text.startswith("no"):
            raise RecursionError("maximum recursion depth exceeded")
        return text

    replies = iter(["no acute findings", "clear", "clear again"])
    with (
        OpenAIServer(reply_fn=lambda body: next(replies)) as server,
        CallStore(tmp_path / "calls.sqlite") as store,
    ):
        calls = [make_call(i, explode) for i in range(3)]
        report = CallRunner(LLMClient(MODEL, api_base=server.base_url), store, max_concurrency=1).run(calls)
        assert report.n_ok == 2 and report.n_failed == 1
        assert "parser raised RecursionError" in report.failures[0]["error"]
        record = store.get(calls[0].key)
        assert record is not None and record.raw_text == "no acute findings"  # re-parsable without a new call


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_timeout_is_a_deadline_for_the_whole_request(direct: bool) -> None:
    """A server dripping one byte every 0.4 s would keep a per-read timeout of 2 s alive for minutes."""
    with OpenAIServer() as server:
        client = LLMClient(MODEL, api_base=server.base_url, timeout_s=2.0)
        client.direct = direct
        client.complete(MESSAGES)  # litellm's first call sets up its SDKs (its deadline has a grace for that)
        server.fault_plan[:] = [Fault.drip(0.4)]
        start = time.monotonic()
        with pytest.raises(TransientError, match="Timeout.*deadline for the whole request"):
            client.complete(MESSAGES)
        assert time.monotonic() - start < 15  # the drip alone lasts > 100 s
        assert client.complete(MESSAGES).text  # the connection after a cut-off answer is a fresh one
        client.close()


@pytest.mark.parametrize("declare_length", [True, False])
def test_answer_over_the_cap_is_refused_unread(declare_length: bool) -> None:
    with OpenAIServer(fault_plan=[Fault.huge(64 << 20, declare_length=declare_length)]) as server:
        client = LLMClient(MODEL, api_base=server.base_url, max_answer_bytes=1 << 20)
        with pytest.raises(AnswerTooLarge, match="over the 1048576-byte cap") as info:
            client.complete(MESSAGES)
        assert not isinstance(info.value, TransientError)  # asking again would pay for another huge answer
        assert client.complete(MESSAGES).text


def test_answer_cap_through_litellm_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRAYBENCH_MAX_ANSWER_BYTES", str(1 << 20))
    assert max_answer_bytes() == 1 << 20 and max_answer_bytes(5) == 5
    with OpenAIServer(fault_plan=[Fault.huge(3 << 20)]) as server:
        client = LLMClient(MODEL, api_base=server.base_url)
        client.direct = False
        with pytest.raises(AnswerTooLarge, match="1048576-byte cap"):
            client.complete(MESSAGES)
    monkeypatch.setenv("XRAYBENCH_MAX_ANSWER_BYTES", "lots")
    with pytest.raises(XrayBenchError, match="XRAYBENCH_MAX_ANSWER_BYTES='lots'"):
        max_answer_bytes()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["choices", "message", "content", "finish_reason", "usage", "text", "type",
                         "reasoning_content", "prompt_tokens", "completion_tokens", "0"]), children, max_size=5),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=400, deadline=timedelta(seconds=1))
@given(JSON)
def test_any_json_is_a_completion_or_a_reason(data: Any) -> None:
    """The one parser never raises anything but `OddAnswer` (a reason), and what it returns is well typed."""
    try:
        completion = parse_completion(data)
    except OddAnswer as exc:
        assert str(exc)
        return
    assert isinstance(completion.text, str)
    assert completion.finish_reason is None or isinstance(completion.finish_reason, str)
    for count in (completion.prompt_tokens, completion.completion_tokens):
        assert count is None or (isinstance(count, int) and count >= 0)


@settings(max_examples=200, deadline=timedelta(seconds=1))
@given(st.binary(max_size=2_000) | st.builds(lambda n: b"[" * n, st.integers(0, 200_000)))
def test_any_body_bytes_decode_or_give_a_reason(body: bytes) -> None:
    try:
        decode_body(body)
    except OddAnswer as exc:
        assert "body" in str(exc)


def test_an_answer_without_usage_is_charged_its_worst_case_against_the_budget(tmp_path: Path) -> None:
    """Usage as a string: the answer is kept, but its price is unknown; counting it as free would let a paid
    provider that omits usage run past --budget-usd."""
    body, _ = USABLE_ODD_BODIES["usage_string"]
    with (
        OpenAIServer(reply_fn=lambda b: "clear lungs", fault_plan=[Fault.odd(body)] * 10) as server,
        CallStore(tmp_path / "calls.sqlite") as store,
    ):
        client = LLMClient(MODEL, api_base=server.base_url, price_per_1k_tokens=1.0, max_tokens=1000)
        # worst case per request ~$1.005; a reported answer costs ~$0.005, an unreported one is charged ~$1.005
        report = CallRunner(client, store, max_concurrency=1, budget_usd=2.5).run([make_call(i) for i in range(10)])
        assert report.n_ok == 2 and report.n_budget_stopped == 8
        assert len(server.chat_requests()) == 2
