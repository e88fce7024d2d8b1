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
        max_new_tokens=6,
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
