"""Verdict parser: JSON anywhere, tolerant verdict forms, error lists, None when unparseable; orientation."""

from __future__ import annotations

import pytest

from arena.verdict import SCORE, WINNER, canonical, flip, normalize_verdict, parse_verdict


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("A>>B", "A>>B"), ("A ≫ B", "A>>B"), ("[[A>B]]", "A>B"), ("tie", "tie"), ("Tie.", "tie"),
        ("b>a", "B>A"), ("B >> A", "B>>A"), ("A<B", "B>A"), ("A ≪ B", "B>>A"), ("A=B", "tie"),
        ("A>A", None), ("better", None), ("", None), ("A>>>B", None),
    ],
)  # fmt: skip
def test_normalize_verdict(text: str, level: str | None) -> None:
    assert normalize_verdict(text) == level


def test_json_in_a_code_fence_with_trailing_prose() -> None:
    raw = (
        "Candidate A misses the effusion.\n```json\n"
        '{"errors_a": [{"type": "missing_finding", "description": "no effusion"}, "says heart enlarged"],'
        ' "errors_b": [{"type": "Wrong Severity", "description": "large"}, {"type": "made-up", "description": "x"}],'
        ' "verdict": "B ≫ A"}\n```\nHope this helps {not json}.'
    )
    assert parse_verdict(raw) == {
        "verdict": "B>>A",
        "errors_a": [
            {"type": "missing_finding", "description": "no effusion"},
            {"type": "other", "description": "says heart enlarged"},
        ],
        "errors_b": [{"type": "wrong_severity", "description": "large"}, {"type": "other", "description": "x"}],
    }


def test_the_last_verdict_object_wins_and_objects_without_a_verdict_are_skipped() -> None:
    raw = 'Format: {"verdict": "A>B"}. My answer: {"verdict": "tie", "errors_a": []} and {"note": 1}'
    assert parse_verdict(raw)["verdict"] == "tie"  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "level"),
    [("After review: [[B>A]]", "B>A"), ("Errors... \n**Verdict:** A>>B\n", "A>>B"), ("  A>B \n", "A>B"),
     ('{"verdict": "bad"} Final verdict: tie', "tie")],
)  # fmt: skip
def test_fallback_forms(raw: str, level: str) -> None:
    parsed = parse_verdict(raw)
    assert parsed is not None and parsed["verdict"] == level and parsed["errors_a"] == []


@pytest.mark.parametrize("raw", ["", "I cannot decide.", '{"verdict": "maybe"}', "A is better than B", "{broken"])
def test_unparseable_is_none(raw: str) -> None:
    assert parse_verdict(raw) is None


def test_orientation_and_scores() -> None:
    for level in SCORE:
        assert flip(flip(level)) == level
        assert SCORE[flip(level)] == pytest.approx(1.0 - SCORE[level])
        assert canonical(level, swapped=False) == level
    assert canonical("A>>B", swapped=True) == "B>>A"  # shown (y, x): A was model_y
    assert WINNER["A>B"] == WINNER["A>>B"] == "model_a" and WINNER["tie"] == "tie"
    with pytest.raises(ValueError, match="unknown verdict"):
        canonical("A>C", swapped=False)
