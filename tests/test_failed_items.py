"""A failed item never earns credit: one rule for every metric family, checked family by family.

The rule (README, "A failed item never earns credit"): an item without a finished prediction is left out of
every metric; the task says how many (`n_scored`, `n_failed`, `status`); a task where every item failed shows
no number at all (empty `metrics` and a `no_metrics_reason`), never the floor an empty output would score.

Real data where it exists without images (IU X-ray reports and VQA-RAD questions in ../shared/data, scored
from a predictions file); the demo suite for classification and grounding (it has images and boxes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xraybench.compare import compare_runs
from xraybench.metrics.api import score_texts
from xraybench.results import incomplete_note, suite_aggregates
from xraybench.runner import RunConfig, run
from xraybench.taskdata import load_task

DEAD_API = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: every request is refused


def _config(out: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {"model": "baseline:normal", "tasks": [], "out": str(out), "bootstrap_rounds": 20}
    return RunConfig(**{**base, "progress": False, **kw})


def _predictions(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in rows))
    return f"predictions:{path}"


@pytest.fixture
def roots(shared_data: Path) -> list[str]:
    return [f"iu_xray={shared_data / 'iu_xray'}", f"vqa_rad={shared_data / 'vqa'}"]


def test_report_metrics_are_over_completed_items_only(tmp_path: Path, roots: list[str]) -> None:
    samples = load_task("iu_xray_findings", {"iu_xray": roots[0].split("=", 1)[1]}, limit=30).samples
    done, failed = samples[:20], samples[20:]
    model = _predictions(tmp_path / "p.jsonl", [(s.id, s.reference) for s in done])
    results = run(_config(tmp_path / "run", model=model, tasks=["iu_xray_findings"], data_roots=roots, limit=30))
    task = results["tasks"]["iu_xray_findings"]
    assert (task["n"], task["n_scored"], task["n_failed"], task["status"]) == (30, 20, 10, "incomplete")
    assert results["status"] == "incomplete" and results["n_failed"] == 10
    # every number equals the metric computed on the 20 completed pairs alone
    alone = score_texts(
        [s.reference for s in done], [[s.reference] for s in done], ["bleu", "rouge_l", "cider", "chexpert"]
    )
    for name in ("bleu_4", "rouge_l", "cider", "chexpert_micro_f1_14", "chexpert_micro_f1_5"):
        assert task["metrics"][name]["value"] == pytest.approx(alone[name].value, abs=1e-12), name
    # perfect answers on every completed item: the missing ten cost nothing and earn nothing
    assert task["metrics"]["chexpert_micro_f1_14"]["value"] == 1.0
    assert task["metrics"]["rouge_l"]["value"] == pytest.approx(1.0)
    rows = [json.loads(x) for x in (tmp_path / "run" / "scores.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [s.id for s in done]
    assert "10 of 30 items of the run failed" in (incomplete_note(results) or "")
    assert {s.id for s in failed}.isdisjoint(r["id"] for r in rows)


def test_every_item_failed_shows_no_number_in_any_family(tmp_path: Path, roots: list[str]) -> None:
    tasks = ["iu_xray_findings", "vqa_rad_chest", "demo_classification"]  # report, VQA, classification + grounding
    config = _config(
        tmp_path / "run", model="openai:nobody", api_base=DEAD_API, tasks=tasks, data_roots=roots,
        limit=4, max_attempts=1, batch_size=4,
    )  # fmt: skip
    results = run(config)
    assert results["status"] == "incomplete" and results["n_failed"] == 12
    for name in tasks:
        task = results["tasks"][name]
        assert task["metrics"] == {}, f"{name} shows numbers for items that all failed: {task['metrics']}"
        assert (task["n_scored"], task["n_failed"], task["status"]) == (0, 4, "failed")
        assert "all 4 failed" in task["no_metrics_reason"]
        assert all(c["metrics"] == {} for c in task["categories"].values())
    assert (tmp_path / "run" / "scores.jsonl").read_text() == ""
    assert incomplete_note(results) == "incomplete: all 12 items of the run failed; it has no metric values"


def test_the_issue_command_prints_no_number(tmp_path: Path) -> None:
    out = tmp_path / "x"
    cmd = [
        sys.executable, "-m", "xraybench", "run", "--model", "openai:nobody", "--api-base", DEAD_API,
        "--tasks", "demo_findings", "--limit", "4", "--max-attempts", "1", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={"COLUMNS": "200", **_env()})
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "no completed item" in proc.stdout and "all 4 items of the run failed" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    task = results["tasks"]["demo_findings"]
    assert task["metrics"] == {} and "chexpert_micro_f1_14" not in json.dumps(task)  # was 0.20 from empty reports
    assert results["suites"] == {}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}


def test_vqa_metrics_are_over_completed_items_only(tmp_path: Path, roots: list[str]) -> None:
    samples = load_task("vqa_rad_chest", {"vqa_rad": roots[1].split("=", 1)[1]}, limit=40).samples
    done = samples[:30]
    model = _predictions(tmp_path / "p.jsonl", [(s.id, s.reference) for s in done])
    results = run(_config(tmp_path / "run", model=model, tasks=["vqa_rad_chest"], data_roots=roots, limit=40))
    task = results["tasks"]["vqa_rad_chest"]
    assert (task["n_scored"], task["n_failed"]) == (30, 10)
    assert task["metrics"]["vqa_accuracy"]["value"] == 1.0  # scored as empty answers, ten would have been wrong
    rows = [json.loads(x) for x in (tmp_path / "run" / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 30  # answer_score's BLEU-4 on one-word answers is just under 1 even when exact
    assert task["metrics"]["answer_score"]["value"] == pytest.approx(sum(r["answer_score"] for r in rows) / 30)
    assert task["metrics"]["answer_score"]["value"] > 0.99
    assert sum(c["n_failed"] for c in task["categories"].values()) == 10
    assert sum(c["n"] for c in task["categories"].values()) == 30


def test_classification_and_grounding_are_over_completed_items_only(tmp_path: Path) -> None:
    samples = load_task("demo_classification").samples
    done = samples[:-4]
    rows = []
    for s in done:
        steps = " ".join(f"{b[4]} [{b[0]}, {b[1]}, {b[2]}, {b[3]}]." for b in s.metadata["bboxes"]) or "clear."
        rows.append((s.id, f"<think>{steps}</think> \\boxed{{{s.reference}}}"))
    model = _predictions(tmp_path / "p.jsonl", rows)
    results = run(_config(tmp_path / "run", model=model, tasks=["demo_classification"], template="reasoning"))
    task = results["tasks"]["demo_classification"]
    assert (task["n_scored"], task["n_failed"], task["status"]) == (len(done), 4, "incomplete")
    metrics = task["metrics"]
    assert metrics["cls_micro_f1"]["value"] == 1.0
    assert metrics["grounding_format_valid"]["value"] == 1.0
    assert metrics["grounding_iou"]["value"] == pytest.approx(1.0)  # 256x256 demo images: sent as they are
    assert metrics["grounding_hit_rate"]["value"] == 1.0


def test_model_based_metrics_are_over_completed_items_only(
    tmp_path: Path, roots: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch", reason="BERTScore needs torch (the 'hf' extra)")
    pytest.importorskip("transformers", reason="BERTScore needs transformers (the 'hf' extra)")
    from xraybench.metrics.bertscore import LAYERS_ENV, MODEL_ENV
    from xraybench.testing.tiny_bert import build_tiny_bert

    monkeypatch.setenv(MODEL_ENV, str(build_tiny_bert(tmp_path / "tiny-bert")))
    monkeypatch.setenv(LAYERS_ENV, "2")
    samples = load_task("iu_xray_findings", {"iu_xray": roots[0].split("=", 1)[1]}, limit=12).samples
    done = samples[:8]
    hyps = [f"{s.reference} No change." for s in done]
    model = _predictions(tmp_path / "p.jsonl", [(s.id, h) for s, h in zip(done, hyps, strict=True)])
    config = _config(
        tmp_path / "run", model=model, tasks=["iu_xray_findings"], data_roots=roots, limit=12,
        extra_metrics=["bertscore"], skip_metrics=["meteor", "cider", "bleu", "rouge_l"],
    )  # fmt: skip
    task = run(config)["tasks"]["iu_xray_findings"]
    assert "bertscore" not in task["skipped_metrics"] and task["n_failed"] == 4
    alone = score_texts(hyps, [[s.reference] for s in done], ["bertscore"])
    assert task["metrics"]["bertscore_f1"]["value"] == pytest.approx(alone["bertscore_f1"].value, abs=1e-9)


def test_compare_pairs_only_items_both_runs_completed_and_says_so(tmp_path: Path, roots: list[str]) -> None:
    samples = load_task("vqa_rad_chest", {"vqa_rad": roots[1].split("=", 1)[1]}, limit=20).samples
    full = _predictions(tmp_path / "a.jsonl", [(s.id, s.reference) for s in samples])
    part = _predictions(tmp_path / "b.jsonl", [(s.id, s.reference) for s in samples[:15]])
    common = {"tasks": ["vqa_rad_chest"], "data_roots": roots, "limit": 20, "skip_metrics": ["answer_score"]}
    run(_config(tmp_path / "a", model=full, **common))
    run(_config(tmp_path / "b", model=part, **common))
    rows = [r for r in compare_runs(tmp_path / "a", tmp_path / "b", rounds=50) if r["metric"] == "vqa_accuracy"]
    (row,) = rows
    assert row["a"] == row["b"] == 1.0 and row["n"] == 15  # equal on what both answered, not "A better"
    assert row["note"] == "incomplete: paired on the 15 of 20 items both runs completed (0 failed in A, 5 in B)"


def test_suite_average_weighs_tasks_by_completed_items() -> None:
    def task(n: int, n_scored: int, value: float) -> dict[str, Any]:
        return {"n": n, "n_scored": n_scored, "n_failed": n - n_scored, "metrics": {"m": {"value": value}}}

    tasks = {"demo_findings": task(10, 2, 1.0), "demo_impression": task(6, 6, 0.0), "demo_vqa": task(4, 0, 0)}
    tasks["demo_vqa"]["metrics"] = {}
    suite = suite_aggregates(tasks, ["demo"])["demo"]
    assert suite["metrics"]["m"] == {"value": 0.25, "n": 8, "tasks": 2}  # (1.0 * 2 + 0.0 * 6) / 8
    assert (suite["status"], suite["n_failed"]) == ("incomplete", 12)


def test_compare_commands_say_a_run_is_incomplete(
    tmp_path: Path, roots: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from xraybench.cli import main

    samples = load_task("iu_xray_findings", {"iu_xray": roots[0].split("=", 1)[1]}, limit=10).samples
    full = _predictions(tmp_path / "a.jsonl", [(s.id, s.reference) for s in samples])
    part = _predictions(tmp_path / "b.jsonl", [(s.id, s.reference) for s in samples[:7]])
    common = {"tasks": ["iu_xray_findings"], "data_roots": roots, "limit": 10, "skip_metrics": ["meteor", "chexpert"]}
    run(_config(tmp_path / "a", model=full, **common))
    run(_config(tmp_path / "b", model=part, **common))
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--rounds", "20"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "paired on the 7 of 10 items both runs completed (0 failed in A, 3 in B)" in out
    assert main(["compare", str(tmp_path / "b"), "published:deepmedix-r1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "3 of 10 items of iu_xray_findings failed; its metrics are over the 7 completed items only" in out
