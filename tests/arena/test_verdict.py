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


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("verdict: A > B", "A>B"), ("Verdict - B ≫ A", "B>>A"), ("Verdict (final): A >> B.", "A>>B"),
        ('verdict = "tie"', "tie"), ("My verdict is B > A", "B>A"), ("**Verdict**: [[ A<B ]]", "B>A"),
        ("VERDICT — B>>A", "B>>A"), ("ＶＥＲＤＩＣＴ： Ａ＞Ｂ", "A>B"), ("Verdict:\nA>B", "A>B"),
        ("verdict: A > > B", "A>>B"), ("A verdict of tie-breaker", None), ("Verdict: A", None),
        ("verdict: A is better", None),
    ],
)  # fmt: skip
def test_labelled_variants_with_spaces_and_dashes(raw: str, level: str | None) -> None:
    """`verdict: A > B` and `Verdict - B ≫ A` were missed by the parser (SmolLM2 answers that way)."""
    parsed = parse_verdict(raw)
    assert (parsed and parsed["verdict"]) == level


def test_braces_inside_json_strings_and_stray_prose_quotes_do_not_hide_the_verdict() -> None:
    raw = (
        'He said "large {effusion\n'
        '{"errors_a": [{"type": "false_finding", "description": "calls it {large} (sic"}], "errors_b": [],'
        ' "verdict": "A > B"}'
    )
    parsed = parse_verdict(raw)
    assert parsed is not None and parsed["verdict"] == "A>B"
    assert parsed["errors_a"] == [{"type": "false_finding", "description": "calls it {large} (sic"}]


@pytest.mark.parametrize(
    "raw",
    [
        "{" * 30_000,  # raised RecursionError
        '{"a": ' * 30_000 + '{"verdict": "A>B"}' + "}" * 30_000,
        "[" * 30_000 + '{"verdict": ' + "[" * 30_000,
        ("verdict:" + " " * 20_000) * 5,  # regex backtracking: minutes
        ("[[" + " " * 20_000) * 5,
        "verdict" * 10_000,
    ],
)
def test_hostile_answers_parse_in_linear_work_without_recursion(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser decodes at most a bounded number of JSON spans per character (was one decode per `{`, each to
    the end of the text, recursing without bound)."""
    import arena.verdict as verdict

    decoded: list[int] = []
    real_loads = verdict.json.loads

    def counting_loads(text: str) -> object:
        decoded.append(len(text))
        return real_loads(text)

    monkeypatch.setattr(verdict.json, "loads", counting_loads)
    result = parse_verdict(raw)
    assert sum(decoded) <= (verdict.MAX_DEPTH + 2) * len(raw)
    assert result is None or result["verdict"] in SCORE
    deep = '{"a": ' * 30_000 + '{"verdict": "A>B"}' + "}" * 30_000
    if raw == deep:
        assert result is not None and result["verdict"] == "A>B"  # the innermost object is shallow: still read


def test_deeply_nested_verdict_objects_are_not_decoded() -> None:
    """A verdict object nested deeper than MAX_DEPTH inside an unbroken run is skipped, not recursed into."""
    from arena.verdict import MAX_DEPTH, object_spans

    text = '{"x": ' * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5)
    spans = object_spans(text)
    assert len(spans) == MAX_DEPTH + 1  # the innermost MAX_DEPTH + 1 objects only
