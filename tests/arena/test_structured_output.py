"""Structured output for judges: the verdict JSON schema is sent in the dialect the endpoint accepts (probed
once), the text protocol is the fallback, and the protocol is part of every judgment key and configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena.judge import VERDICT_SCHEMA, response_format, use_structured_output
from arena.judging import Judging, append_plan, config_label, export_battles, load_field, plan_battles, plan_path
from arena.prompt import PROMPT_VERSION, VERDICT_LEVELS
from arena.verdict import parse_verdict
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import Fault, OpenAIServer


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


def test_auto_probes_json_schema_then_json_object_then_falls_back_to_text() -> None:
    with OpenAIServer(reply_fn=schema_reply) as server:
        judge = LLMClient("openai/m", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(judge, "auto") == "json_schema"
        sent = server.chat_requests()[-1].body
        assert sent["response_format"]["type"] == "json_schema" and sent["max_tokens"] == 8  # the probe is short
        assert judge.max_tokens == 1024 and judge.params["response_format"] == response_format("json_schema")
    # llama-cpp-python refuses the json_schema form (422) and takes {"type": "json_object", "schema": ...}
    with OpenAIServer(reply_fn=schema_reply, fault_plan=[Fault("bad_request", message="unknown type")]) as server:
        judge = LLMClient("openai/m", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(judge, "auto") == "json_object"
        assert judge.response_format == {"type": "json_object", "schema": VERDICT_SCHEMA}
    refusals = [Fault("bad_request"), Fault("bad_request")]
    with OpenAIServer(reply_fn=schema_reply, fault_plan=refusals) as server:
        judge = LLMClient("openai/m", api_base=server.base_url, timeout_s=5)
        assert use_structured_output(judge, "auto") == "off" and "response_format" not in judge.params
        assert use_structured_output(judge, "off") == "off"
        n = len(server.chat_requests())
        assert use_structured_output(judge, "json_object") == "json_object" and len(server.chat_requests()) == n


def test_judgments_carry_the_protocol_in_their_key_and_configuration(tmp_path: Path) -> None:
    fld = field(tmp_path)
    store_file = tmp_path / "judgments.sqlite"
    with OpenAIServer(reply_fn=schema_reply) as server, CallStore(store_file) as store:
        judge = LLMClient("openai/m", api_base=server.base_url, timeout_s=5)
        text_keys = {b.key for b in plan_battles(fld, judge.model, judge.params)}
        use_structured_output(judge, "json_schema")
        battles = plan_battles(fld, judge.model, judge.params)
        assert text_keys.isdisjoint(b.key for b in battles)  # another protocol is another judgment
        append_plan(plan_path(store_file), battles, judge.model)
        report = Judging(judge, store, policy=RetryPolicy(max_attempts=1)).run(battles)
        assert report.n_ok == 2 and report.n_reasked == 0
        bodies = [r.body for r in server.chat_requests()]
        assert all(b["response_format"]["json_schema"]["schema"] == VERDICT_SCHEMA for b in bodies)
        export = export_battles(store, plan_path(store_file))
    label = config_label("openai/m", judge.params, PROMPT_VERSION)
    assert "output=json_schema" in label and export.configs_used == [label] and export.n_verdicts == 2
