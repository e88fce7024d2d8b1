"""The `Judge` protocol: a judge is one file plus one registration line, every judge runs on the one call engine
and store, each LLM judge carries its own prompt, and judgment stores written before the protocol still resume."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.api import JudgeConfig, judge_arena
from arena.judges import JUDGES, JudgeClient, build_judge
from arena.judges.llm import LLMJudge
from arena.judges.local import Decision, LocalJudge, Thresholds, decision
from arena.judging import Judging, export_battles, judge_schedule, load_field, plan_battles, plan_path, read_plan
from arena.prompt import PROMPT_VERSION, PromptTemplate
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.llm.options import LLMOptions
from xraybench.retry import RetryPolicy
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

TASK = "demo_findings"
OLD_STORE = Path(__file__).parent / "snapshots" / "old_store"
VERDICT = '```json\n{"errors_a": [], "errors_b": [], "verdict": "A>B"}\n```'


# -- a test-only judge: this class is its whole file, the `JUDGES.register` line in `length_judge` its registration --


class LengthJudge(LocalJudge):
    """Prefers the candidate whose word count is closer to the reference's (a toy judge, deterministic)."""

    NAME = "test:length"
    THRESHOLDS = Thresholds(strong=10, win=2)  # in words closer to the reference

    @property
    def params(self) -> dict[str, Any]:
        return {"length_judge_version": "1", "thresholds": vars(self.THRESHOLDS)}

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        n = len(reference.split())
        off_a, off_b = abs(len(text_a.split()) - n), abs(len(text_b.split()) - n)
        lines = [f"{self.name}: A is {off_a} words off the reference's {n}, B {off_b}."]
        return decision(lines, self.THRESHOLDS.level(off_b - off_a), [], [])


@pytest.fixture()
def length_judge() -> Iterator[str]:
    with JUDGES.scoped():  # the registration is undone after the test
        JUDGES.register("test:length", f"{__name__}:LengthJudge")
        yield "test:length"


def _sentences(text: str, n: int) -> str:
    return " ".join([s.strip() + "." for s in text.split(".") if s.strip()][:n])


MAKERS = {  # the reference, its first sentence, and a much longer wrong report
    "echo": lambda ref: ref,
    "short": lambda ref: _sentences(ref, 1),
    "rambling": lambda ref: " ".join(["The heart is enlarged and there is a large left pleural effusion."] * 8),
}


@pytest.fixture()
def specs(tmp_path: Path, prediction_files: Any) -> list[str]:
    return prediction_files(tmp_path, MAKERS, TASK)


def test_a_judge_registered_from_a_test_module_runs_an_arena_end_to_end(
    length_judge: str, specs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prediction_files: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "arenas" / "toy" / "judgments.sqlite"
    config = JudgeConfig("toy", TASK, length_judge, predictions=specs, studies=6, store=str(store))
    report, path = judge_arena(config, progress=False)
    assert path == store and report.n_failed == 0 and report.n_ok == report.n_unique > 0
    with CallStore(store) as calls:
        rows = calls.export(kind="judgment", status="ok")
        export = export_battles(calls, plan_path(store))
    assert {r["identity"]["judge"] for r in rows} == {length_judge}
    assert all(r["cost_usd"] == 0.0 and r["raw_text"].startswith("test:length: A is") for r in rows)
    assert export.flip_rate == {length_judge: 0.0}  # it scores each candidate alone
    again, _ = judge_arena(config, progress=False)  # the same engine's resume: nothing decided twice
    assert (again.n_ok, again.n_done_before) == (0, report.n_ok)
    assert main(["arena", "leaderboard", "--name", "toy", "--rounds", "20", "--prior", "1"]) == 0
    board = json.loads((tmp_path / "arenas" / "toy" / "leaderboard" / "leaderboard.json").read_text())
    assert [r["model"] for r in board["models"]] == ["echo", "short", "rambling"]
    # a submission is judged by the arena's judge, built by the same factory
    from arena.submission import SubmitConfig, submit

    [newcomer] = prediction_files(tmp_path, {"two": lambda ref: _sentences(ref, 2)}, TASK)
    manifest = submit(
        SubmitConfig(
            name="two", predictions=newcomer.split("=", 1)[1], arena="toy", progress=False, skip_metrics=["meteor"]
        )
    )
    assert manifest["judge"] == length_judge and manifest["n_judgments"] > 0 and manifest["cost_usd"] == 0.0
    with CallStore(store) as calls:
        assert {r["identity"]["judge"] for r in calls.export(kind="judgment")} == {length_judge}


def test_every_call_site_builds_the_registered_judge(length_judge: str, tmp_path: Path) -> None:
    """The audit goes through the same factory (`build_judge`) as `arena judge`; before it, a name without a
    provider was handed to the LLM client and refused."""
    from arena.audit import AuditConfig, open_judging

    with CallStore(tmp_path / "a.sqlite") as store:
        judging = open_judging(AuditConfig(judge=length_judge, task=TASK), store, load_task(TASK).samples)
    assert isinstance(judging.judge, LengthJudge) and judging.judge.name == length_judge
    with pytest.raises(XrayBenchError, match=r"unknown judge 'test:lenght'\. Did you mean 'test:length'"):
        build_judge("test:lenght")


def test_a_metric_judge_leases_its_keys_like_an_llm_judge(specs: list[str], tmp_path: Path) -> None:
    """A metric judge runs on the call engine: a key another live process is deciding is left to it (the old
    `MetricJudging` decided it a second time, and both wrote it)."""
    judge = build_judge("metric:lexical")
    battles = [b for b in plan_battles(load_field(TASK, predictions=specs), judge, studies=2) if not b.identical]
    with CallStore(tmp_path / "s.sqlite") as store:
        other = "another-host:1:judge"
        assert store.claim_many([battles[0].key], other, 600.0) == [battles[0].key]
        report = Judging(judge, store, progress=False).run(battles)
        assert report.n_claimed_elsewhere == 1 and report.n_ok == len(battles) - 1
        assert store.pending([battles[0].key]) == [battles[0].key]  # still the other process's to decide


def test_two_llm_judges_with_different_prompts_in_one_process(
    litellm_ready: None, specs: list[str], tmp_path: Path
) -> None:
    """Each judge sends its own prompt, re-asks in its own words, and keys its judgments by its own prompt
    version: one store holds both configurations side by side."""
    terse = PromptTemplate(
        "terse-1",
        system="You grade two chest X-ray reports against a reference. Answer with the verdict JSON only.",
        reask="Only the JSON object with errors_a, errors_b and verdict, please.",
    )
    seen: Counter[tuple[str, str]] = Counter()
    reasked: list[str] = []

    def reply(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        seen[body["model"], system] += 1
        if len(body["messages"]) > 2:  # a re-ask: the last message is the judge's own re-ask wording
            reasked.append(body["messages"][-1]["content"])
        return VERDICT if len(body["messages"]) > 2 or seen[body["model"], system] > 1 else "no verdict here"

    fld = load_field(TASK, predictions=specs[:2])
    store_file = tmp_path / "two.sqlite"
    with OpenAIServer(reply_fn=reply) as server, CallStore(store_file) as store:
        client = LLMClient("openai/tiny-test-model", api_base=server.base_url, timeout_s=5.0)
        other = LLMClient("openai/tiny-test-model", api_base=server.base_url, timeout_s=5.0)
        default, brief = LLMJudge(client), LLMJudge(other, prompt=terse)
        policy = RetryPolicy(max_attempts=1)
        reports = [
            judge_schedule(fld, Judging(j, store, max_concurrency=1, policy=policy, progress=False), plan_path(store_file),
                           studies=3)
            for j in (default, brief)
        ]  # fmt: skip
        export = export_battles(store, plan_path(store_file), mix=True)
    assert [r.n_ok for r in reports] == [6, 6] and all(r.n_failed == 0 for r in reports)
    default_system = default.build_request("r", "a", "b", {}).messages[0]["content"]
    assert {system for _, system in seen} == {default_system, terse.system}
    assert seen["tiny-test-model", terse.system] == seen["tiny-test-model", default_system] == 6 + 1  # + one re-ask
    assert sorted(reasked) == sorted([terse.reask, default.prompt.reask])
    assert {e["prompt_version"] for e in read_plan(plan_path(store_file))} == {PROMPT_VERSION, "terse-1"}
    assert len(export.configs_used) == 2 and len(export.rows) == 12


# -- stores written before the Judge protocol ----------------------------------------------------------------


def test_a_store_written_before_the_judge_protocol_resumes_with_zero_new_calls(
    tmp_path: Path, prediction_files: Any
) -> None:
    """`snapshots/old_store` was written by `arena judge` before judges became classes (metric:clinical,
    metric:lexical, and an LLM judge with the text protocol and with json_schema, 3 studies of two models
    each): every judgment key is the same today, so rerunning each makes no call and decides nothing."""
    for name in ("judgments.sqlite", "judgments.plan.jsonl"):
        shutil.copy(OLD_STORE / name, tmp_path / name)
    store = tmp_path / "judgments.sqlite"
    specs = prediction_files(tmp_path, {"echo": lambda r: r, "wrong": lambda r: "Large left pneumothorax."}, TASK)
    plan_before = read_plan(plan_path(store))
    with CallStore(store) as calls:
        before = calls.totals().n_ok
    assert before == 4 * 6
    with OpenAIServer(reply_fn=lambda body: VERDICT) as server:
        runs = [
            ("metric:clinical", {}), ("metric:lexical", {}),
            ("openai/tiny-test-model", {"api_base": server.base_url, "structured_output": "off"}),
            ("openai/tiny-test-model", {"api_base": server.base_url, "structured_output": "json_schema"}),
        ]  # fmt: skip
        for judge, options in runs:
            config = JudgeConfig("old", TASK, judge, predictions=specs, studies=3, store=str(store), **options)
            report, _ = judge_arena(config, progress=False)
            assert (report.n_ok, report.n_done_before, report.n_requests) == (0, 6, 0), judge
        assert server.chat_requests() == []
    with CallStore(store) as calls:
        assert calls.totals().n_ok == before
    assert read_plan(plan_path(store)) == plan_before  # no battle planned under a new key


def test_every_registered_judge_resolves_and_satisfies_the_protocol(length_judge: str) -> None:
    """The built-in judges and a test module's are all classes `build_judge` can build, each a `Judge`."""
    from arena.judges import LLM, Judge

    for name in JUDGES.names():
        built = build_judge("openai/m" if name == LLM else name, LLMOptions(api_base="http://127.0.0.1:9/v1"))
        assert isinstance(built, Judge) and isinstance(built.client, JudgeClient), name
        assert built.name == ("openai/m" if name == LLM else name)
    assert {type(build_judge(n)).__name__ for n in JUDGES.names() if n.startswith("metric:")} == {
        "ClinicalJudge", "FindingsJudge", "LexicalJudge", "PaperScoreJudge"
    }  # fmt: skip
