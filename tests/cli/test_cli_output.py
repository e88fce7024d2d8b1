"""Output that tells the truth: no traceback when a reader closes the pipe, `list` says what METEOR needs."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.cli import main


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="pipe capacity cannot be set on this system")
def test_piping_into_head_is_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """`xraybench samples ... --jsonl | head -c 10`: the reader closes the pipe early.

    Deterministic: the pipe holds one page (Linux's smallest capacity, set before the writer starts), so a writer
    with more output than that must still be writing when the reader closes and meets the closed pipe. (With a
    64 KiB pipe the 27 KB of output could all be in the pipe before the reader closed it: the writer then ends
    with 0, as it should, and the test failed by timing.)"""
    argv = ["samples", "--task", "demo_vqa", "--jsonl"]
    assert main(argv) == 0
    size = len(capsys.readouterr().out.encode())
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
        capacity = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
        assert size > 2 * capacity  # the writer cannot finish before the reader closes the pipe
        proc = subprocess.Popen([sys.executable, "-m", "xraybench", *argv], stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.stderr is not None
    try:
        assert os.read(read_end, 10)  # unbuffered: the writer gets room for these 10 bytes only
    finally:
        os.close(read_end)  # as `head` does after its first bytes: most of the output is never read
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # 128 + SIGPIPE, as a shell reports it
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_list_does_not_say_meteor_needs_java(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "metrics"]) == 0
    meteor = next(line for line in capsys.readouterr().out.splitlines() if " meteor " in line)
    assert "needs Java" not in meteor and "no Java needed" in meteor


def test_grounding_validity_is_shown_with_box_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline that never draws a box is "format valid": the table says how many boxes there were."""
    argv = ["run", "--model", "baseline:normal", "--tasks", "demo_classification", "--out", str(tmp_path / "r"),
            "--no-progress", "--bootstrap-rounds", "0"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1.0000 (0 boxes in 16 answers)" in out
    assert "grounding_boxes_per_answer" in out


def test_compare_says_which_tasks_it_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, tasks in (("a", "demo_vqa,demo_classification"), ("b", "demo_vqa")):
        argv = ["run", "--model", "baseline:normal", "--tasks", tasks, "--out", str(tmp_path / name), "--no-progress",
                "--bootstrap-rounds", "0"]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--rounds", "20", "--json"]) == 0
    captured = capsys.readouterr()
    assert {r["task"] for r in json.loads(captured.out)} == {"demo_vqa"}
    assert "warning: left out, scored only by A: demo_classification" in captured.err


IU_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "iu_xray"


def test_run_names_every_task_it_cannot_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--model", "baseline:normal", "--tasks", "xraybench", "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "6 tasks cannot be loaded" in err
    for task, root in (("mimic_cxr_impression", "mimic_cxr"), ("iu_xray_findings", "iu_xray"), ("cxr_vqa", "cxr_vqa")):
        assert f"{task}: dataset '{root}'" in err and f"--data-root {root}=PATH" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not IU_ROOT.is_dir(), reason=f"real IU X-ray reports not found at {IU_ROOT}")
def test_validate_on_real_iu_xray_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real Indiana reports (read in place): a file with two studies missing, one unknown id, one `null` id and
    a second row for one study: every problem in one pass, each with its line."""
    from xraybench.taskdata import load_task

    samples = load_task("iu_xray_findings", {"iu_xray": str(IU_ROOT)}).samples
    rows = [json.dumps({"id": s.id, "prediction": s.reference}) for s in samples[2:]]
    rows += [json.dumps({"id": "CXR-nope", "prediction": "x"}), '{"id": null, "prediction": "x"}',
             json.dumps({"id": samples[5].id, "prediction": "other"})]  # fmt: skip
    path = tmp_path / "iu.jsonl"
    path.write_text("\n".join(rows) + "\n")
    argv = ["validate", "--model", f"predictions:{path}", "--tasks", "iu_xray_findings", "--data-root",
            f"iu_xray={IU_ROOT}"]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    n = len(rows)
    assert f'{path}:{n - 1}: "id" must be a string or an integer, found null' in out
    assert f"{path}:{n}: a second prediction for id '{samples[5].id}' (first on line 4, a different text)" in out
    assert f"iu_xray_findings: {len(samples) - 2}/{len(samples)} covered, 2 missing" in out
    assert f"{path}:{n - 2}: id 'CXR-nope'" in out
