"""Prompt templates. `plain` asks for the answer only; `reasoning` is DeepMedix-R1's template."""

from __future__ import annotations

from xraybench.errors import XrayBenchError

REASONING_SUFFIX = (
    " You FIRST think about the reasoning process as an internal monologue and then provide the final"
    " answer. The reasoning process MUST BE enclosed within <think> </think> tags, and every image region"
    " you rely on is cited as a bounding box [x_min, y_min, x_max, y_max] in the 512x512 image. The final"
    " answer MUST BE put in \\boxed{}."
)

TEMPLATES = ("plain", "reasoning")


def render_prompt(prompt: str, template: str) -> str:
    if template == "plain":
        return prompt
    if template == "reasoning":
        return prompt + REASONING_SUFFIX
    raise XrayBenchError(f"unknown prompt template {template!r}; choose one of {', '.join(TEMPLATES)}")
