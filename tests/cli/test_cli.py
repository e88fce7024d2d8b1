from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.taskdata import load_task


def test_list_shows_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mimic_cxr_findings", "cxr14", "xraybench", "baseline", "predictions", "meteor", "chexpert"):
        assert name in out


def test_samples_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["samples", "--task", "demo_vqa", "--jsonl", "--limit", "5"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    assert set(rows[0]) >= {"id", "prompt", "reference", "image_paths", "metadata"}
    assert Path(rows[0]["image_paths"][0]).exists()


def test_validate_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = load_task("demo_classification").samples
    f = tmp_path / "p.jsonl"
    lines = [json.dumps({"id": s.id, "prediction": "No Finding"}) for s in samples[1:]]
    lines += [json.dumps({"id": samples[1].id, "prediction": "x"}), "{oops", json.dumps({"id": "ghost", "prediction": ""})]
    f.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", "demo_classification"]) == 1
    out = capsys.readouterr().out
    assert f"malformed: {f}:{len(samples) + 1}: invalid JSON" in out
    assert f"demo_classification: {len(samples) - 1}/{len(samples)} covered, 1 missing, 1 duplicated" in out
    assert "unknown ids (in no task): 1: ghost" in out


def test_validate_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = load_task("demo_findings").samples
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"id": s.id, "prediction": "x"}) + "\n" for s in samples))
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", "demo_findings"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")


def test_errors_are_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--model", "baseline:normal", "--tasks", "demo_vqq", "--out", str(tmp_path / "r")]) == 1
    assert "Did you mean 'demo_vqa'" in capsys.readouterr().err
    assert main(["run", "--model", "hff:x", "--tasks", "demo_vqa", "--out", str(tmp_path / "r2")]) == 1
    assert "unknown model adapter 'hff'" in capsys.readouterr().err
    assert main(["run", "--model", "baseline:normal", "--tasks", "iu_xray_findings", "--out", str(tmp_path / "r3")]) == 1
    assert "--data-root iu_xray=PATH" in capsys.readouterr().err


def test_console_script_runs_demo(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks",
                          "demo_impression", "--out", str(tmp_path / "r"), "--bootstrap-rounds", "20",
                          "--no-progress"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "demo_impression" in out.stdout and "results:" in out.stdout
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["tasks"]["demo_impression"]["metrics"]["bleu_4"]["value"] is not None
