"""`--budget-usd` is the arena's total, stored with it: a rerun after a budget stop does not spend it again, and
more money needs an explicit `--raise-budget`. Real HTTP against the local OpenAI-compatible test server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.budget import budget_path
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic chatter while litellm imports
TASK = "demo_findings"
ANSWER = '{"errors_a": [], "errors_b": [], "verdict": "A>B"}'


def _specs(tmp_path: Path) -> list[str]:
    samples = load_task(TASK).samples
    specs = []
    for name, make in (("long", lambda s: s.reference), ("short", lambda s: f"Limited view {s.id}.")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s)}) + "\n" for s in samples))
        specs.append(f"{name}={path}")
    return specs


def test_budget_is_the_arenas_total_and_raising_it_is_explicit(
    litellm_ready: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "arena" / "judgments.sqlite"
    with OpenAIServer(reply_fn=lambda body: ANSWER) as server:
        args = ["arena", "judge", "--name", "b", "--store", str(store), "--task", TASK, "--judge",
                "openai/tiny-test-model", "--api-base", server.base_url, "--max-concurrency", "1",
                "--price-per-1k-tokens", "1.0", "--structured-output", "json_schema",  # no probe request
                "--predictions", *_specs(tmp_path)]  # fmt: skip
        assert main([*args, "--budget-usd", "5", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["n_budget_stopped"] > 0 and first["n_ok"] > 0  # the cap stopped the run part-way
        with CallStore(store) as calls:
            spent = calls.totals().cost_usd
        assert 0 < spent <= 5.0
        assert json.loads(budget_path(store).read_text())["budget_usd"] == 5.0
        n_requests = len(server.chat_requests())

        # "rerun the same command": nothing more is spent, with or without --budget-usd 5
        for again in ([*args, "--budget-usd", "5"], args):
            assert main(again) == 0
            out = capsys.readouterr().out
            assert len(server.chat_requests()) == n_requests
            assert f"arena budget $5.0000: spent ${spent:.4f}" in out and "--raise-budget" in out

        # more money only on purpose
        assert main([*args, "--budget-usd", "8"]) == 1
        assert "pass --raise-budget" in capsys.readouterr().err
        assert len(server.chat_requests()) == n_requests
        assert main([*args, "--budget-usd", "8", "--raise-budget", "--json"]) == 0
        capsys.readouterr()
        assert len(server.chat_requests()) > n_requests
    with CallStore(store) as calls:
        assert spent < calls.totals().cost_usd <= 8.0
    history = json.loads(budget_path(store).read_text())["history"]
    assert [h["budget_usd"] for h in history] == [5.0, 8.0]
