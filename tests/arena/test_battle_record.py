"""One typed battle record (`arena.battles.BattleRecord`) and one conversion to the ratings' input (`battles_of`).

Regression (issue 16): five copies of the export -> ratings conversion kept only model_a, model_b, winner and
study_id, and the export carried no report lengths, so `--length-control` refused every arena judged into a
store ("length control needs length_a and length_b on every battle"). Everything runs through the real CLI
with the offline `metric:` judge on the bundled demo task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.battles import BATTLE_SCHEMA_VERSION, BattleRecord, battles_of, read_battles
from xraybench.cli import main
from xraybench.errors import DataFormatError
from xraybench.taskdata import load_task

TASK = "demo_findings"
JUDGE = "metric:lexical"
FILLER = " Support devices are unchanged in position and the osseous structures are grossly intact."


def _field(tmp_path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Three models whose reports differ in length: the reference, its first sentence, the reference + filler."""
    samples = load_task(TASK).samples
    makers = {
        "exact": lambda s: s.reference,
        "terse": lambda s: s.reference.split(". ")[0] + ".",
        "wordy": lambda s: s.reference + FILLER,
    }
    specs, texts = [], {}
    for name, make in makers.items():
        texts[name] = {s.id: make(s) for s in samples}
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": i, "prediction": t}) + "\n" for i, t in texts[name].items()))
        specs.append(f"{name}={path}")
    return specs, texts


@pytest.fixture()
def arena(tmp_path: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    specs, texts = _field(tmp_path)
    store = tmp_path / "arena" / "judgments.sqlite"
    argv = ["arena", "judge", "--name", "t", "--store", str(store), "--task", TASK, "--judge", JUDGE,
            "--predictions", *specs]  # fmt: skip
    assert main(argv) == 0
    return store, texts


def test_length_controlled_leaderboard_from_an_arena_store(
    arena: tuple[Path, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    store, _ = arena
    board = tmp_path / "board"
    argv = ["arena", "leaderboard", "--name", "t", "--store", str(store), "--out", str(board), "--rounds", "20",
            "--judge", JUDGE, "--length-control"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((board / "leaderboard.json").read_text())
    rated = {m["model"]: m for m in data["models"]}
    assert set(rated) == {"exact", "terse", "wordy"}
    assert all(isinstance(m["length_controlled_rating"], float) for m in rated.values())


def test_exported_battles_carry_lengths_and_a_schema_version_and_rate_with_length_control(
    arena: tuple[Path, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    store, texts = arena
    out = tmp_path / "battles.jsonl"
    assert main(["arena", "battles", "--name", "t", "--store", str(store), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(r["schema_version"] == BATTLE_SCHEMA_VERSION for r in lines)
    for r in lines:  # the lengths are the words of each model's own report, in model orientation
        assert r["length_a"] == len(texts[r["model_a"]][r["study_id"]].split())
        assert r["length_b"] == len(texts[r["model_b"]][r["study_id"]].split())
    battles = read_battles(out)
    assert battles.has_lengths and len(battles) == len(lines)
    assert main(["arena", "ratings", "--battles", str(out), "--rounds", "20", "--length-control"]) == 0


def test_a_plan_written_before_lengths_still_exports_and_rates(
    arena: tuple[Path, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    """An older plan file (no length_x/length_y): judged battles take their lengths from the stored calls, and an
    old identical-report tie (no call, so no length) makes the conversion rate without lengths, not refuse."""
    from arena.judging import export_battles, plan_path
    from xraybench.callstore import CallStore

    store, texts = arena
    plan = plan_path(store)
    entries = [json.loads(line) for line in plan.read_text().splitlines()]
    for e in entries:
        e.pop("length_x"), e.pop("length_y")
    plan.write_text("".join(json.dumps(e) + "\n" for e in entries))
    with CallStore(store) as calls:
        rows = export_battles(calls, plan, JUDGE).rows
    judged = [r for r in rows if r["source"] == "judge"]
    assert judged and all(r["length_a"] == len(texts[r["model_a"]][r["study_id"]].split()) for r in judged)
    assert battles_of(judged, plan).has_lengths
    tie = {**judged[0], "source": "identical", "winner": "tie"}
    tie.pop("length_a"), tie.pop("length_b")
    mixed = battles_of([*judged, tie], plan)
    assert not mixed.has_lengths and len(mixed) == len(judged) + 1


def test_a_battle_file_from_a_newer_xraybench_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    ok = BattleRecord("a", "b", "model_a", "s1").to_json()
    newer = {**BattleRecord("a", "b", "tie", "s2").to_json(), "schema_version": BATTLE_SCHEMA_VERSION + 1}
    old = {"model_a": "a", "model_b": "b", "winner": "model_b", "study_id": "s3"}  # before versions: read
    path.write_text(json.dumps(ok) + "\n" + json.dumps(old) + "\n")
    assert len(read_battles(path)) == 2
    path.write_text(json.dumps(ok) + "\n" + json.dumps(newer) + "\n")
    with pytest.raises(DataFormatError, match=r"b\.jsonl:2: a battle of schema_version 2, written by a newer"):
        read_battles(path)
