from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from arena.battles import read_battles
from xraybench.cli import main
from xraybench.errors import DataFormatError

MODELS = {"alpha": 0.0, "beta": 0.6, "gamma": -0.5, "delta": 1.1}


def battle_rows(n: int = 600, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    names = sorted(MODELS)
    rows: list[dict[str, object]] = []
    for i in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p = 1 / (1 + np.exp(-(MODELS[a] - MODELS[b])))
        winner = "tie" if rng.random() < 0.1 else ("model_a" if rng.random() < p else "model_b")
        rows.append(
            {
                "model_a": str(a),
                "model_b": str(b),
                "winner": winner,
                "study_id": f"s{i // 3}",
                "length_a": int(rng.integers(40, 300)),
                "length_b": int(rng.integers(40, 300)),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["arena", "ratings", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_csv_and_jsonl_give_the_same_ratings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = battle_rows()
    from_csv = run_json(capsys, "--battles", str(write_csv(tmp_path / "b.csv", rows)), "--rounds", "100")
    from_jsonl = run_json(capsys, "--battles", str(write_jsonl(tmp_path / "b.jsonl", rows)), "--rounds", "100")
    assert from_csv == from_jsonl
    assert from_csv["anchor"] == "alpha"
    assert from_csv["settings"]["bootstrap_unit"] == "study"
    assert from_csv["settings"]["n_studies"] == 200
    top = from_csv["models"][0]
    assert top["model"] == "delta" and top["rank"] == 1
    assert top["ci_low"] <= top["rating"] <= top["ci_high"]
    alpha = next(r for r in from_csv["models"] if r["model"] == "alpha")
    assert alpha["rating"] == 1000.0
    assert len(from_csv["predicted_win_rate"]) == 4 and sum(map(sum, from_csv["battle_counts"])) == 2 * 600


def test_options_anchor_rounds_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_csv(tmp_path / "b.csv", battle_rows()))
    one = run_json(capsys, "--battles", path, "--anchor", "gamma", "--rounds", "50", "--seed", "7")
    two = run_json(capsys, "--battles", path, "--anchor", "gamma", "--rounds", "50", "--seed", "7")
    assert one == two
    assert one["anchor"] == "gamma" and one["settings"]["rounds_used"] == 50
    assert next(r for r in one["models"] if r["model"] == "gamma")["rating"] == 1000.0
    lc = run_json(capsys, "--battles", path, "--rounds", "0", "--length-control")
    assert all(r["length_controlled_rating"] is not None for r in lc["models"])
    assert all(r["ci_low"] is None for r in lc["models"])


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", battle_rows())
    assert main(["arena", "ratings", "--battles", str(path), "--rounds", "50", "--length-control"]) == 0
    out = capsys.readouterr().out
    for text in ("delta", "alpha", "95% CI", "rank range", "win rate", "n battles", "1000.0", "length-controlled"):
        assert text in out


def test_bad_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = battle_rows(10)
    rows[4]["winner"] = "A"
    path = write_csv(tmp_path / "bad.csv", rows)
    assert main(["arena", "ratings", "--battles", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:6" in err and "model_a, model_b, tie" in err


def test_unknown_anchor_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "b.csv", battle_rows(50))
    assert main(["arena", "ratings", "--battles", str(path), "--anchor", "zeta"]) == 1
    assert "zeta" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("model_a,model_b\nx,y\n", 1, "CSV header lacks winner"),
        ("model_a,model_b,winner\nx,y,model_a\nx,x,tie\n", 3, "cannot battle itself"),
        ("model_a,model_b,winner\nx,y,model_a\nx,,tie\n", 3, "missing model_b"),
        ("model_a,model_b,winner,study_id\nx,y,tie,s1\nx,y,tie,\n", 3, "study_id must be given on every battle"),
        ("model_a,model_b,winner,length_a,length_b\nx,y,tie,3,4\nx,y,tie,0,4\n", 3, "'length_a' must be a positive"),
        ("model_a,model_b,winner,length_a,length_b\nx,y,tie,3,4\nx,y,tie,,\n", 3, "length_a and length_b must"),
        ("model_a,model_b,winner\nx,y,model_a,extra\n", 2, "more fields than the 3 header columns"),
    ],
)
def test_csv_errors_name_line_and_expectation(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "b.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as info:
        read_battles(path)
    assert info.value.line == line and info.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ('{"model_a": "x", "model_b": "y", "winner": "tie"}\n{"model_a": "x"\n', 2, "invalid JSON"),
        ('{"model_a": "x", "model_b": "y", "winner": "tie"}\n\n[1, 2]\n', 3, "expected an object"),
        ('{"model_a": "x", "model_b": "y", "winner": "B"}\n', 1, "winner must be one of"),
    ],
)
def test_jsonl_errors_name_line_and_expectation(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as info:
        read_battles(path)
    assert info.value.line == line


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no battles found"):
        read_battles(empty)
    with pytest.raises(DataFormatError, match="not found"):
        read_battles(tmp_path / "absent.csv")


def test_suffixless_file_is_sniffed(tmp_path: Path) -> None:
    rows = battle_rows(20)
    path = tmp_path / "battles"
    write_jsonl(path, rows)
    assert len(read_battles(path)) == 20
    write_csv(path, rows)
    battles = read_battles(path)
    assert battles.models == ("alpha", "beta", "delta", "gamma") and battles.has_lengths
