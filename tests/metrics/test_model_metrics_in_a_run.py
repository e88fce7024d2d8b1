"""`xraybench run --extra-metrics semb_score,green` on real IU X-ray reports, with tiny random weights.

What a user relies on: each pair's SembScore lands in `scores.jsonl` (equal to the metric on the run's own
predictions and references), its corpus value with a bootstrap CI in `results.json`; GREEN's per-category error
counts are per-sample columns, and a pair the model did not assess (random weights write no GREEN format) is null
with the reason, never a made-up 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_lexical import IU_REPORTS, iu_texts

pytest.importorskip("torch", reason="the model-based metrics need torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="the model-based metrics need transformers (the 'hf' extra)")

pytestmark = pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")


def test_run_writes_semb_score_and_green_per_sample(tmp_path: Path) -> None:
    from xraybench.metrics.chexbert import CHECKPOINT_ENV, TOKENIZER_ENV
    from xraybench.metrics.green import INSTRUCTION
    from xraybench.metrics.green import MODEL_ENV as GREEN_ENV
    from xraybench.metrics.semb import SembScoreMetric
    from xraybench.records import Prediction
    from xraybench.taskdata import load_task
    from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert
    from xraybench.testing.tiny_llama import build_tiny_llama

    bert = build_tiny_bert(tmp_path / "bert", max_length=512)
    checkpoint = build_tiny_chexbert(tmp_path / "chexbert.pth", bert)
    llama = build_tiny_llama(tmp_path / "green", [INSTRUCTION, *iu_texts()[:200]])
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XRAYBENCH_", "HF_"))}
    env.update({CHECKPOINT_ENV: str(checkpoint), TOKENIZER_ENV: str(bert), GREEN_ENV: str(llama),
                "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})  # fmt: skip
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks", "iu_xray_findings",
            "--data-root", f"iu_xray={IU_REPORTS.parent}", "--limit", "3", "--extra-metrics", "semb_score,green",
            "--skip-metrics", "meteor", "--bootstrap-rounds", "50", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    task = json.loads((out / "results.json").read_text())["tasks"]["iu_xray_findings"]
    assert not {"semb_score", "green"} & set(task["skipped_metrics"]), task["skipped_metrics"]
    rows = {r["id"]: r for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines())}
    predictions = [Prediction(**json.loads(line)) for line in (out / "predictions.jsonl").read_text().splitlines()]
    data = load_task("iu_xray_findings", {"iu_xray": str(IU_REPORTS.parent)}, limit=3)
    samples = {s.id: s for s in data.samples}
    assert sorted(rows) == sorted(samples) == sorted(p.id for p in predictions)

    metric = SembScoreMetric(str(checkpoint), str(bert), device="cpu", progress=False)
    expected = metric.score([samples[p.id] for p in predictions], predictions)["semb_score"]
    assert [rows[p.id]["semb_score"] for p in predictions] == pytest.approx(list(expected.per_sample), abs=1e-6)
    semb = task["metrics"]["semb_score"]
    assert semb["value"] == pytest.approx(expected.value, abs=1e-6)
    assert semb["ci_low"] <= semb["value"] <= semb["ci_high"]

    for row in rows.values():  # random weights: no GREEN assessment, so every pair is a marked failure
        assert row["green"] is None and row["green_failed"] == 1.0
        assert all(row[f"green_errors_{c}"] is None for c in "abcdef") and row["green_matched_findings"] is None
    assert task["metrics"]["green"]["value"] is None and task["metrics"]["green_failed"]["value"] == 1.0
    failures = task["metric_details"]["green"]["failures"]
    assert sorted(failures) == sorted(samples) and all("[Matched Findings]:" in why for why in failures.values())
