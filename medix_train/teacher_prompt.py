"""What the cold-start teacher and the optional second-model checker are asked, and the offline template teacher.

The paper's teacher saw the reference answer and wrote reasoning that reaches it; ours is told the reference,
the answer form it must put in `\\boxed{}` and the known boxes (scaled to the 512x512 space), so the filter can
hold it to the reference. Changing any text here changes what a teacher answers: bump `PROMPT_VERSION` (or
`CHECK_VERSION`), which is part of every call key, so stored answers to the old prompt are not reused.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from xraybench import prompts
from xraybench.lazy import require

PROMPT_VERSION = "synth-v1"
CHECK_VERSION = "synth-check-v1"
IMAGE_SIZE = 512
TEMPLATE_TEACHER = "builtin:template"

LabelledBox = tuple[str, list[float]]

TEACHER_SYSTEM = f"""You write training data for a chest X-ray model that must reason before it answers.
You are given a question about a chest radiograph, the correct reference answer, and, when known, labelled boxes
of the findings. Write the reasoning an expert radiologist would follow from the image to that answer.

Rules:
1. Reply with exactly: <think> your step-by-step reasoning </think> followed by the final answer in \\boxed{{}}.
2. In the reasoning, cite every image region you rely on as a box [x_min, y_min, x_max, y_max]: integer pixel
   coordinates in the {IMAGE_SIZE}x{IMAGE_SIZE} image, origin at the top left, 0 <= x_min < x_max <= {IMAGE_SIZE},
   0 <= y_min < y_max <= {IMAGE_SIZE}. Cite one to three boxes. Use the known boxes where they are given.
3. The reasoning must be consistent with the reference answer and reach it; never mention that a reference was
   given to you.
4. Put exactly the reference answer in \\boxed{{}}, in the requested form."""

FORM_HINTS = {
    "list": "the labels separated by '|', as in the reference",
    "short": "the short answer only (for example yes or no), as in the reference",
    "report": "the report text, keeping the reference's findings",
}

CHECK_SYSTEM = """You check training data for a chest X-ray reasoning model. Given a question, a step-by-step
reasoning and its final answer, decide whether the reasoning supports that answer (consistent, no contradiction,
reaches the answer). Reply with one word: yes or no."""


def question_of(prompt_text: str) -> str:
    """The bare question of a prompt rendered with the "reasoning" template (the teacher gets its own rules)."""
    return prompts.question_of(prompt_text, "reasoning")


def format_box(box: Sequence[float]) -> str:
    """A box in the reward's grammar: integers, comma + space separated."""
    return "[" + ", ".join(str(round(v)) for v in box) + "]"


def teacher_messages(
    question: str, reference: str, answer_form: str, boxes: Sequence[LabelledBox], image_url: str | None = None
) -> list[dict[str, Any]]:
    """Chat messages asking the teacher for grounded reasoning that reaches `reference`."""
    known = "\n".join(f"- {label}: {format_box(box)}" for label, box in boxes) or "- none known"
    text = (
        f"Question: {question}\n\nReference answer: {reference}\n\n"
        f"Known finding boxes in the {IMAGE_SIZE}x{IMAGE_SIZE} image:\n{known}\n\n"
        f"Form of the final answer: {FORM_HINTS.get(answer_form, FORM_HINTS['report'])}."
    )
    content: list[dict[str, Any]] | str = text
    if image_url is not None:
        content = [{"type": "image_url", "image_url": {"url": image_url}}, {"type": "text", "text": text}]
    return [{"role": "system", "content": TEACHER_SYSTEM}, {"role": "user", "content": content}]


def checker_messages(question: str, reasoning: str, answer: str) -> list[dict[str, Any]]:
    text = f"Question: {question}\n\nReasoning:\n{reasoning}\n\nFinal answer: {answer}\n\nDoes the reasoning support the answer?"
    return [{"role": "system", "content": CHECK_SYSTEM}, {"role": "user", "content": text}]


def checker_reask(messages: list[dict[str, Any]], bad_answer: str) -> list[dict[str, Any]]:
    return [
        *messages,
        {"role": "assistant", "content": bad_answer},
        {"role": "user", "content": "Reply with exactly one word: yes or no."},
    ]


def parse_yes_no(text: str) -> str | None:
    """The checker's verdict, "yes" or "no", from its first word (punctuation ignored); None for anything else."""
    words = text.strip().lower().split()
    first = words[0].strip(".,:;!*\"'") if words else ""
    return first if first in ("yes", "no") else None


def image_data_url(path: str, size: int = IMAGE_SIZE) -> str:
    """The image resized to `size` x `size` (the space the boxes are in), as a base64 PNG data URL."""
    image_mod = require("PIL.Image", "hf", "sending images to a vision teacher")
    with image_mod.open(path) as image:
        resized = image.convert("RGB").resize((size, size))
    buffer = io.BytesIO()
    resized.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# The template teacher cites these fixed regions when a sample has no known boxes: enough to exercise the
# format and the coordinate reward in the tiny CPU pipeline, not real grounding.
DEFAULT_REGIONS: tuple[LabelledBox, ...] = (
    ("the lung fields", [48.0, 56.0, 464.0, 440.0]),
    ("the cardiac silhouette", [176.0, 216.0, 376.0, 408.0]),
)


def template_teacher(question: str, reference: str, boxes: Sequence[LabelledBox]) -> str:
    """The offline `builtin:template` teacher: a fixed sentence pattern around the reference and known boxes.

    Deterministic and free, for the tiny CPU pipeline and demos only; it does not look at the image and is no
    substitute for a real teacher. Its output goes through the same filter as any teacher's.
    """
    steps = [f"The question is: {question.strip()}"]
    cited = [(f"the {label.lower()} region", box) for label, box in boxes[:3]] or list(DEFAULT_REGIONS)
    for label, box in cited:
        steps.append(f"I examine {label} at {format_box(box)}.")
    steps.append(f"These observations lead to the answer: {reference.strip()}")
    return "<think>" + " ".join(steps) + "</think> \\boxed{" + reference.strip() + "}"
