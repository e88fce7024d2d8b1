"""The one output parser: reasoning text, grounding boxes and the final answer of a model output.

Shared by the metrics, the runner and the trainer's rewards. Box syntax follows the authors'
released reward: `[` + four numbers `[-+]?\\d*\\.?\\d+` + `]`, whitespace allowed only after commas.

Model output is hostile input (a model can loop on `<think>` or digits for 100k tokens), so every function
here runs in time linear in the text and without recursion: think blocks and `\\boxed{}` are found with
`str.find` scans, and the box pattern is written so that a number can match its digits one way only, which
keeps the regex engine's backtracking linear (the released pattern `\\d*\\.?\\d+` splits a digit run every
way and took minutes on `[` + 80,000 digits; the strings both match are the same).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# the released `[-+]?\d*\.?\d+` (digits, digits.digits or .digits) spelled with one way to match each number:
# a failed attempt gives characters back one at a time (linear), never re-splitting a digit run (quadratic)
_NUM = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)"
BOX = re.compile(rf"\[({_NUM}),\s*({_NUM}),\s*({_NUM}),\s*({_NUM})\]")
BOXED_OPEN = "\\boxed{"


@dataclass
class ParsedOutput:
    answer: str
    reasoning: str | None = None
    boxes: list[list[float]] = field(default_factory=list)
    has_think: bool = False
    has_boxed: bool = False


def think_blocks(text: str) -> list[str]:
    """The contents of `<think>…</think>` blocks, left to right, each closed by the first `</think>` after it
    (what `re.findall(r"<think>(.*?)</think>", text, re.DOTALL)` returns, in linear time)."""
    blocks: list[str] = []
    pos = 0
    while (start := text.find(THINK_OPEN, pos)) >= 0:
        end = text.find(THINK_CLOSE, start + len(THINK_OPEN))
        if end < 0:  # no later opener can be closed either
            break
        blocks.append(text[start + len(THINK_OPEN) : end])
        pos = end + len(THINK_CLOSE)
    return blocks


def find_boxes(text: str) -> list[list[float]]:
    return [[float(v) for v in m.groups()] for m in BOX.finditer(text)]


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` with nested braces balanced; None if absent or unclosed."""
    start = text.rfind(BOXED_OPEN)
    if start < 0:
        return None
    depth = 1
    i = start + len(BOXED_OPEN)
    begin = i
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i]
        i += 1
    return None


def parse_output(text: str) -> ParsedOutput:
    """Answer = last `\\boxed{}` content, else the text after the last `</think>`, else the text.

    Reasoning = the think blocks joined; boxes are those inside the reasoning (or the whole text
    when there is no think block, so plain grounded answers still count).
    """
    blocks = think_blocks(text)
    reasoning = "\n".join(b.strip() for b in blocks) if blocks else None
    boxed = last_boxed(text)
    if boxed is not None:
        answer = boxed.strip()
    elif "</think>" in text:
        answer = text.rsplit("</think>", 1)[1].strip()
    else:
        answer = text.strip()
    boxes = find_boxes(reasoning if reasoning is not None else text)
    return ParsedOutput(answer, reasoning, boxes, bool(blocks), boxed is not None)
