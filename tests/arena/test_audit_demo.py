"""`xraybench arena demo` end to end, offline, in a tmp dir; the committed leaderboards/demo-arena must match it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main

COMMITTED = Path(__file__).resolve().parents[2] / "leaderboards" / "demo-arena"


def test_demo_arena_end_to_end_matches_the_committed_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, work = tmp_path / "board", tmp_path / "work"
    assert main(["arena", "demo", "--out", str(out), "--work", str(work)]) == 0
    assert "Kendall tau" in capsys.readouterr().out
    board = (out / "leaderboard.md").read_text()
    assert "reference-based proxy judge (metric:clinical), not an LLM judgment" in board
    data = json.loads((out / "demo.json").read_text())
    assert data["recovery"]["kendall_tau"] >= 0.8
    assert data["recovery"]["recovered_order"] == data["recovery"]["true_order"]
    rows = json.loads((out / "leaderboard.json").read_text())
    assert rows["n_missing"] == 0 and len(rows["models"]) == 7
    # a rerun resumes everything: the runs are complete and every judgment comes from the store
    assert main(["arena", "demo", "--out", str(out), "--work", str(work)]) == 0
    for name in ("leaderboard.md", "leaderboard.json", "leaderboard.csv", "demo.json", "demo.md"):
        assert (out / name).read_text() == (COMMITTED / name).read_text(), f"{name}: rerun `xraybench arena demo`"
