from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from arena.battles import Battles, from_records
from arena.leaderboard import FIGURES, FILES, run_metrics, write_leaderboard
from arena.ratings import Ratings, compute_ratings
from xraybench.cli import main
from xraybench.errors import XrayBenchError

pytest.importorskip("matplotlib", reason="leaderboard figures need the arena extra (matplotlib)")

STRENGTH = {"alpha": 0.0, "beta": 0.7, "gamma": -0.6, "delta|1": 1.2}  # a pipe to test escaping


def battles(n: int = 400, seed: int = 1) -> Battles:
    rng = np.random.default_rng(seed)
    names = sorted(STRENGTH)
    records = []
    for i in range(n):
        a, b = (str(x) for x in rng.choice(names, 2, replace=False))
        p = 1 / (1 + np.exp(-(STRENGTH[a] - STRENGTH[b])))
        winner = "tie" if rng.random() < 0.1 else ("model_a" if rng.random() < p else "model_b")
        records.append((i + 1, {"model_a": a, "model_b": b, "winner": winner, "study_id": f"s{i // 2}"}))
    return from_records(records)


@pytest.fixture(scope="module")
def ratings() -> Ratings:
    return compute_ratings(battles(), rounds=100, seed=3)


METRICS = {"alpha": {"demo/bleu_4": 0.25, "demo/meteor": 0.3}, "beta": {"demo/bleu_4": 0.125}}


def write(out: Path, ratings: Ratings, **overrides: object) -> list[Path]:
    kwargs: dict[str, object] = {
        "name": "unit",
        "judge": "gpt-judge",
        "prompt_version": "v2",
        "n_judgments": 800,
        "n_missing": 3,
        "cost_usd": 1.5,
        "metrics": METRICS,
        "proxy_note": None,
    }
    kwargs.update(overrides)
    return write_leaderboard(out, ratings, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, ratings: Ratings) -> Path:
    out = tmp_path_factory.mktemp("board")
    write(out, ratings)
    return out


def rating_order(ratings: Ratings) -> list[str]:
    return [ratings.models[i] for i in ratings.order()]


def test_writes_every_file(board: Path, ratings: Ratings) -> None:
    assert sorted(p.name for p in board.iterdir()) == sorted(FILES)
    assert rating_order(ratings)[0] == "delta|1"  # the strongest model wins on this seed


def test_markdown_table_rows(board: Path, ratings: Ratings) -> None:
    md = (board / "leaderboard.md").read_text()
    assert md.startswith("# Report Arena leaderboard: unit\n")
    assert (
        "Judge: gpt-judge; prompt version: v2; battles read from a file: 800 (judge verdicts and automatic ties "
        "between identical reports not told apart); missing: 3; cost: $1.5000" in md
    )
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Rank")]
    assert len(rows) == len(ratings.models)
    for line, i in zip(rows, ratings.order(), strict=True):
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert cells[0] == str(ratings.rank[i])
        assert cells[1] == ratings.models[i].replace("|", "\\|")
        assert cells[2] == f"{ratings.rating[i]:.1f}"
        assert cells[3] == f"[{ratings.ci_low[i]:.1f}, {ratings.ci_high[i]:.1f}]"
        assert cells[4] == f"{ratings.rank_best[i]}-{ratings.rank_worst[i]}"
        assert cells[5] == f"{ratings.win_rate[i]:.3f}"
        assert cells[7] == str(int(ratings.n_battles[i]))
    alpha = next(r for r in rows if r.startswith("| ") and " alpha " in r)
    assert alpha.rstrip().endswith("| 0.2500 | 0.3000 |")
    gamma = next(r for r in rows if " gamma " in r)
    assert gamma.rstrip().endswith("| - | - |")
    for png in FIGURES.values():
        assert f"]({png})" in md


def test_csv_header_and_values(board: Path, ratings: Ratings) -> None:
    rows = list(csv.reader(io.StringIO((board / "leaderboard.csv").read_text())))
    assert rows[0] == [
        "rank",
        "model",
        "rating",
        "ci_low",
        "ci_high",
        "rank_best",
        "rank_worst",
        "win_rate",
        "predicted_win_rate",
        "n_battles",
        "sandwich_ci_low",
        "sandwich_ci_high",
        "elo_online",
        "demo/bleu_4",
        "demo/meteor",
    ]
    body = rows[1:]
    assert [r[1] for r in body] == rating_order(ratings)
    for r, i in zip(body, ratings.order(), strict=True):
        assert r[2] == f"{ratings.rating[i]:.1f}"
        assert r[7] == f"{ratings.win_rate[i]:.4f}"
        assert r[8] == f"{ratings.predicted_win_rate[i]:.4f}"
        assert r[9] == str(int(ratings.n_battles[i]))
    by_model = {r[1]: r for r in body}
    assert by_model["alpha"][-2:] == ["0.2500", "0.3000"]
    assert by_model["beta"][-2:] == ["0.1250", ""]
    assert by_model["gamma"][-2:] == ["", ""]


def test_json_schema(board: Path, ratings: Ratings) -> None:
    data = json.loads((board / "leaderboard.json").read_text())
    assert data["schema_version"] == 1
    expected = {"name": "unit", "judge": "gpt-judge", "prompt_version": "v2", "n_judgments": 800}
    assert {k: data[k] for k in expected} == expected
    assert (data["n_missing"], data["cost_usd"], data["proxy_note"]) == (3, 1.5, None)
    assert data["metric_columns"] == ["demo/bleu_4", "demo/meteor"]
    assert data["figures"] == FIGURES
    assert data["anchor"] == "alpha"
    assert [r["model"] for r in data["models"]] == rating_order(ratings)
    row_keys = {"model", "rating", "ci_low", "ci_high", "rank", "rank_best", "rank_worst", "win_rate"}
    row_keys |= {"predicted_win_rate", "n_battles", "elo_online", "metrics", "sandwich_ci_low", "sandwich_ci_high"}
    m = len(ratings.models)
    for row in data["models"]:
        assert set(row) == row_keys
        i = ratings.models.index(row["model"])
        assert row["rating"] == pytest.approx(ratings.rating[i], abs=1e-6)
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
        assert row["sandwich_ci_low"] <= row["rating"] <= row["sandwich_ci_high"]
        assert set(row["metrics"]) == {"demo/bleu_4", "demo/meteor"}
    assert data["matrix_models"] == list(ratings.models)
    for key in ("battle_counts", "win_fraction", "predicted_win_rate"):
        assert len(data[key]) == m and all(len(r) == m for r in data[key])
    assert data["win_fraction"][0][0] is None  # the diagonal is not a number
    assert data["battle_counts"] == ratings.battle_counts.astype(int).tolist()


def test_pngs_are_valid_images(board: Path) -> None:
    for png in FIGURES.values():
        path = board / png
        assert path.stat().st_size > 5000, png
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width >= 300 and image.height >= 200
            image.verify()
        with Image.open(path) as image:
            lo, hi = image.convert("L").getextrema()
            assert hi - lo > 100, f"{png} is blank"


def test_regeneration_is_byte_identical(tmp_path: Path, board: Path) -> None:
    again = compute_ratings(battles(), rounds=100, seed=3)
    write(tmp_path, again)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (board / name).read_bytes(), name


def test_html_is_self_contained(board: Path) -> None:
    html = (board / "index.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and 'src="//' not in html
    for png in FIGURES.values():  # embedded: the page alone shows every figure (mailed, attached, opened anywhere)
        encoded = base64.b64encode((board / png).read_bytes()).decode("ascii")
        assert f'<img src="data:image/png;base64,{encoded}"' in html
        assert f'src="{png}"' not in html
    assert 'data-model="delta|1"' in html


def test_proxy_note_and_length_column(tmp_path: Path) -> None:
    rated = compute_ratings(with_lengths(battles(200)), rounds=0, length_control=True)
    write(tmp_path, rated, metrics=None, proxy_note="offline metric judge", cost_usd=None, n_missing=None)
    md = (tmp_path / "leaderboard.md").read_text()
    assert "> **Proxy judge.** offline metric judge" in md
    assert "missing: n/a; cost: n/a" in md
    assert "Length-controlled" in md and "| - |" in md  # no bootstrap: CI shown as "-"
    assert "Proxy judge." in (tmp_path / "index.html").read_text()
    header = (tmp_path / "leaderboard.csv").read_text().splitlines()[0]
    assert header.endswith("elo_online,length_controlled_rating,proxy_judge")  # the proxy note column


def with_lengths(b: Battles) -> Battles:
    rng = np.random.default_rng(0)
    n = len(b)
    return Battles(b.models, b.a, b.b, b.score, b.study, b.study_ids, rng.uniform(50, 300, n), rng.uniform(50, 300, n))


def test_metrics_for_unknown_model_rejected(tmp_path: Path, ratings: Ratings) -> None:
    with pytest.raises(XrayBenchError, match="no battles: omega"):
        write(tmp_path, ratings, metrics={"omega": {"x": 1.0}})


def results_json(path: Path, *, suites: bool) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    metric = {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    tasks = {
        "t_report": {"n": 10, "metrics": {"bleu_4": metric, "bleu_1": metric, "cider": {"value": None}}},
        "t_vqa": {"n": 5, "metrics": {"vqa_accuracy": metric}},
    }
    suite = {"s": {"tasks": ["t_report", "t_vqa"], "metrics": {"bleu_4": {"value": 0.75, "n": 10, "tasks": 1}}}}
    results = {"schema_version": 1, "tasks": tasks, "suites": suite if suites else {}}
    (path / "results.json").write_text(json.dumps(results))
    return path


def test_run_metrics_per_suite_or_task(tmp_path: Path) -> None:
    assert run_metrics(results_json(tmp_path / "a", suites=True)) == {"s/bleu_4": 0.75}
    per_task = run_metrics(results_json(tmp_path / "b", suites=False))
    assert per_task == {"t_report/bleu_4": 0.5, "t_report/cider": None, "t_vqa/vqa_accuracy": 0.5}
    from xraybench.metrics import leaderboard_scores

    assert "bleu_1" not in leaderboard_scores()


def test_run_metrics_errors(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="no results.json"):
        run_metrics(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 1, "tasks": {}, "suites": {}}))
    with pytest.raises(XrayBenchError, match="none of the headline metrics"):
        run_metrics(tmp_path)


def test_run_metrics_rejects_non_numbers(tmp_path: Path) -> None:
    results = {"schema_version": 1, "tasks": {"t": {"metrics": {"bleu_4": {"value": "high"}}}}, "suites": {}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(XrayBenchError, match="t/bleu_4 value must be a number"):
        run_metrics(tmp_path)


def battle_file(path: Path) -> Path:
    b = battles(300)
    names = {0: "model_b", 1: "model_a"}
    lines = []
    for a, bb, s, st in zip(b.a, b.b, b.score, b.study, strict=True):
        winner = "tie" if s == 0.5 else names[int(s)]
        rec = {"model_a": b.models[a], "model_b": b.models[bb], "winner": winner, "study_id": b.study_ids[st]}
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_writes_leaderboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    src = battle_file(tmp_path / "battles.jsonl")
    run = results_json(tmp_path / "run_alpha", suites=True)
    monkeypatch.chdir(tmp_path)
    args = ["arena", "leaderboard", "--battles", str(src), "--name", "cli", "--judge", "metric:rouge_l"]
    assert main([*args, "--rounds", "50", "--runs", f"alpha={run}"]) == 0
    assert "wrote 8 files to arenas/cli/leaderboard" in capsys.readouterr().out
    assert not (tmp_path / "leaderboards").exists()  # a user's arena never lands in the tracked leaderboards/
    data = json.loads((tmp_path / "arenas" / "cli" / "leaderboard" / "leaderboard.json").read_text())
    assert data["n_judgments"] == 300 and data["judge"] == "metric:rouge_l"
    assert "proxy" in data["proxy_note"]
    alpha = next(r for r in data["models"] if r["model"] == "alpha")
    assert alpha["metrics"] == {"s/bleu_4": 0.75}
    assert main([*args, "--rounds", "0", "--out", "elsewhere"]) == 0
    assert json.loads((tmp_path / "elsewhere" / "leaderboard.json").read_text())["proxy_note"] is not None


def test_cli_says_beside_the_metric_columns_that_a_run_was_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = battle_file(tmp_path / "battles.jsonl")
    complete = results_json(tmp_path / "run_alpha", suites=True)
    incomplete = results_json(tmp_path / "run_beta", suites=True)
    results = json.loads((incomplete / "results.json").read_text())
    results["tasks"]["t_report"]["n_failed"] = 4
    (incomplete / "results.json").write_text(json.dumps(results))
    monkeypatch.chdir(tmp_path)
    args = ["arena", "leaderboard", "--battles", str(src), "--name", "notes", "--rounds", "0"]
    assert main([*args, "--runs", f"alpha={complete}", f"beta={incomplete}"]) == 0
    board = tmp_path / "arenas" / "notes" / "leaderboard"
    data = json.loads((board / "leaderboard.json").read_text())
    note = "incomplete: 4 of 15 items of the run failed; its metrics are over the 11 completed items only"
    assert data["run_notes"] == {"beta": note}
    assert f"Metric columns of beta: {note}." in (board / "leaderboard.md").read_text()
    assert "Metric columns of beta: incomplete" in (board / "index.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--runs", "alpha"], "MODEL=RUN_DIR"),
        (["--runs", "omega=x"], "no battles in"),
        (["--runs", "alpha=x", "alpha=y"], "twice"),
        (["--name", "../up"], "plain folder name"),
    ],
)
def test_cli_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    src = battle_file(tmp_path / "battles.jsonl")
    args = ["arena", "leaderboard", "--battles", str(src), "--name", "n", "--out", str(tmp_path / "o"), *extra]
    assert main(args) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
