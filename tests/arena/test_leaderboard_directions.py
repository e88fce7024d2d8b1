"""An arena leaderboard's metric columns say which way each improves where it is not "higher is better": a lower
RadCliQ-v1 (an error estimate) must not read as a worse model, and a count without a direction as neither."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_leaderboard import battles, write

from arena.ratings import compute_ratings

pytest.importorskip("matplotlib", reason="leaderboard figures need the arena extra (matplotlib)")


def test_lower_is_better_and_directionless_columns_are_marked(tmp_path: Path) -> None:
    metrics = {
        "alpha": {"demo/bleu_4": 0.25, "rexrank_iu_xray/radcliq_v1": 0.9, "demo/grounding_boxes_per_answer": 1.5},
        "beta": {"demo/bleu_4": 0.125, "rexrank_iu_xray/radcliq_v1": 1.2, "plugin/toy_words": 4.0},
    }
    write(tmp_path, compute_ratings(battles(), rounds=0, seed=3), metrics=metrics)
    data = json.loads((tmp_path / "leaderboard.json").read_text())
    assert data["metric_directions"] == {
        "rexrank_iu_xray/radcliq_v1": "lower",
        "demo/grounding_boxes_per_answer": "none",
        "plugin/toy_words": "unknown",  # no installed metric emits it: never presented as higher-is-better
    }
    md = (tmp_path / "leaderboard.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Rank"))
    assert "| rexrank_iu_xray/radcliq_v1 ↓ |" in header and "| demo/grounding_boxes_per_answer · |" in header
    assert "| demo/bleu_4 |" in header and "| plugin/toy_words ? |" in header
    assert "lower is better (↓): rexrank_iu_xray/radcliq_v1" in md and "the others: higher is better" in md
    assert "lower is better (↓): rexrank_iu_xray/radcliq_v1" in (tmp_path / "index.html").read_text()


def test_a_board_of_higher_is_better_columns_reads_as_before(tmp_path: Path) -> None:
    write(tmp_path, compute_ratings(battles(), rounds=0, seed=3))
    data = json.loads((tmp_path / "leaderboard.json").read_text())
    assert "metric_directions" not in data and "higher is not better" not in (tmp_path / "leaderboard.md").read_text()
