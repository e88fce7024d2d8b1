"""Fuzzing the verdict parser (hypothesis, bounded time): it never raises, returns a known level or None,
and stays fast on long hostile answers built from the characters that steer its scanners."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arena.verdict import SCORE, parse_verdict

# the characters and tokens the JSON span scanner and the label windows react to
PIECES = st.sampled_from(
    ["{", "}", "[", "]", '"', "\\", ":", ",", " ", "\n", "verdict", "Verdict:", "[[", "]]", "A", "B", ">", ">>",
     "≫", "<", "tie", '"verdict"', '{"verdict": "A>B"}', "null", "1", "é", "\u200b", "＞"]
)  # fmt: skip
HOSTILE = st.lists(st.tuples(PIECES, st.integers(1, 400)), max_size=60).map(
    lambda parts: "".join(piece * n for piece, n in parts)
)


def _check(raw: str) -> None:
    result = parse_verdict(raw)
    assert result is None or (result["verdict"] in SCORE and isinstance(result["errors_a"], list))


@settings(max_examples=300, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
@example("{" * 30_000)
@example(("verdict:" + " " * 20_000) * 5)
@example('{"a": ' * 20_000)
def test_parse_verdict_survives_hostile_text(raw: str) -> None:
    _check(raw)


@settings(max_examples=300, deadline=timedelta(seconds=1))
@given(st.text(max_size=2_000))
def test_parse_verdict_survives_any_text(raw: str) -> None:
    _check(raw)
