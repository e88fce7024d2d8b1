"""`xraybench judge-audit`: scripted judges of known behaviour over real HTTP, and the offline metric judge."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arena.audit import (
    CORRECT,
    FILLER,
    AuditConfig,
    build_variants,
    harm_pairs,
    kind_of,
    open_judging,
    run_audit,
    variant_stats,
)
from arena.mutator import CLINICAL_TYPES, HARM, labels_of
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.records import Sample
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

TASK = "demo_findings"
JUDGE = "openai/audit-test-judge"
_BLOCK = re.compile(r"§§§ BEGIN (.+?) §§§\n(.*?)\n§§§ END \1 §§§", re.S)


def _blocks(body: dict[str, Any]) -> dict[str, str]:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return dict(_BLOCK.findall(user))


def _answer(level: str) -> str:
    return f'```json\n{{"errors_a": [], "errors_b": [], "verdict": "{level}"}}\n```'


def always_a(body: dict[str, Any]) -> str:
    """A judge with pure position bias: whatever is shown first wins."""
    return _answer("A>B")


def label_judge(body: dict[str, Any]) -> str:
    """A judge that prefers the candidate whose labels agree with the reference's (a tie when both do)."""
    found = _blocks(body)
    ref = labels_of(found["REFERENCE REPORT"])
    ok_a, ok_b = labels_of(found["CANDIDATE A"]) == ref, labels_of(found["CANDIDATE B"]) == ref
    return _answer("tie" if ok_a == ok_b else "A>B" if ok_a else "B>A")


def longer_judge(body: dict[str, Any]) -> str:
    """A judge with pure length bias: the longer candidate wins."""
    found = _blocks(body)
    return _answer("A>B" if len(found["CANDIDATE A"]) > len(found["CANDIDATE B"]) else "B>A")


def _config(tmp_path: Path, server: OpenAIServer | None = None, **kw: Any) -> AuditConfig:
    base: dict[str, Any] = {"judge": JUDGE if server else "metric:clinical", "task": TASK, "n": 6,
                            "out": str(tmp_path / "audit"), "bootstrap_rounds": 50, "timeout_s": 5.0}  # fmt: skip
    if server is not None:
        base["api_base"] = server.base_url
    return AuditConfig(**{**base, **kw})


def _run(reply: Callable[[dict[str, Any]], str], tmp_path: Path, **kw: Any) -> tuple[dict[str, Any], int]:
    with OpenAIServer(reply_fn=reply) as server:
        result = run_audit(_config(tmp_path, server, **kw))
        return result.data, len(server.requests)


def test_variants_cover_every_type_on_the_demo_task() -> None:
    samples = load_task(TASK).samples[:8]
    variants = build_variants(TASK, samples, seed=0)
    texts = variants.field.texts
    assert set(texts) >= {CORRECT, FILLER, "error:false_finding", "error:flip_negation"}
    assert all(labels_of(texts[CORRECT][s.id]) == labels_of(s.reference) for s in samples)
    assert all(texts[CORRECT][s.id] != s.reference for s in samples)  # a paraphrase, not a copy
    kinds = {c["kind"] for c in variants.changes}
    assert kinds <= {*CLINICAL_TYPES, FILLER}
    assert sum(variants.skipped.values()) + len(variants.changes) == 8 * (len(CLINICAL_TYPES) + 1)


def test_variant_stats_counts_flips_and_shares() -> None:
    rows = [
        {"model_a": CORRECT, "model_b": "error:x", "winner": "model_a", "study_id": "s1"},
        {"model_a": CORRECT, "model_b": "error:x", "winner": "model_a", "study_id": "s1"},
        {"model_a": CORRECT, "model_b": "error:x", "winner": "model_a", "study_id": "s2"},
        {"model_a": CORRECT, "model_b": "error:x", "winner": "model_b", "study_id": "s2"},
        {"model_a": CORRECT, "model_b": "error:x", "winner": "tie", "study_id": "s3"},
        {"model_a": CORRECT, "model_b": "filler", "winner": "model_b", "study_id": "s3"},
    ]
    stats = variant_stats(rows, {"error:x"}, "error:x", rounds=200, seed=0)
    assert stats["n_studies"] == 3 and stats["n_judgments"] == 5 and stats["n_both_orders"] == 2
    assert stats["prefer_correct"] == pytest.approx(0.6) and stats["tie_rate"] == pytest.approx(0.2)
    assert stats["flip_rate"] == pytest.approx(0.5)
    low, high = stats["prefer_correct_ci"]
    assert 0.0 <= low <= 0.6 <= high <= 1.0


def test_position_biased_judge_flips_every_pair(litellm_ready: None, tmp_path: Path) -> None:
    data, _ = _run(always_a, tmp_path)
    for row in [*data["error_types"], data["length_bias"]]:
        assert row["flip_rate"] == 1.0 and row["prefer_correct"] == 0.5 and row["tie_rate"] == 0.0, row
        assert row["flip_rate_ci"] == [1.0, 1.0]


def test_label_judge_catches_label_errors_only(litellm_ready: None, tmp_path: Path) -> None:
    data, n_requests = _run(label_judge, tmp_path)
    by_type = {r["variant"].removeprefix("error:"): r for r in data["error_types"]}
    for kind in ("drop_finding", "false_finding", "flip_negation"):
        assert by_type[kind]["prefer_correct"] == 1.0 and by_type[kind]["flip_rate"] == 0.0
    for kind in ("laterality", "severity", "comparison"):
        if kind in by_type:  # invisible to labels: a tie
            assert by_type[kind]["tie_rate"] == 1.0
    assert data["length_bias"]["tie_rate"] == 1.0 and data["length_bias"]["prefer_variant"] == 0.0
    audit = tmp_path / "audit"
    assert {p.name for p in audit.iterdir()} >= {"audit.json", "audit.md", "audit.png", "judgments.sqlite"}
    assert "| drop_finding | " in (audit / "audit.md").read_text()
    assert (audit / "audit.png").read_bytes()[:4] == b"\x89PNG"
    # a rerun asks nothing again: every judgment comes from the store
    again, n_again = _run(label_judge, tmp_path)
    assert n_again == 0 and again["judging"]["n_done_before"] == n_requests
    assert again["error_types"] == data["error_types"]


def test_length_biased_judge_prefers_filler(litellm_ready: None, tmp_path: Path) -> None:
    data, _ = _run(longer_judge, tmp_path)
    assert data["length_bias"]["prefer_variant"] == 1.0
    assert data["length_bias"]["flip_rate"] == 0.0


def test_budget_cap_stops_and_rerun_finishes(litellm_ready: None, tmp_path: Path) -> None:
    with OpenAIServer(reply_fn=label_judge) as server:
        capped = run_audit(_config(tmp_path, server, budget_usd=0.05, price_per_1k_tokens=1.0, max_concurrency=1))
        assert capped.report.n_budget_stopped > 0 and capped.report.cost_usd <= 0.05
        full = run_audit(_config(tmp_path, server))
        assert full.report.n_done_before == capped.report.n_ok and full.report.n_budget_stopped == 0


def test_governance_refuses_credentialed_samples_for_remote_judges(needs_litellm: None, tmp_path: Path) -> None:
    sample = Sample("s1", TASK, "mimic_cxr", "test", "p", "There is no pleural effusion.", credentialed=True)
    config = AuditConfig(judge="openai/gpt-4o-mini", task=TASK, api_key_env=None)
    with CallStore(tmp_path / "s.sqlite") as store, pytest.raises(XrayBenchError, match="credentialed"):
        open_judging(config, store, [sample])


def test_metric_judge_audit_and_synthetic_recovery_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "metric"
    code = main(["judge-audit", "--judge", "metric:clinical", "--task", TASK, "--n", "10", "--out", str(out),
                 "--rounds", "100", "--synthetic", "--qualities", "1,0.6,0.2"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "reference-based proxy judge" in printed and "Kendall tau" in printed
    data = json.loads((out / "audit.json").read_text())
    by_type = {r["variant"].removeprefix("error:"): r for r in data["error_types"]}
    assert by_type["false_finding"]["prefer_correct"] == 1.0
    assert all(r["flip_rate"] == 0.0 for r in data["error_types"])  # a metric judge ignores the order
    recovery = data["synthetic"]["recovery"]
    assert recovery["true_order"] == ["synthetic_q100", "synthetic_q060", "synthetic_q020"]
    assert recovery["kendall_tau"] == 1.0 and recovery["ci_low"] is not None
    assert len(list((out / "synthetic").glob("*.jsonl"))) == 3


def test_dry_run_makes_no_call(litellm_ready: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with OpenAIServer(reply_fn=always_a) as server:
        code = main(["judge-audit", "--judge", JUDGE, "--api-base", server.base_url, "--task", TASK, "--n", "3",
                     "--out", str(tmp_path / "dry"), "--dry-run", "--price-per-1k-tokens", "0.001"])  # fmt: skip
        assert code == 0 and not server.requests
    assert "no call was made" in capsys.readouterr().out
    assert not (tmp_path / "dry" / "audit.json").exists()


def test_harm_pairs_cross_tiers_only() -> None:
    variants = [CORRECT, FILLER, "error:comparison", "error:drop_finding", "error:false_finding", "error:severity"]
    pairs = harm_pairs(variants)
    assert ("error:comparison", "error:drop_finding") in pairs and (FILLER, "error:severity") in pairs
    assert all(HARM[kind_of(low)] < HARM[kind_of(high)] for low, high in pairs)
    assert ("error:drop_finding", "error:false_finding") not in pairs  # same tier: no expected order
    assert all(CORRECT not in p for p in pairs) and len(pairs) == 9
    assert HARM["flip_negation"] > HARM["laterality"] > HARM["comparison"] > HARM["paraphrase"] == HARM["filler"]


def test_pairs_metric_judge_prefers_the_label_correct_variant(tmp_path: Path) -> None:
    plain = run_audit(_config(tmp_path, n=8))
    assert plain.data["harm_pairs"] is None
    result = run_audit(_config(tmp_path, n=8, pairs=True))
    assert result.report.n_done_before == plain.report.n_ok  # the error-vs-correct judgments are reused
    pairs = result.data["harm_pairs"]
    assert [t["tier"] for t in pairs["tiers"]][0] == "wrong findings"
    for p in pairs["pairs"]:
        if HARM[p["more_harmful"]] == max(HARM.values()):  # a wrong finding against a label-correct variant
            assert p["prefer_less_harmful"] == 1.0 and p["flip_rate"] == 0.0, p
    assert pairs["all_pairs"]["n_judgments"] == sum(p["n_judgments"] for p in pairs["pairs"])
    assert result.data["error_types"] == plain.data["error_types"]
    md = (tmp_path / "audit" / "audit.md").read_text()
    assert "## Error type against error type" in md and "| filler | false_finding |" in md


def test_pairs_position_biased_judge_flips(litellm_ready: None, tmp_path: Path) -> None:
    data, _ = _run(always_a, tmp_path, n=3, pairs=True)
    rows = data["harm_pairs"]["pairs"]
    assert rows and all(r["flip_rate"] == 1.0 and r["prefer_less_harmful"] == 0.5 for r in rows)
