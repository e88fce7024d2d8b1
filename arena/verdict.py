"""Parse a judge's answer into a 5-level verdict and error lists; orient verdicts to the models.

Judges wrap their JSON in code fences, add prose after it, write "A ≫ B" or "[[A>B]]", or give only a bare
verdict. The parser takes the last JSON object that has a "verdict" key anywhere in the answer; failing that,
a bracketed "[[...]]" verdict or a "verdict: ..." line; failing that, an answer that is nothing but a verdict.
Anything else is unparseable (None): the caller re-asks once and otherwise records a failure, never a tie.

The stored verdict is in the order the candidates were shown (A first). `canonical` turns it into the
orientation of the battle's models (model_x as A): a battle shown as (model_y, model_x) is flipped back.
For Bradley-Terry a strong and a weak win both count as a win (`WINNER`); the 5-level value stays in the
store and in exported battles (`SCORE` maps it to [0, 1] for views that want the strength).
Bump `PARSER_VERSION` on any change, so `arena reparse` can bring stored judgments up to date for free.
"""

from __future__ import annotations

import json
import re
from typing import Any

from arena.prompt import ERROR_TYPES, VERDICT_LEVELS

PARSER_VERSION = "1"
WINNER = {"A>>B": "model_a", "A>B": "model_a", "tie": "tie", "B>A": "model_b", "B>>A": "model_b"}
SCORE = {"A>>B": 1.0, "A>B": 0.75, "tie": 0.5, "B>A": 0.25, "B>>A": 0.0}
_FLIP = {"A>>B": "B>>A", "A>B": "B>A", "tie": "tie", "B>A": "A>B", "B>>A": "A>>B"}
_TIES = {"tie", "draw", "equal", "a=b", "b=a", "a==b", "same"}
_TOKEN = re.compile(r"^([AB])(>>|≫|>|<<|≪|<)([AB])$")
_BRACKETED = re.compile(r"\[\[\s*([^\[\]]{1,12}?)\s*\]\]")
_LABELLED = re.compile(r"verdict\W{0,5}?\s*[:=-]\s*\**\s*\"?([^\s\"*,.;]{1,12})", re.I)


def normalize_verdict(value: Any) -> str | None:
    """One of `VERDICT_LEVELS` for the tolerant forms ("A>>B", "A ≫ B", "[[A>B]]", "b<a", "Tie"), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("[]\"'`*. ").replace(" ", "")
    if text.lower() in _TIES:
        return "tie"
    match = _TOKEN.match(text.upper().replace("≫", ">>").replace("≪", "<<"))
    if match is None:
        return None
    left, op, right = match.groups()
    if left == right:
        return None
    if "<" in op:  # "A<B" is "B>A"
        left, right, op = right, left, op.replace("<", ">")
    return f"{left}{op}{right}"


def _errors(value: Any) -> list[dict[str, str]]:
    """Error entries as {"type", "description"}; unknown types become "other", strings become descriptions."""
    if not isinstance(value, list):
        return []
    out: list[dict[str, str]] = []
    for item in value:
        if isinstance(item, dict):
            kind = str(item.get("type", "other")).strip().lower().replace(" ", "_").replace("-", "_")
            out.append(
                {"type": kind if kind in ERROR_TYPES else "other", "description": str(item.get("description", ""))}
            )
        elif isinstance(item, str) and item.strip():
            out.append({"type": "other", "description": item.strip()})
    return out


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object that can be decoded starting at some `{` of the text, in order of position."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for start in (i for i, char in enumerate(text) if char == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def parse_verdict(raw: str) -> dict[str, Any] | None:
    """`{"verdict": level, "errors_a": [...], "errors_b": [...]}` from a judge's answer, or None."""
    for obj in reversed(_json_objects(raw)):
        level = normalize_verdict(obj.get("verdict"))
        if level is not None:
            return {
                "verdict": level,
                "errors_a": _errors(obj.get("errors_a")),
                "errors_b": _errors(obj.get("errors_b")),
            }
    for pattern in (_BRACKETED, _LABELLED):
        for match in reversed(list(pattern.finditer(raw))):
            level = normalize_verdict(match.group(1))
            if level is not None:
                return {"verdict": level, "errors_a": [], "errors_b": []}
    level = normalize_verdict(raw)
    return None if level is None else {"verdict": level, "errors_a": [], "errors_b": []}


def flip(level: str) -> str:
    """The same verdict with A and B swapped."""
    return _FLIP[level]


def canonical(level: str, swapped: bool) -> str:
    """The verdict for (A = model_x, B = model_y) given one judged with the candidates in shown order."""
    if level not in _FLIP:
        raise ValueError(f"unknown verdict {level!r}; expected one of {', '.join(VERDICT_LEVELS)}")
    return flip(level) if swapped else level
