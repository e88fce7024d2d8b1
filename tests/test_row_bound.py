"""One huge prediction row cannot take the machine: answers are cut to `--max-scored-chars` before any metric
(METEOR's aligner ran a 4M-word row out of memory), the cut is listed in results.json and scores.jsonl, and
the row is still scored (dropping it would flatter the model). Real IU X-ray data, a real `xraybench run`
subprocess under a memory cap."""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError
from xraybench.records import Prediction
from xraybench.results import bound_for_scoring
from xraybench.taskdata import load_task

TASK = "iu_xray_findings"
MEMORY_CAP = 3 << 30  # bytes of address space for the scoring process: far above what 12 normal rows need


def test_bound_cuts_only_long_answers() -> None:
    preds = [Prediction("a", "t", "m", raw="x", answer="short"), Prediction("b", "t", "m", raw="x", answer="y" * 20)]
    bounded, cut = bound_for_scoring(preds, 10)
    assert cut == ["b"] and bounded[0] is preds[0] and bounded[1].answer == "y" * 10 and preds[1].answer == "y" * 20
    with pytest.raises(XrayBenchError, match="max-scored-chars"):
        bound_for_scoring(preds, 0)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_a_million_word_row_is_cut_and_scored_under_a_memory_cap(tmp_path: Path, shared_data: Path) -> None:
    root = shared_data / "iu_xray"
    samples = load_task(TASK, {"iu_xray": str(root)}, limit=12).samples
    huge_id = samples[0].id
    words = itertools.cycle(samples[0].reference.split())
    huge = " ".join(next(words) for _ in range(1_000_000))  # ~6 MB: one model stuck in a loop
    rows = [{"id": s.id, "prediction": huge if s.id == huge_id else s.reference} for s in samples]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "xraybench", "run", "--model", f"predictions:{preds}", "--tasks", TASK,
           "--data-root", f"iu_xray={root}", "--limit", "12", "--out", str(out), "--bootstrap-rounds", "0",
           "--no-progress"]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=500, preexec_fn=_limit_memory, env={**os.environ}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    task = json.loads((out / "results.json").read_text())["tasks"][TASK]
    assert task["truncated_for_scoring"] == {"limit_chars": 50_000, "ids": [huge_id]}
    assert task["n_scored"] == 12 and "meteor" in task["metrics"]  # the cut row is scored, METEOR included
    rows_out = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    flagged = [r["id"] for r in rows_out if r.get("truncated_for_scoring")]
    assert flagged == [huge_id]
    huge_row = next(r for r in rows_out if r["id"] == huge_id)
    assert huge_row["meteor"] < 0.5  # scored as the endless output it is, not skipped
