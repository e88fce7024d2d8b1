"""Prompt templates, each with the image policy its model family was trained with.

`plain` sends the question as it is and the image at its own size. `reasoning` is DeepMedix-R1's
released format prompt, byte-exact (see `REASONING_SUFFIX`), and its images are shrunk to at most
262,144 pixels (512 x 512) keeping the aspect ratio, as in the authors' inference set-up. The boxes a
model answers with are in the pixel space of the image it was sent, which every adapter records on the
prediction (`input_size`); grounding, `xraybench render` and the review page read boxes in that space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xraybench.errors import XrayBenchError

# Source: DeepReasoning/DeepMedix-R1, `src/xray_format.jinja` (commit 45a1d4d, Apache-2.0), whose whole text is
# "{{ content | trim }}", a blank line, then this sentence (the file ends in one newline, which Jinja drops; its
# CRLF line ends render as "\n"). Keep it byte-exact: a model trained on this text is evaluated with it.
REASONING_SUFFIX = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <think> </think> tags. During this reasoning process, "
    "prioritize analyzing the local regions of the image by leveraging the bounding box coordinates in the "
    "format [x_min, y_min, x_max, y_max]. The final answer MUST BE put in \\boxed{}. An example is like: "
    "<think> reasoning process 1 with [x_min1, y_min1, x_max1, y_max1]; reasoning process 2 with "
    "[x_min2, y_min2, x_max2, y_max2] </think>. The answer is: \\boxed{answer}."
)
REASONING_SEPARATOR = "\n\n"  # the template's blank line between the trimmed content and the suffix

DEEPMEDIX_IMAGE_SIZE = 512
DEEPMEDIX_MAX_PIXELS = 262144  # 512 * 512, the authors' `max_pixels`


def target_size(
    width: int,
    height: int,
    *,
    image_size: int | tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> tuple[int, int]:
    """The (width, height) a model should see.

    `image_size` forces an exact size (DeepMedix trains and answers at 512×512); otherwise `max_pixels`
    shrinks a larger image keeping its aspect ratio; otherwise the size is unchanged.
    """
    if image_size is not None:
        return (image_size, image_size) if isinstance(image_size, int) else (int(image_size[0]), int(image_size[1]))
    if max_pixels is not None and width * height > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    return width, height


@dataclass(frozen=True)
class ImagePolicy:
    """How images are sized before a model sees them: `image_size` forces a square of that side; else
    `max_pixels` shrinks a larger image keeping its aspect ratio; else the image is sent as it is."""

    image_size: int | None = None
    max_pixels: int | None = None

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) an image of this size is sent at: the pixel space of the model's boxes."""
        return target_size(width, height, image_size=self.image_size, max_pixels=self.max_pixels)

    def options(self) -> dict[str, int | None]:
        """As `ModelContext` / `load_image` keywords."""
        return {"image_size": self.image_size, "max_pixels": self.max_pixels}

    def describe(self) -> str:
        if self.image_size is not None:
            return f"resized to {self.image_size}x{self.image_size}"
        if self.max_pixels is not None:
            return f"shrunk to at most {self.max_pixels:,} pixels, aspect ratio kept"
        return "sent at its own size"


@dataclass(frozen=True)
class Template:
    name: str
    image_policy: ImagePolicy

    def render(self, content: str) -> str:
        if self.name == "reasoning":
            # Jinja's `trim` filter is Python's str.strip()
            return content.strip() + REASONING_SEPARATOR + REASONING_SUFFIX
        return content


TEMPLATES: dict[str, Template] = {
    "plain": Template("plain", ImagePolicy()),
    "reasoning": Template("reasoning", ImagePolicy(max_pixels=DEEPMEDIX_MAX_PIXELS)),
}


def get_template(name: str) -> Template:
    if name not in TEMPLATES:
        raise XrayBenchError(f"unknown prompt template {name!r}; choose one of {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


def image_policy(template: str | None, image_size: int | None = None) -> ImagePolicy:
    """The run's image policy: `--image-size N` (an N x N square) when given, else the template's own."""
    if image_size is not None:
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
            raise XrayBenchError(f"--image-size must be a positive integer, got {image_size!r}")
        return ImagePolicy(image_size=image_size)
    return TEMPLATES[template].image_policy if template in TEMPLATES else ImagePolicy()


def render_prompt(prompt: str, template: str) -> str:
    return get_template(template).render(prompt)


def question_of(text: str, template: str = "reasoning") -> str:
    """The content of a prompt rendered with `template` (the inverse of `render_prompt`, up to the trim)."""
    if template == "reasoning" and text.endswith(REASONING_SEPARATOR + REASONING_SUFFIX):
        return text[: -len(REASONING_SEPARATOR + REASONING_SUFFIX)]
    return text
