from __future__ import annotations

from xraybench.parsing import find_boxes, last_boxed, parse_output


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
