"""Rating defaults people rely on: finite ratings whatever the battles, the prior stated on every output, the
arena's prior and metric columns kept by `submit`, FastChat's `tie (bothbad)` accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.ratings import DEFAULT_PRIOR, prior_statement
from xraybench.cli import main
from xraybench.taskdata import load_task

TASK = "demo_findings"


def _battles(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path.write_text(
        "".join(
            json.dumps(dict(zip(("model_a", "model_b", "winner", "study_id"), r, strict=True))) + "\n" for r in rows
        )
    )
    return path


def test_a_model_that_never_wins_gets_a_finite_rating_by_default(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = [
        ("a", "b", "model_a", "s1"),
        ("b", "c", "model_a", "s2"),
        ("a", "c", "model_a", "s3"),
        ("c", "a", "model_b", "s4"),
        ("a", "b", "tie", "s5"),
    ]  # fmt: skip  (c never wins or ties)
    path = _battles(tmp_path / "b.jsonl", rows)
    assert main(["arena", "ratings", "--battles", str(path), "--rounds", "50"]) == 0
    out = capsys.readouterr().out
    assert prior_statement(DEFAULT_PRIOR) in out
    assert main(["arena", "ratings", "--battles", str(path), "--rounds", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["prior"] == DEFAULT_PRIOR and data["settings"]["prior_statement"].startswith("prior: 1")
    ratings = {m["model"]: m["rating"] for m in data["models"]}
    assert set(ratings) == {"a", "b", "c"} and ratings["c"] < ratings["b"] < ratings["a"] < 1e4
    assert main(["arena", "ratings", "--battles", str(path), "--rounds", "0", "--prior", "0"]) == 1
    assert "never won or tied: c" in capsys.readouterr().err


def test_fastchat_tie_bothbad_is_a_tie(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    both = _battles(tmp_path / "both.jsonl", [("a", "b", "tie (bothbad)", "s1"), ("a", "b", "model_a", "s2")])
    plain = _battles(tmp_path / "plain.jsonl", [("a", "b", "tie", "s1"), ("a", "b", "model_a", "s2")])
    results = []
    for path in (both, plain):
        assert main(["arena", "ratings", "--battles", str(path), "--rounds", "0", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["models"] == results[1]["models"]


def _run(model: str, out: Path) -> Path:
    argv = ["run", "--model", model, "--tasks", "demo", "--out", str(out), "--no-progress", "--skip-metrics", "meteor",
            "--bootstrap-rounds", "0"]  # fmt: skip
    assert main(argv) in (0,)
    return out


def test_submit_keeps_the_arena_prior_and_its_metric_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Field models ran the whole demo suite, the submission only the arena's task: every model gets the task's
    columns (no row of "-"), and the leaderboard keeps the prior it was built with, stated in leaderboard.md."""
    monkeypatch.chdir(tmp_path)
    runs = {m: _run(m, tmp_path / m.replace(":", "-")) for m in ("baseline:normal", "baseline:retrieval")}
    judge = ["arena", "judge", "--name", "demo", "--task", TASK, "--judge", "metric:clinical"]
    assert main([*judge, "--runs", *map(str, runs.values())]) == 0
    board = ["arena", "leaderboard", "--name", "demo", "--rounds", "20", "--prior", "2"]
    assert main([*board, "--runs", *(f"{m}={p}" for m, p in runs.items())]) == 0
    assert "prior: 2 virtual ties per model pair" in capsys.readouterr().out
    md = (tmp_path / "arenas" / "demo" / "leaderboard" / "leaderboard.md").read_text()
    assert "prior: 2 virtual ties per model pair" in md
    preds = tmp_path / "new.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": s.id, "prediction": s.reference}) + "\n" for s in load_task(TASK).samples)
    )
    capsys.readouterr()
    argv = ["submit", "--name", "new", "--predictions", str(preds), "--arena", "demo", "--no-progress",
            "--skip-metrics", "meteor", "--rounds", "20"]  # fmt: skip
    assert main(argv) == 0
    assert "ratings prior: 2 virtual ties per model pair" in capsys.readouterr().out
    data = json.loads((tmp_path / "arenas" / "demo" / "leaderboard" / "leaderboard.json").read_text())
    assert data["settings"]["prior"] == 2.0
    assert (
        "prior: 2 virtual ties per model pair"
        in (tmp_path / "arenas" / "demo" / "leaderboard" / "leaderboard.md").read_text()
    )
    columns = data["metric_columns"]
    assert columns and all(c.startswith(f"{TASK}/") for c in columns), columns
    for row in data["models"]:
        assert all(row["metrics"][c] is not None for c in columns), (row["model"], row["metrics"])
