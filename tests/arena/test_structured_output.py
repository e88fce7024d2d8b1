"""Structured output for judges: the verdict JSON schema is sent in the dialect the endpoint accepts (probed
once), the text protocol is the fallback, and the protocol is part of every judgment key and configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena.judge import VERDICT_SCHEMA, response_format, use_structured_output
from arena.judges import as_judge
from arena.judging import Judging, append_plan, config_label, export_battles, load_field, plan_battles, plan_path
from arena.prompt import PROMPT_VERSION, VERDICT_LEVELS
from arena.verdict import parse_verdict
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import OpenAIServer


def schema_reply(body: dict[str, Any]) -> str:
    """A bare JSON object, as a grammar-constrained server returns it (no code fence, no prose)."""
    return json.dumps({"errors_a": [], "errors_b": [{"type": "missing_finding", "description": "x"}], "verdict": "A>B"})


def field(tmp_path: Path) -> Any:
    files = []
    for name, text in (("x", "Small left effusion."), ("y", "Normal chest.")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"id": "demo-test-000", "prediction": text}) + "\n")
        files.append(f"{name}={path}")
    return load_field("demo_findings", predictions=files)


def test_the_schema_allows_exactly_the_verdicts_the_parser_reads() -> None:
    assert VERDICT_SCHEMA["properties"]["verdict"]["enum"] == list(VERDICT_LEVELS)
    assert VERDICT_SCHEMA["required"][-1] == "verdict"  # reasons first, then the verdict
    for level in VERDICT_LEVELS:
        raw = json.dumps({"errors_a": [], "errors_b": [], "verdict": level})
        assert parse_verdict(raw) == {"verdict": level, "errors_a": [], "errors_b": []}
    with pytest.raises(XrayBenchError, match="structured-output"):
        response_format("grammar")


@pytest.mark.parametrize(
    ("owned_by", "dialect"), [("vllm", "json_schema"), ("me", "json_object"), ("xraybench-test", "off")]
)
def test_auto_picks_the_dialect_from_the_servers_model_listing(owned_by: str, dialect: str) -> None:
    """vLLM takes OpenAI's json_schema form, llama-cpp-python ("me") only {"type": "json_object", "schema"};
    a server that does not say who it is gets the text protocol. No chat request is made to find out."""
    with OpenAIServer(reply_fn=schema_reply, owned_by=owned_by) as server:
        judge = LLMClient("openai/tiny-test-model", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(judge, "auto") == dialect
        assert judge.response_format == response_format(dialect)
        assert ("response_format" in judge.params) == (dialect != "off")
        assert server.chat_requests() == []
        assert use_structured_output(judge, "json_object") == "json_object"  # an explicit dialect is not looked up
        assert judge.response_format == {"type": "json_object", "schema": VERDICT_SCHEMA}


def test_auto_without_a_model_listing_is_the_text_protocol() -> None:
    judge = LLMClient("openai/m", api_base="http://127.0.0.1:9/v1", timeout_s=2)  # nothing listens on port 9
    assert use_structured_output(judge, "auto") == "off" and judge.response_format is None


def test_judgments_carry_the_protocol_in_their_key_and_configuration(tmp_path: Path) -> None:
    fld = field(tmp_path)
    store_file = tmp_path / "judgments.sqlite"
    with OpenAIServer(reply_fn=schema_reply) as server, CallStore(store_file) as store:
        judge = LLMClient("openai/m", api_base=server.base_url, timeout_s=5)
        text_keys = {b.key for b in plan_battles(fld, as_judge(judge))}
        use_structured_output(judge, "json_schema")
        battles = plan_battles(fld, as_judge(judge))
        assert text_keys.isdisjoint(b.key for b in battles)  # another protocol is another judgment
        append_plan(plan_path(store_file), battles, judge.model)
        report = Judging(judge, store, policy=RetryPolicy(max_attempts=1)).run(battles)
        assert report.n_ok == 2 and report.n_reasked == 0
        bodies = [r.body for r in server.chat_requests()]
        assert all(b["response_format"]["json_schema"]["schema"] == VERDICT_SCHEMA for b in bodies)
        export = export_battles(store, plan_path(store_file))
    label = config_label("openai/m", judge.params, PROMPT_VERSION)
    assert "output=json_schema" in label and export.configs_used == [label] and export.n_verdicts == 2


def test_a_dry_run_asks_nothing_and_reuses_the_arenas_recorded_output(tmp_path: Path) -> None:
    fld = field(tmp_path)
    plan = tmp_path / "judgments.plan.jsonl"
    with OpenAIServer(reply_fn=schema_reply, owned_by="vllm") as server:
        judge = LLMClient("openai/tiny-test-model", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(judge, "auto", dry_run=True, plan=plan) == "off"  # nothing recorded yet
        use_structured_output(judge, "json_object")
        append_plan(plan, plan_battles(fld, as_judge(judge)), judge.model)
        fresh = LLMClient("openai/tiny-test-model", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(fresh, "auto", dry_run=True, plan=plan) == "json_object"
        assert fresh.params == judge.params  # so the dry run's keys are the real run's
        assert server.requests == []
