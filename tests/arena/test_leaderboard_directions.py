"""An arena leaderboard's metric columns say which way each improves where it is not "higher is better": a lower
RadCliQ-v1 (an error estimate) must not read as a worse model, and a count without a direction as neither."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_leaderboard import battles, write

from arena.ratings import compute_ratings
from xraybench.testing.browser import CHROMIUM, MISSING_REASON

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


@pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING_REASON)
def test_page_sorts_a_lower_is_better_column_best_first(tmp_path: Path) -> None:
    """In a real headless browser: a column's first sort puts the best first, so a RadCliQ-v1 column (lower is
    better) opens ascending; bleu_4 keeps opening descending."""
    import re

    from test_leaderboard_browser import dump_dom, rows, sorted_state

    ratings = compute_ratings(battles(), rounds=0, seed=3)
    metrics = {
        "alpha": {"s/radcliq_v1": 1.4, "s/bleu_4": 0.1},
        "beta": {"s/radcliq_v1": 0.7, "s/bleu_4": 0.4},
        "gamma": {"s/radcliq_v1": 1.1, "s/bleu_4": 0.2},
    }
    write(tmp_path / "board", ratings, metrics=metrics)
    page = tmp_path / "board" / "index.html"
    html = page.read_text()
    assert re.search(
        r'<th[^>]*data-key="metrics.s/radcliq_v1"[^>]*data-first="ascending"[^>]*>s/radcliq_v1 ↓</th>', html
    )
    dom = dump_dom(page, tmp_path / "profile", "#sort=metrics.s%2Fradcliq_v1")
    assert sorted_state(dom) == "metrics.s/radcliq_v1:ascending"
    assert rows(dom)[:3] == ["beta", "gamma", "alpha"]  # the lowest RadCliQ-v1 (the best report) first
    dom = dump_dom(page, tmp_path / "profile2", "#sort=metrics.s%2Fbleu_4")
    assert sorted_state(dom) == "metrics.s/bleu_4:descending" and rows(dom)[:3] == ["beta", "gamma", "alpha"]
