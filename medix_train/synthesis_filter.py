"""The filter every teacher answer passes before it becomes a cold-start sample.

The cold-start stage teaches the format the GRPO reward pays for, so a kept sample must earn it: the reward's
format term is 1, every box-like `[...]` in the answer is a box in the reward's grammar, inside the 512x512
image and not inverted or empty, the first think block cites at least `min_boxes` boxes (the coordinate term
counts only that block), and the `\\boxed{}` answer agrees with the reference by the paper's answer score.
Checks run in that order and the first failure is the reason a sample is dropped, so the counts per reason add
up to the number dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medix_train.rewards import extract_answer, format_reward, normalise_response
from xraybench.metrics.answer_score import Variant, answer_score
from xraybench.parsing import BOX, find_boxes, think_blocks

IMAGE_LIMIT = 512.0
# Anything in square brackets that holds a digit is meant as a box; brackets nest at most one level deep in
# practice (`[[1, 2, 3, 4]]`), and the innermost group is the candidate.
_BRACKETED = re.compile(r"\[[^\[\]]*\d[^\[\]]*\]")

REASONS = (
    "format",
    "malformed_box",
    "box_outside_image",
    "inverted_box",
    "too_few_boxes",
    "wrong_answer",
    "checker_rejected",
)


@dataclass(frozen=True)
class Verdict:
    """The filter's decision on one answer: `reason` is None when it is kept; `detail` says what failed."""

    reason: str | None
    answer: str
    score: float | None
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.reason is None


def check_boxes(text: str) -> tuple[str, str] | None:
    """(reason, the offending box) for the first bad box in `text`, or None when every box is valid."""
    for match in _BRACKETED.finditer(text):
        candidate = match.group(0)
        if not BOX.fullmatch(candidate):
            return "malformed_box", candidate
        x_min, y_min, x_max, y_max = (float(v) for v in BOX.fullmatch(candidate).groups())  # type: ignore[union-attr]
        if min(x_min, y_min, x_max, y_max) < 0 or max(x_min, y_min, x_max, y_max) > IMAGE_LIMIT:
            return "box_outside_image", candidate
        if not (x_min < x_max and y_min < y_max):
            return "inverted_box", candidate
    return None


def judge_answer(
    text: str, reference: str, *, min_score: float, variant: Variant = "paper", min_boxes: int = 1
) -> Verdict:
    """Apply the checks in order; `score` is the answer score once the box checks have passed."""
    answer = extract_answer(text)
    if format_reward(text) != 1.0:
        return Verdict("format", answer, None, "expected <think>...</think> then \\boxed{...}")
    normalised = normalise_response(text)
    bad = check_boxes(normalised)
    if bad is not None:
        return Verdict(bad[0], answer, None, bad[1])
    blocks = think_blocks(normalised)
    n_boxes = len(find_boxes(blocks[0])) if blocks else 0
    if n_boxes < min_boxes:
        return Verdict("too_few_boxes", answer, None, f"{n_boxes} box(es) in the first think block, need {min_boxes}")
    score = answer_score(answer, reference, variant)
    if score < min_score:
        return Verdict("wrong_answer", answer, score, f"answer score {score:.3f} < {min_score}")
    return Verdict(None, answer, score)
