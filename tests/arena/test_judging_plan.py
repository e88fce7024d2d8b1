"""Planning battles while they are judged: plan entries reach the plan file before their judgments, in chunks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena.judges import Judge
from arena.judging import (
    Judging,
    PlannedBattles,
    PlanWriter,
    judge_schedule,
    load_field,
    plan_battles,
    plan_path,
    read_plan,
)
from xraybench.callstore import CallStore
from xraybench.errors import DataFormatError
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import OpenAIServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic chatter while litellm imports
TASK = "demo_findings"
JUDGE = "openai/tiny-test-model"
VERDICT = '```json\n{"errors_a": [], "errors_b": [], "verdict": "A>B"}\n```'


@pytest.fixture()
def specs(tmp_path: Path) -> list[str]:
    """Three invented models whose reports name their study, so every judgment has its own prompt."""
    from xraybench.taskdata import load_task

    out = []
    for name in ("fair", "odd", "terse"):
        path = tmp_path / f"{name}.jsonl"
        rows = (json.dumps({"id": s.id, "prediction": f"{name} report of {s.id}."}) for s in load_task(TASK).samples)
        path.write_text("".join(r + "\n" for r in rows))
        out.append(f"{name}={path}")
    return out


def test_plan_writer_appends_only_new_battles_and_reads_only_what_others_added(
    specs: list[str], tmp_path: Path, cli_judge: Judge
) -> None:
    battles = plan_battles(load_field(TASK, predictions=specs), cli_judge)
    plan = tmp_path / "j.plan.jsonl"
    mine, other = PlanWriter(plan, JUDGE), PlanWriter(plan, JUDGE)
    mine.append(battles[:10])
    other.append(battles[5:20])  # a second process: its first append reads the whole file
    mine.append(battles[:30])  # sees the other's lines, adds only 20..29
    keys = [e["key"] for e in read_plan(plan)]
    assert keys == [b.key for b in battles[:30]]
    with plan.open("a") as fh:
        fh.write('{"key": "torn')  # a killed process's half line
    mine.append(battles[30:32])
    assert [e["key"] for e in read_plan(plan)] == [b.key for b in battles[:32]]
    with plan.open("a") as fh:
        fh.write("not json\n")
    with pytest.raises(DataFormatError, match=r"jsonl:33: invalid JSON"):
        other.append(battles[32:33])  # the line number counts the lines it read before


def test_a_full_disk_while_planning_names_the_plan_file_and_leaves_no_torn_line(
    specs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_judge: Judge
) -> None:
    """ENOSPC (issue 19), reported here by fsync as delayed-allocation filesystems do: the error names the plan
    file and says what is intact, the failed batch is cut back, and the same battles are planned once space is
    back (no battle of the failed batch is taken as already planned)."""
    import errno
    import os

    from xraybench.files import DiskFullError

    battles = plan_battles(load_field(TASK, predictions=specs), cli_judge)
    plan = tmp_path / "j.plan.jsonl"
    writer = PlanWriter(plan, JUDGE)
    writer.append(battles[:4])
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match=rf"could not write {plan}: no space left on device.*intact"):
        writer.append(battles[4:8])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert [e["key"] for e in read_plan(plan)] == [b.key for b in battles[:4]]  # nothing torn, nothing half
    writer.append(battles[4:8])
    assert [e["key"] for e in read_plan(plan)] == [b.key for b in battles[:8]]


def test_full_schedule_plans_while_judging_and_every_judgment_is_planned_first(
    litellm_ready: None, specs: list[str], tmp_path: Path, cli_judge: Judge
) -> None:
    fld = load_field(TASK, predictions=specs)
    by_prompt = {b.prompt.messages[1]["content"]: b.key for b in plan_battles(fld, cli_judge)}
    store_file = tmp_path / "j.sqlite"
    plan = plan_path(store_file)
    seen: list[tuple[str, set[str]]] = []

    def reply(body: dict[str, Any]) -> str:
        planned = {json.loads(line)["key"] for line in plan.read_text().splitlines()}
        seen.append((by_prompt[body["messages"][1]["content"]], planned))
        return VERDICT

    with OpenAIServer(reply_fn=reply) as server, CallStore(store_file) as store:
        judge = LLMClient(JUDGE, api_base=server.base_url, timeout_s=5.0)
        judging = Judging(judge, store, max_concurrency=4, policy=RetryPolicy(max_attempts=2, base_delay_s=0.01))
        report = judge_schedule(fld, judging, plan)
    assert report.n_ok == report.n_unique == len(by_prompt) == 96 and report.n_failed == 0
    assert all(key in planned for key, planned in seen)  # a judgment is requested only once it is planned
    assert len(seen[0][1]) < len(by_prompt)  # the first request went out before the rest was planned
    assert len(read_plan(plan)) == len(by_prompt)


def test_planned_battles_are_sized_and_count_identical_reports_without_planning(
    specs: list[str], cli_judge: Judge
) -> None:
    fld = load_field(TASK, predictions=specs)
    study = next(iter(fld.samples))
    fld.texts["odd"][study] = fld.texts["fair"][study]
    comparisons = [("fair", "odd", s) for s in fld.samples]
    lazy = PlannedBattles(fld, cli_judge, comparisons, chunk=5)
    assert len(lazy) == 2 * len(comparisons) and lazy.n_identical == 2
    assert [b.key for b in lazy] == [b.key for b in plan_battles(fld, cli_judge) if b.model_y == "odd"
                                     and b.model_x == "fair"]  # fmt: skip
