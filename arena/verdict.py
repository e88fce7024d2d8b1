"""Parse a judge's answer into a 5-level verdict and error lists; orient verdicts to the models.

Judges wrap their JSON in code fences, add prose after it, write "A ≫ B", "verdict: A > B", "Verdict - B ≫ A"
or "[[A>B]]", or give only a bare verdict. The parser takes the last JSON object that has a "verdict" key
anywhere in the answer; failing that, the last bracketed "[[...]]" verdict or labelled "verdict: ..." verdict;
failing that, an answer that is nothing but a verdict. Anything else is unparseable (None): the caller re-asks
once and otherwise records a failure, never a tie.

Judge answers are untrusted text (a candidate report can make a judge echo anything), so parsing is linear in
the answer and bounded in depth: one pass finds the balanced `{...}` spans (no `json.raw_decode` at every `{`,
which was quadratic and recursed without bound), only spans nested at most `MAX_DEPTH` deep are decoded, and
the verdict patterns run on windows of at most `WINDOW` characters after each "verdict" label or "[[" (a
regex over the whole answer backtracked quadratically over long runs of spaces).

The stored verdict is in the order the candidates were shown (A first). `canonical` turns it into the
orientation of the battle's models (model_x as A): a battle shown as (model_y, model_x) is flipped back.
For Bradley-Terry a strong and a weak win both count as a win (`WINNER`); the 5-level value stays in the
store and in exported battles (`SCORE` maps it to [0, 1] for views that want the strength).
Bump `PARSER_VERSION` on any change, so `arena reparse` can bring stored judgments up to date for free.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from arena.prompt import ERROR_TYPES, VERDICT_LEVELS

PARSER_VERSION = "2"
WINNER = {"A>>B": "model_a", "A>B": "model_a", "tie": "tie", "B>A": "model_b", "B>>A": "model_b"}
SCORE = {"A>>B": 1.0, "A>B": 0.75, "tie": 0.5, "B>A": 0.25, "B>>A": 0.0}
_FLIP = {"A>>B": "B>>A", "A>B": "B>A", "tie": "tie", "B>A": "A>B", "B>>A": "A>>B"}
_TIES = {"tie", "draw", "equal", "a=b", "b=a", "a==b", "same"}
MAX_DEPTH = 8  # a verdict object nests errors lists of objects: 3 levels; deeper spans are never decoded
MAX_OBJECT_CHARS = 100_000  # a verdict object longer than this is not one a judge wrote within its token limit
WINDOW = 64  # characters read after a "verdict" label or a "[[" opener
MAX_BARE_CHARS = 40  # an answer that is "nothing but a verdict" is at most this long
_OPS = {">>": ">>", "≫": ">>", ">": ">", "<<": "<<", "≪": "<<", "<": "<", "»": ">>", "«": "<<"}
_TOKEN = re.compile(r"^([AB])(>>|≫|»|>|<<|≪|«|<)([AB])$")
# after a "verdict" label: separators (":", "-", "=", dashes, "is", emphasis, quotes, "[[", a short
# parenthesis such as "(final)"), then the verdict token, which may have spaces inside ("A > B", "B ≫ A")
_SEPARATOR = r"[\s:=\-–—*_\"'`\[(#.]|\([^()\n]{0,20}\)|is\b"
_LEVEL = r"[AB]\s{0,3}(?:>\s?>|≫|»|>|<\s?<|≪|«|<|==?)\s{0,3}[AB]|tie|draw|equal|same"
_AFTER_LABEL = re.compile(rf"(?:{_SEPARATOR}){{0,24}}?({_LEVEL})(?![\w>≫<≪=-])", re.I)
_IN_BRACKETS = re.compile(r"\[\[[^\S\n]{0,4}([^\[\]\n]{1,16}?)[^\S\n]{0,4}\]\]")


def normalize_verdict(value: Any) -> str | None:
    """One of `VERDICT_LEVELS` for the tolerant forms ("A>>B", "A ≫ B", "[[A>B]]", "b<a", "Tie"), else None."""
    if not isinstance(value, str) or len(value) > 4 * MAX_BARE_CHARS:
        return None
    text = unicodedata.normalize("NFKC", value).strip().strip("[]\"'`*_. ").replace(" ", "")
    if text.lower() in _TIES:
        return "tie"
    text = text.upper()
    for alias, op in (("≫", ">>"), ("≪", "<<"), ("»", ">>"), ("«", "<<")):
        text = text.replace(alias, op)
    match = _TOKEN.match(text)
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


def object_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced `{...}` span with at most `MAX_DEPTH` levels of `{`/`[` inside it and at
    most `MAX_OBJECT_CHARS` characters, ordered by end; one pass, no recursion.

    Quotes count (braces inside a JSON string are not structure) only inside a span, and a string ends at a
    newline (JSON strings cannot hold one), so a stray quote in prose cannot throw the rest of the scan off.
    """
    spans: list[tuple[int, int]] = []
    stack: list[list[int]] = []  # [start, open `[` when it opened, deepest nesting below it] of each open `{`
    brackets = 0  # open `[` inside the open spans
    in_string = escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"' or char == "\n":
                in_string = False
            continue
        if not stack:
            if char == "{":
                stack.append([i, 0, 0])
            continue
        top = stack[-1]
        if char == '"':
            in_string = True
        elif char == "{":
            stack.append([i, brackets, 0])
        elif char == "[":
            brackets += 1
            top[2] = max(top[2], brackets - top[1])
        elif char == "]" and brackets > top[1]:
            brackets -= 1
        elif char == "}":
            start, opened_at, depth = stack.pop()
            if depth <= MAX_DEPTH and i + 1 - start <= MAX_OBJECT_CHARS:
                spans.append((start, i + 1))
            brackets = opened_at  # a `[` left open inside the span closes with it
            if stack:
                parent = stack[-1]
                parent[2] = max(parent[2], opened_at - parent[1] + 1 + depth)
    return spans


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every balanced `{...}` span (bounded depth and size) that decodes as a JSON object, in order of end."""
    found: list[dict[str, Any]] = []
    for start, end in object_spans(text):
        try:
            value = json.loads(text[start:end])
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _labelled(text: str) -> str | None:
    """The verdict after the last "verdict" label (or inside the last "[[...]]") that reads as one."""
    low = text.lower()
    hits: list[tuple[int, str]] = []
    for label, pattern in (("verdict", _AFTER_LABEL), ("[[", _IN_BRACKETS)):
        pos = low.find(label)
        while pos != -1:
            window_start = pos + len(label) if label == "verdict" else pos
            match = pattern.match(text[window_start : window_start + WINDOW])
            if match is not None:
                level = normalize_verdict(match.group(1))
                if level is not None:
                    hits.append((pos, level))
            pos = low.find(label, pos + len(label))
    return max(hits)[1] if hits else None


def parse_verdict(raw: str) -> dict[str, Any] | None:
    """`{"verdict": level, "errors_a": [...], "errors_b": [...]}` from a judge's answer, or None."""
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)  # fullwidth "＞" is ">"
    for obj in reversed(_json_objects(text)):
        level = normalize_verdict(obj.get("verdict"))
        if level is not None:
            return {
                "verdict": level,
                "errors_a": _errors(obj.get("errors_a")),
                "errors_b": _errors(obj.get("errors_b")),
            }
    level = _labelled(text)
    if level is None and len(text.strip()) <= MAX_BARE_CHARS:
        level = normalize_verdict(text)
    return None if level is None else {"verdict": level, "errors_a": [], "errors_b": []}


def flip(level: str) -> str:
    """The same verdict with A and B swapped."""
    return _FLIP[level]


def canonical(level: str, swapped: bool) -> str:
    """The verdict for (A = model_x, B = model_y) given one judged with the candidates in shown order."""
    if level not in _FLIP:
        raise ValueError(f"unknown verdict {level!r}; expected one of {', '.join(VERDICT_LEVELS)}")
    return flip(level) if swapped else level
