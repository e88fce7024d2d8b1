"""`xraybench run --model hf:PATH` end to end with a tiny randomly initialised Qwen2.5-VL."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the hf extra (torch) is not installed")
pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from xraybench.runner import PREDICTIONS_FILE, RunConfig, run  # noqa: E402
from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl  # noqa: E402


def test_hf_model_runs_demo_tasks_and_resumes(tmp_path: Path) -> None:
    model_dir = build_tiny_qwen2_5_vl(tmp_path / "tiny")
    config = RunConfig(
        model=f"hf:{model_dir}",
        tasks=["demo_vqa", "demo_findings"],
        out=str(tmp_path / "run"),
        limit=3,
        template="reasoning",
        max_tokens=6,
        batch_size=2,
        bootstrap_rounds=20,
        progress=False,
    )
    results = run(config)
    assert results["status"] == "complete"
    assert results["model"]["spec"] == f"hf:{model_dir}"
    assert results["tasks"]["demo_vqa"]["n"] == 3 and results["tasks"]["demo_findings"]["n"] == 3
    lines = (tmp_path / "run" / PREDICTIONS_FILE).read_text().splitlines()
    assert len(lines) == 6
    again = run(config)  # resumed: nothing is generated twice, same numbers
    assert (tmp_path / "run" / PREDICTIONS_FILE).read_text().splitlines() == lines
    assert again["tasks"]["demo_vqa"]["metrics"] == results["tasks"]["demo_vqa"]["metrics"]


def test_two_checkpoints_in_folders_named_grpo_get_two_names_and_meet_in_one_arena(tmp_path: Path) -> None:
    """`--name` sets the display name (predictions, results, arena): two `grpo` folders were both "grpo"."""
    import json

    from arena.api import BattlesConfig, JudgeConfig, battles, judge_arena
    from xraybench.cli import main

    runs = []
    for i, side in enumerate(("a", "b")):
        model_dir = build_tiny_qwen2_5_vl(tmp_path / side / "grpo", seed=i)
        out = tmp_path / f"run-{side}"
        code = main(["run", "--model", f"hf:{model_dir}", "--name", f"grpo-{side}", "--tasks", "demo_findings",
                     "--limit", "2", "--max-tokens", "4", "--model-arg", "device=cpu", "--model-arg", "dtype=float32",
                     "--bootstrap-rounds", "0", "--no-progress", "--out", str(out)])  # fmt: skip
        assert code == 0
        results = json.loads((out / "results.json").read_text())
        assert results["model"] == {"spec": f"hf:{model_dir}", "name": f"grpo-{side}"}
        assert results["decoding"]["max_tokens"] == 4
        assert {json.loads(line)["model"] for line in (out / PREDICTIONS_FILE).read_text().splitlines()} == {
            f"grpo-{side}"
        }
        assert json.loads((out / "run.json").read_text())["identity"]["model_args"] == {"dtype": "float32"}
        runs.append(str(out))
    store = tmp_path / "arena.sqlite"
    judge_arena(JudgeConfig("grpo", "demo_findings", "metric:lexical", runs=runs, store=str(store)), progress=False)
    export = battles(BattlesConfig(arena="grpo", out=str(tmp_path / "battles.jsonl"), store=str(store)))
    rows = [json.loads(line) for line in Path(export.path).read_text().splitlines()]
    assert rows and {r["model_a"] for r in rows} | {r["model_b"] for r in rows} == {"grpo-a", "grpo-b"}
