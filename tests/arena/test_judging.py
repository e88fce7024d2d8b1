"""Arena judging end to end against the real local OpenAI-compatible server (litellm, HTTP, SQLite store)."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.judge import LiteLLMJudge
from arena.judges import as_judge
from arena.judging import (
    Field,
    Judging,
    append_plan,
    export_battles,
    load_field,
    plan_battles,
    plan_path,
)
from arena.prompt import PROMPT_VERSION, REASK
from arena.verdict import PARSER_VERSION
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.records import Sample
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import Fault, OpenAIServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic chatter while litellm imports
TASK = "demo_findings"
JUDGE = "openai/tiny-test-model"
FAST = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=0.2)
_BLOCK = re.compile(r"§§§ BEGIN (.+?) §§§\n(.*?)\n§§§ END \1 §§§", re.S)


def blocks(body: dict[str, Any]) -> dict[str, str]:
    """The reference and candidate texts from the first user message (a re-ask appends more messages)."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return {name: text for name, text in _BLOCK.findall(user)}


def _overlap(text: str, reference: str) -> float:
    words, ref = set(text.lower().split()), set(reference.lower().split())
    return len(words & ref) / max(1, len(words | ref))


def answer(level: str) -> str:
    return f'The errors are listed.\n```json\n{{"errors_a": [], "errors_b": [], "verdict": "{level}"}}\n```\nDone.'


def content_reply(body: dict[str, Any]) -> str:
    """A fair judge: the candidate closer to the reference (word overlap) wins; equal to it wins strongly."""
    found = blocks(body)
    ref, a, b = found["REFERENCE REPORT"], found["CANDIDATE A"], found["CANDIDATE B"]
    sa, sb = _overlap(a, ref), _overlap(b, ref)
    if abs(sa - sb) < 1e-9:
        return answer("tie")
    if sa > sb:
        return answer("A>>B" if a == ref else "A>B")
    return answer("B>>A" if b == ref else "B>A")


@pytest.fixture(scope="module")
def baseline_runs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from xraybench.runner import RunConfig, run

    root = tmp_path_factory.mktemp("runs")
    paths = []
    for model in ("baseline:normal", "baseline:retrieval"):
        out = root / model.split(":")[1]
        run(RunConfig(model=model, tasks=[TASK], out=str(out), bootstrap_rounds=0, progress=False,
                      skip_metrics=["meteor"]))  # fmt: skip
        paths.append(str(out))
    return paths


@pytest.fixture()
def prediction_files(tmp_path: Path) -> list[str]:
    """Three invented models on the demo task: one copies the reference, one says normal, one is terse."""
    from xraybench.taskdata import load_task

    samples = load_task(TASK).samples
    texts = {
        "perfect": lambda s: s.reference,
        "normal": lambda s: "The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
        "terse": lambda s: "Unremarkable." if int(s.id[-1]) % 2 else s.reference.split(".")[0] + ".",
    }
    specs = []
    for name, make in texts.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s)}) + "\n" for s in samples))
        specs.append(f"{name}={path}")
    return specs


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(reply_fn=content_reply) as srv:
        yield srv


def make_judge(server: OpenAIServer, **kw: Any) -> LiteLLMJudge:
    return LiteLLMJudge(JUDGE, api_base=server.base_url, timeout_s=kw.pop("timeout_s", 5.0), **kw)


def judge_args(name: str, store: Path, server: OpenAIServer, *sources: str) -> list[str]:
    return ["arena", "judge", "--name", name, "--store", str(store), "--task", TASK, "--judge", JUDGE,
            "--api-base", server.base_url, *sources]  # fmt: skip


def test_end_to_end_on_two_baseline_runs(
    litellm_ready: None, baseline_runs: list[str], server: OpenAIServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = tmp_path / "arena" / "judgments.sqlite"
    args = judge_args("demo", store, server, "--runs", *baseline_runs)
    assert main([*args, "--max-concurrency", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    n_calls = report["n_unique"]
    assert report["n_battles"] == 16 * 2 and report["n_ok"] == n_calls and report["n_failed"] == 0
    assert len(server.chat_requests()) == n_calls == report["n_requests"]
    # a rerun pays for nothing
    assert main([*args, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["n_done_before"] == n_calls and again["n_requests"] == 0
    assert len(server.chat_requests()) == n_calls

    out = tmp_path / "battles.jsonl"
    assert main(["arena", "battles", "--name", "demo", "--store", str(store), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 32 and {r["model_a"] for r in rows} == {"baseline:normal"}
    assert "order-flip rate of openai/tiny-test-model: 0.0%" in printed  # the scripted judge has no position bias
    # the retrieval baseline copies train reports that overlap the reference more often than "normal"
    assert main(["arena", "ratings", "--battles", str(out), "--json", "--rounds", "50"]) == 0
    ratings = json.loads(capsys.readouterr().out)
    by_model = {row["model"]: row for row in ratings["models"]}
    assert set(by_model) == {"baseline:normal", "baseline:retrieval"}
    assert by_model["baseline:retrieval"]["n_battles"] == 32
    # re-parsing the stored answers costs nothing and, with the same parser, changes nothing
    assert main(["arena", "reparse", "--name", "demo", "--store", str(store)]) == 0
    assert "re-parsed 0 judgments" in capsys.readouterr().out
    with CallStore(store) as opened:
        opened.reparse(lambda raw: None, "old")  # pretend an old parser version wrote them
    assert main(["arena", "reparse", "--name", "demo", "--store", str(store)]) == 0
    assert f"re-parsed {n_calls} judgments with parser {PARSER_VERSION}: {n_calls} changed" in capsys.readouterr().out
    assert len(server.chat_requests()) == n_calls
    # the leaderboard reads the store directly: battles, missing count, spend, judge and prompt version
    board = tmp_path / "board"
    assert (
        main(["arena", "leaderboard", "--name", "demo", "--store", str(store), "--out", str(board), "--rounds", "50"])
        == 0
    )
    data = json.loads((board / "leaderboard.json").read_text())
    assert data["judge"] == "openai/tiny-test-model" and data["prompt_version"] == PROMPT_VERSION
    # judge verdicts and the ties between identical reports (no call) are counted apart
    assert data["n_judgments"] == n_calls and data["n_identical"] == 32 - n_calls and data["n_missing"] == 0
    assert {row["model"] for row in data["models"]} == {"baseline:normal", "baseline:retrieval"}


def test_faults_end_ok_or_failed_and_a_rerun_completes_them(
    litellm_ready: None, prediction_files: list[str], tmp_path: Path
) -> None:
    rng = random.Random(7)
    kinds = [Fault("ok")] * 14 + [Fault.rate_limit(retry_after=0.05), Fault.server_error(500),
                                  Fault.timeout(delay_s=3.0), Fault("length"), Fault("malformed"), Fault.server_error(503)]  # fmt: skip
    plan = [rng.choice(kinds) for _ in range(150)]
    garbage = threading.Lock()
    count = [0]
    garbage_on = [True]

    def reply(body: dict[str, Any]) -> str:
        with garbage:
            count[0] += 1
            if garbage_on[0] and count[0] % 12 == 0:
                return "I refuse to give a verdict."
        return content_reply(body)

    fld = load_field(TASK, predictions=prediction_files)
    with OpenAIServer(reply_fn=reply, fault_plan=plan) as server, CallStore(tmp_path / "j.sqlite") as store:
        judge = make_judge(server, timeout_s=1.0)
        battles = plan_battles(fld, as_judge(judge))
        first = Judging(judge, store, max_concurrency=8, policy=FAST).run(battles)
        totals = store.totals()
        assert first.n_ok + first.n_failed == first.n_unique  # every judgment ended one way or the other
        assert (totals.n_ok, totals.n_failed, totals.n_claimed) == (first.n_ok, first.n_failed, 0)
        assert first.n_failed == len(first.failures) > 0  # the truncated answers at least
        assert any("truncated" in f["error"] for f in first.failures)
        assert first.n_requests == len(server.chat_requests())
        hit = {r.fault for r in server.chat_requests()}
        assert {"rate_limit", "server_error", "timeout", "length", "malformed"} <= hit and first.n_reasked > 0
        for row in store.export(status="ok"):  # a truncated or garbage answer is never stored as a verdict
            assert row["finish_reason"] == "stop" and row["parsed"]["verdict"]

        server.fault_plan.clear()
        garbage_on[0] = False  # no more garbage on the rerun
        before = len(server.chat_requests())
        second = Judging(judge, store, max_concurrency=8, policy=FAST).run(battles)
        assert second.n_done_before == first.n_ok
        assert second.n_ok == first.n_failed and second.n_failed == 0
        assert len(server.chat_requests()) - before == first.n_failed  # only the failed ones were asked again

        third = Judging(judge, store, policy=FAST).run(battles)
        assert third.n_requests == 0 and store.totals().n_ok == first.n_unique


def test_garbage_is_reasked_once_then_failed(litellm_ready: None, prediction_files: list[str], tmp_path: Path) -> None:
    calls = [0]

    def reply(body: dict[str, Any]) -> str:
        calls[0] += 1
        return "Hmm, hard to say." if calls[0] in (1, 3, 4) else content_reply(body)

    fld = load_field(TASK, predictions=prediction_files[:2])
    with OpenAIServer(reply_fn=reply) as server, CallStore(tmp_path / "j.sqlite") as store:
        judge = make_judge(server)
        battles = plan_battles(fld, as_judge(judge), studies=2)
        report = Judging(judge, store, max_concurrency=1, policy=FAST).run(battles)
        requests = server.chat_requests()
        assert requests[1].body["messages"][-1]["content"] == REASK  # the re-ask carries the first answer
        assert requests[1].body["messages"][-2] == {"role": "assistant", "content": "Hmm, hard to say."}
        assert report.n_reasked == 2 and report.n_failed == 1 and report.n_ok == report.n_unique - 1
        assert "no parseable answer, also after one re-ask" in report.failures[0]["error"]
        failed = store.export(status="failed")[0]
        assert failed["raw_text"] == "Hmm, hard to say." and failed["attempts"] == 2


def test_order_flip_and_canonical_orientation(litellm_ready: None, prediction_files: list[str], tmp_path: Path) -> None:
    fld = load_field(TASK, predictions=[prediction_files[0], prediction_files[1]])  # normal, perfect
    for reply, expected_flip in ((content_reply, 0.0), (lambda body: answer("A>B"), 1.0)):
        store_file = tmp_path / f"flip{expected_flip}.sqlite"
        with OpenAIServer(reply_fn=reply) as server, CallStore(store_file) as store:
            judge = make_judge(server)
            battles = plan_battles(fld, as_judge(judge), studies=4)
            append_plan(plan_path(store_file), battles, judge.model)
            Judging(judge, store, policy=FAST).run(battles)
            export = export_battles(store, plan_path(store_file))
        assert export.flip_rate == {JUDGE: expected_flip} and export.n_missing == 0
        assert len(export.rows) == 8 and len(export.consistent_rows) == 4
        if expected_flip == 0.0:  # "perfect" (model_b) copies the reference and wins in both orders
            assert {(r["model_a"], r["model_b"], r["winner"], r["verdict"]) for r in export.rows} == {
                ("normal", "perfect", "model_b", "B>>A")
            }
        else:  # a judge that always prefers the first position: each pair is inconsistent, hence a tie
            assert {r["winner"] for r in export.rows} == {"model_a", "model_b"}
            assert {r["winner"] for r in export.consistent_rows} == {"tie"}


def test_governance_refusal_comes_before_any_call(
    litellm_ready: None, server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    samples = {
        f"s{i}": Sample(f"s{i}", TASK, "mimic_cxr", "test", "p", f"ref {i}", credentialed=True) for i in range(3)
    }
    fld = Field(TASK, samples, {"m1": {k: "a" for k in samples}, "m2": {k: "b" for k in samples}})
    monkeypatch.setattr("arena.judging.load_field", lambda *a, **k: fld)
    remote_base = server.base_url.replace("127.0.0.1", "judge.example.org")
    args = ["arena", "judge", "--name", "x", "--store", str(tmp_path / "j.sqlite"), "--task", TASK,
            "--judge", JUDGE, "--api-base", remote_base, "--predictions", "m1=unused"]  # fmt: skip
    assert main(args) == 1
    assert "refusing to judge" in capsys.readouterr().err
    assert server.requests == [] and not (tmp_path / "j.sqlite").exists()


def test_dry_run_makes_no_request(
    litellm_ready: None, prediction_files: list[str], server: OpenAIServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = tmp_path / "j.sqlite"
    args = judge_args("dry", store, server, "--predictions", *prediction_files)
    assert main([*args, "--dry-run", "--price-per-1k-tokens", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "96 battles" in out and "dry run: no call was made" in out and "~$" in out
    assert server.requests == []
    with CallStore(store) as opened:
        assert opened.totals().n_ok == 0 and opened.totals().n_failed == 0


def test_budget_cap_stops_before_exceeding(
    litellm_ready: None, prediction_files: list[str], server: OpenAIServer, tmp_path: Path
) -> None:
    fld = load_field(TASK, predictions=prediction_files)
    with CallStore(tmp_path / "j.sqlite") as store:
        judge = make_judge(server, price_per_1k_tokens=1.0)
        battles = plan_battles(fld, as_judge(judge))
        report = Judging(judge, store, max_concurrency=4, budget_usd=3.0, policy=FAST).run(battles)
        assert 0 < report.n_ok < report.n_unique and report.n_failed == 0
        assert report.n_budget_stopped == report.n_unique - report.n_ok
        assert report.cost_usd <= 3.0 and store.totals().cost_usd == pytest.approx(report.cost_usd)
        assert store.totals().n_claimed == 0  # keys stopped by the budget were released, not left leased
        assert len(server.chat_requests()) == report.n_ok
        with pytest.raises(XrayBenchError, match="--price-per-1k-tokens"):
            Judging(make_judge(server), store, budget_usd=1.0)


def test_a_degenerate_report_is_refused_before_any_judgment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One endless row (issue 19: a 4M-word row ran METEOR out of memory) must not reach a judge: refused with
    its source and id, no traceback, nothing stored; --max-chars lets a user accept longer reports on purpose."""
    from xraybench.taskdata import load_task

    monkeypatch.chdir(tmp_path)
    samples = load_task(TASK).samples
    files = {}
    for name in ("a", "b"):
        rows = [{"id": s.id, "prediction": s.reference} for s in samples]
        if name == "b":
            rows[1]["prediction"] = "no acute disease " * 2_000  # 34,000 characters
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["arena", "judge", "--name", "long", "--task", TASK, "--judge", "metric:lexical",
            "--predictions", *(f"{n}={p}" for n, p in files.items())]  # fmt: skip
    assert main(argv) == 1
    text = "".join(capsys.readouterr())
    assert f"b={files['b']}: 1 report(s) of 'b' are longer than 20,000 characters" in text
    assert repr(samples[1].id) in text and "--max-chars" in text and "Traceback" not in text
    assert not (tmp_path / "arenas" / "long" / "judgments.sqlite").exists()
    assert main([*argv, "--max-chars", "40000"]) == 0


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="NAME=FILE"):
        load_field(TASK, predictions=["nofile"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(XrayBenchError, match=r"bad\.jsonl:1: .*expected an object with \"id\""):
        load_field(TASK, predictions=[f"m={bad}"])
    with pytest.raises(XrayBenchError, match="at least two models"):
        load_field(TASK, predictions=[])
