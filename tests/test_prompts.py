"""The reasoning template is DeepMedix-R1's released `src/xray_format.jinja`, byte for byte, with its image policy."""

from __future__ import annotations

import pytest

from xraybench.errors import XrayBenchError
from xraybench.prompts import (
    TEMPLATES,
    ImagePolicy,
    get_template,
    image_policy,
    question_of,
    render_prompt,
)

# Written out by hand from DeepReasoning/DeepMedix-R1 `src/xray_format.jinja` (commit 45a1d4d): the content
# trimmed, a blank line, then the instruction. Not built from the module's constant, so a drift in either shows.
EXPECTED = (
    "Is there a pleural effusion on the left?\n"
    "\n"
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <think> </think> tags. During this reasoning process, "
    "prioritize analyzing the local regions of the image by leveraging the bounding box coordinates in the "
    "format [x_min, y_min, x_max, y_max]. The final answer MUST BE put in \\boxed{}. An example is like: "
    "<think> reasoning process 1 with [x_min1, y_min1, x_max1, y_max1]; reasoning process 2 with "
    "[x_min2, y_min2, x_max2, y_max2] </think>. The answer is: \\boxed{answer}."
)


def test_reasoning_prompt_is_the_released_template_character_by_character() -> None:
    rendered = render_prompt("  Is there a pleural effusion on the left?\n\t", "reasoning")
    assert len(rendered) == len(EXPECTED)
    for i, (got, want) in enumerate(zip(rendered, EXPECTED, strict=True)):
        assert got == want, f"character {i}: {got!r} != {want!r} in ...{rendered[max(0, i - 20) : i + 20]!r}"
    assert rendered.encode("utf-8") == EXPECTED.encode("utf-8")
    assert "512" not in rendered  # the released text names no image size: the policy decides it


def test_reasoning_prompt_trims_like_jinja_and_keeps_inner_text() -> None:
    # Jinja's `trim` is str.strip(): every Unicode whitespace at both ends goes, inner newlines stay
    rendered = render_prompt("\u3000\n Findings:\n  heart? \r\n", "reasoning")
    assert rendered.startswith("Findings:\n  heart?\n\nYou FIRST think")
    assert question_of(rendered) == "Findings:\n  heart?"


def test_plain_prompt_is_unchanged_and_unknown_template_is_refused() -> None:
    assert render_prompt("  as is \n", "plain") == "  as is \n"
    with pytest.raises(XrayBenchError, match="unknown prompt template 'reason'.*plain, reasoning"):
        render_prompt("x", "reason")


def test_each_template_carries_its_image_policy() -> None:
    assert TEMPLATES["reasoning"].image_policy == ImagePolicy(max_pixels=262144)
    assert TEMPLATES["plain"].image_policy == ImagePolicy()
    reasoning = get_template("reasoning").image_policy
    assert reasoning.size_for(2000, 1000) == (724, 362)  # non-square: aspect kept, 262,088 <= 262,144 pixels
    assert reasoning.size_for(3000, 2500) == (560, 467)
    assert reasoning.size_for(400, 300) == (400, 300)  # already small: sent as it is
    assert get_template("plain").image_policy.size_for(2000, 1000) == (2000, 1000)
    # --image-size overrides the template's policy with an exact square
    assert image_policy("reasoning", 448).size_for(2000, 1000) == (448, 448)
    assert image_policy("plain", None) == ImagePolicy()
    with pytest.raises(XrayBenchError, match="--image-size must be a positive integer"):
        image_policy("reasoning", 0)
