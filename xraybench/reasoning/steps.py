"""Split a model's reasoning into numbered steps, each with the boxes it cites.

One splitter serves the renderer (a colour and a number per step), the review page and the judge-based
effectiveness score (share of steps the reference supports), so a "step" means the same everywhere:

- a reasoning written over several lines has one step per non-empty line;
- a reasoning written as one paragraph has one step per sentence (a split after `.`, `!` or `?`
  followed by whitespace).

A split never falls inside a box (`[x1, y1, x2, y2]` may wrap after a comma), so every box of the text
belongs to exactly one step: the boxes of all steps, in order, are `find_boxes(text)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xraybench.parsing import BOX, find_boxes
from xraybench.records import Prediction

_LINE_BREAK = re.compile(r"\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Step:
    """One reasoning step: its 1-based number, its text and the boxes it cites (model pixel space)."""

    number: int
    text: str
    boxes: list[list[float]] = field(default_factory=list)


def _cuts(text: str, pattern: re.Pattern[str], protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of each separator match that lies outside every protected span.

    Both come in text order and the spans do not overlap, so one pass over each suffices (testing every match
    against every span was quadratic: minutes for a long output of boxes and line breaks)."""
    cuts: list[tuple[int, int]] = []
    i = 0
    for m in pattern.finditer(text):
        while i < len(protected) and protected[i][1] <= m.start():
            i += 1  # spans that end before this match cannot overlap it or any later one
        if i < len(protected) and protected[i][0] < m.end():
            continue
        cuts.append((m.start(), m.end()))
    return cuts


def _split(text: str, cuts: list[tuple[int, int]]) -> list[str]:
    parts, begin = [], 0
    for start, end in cuts:
        parts.append(text[begin:start])
        begin = end
    parts.append(text[begin:])
    return [p.strip() for p in parts if p.strip()]


def reasoning_steps(text: str | None) -> list[Step]:
    """The numbered steps of a reasoning text (see the module docstring for the rule)."""
    if not text or not text.strip():
        return []
    text = text.strip()
    boxes = [(m.start(), m.end()) for m in BOX.finditer(text)]
    parts = _split(text, _cuts(text, _LINE_BREAK, boxes))
    if len(parts) == 1:
        parts = _split(text, _cuts(text, _SENTENCE_END, boxes))
    return [Step(i, part, find_boxes(part)) for i, part in enumerate(parts, start=1)]


def prediction_steps(prediction: Prediction) -> list[Step]:
    """Steps of the prediction's reasoning; without a think block, of its whole output (the text whose
    boxes the parser recorded in `prediction.boxes`)."""
    return reasoning_steps(prediction.reasoning if prediction.reasoning is not None else prediction.raw)
