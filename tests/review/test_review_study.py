"""Creating reader studies: seeded sampling of cases both runs answered, assignment, blinding, hashed tokens."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError
from xraybench.review.store import hash_token
from xraybench.review.study import CreateConfig, assign, create_study, open_study, reissue_token

TASK = "demo_findings"


def config(tmp_path: Path, runs: tuple[Path, Path], **kw: object) -> CreateConfig:
    base: dict[str, object] = {
        "name": "s1",
        "task": TASK,
        "cases": 6,
        "reviewers": ["a", "b", "c"],
        "seed": 3,
        "runs": [str(r) for r in runs],
        "root": str(tmp_path / "reviews"),
    }
    return CreateConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_create_samples_answered_cases_and_hashes_tokens(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    path, tokens = create_study(config(tmp_path, runs))
    assert path == tmp_path / "reviews" / "s1" / "study.sqlite"
    store = open_study(tmp_path / "reviews", "s1")
    cases = store.case_ids()
    assert len(cases) == 6 and "demo-test-001" not in cases  # B failed that item: not answered by both
    assert store.models()["A"]["name"] == "model-alpha" and store.models()["B"]["name"] == "model-beta"
    for reviewer, token in tokens.items():
        assert len(token) >= 40
        assert store.reviewer_for_token(token) == reviewer
    raw = path.read_bytes() + (
        path.with_name("study.sqlite-wal").read_bytes() if path.with_name("study.sqlite-wal").exists() else b""
    )
    assert not any(t.encode() in raw for t in tokens.values()), "tokens must be stored only as hashes"
    with sqlite3.connect(path) as conn:
        stored = {r[0] for r in conn.execute("SELECT token_hash FROM reviewers")}
    assert stored == {hash_token(t) for t in tokens.values()}
    case = store.case(cases[0])
    assert case.outputs["A"]["box_space"] == [512, 512]  # no size recorded: the run's --image-size 512
    assert case.outputs["B"]["box_space"] == [256, 256]  # plain template, no recorded size: the image's own
    assert [len(s["boxes"]) for s in case.outputs["A"]["steps"]] == [1, 2, 0]
    assert [len(s["boxes"]) for s in case.outputs["B"]["steps"]] == [1, 0]
    assert case.outputs["A"]["has_reasoning"] and case.outputs["B"]["answer"] == "The lungs are clear."
    assert Path(case.image_path).is_file()


def test_sampling_is_seeded(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    create_study(config(tmp_path, runs, name="x1"))
    create_study(config(tmp_path, runs, name="x2"))
    create_study(config(tmp_path, runs, name="x3", seed=4))
    root = tmp_path / "reviews"
    one, two, three = (open_study(root, n) for n in ("x1", "x2", "x3"))
    assert one.case_ids() == two.case_ids() != three.case_ids()
    assert one.assignments() == two.assignments()


def test_every_reviewer_gets_every_case_with_balanced_sides() -> None:
    cases = [f"c{i}" for i in range(9)]
    placed = assign(cases, ["a", "b"], "all", seed=1)
    for reviewer in ("a", "b"):
        mine = [p for p in placed if p.reviewer == reviewer]
        assert sorted(p.case_id for p in mine) == cases
        assert [p.position for p in mine] == list(range(9))
        sides = Counter(p.left_slot for p in mine)
        assert abs(sides["A"] - sides["B"]) <= 1
    orders = {r: [p.case_id for p in placed if p.reviewer == r] for r in ("a", "b")}
    assert orders["a"] != orders["b"], "each reviewer sees their own seeded case order"


def test_overlap_splits_cases() -> None:
    cases = [f"c{i}" for i in range(10)]
    placed = assign(cases, ["a", "b", "c"], "2", seed=0)
    per_case = Counter(p.case_id for p in placed)
    assert set(per_case.values()) == {2} and set(per_case) == set(cases)
    loads = Counter(p.reviewer for p in placed)
    assert max(loads.values()) - min(loads.values()) <= 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cases": 40}, "answered by both runs"),
        ({"reviewers": ["a", "a"]}, "twice"),
        ({"reviewers": ["a b"]}, "reviewer name"),
        ({"overlap": "5"}, "between 1 and 3"),
        ({"overlap": "some"}, "'all' or a number"),
        ({"name": "../evil"}, "study name"),
        ({"task": "demo_vqa"}, "no answered predictions"),
    ],
)
def test_bad_requests_fail_clearly(
    tmp_path: Path, runs: tuple[Path, Path], changes: dict[str, object], message: str
) -> None:
    with pytest.raises(XrayBenchError, match=message):
        create_study(config(tmp_path, runs, **changes))


def test_existing_study_and_missing_study(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    create_study(config(tmp_path, runs))
    with pytest.raises(XrayBenchError, match="already exists"):
        create_study(config(tmp_path, runs))
    with pytest.raises(XrayBenchError, match="no study"):
        open_study(tmp_path / "reviews", "nope")


def test_reissued_link_replaces_the_old_one(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    _, tokens = create_study(config(tmp_path, runs))
    store = open_study(tmp_path / "reviews", "s1")
    new = reissue_token(store, "b")
    assert store.reviewer_for_token(new) == "b"
    assert store.reviewer_for_token(tokens["b"]) is None
    with pytest.raises(XrayBenchError, match="no reviewer"):
        reissue_token(store, "zed")
