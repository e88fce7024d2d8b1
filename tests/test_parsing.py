from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xraybench.parsing import BOX, find_boxes, last_boxed, parse_output, think_blocks
from xraybench.reasoning.prompt import code_blocks, extract_json, parse_extraction, parse_judgment
from xraybench.reasoning.steps import reasoning_steps


def test_reasoning_output() -> None:
    text = (
        "<think>Step 1: effusion at [30, 180, 100, 230].</think><think>again [1,2,3,4]</think>"
        "The answer is \\boxed{Effusion|Cardiomegaly}"
    )
    out = parse_output(text)
    assert out.answer == "Effusion|Cardiomegaly"
    assert out.has_think and out.has_boxed
    assert out.boxes == [[30, 180, 100, 230], [1, 2, 3, 4]]
    assert out.reasoning is not None and "Step 1" in out.reasoning


def test_answer_falls_back_to_text_after_think_then_whole_text() -> None:
    assert parse_output("<think>x</think>  no effusion ").answer == "no effusion"
    assert parse_output("  plain report.  ").answer == "plain report."


def test_last_boxed_nested_and_unclosed() -> None:
    assert last_boxed("\\boxed{a} then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{a} \\boxed{open") is None
    assert last_boxed("\\boxed{}") == ""


def test_box_syntax_follows_released_reward() -> None:
    assert find_boxes("[1, 2,3 , 4]") == []  # whitespace only after commas
    assert find_boxes("[1 ,2,3,4]") == []
    assert find_boxes("[[1,2,3,4]]") == [[1, 2, 3, 4]]
    assert find_boxes("[-1.5, +2, .5, 600]") == [[-1.5, 2, 0.5, 600]]
    assert find_boxes("[1e3, 2, 3, 4] [5., 1, 2, 3]") == []


# -- hostile output: linear time, no recursion, the same results as the released patterns ------------------------

# the patterns as released (and as this module used them before): the reference the linear parsers must match
RELEASED_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_RELEASED_NUM = r"[-+]?\d*\.?\d+"
RELEASED_BOX = re.compile(rf"\[({_RELEASED_NUM}),\s*({_RELEASED_NUM}),\s*({_RELEASED_NUM}),\s*({_RELEASED_NUM})\]")
RELEASED_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)

PIECES = st.sampled_from(
    ["<think>", "</think>", "<think", "think>", "[", "]", ",", ", ", " ", "\n", "1", "23", ".", "-", "+", "e",
     "\\boxed{", "{", "}", "```", "```json", "JSON", "x", "٣", "\u2003"]
)  # fmt: skip
MODEL_OUTPUT = st.lists(st.tuples(PIECES, st.integers(1, 3)), max_size=40).map(
    lambda parts: "".join(piece * n for piece, n in parts)
)
HOSTILE = [
    "<think>" * 40_000,
    "[" + "1" * 80_000,
    "[1," + " " * 80_000,
    "[1,2,3," + "4" * 80_000,
    "[" * 80_000,
    "[1,[-2.5," * 20_000,
    "\\boxed{" * 40_000,
    "</think><think>" * 30_000,
    "{" * 100_000,
]


@settings(max_examples=400, deadline=timedelta(seconds=1))
@given(MODEL_OUTPUT)
def test_linear_parsers_find_what_the_released_patterns_find(text: str) -> None:
    assert think_blocks(text) == RELEASED_THINK.findall(text)
    assert find_boxes(text) == [[float(v) for v in m.groups()] for m in RELEASED_BOX.finditer(text)]
    assert [(m.start(), m.end()) for m in BOX.finditer(text)] == [
        (m.start(), m.end()) for m in RELEASED_BOX.finditer(text)
    ]
    assert code_blocks(text) == [block.strip() for block in RELEASED_FENCE.findall(text)]


@settings(max_examples=300, deadline=timedelta(seconds=1))
@given(st.one_of(MODEL_OUTPUT, st.text(max_size=3_000)))
def test_parsers_never_raise_on_model_output(text: str) -> None:
    out = parse_output(text)
    assert isinstance(out.answer, str) and all(len(box) == 4 for box in out.boxes)
    assert all(step.text for step in reasoning_steps(text))
    parse_extraction(text)
    parse_judgment(text, 1, 1, 1)


@pytest.mark.timeout(60)  # each took from seconds to minutes through regex backtracking (or raised)
@pytest.mark.parametrize("text", HOSTILE, ids=[f"{t[:12]!r}x{len(t)}" for t in HOSTILE])
def test_hostile_output_is_parsed_in_linear_time(text: str) -> None:
    out = parse_output(text)
    assert out.boxes == [[float(v) for v in m.groups()] for m in RELEASED_BOX.finditer(text[:2_000])]
    steps = reasoning_steps(text)
    assert sum(len(s.boxes) for s in steps) == len(find_boxes(text.strip()))
    assert extract_json(text) is None


def test_long_outputs_of_boxes_and_line_breaks_are_split_in_one_pass() -> None:
    text = "\n".join(f"step {i}: opacity at [{i}, {i + 1}, {i + 2}, {i + 3}]." for i in range(30_000))
    steps = reasoning_steps(text)
    assert len(steps) == 30_000 and steps[-1].boxes == [[29_999, 30_000, 30_001, 30_002]]


def test_code_blocks_and_extract_json() -> None:
    assert code_blocks('x ```json\n{"a": 1}\n``` y ```JSON [2]``` z ```open') == ['{"a": 1}', "[2]"]
    assert extract_json('Here: ```json\n{"findings": []}\n```') == {"findings": []}
    assert extract_json('{"a": ' + "1" * 5_000 + "}") is None  # a number over Python's 4,300-digit limit
    assert extract_json("[" * 100_000 + "]" * 100_000) is None  # nested beyond the JSON reader's depth
