"""Draw a prediction's grounding boxes and step numbers on its X-ray (`xraybench render`).

Models answer with boxes in the pixel space of the image they were given, which is usually a resized
copy of the file. `box_space` says which space that is:

1. the size recorded on the prediction (`Prediction.input_size`, written by every model adapter);
2. else the run's image policy applied to the file's size (`xraybench.prompts`: `--image-size N` forces
   N×N; the reasoning template shrinks to at most 262,144 pixels keeping the aspect ratio, as the
   DeepMedix-R1 authors' inference does; the plain template sends the file as it is, so its own size).

`map_box` scales a box between two spaces; drawn boxes are clipped to the image, and a box that lies
wholly outside it (or is degenerate) is listed as flagged instead of drawn. Each reasoning step gets
its own colour and number, so the picture reads alongside the steps (`xraybench.reasoning.steps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from xraybench.config import Seeded, option, shared_option
from xraybench.errors import XrayBenchError
from xraybench.prompts import image_policy
from xraybench.reasoning.cases import load_run_cases
from xraybench.reasoning.steps import prediction_steps
from xraybench.records import Prediction, Sample

BoxStatus = Literal["ok", "clipped", "outside", "invalid"]
SpaceSource = Literal["recorded", "policy", "original"]

# Colour per step (1-based step n uses PALETTE[(n - 1) % len]); distinct on a grey radiograph.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (255, 225, 25),
    (0, 128, 128),
)
LEGEND_TEXT = (20, 20, 20)
LEGEND_BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class BoxSpace:
    """The pixel space a prediction's boxes are given in, and how that was decided."""

    size: tuple[int, int]
    source: SpaceSource

    def describe(self) -> str:
        w, h = self.size
        if self.source == "recorded":
            return f"boxes in the {w}x{h} image the model was given (recorded)"
        if self.source == "policy":
            return f"boxes assumed in the {w}x{h} image the run's image policy sends (no size recorded)"
        return f"boxes assumed in the original {w}x{h} image (no size recorded)"


@dataclass(frozen=True)
class PlacedBox:
    """One box of a step: as the model gave it, mapped to the image, clipped, and whether it was drawn."""

    step: int
    model_box: list[float]
    image_box: list[float]  # mapped to the original image, before clipping
    drawn_box: list[float] | None  # clipped to the image; None when not drawn
    status: BoxStatus


@dataclass
class Rendering:
    image: Image.Image
    space: BoxSpace
    boxes: list[PlacedBox] = field(default_factory=list)

    def flagged(self) -> list[PlacedBox]:
        return [b for b in self.boxes if b.status != "ok"]


def step_colour(step: int) -> tuple[int, int, int]:
    return PALETTE[(step - 1) % len(PALETTE)]


def resolve_box_space(
    prediction: Prediction,
    template: str | None = "reasoning",
    original_size: tuple[int, int] | None = None,
    image_size: int | None = None,
) -> BoxSpace:
    """The space of `prediction.boxes` by the rule in the module docstring (`image_size`: the run's
    `--image-size`)."""
    if prediction.input_size is not None:
        return BoxSpace((int(prediction.input_size[0]), int(prediction.input_size[1])), "recorded")
    policy = image_policy(template, image_size)
    if original_size is not None:
        size = policy.size_for(int(original_size[0]), int(original_size[1]))
        return BoxSpace(size, "original" if size == tuple(original_size) else "policy")
    if policy.image_size is not None:
        return BoxSpace((policy.image_size, policy.image_size), "policy")
    raise XrayBenchError(
        f"prediction {prediction.id}: no recorded input size and the original image size is unknown: "
        "cannot tell which pixel space its boxes are in"
    )


def box_space(
    prediction: Prediction,
    template: str | None = "reasoning",
    original_size: tuple[int, int] | None = None,
    image_size: int | None = None,
) -> tuple[int, int]:
    """(width, height) of the pixel space of `prediction.boxes` (see `resolve_box_space`)."""
    return resolve_box_space(prediction, template, original_size, image_size).size


def map_box(box: list[float], from_size: tuple[int, int], to_size: tuple[int, int]) -> list[float]:
    """Scale `[x1, y1, x2, y2]` from an image of `from_size` (w, h) to one of `to_size`."""
    sx = to_size[0] / from_size[0]
    sy = to_size[1] / from_size[1]
    return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]


def clip_box(box: list[float], size: tuple[int, int]) -> tuple[list[float] | None, BoxStatus]:
    """The part of `box` inside an image of `size`, and its status: ok (inside), clipped (partly outside),
    outside (no overlap) or invalid (not finite, or x2 <= x1 or y2 <= y1)."""
    if not all(math.isfinite(v) for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        return None, "invalid"
    w, h = size
    clipped = [max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return None, "outside"
    return clipped, "ok" if clipped == box else "clipped"


def place_boxes(prediction: Prediction, space: BoxSpace, image_size: tuple[int, int]) -> list[PlacedBox]:
    """Every box of every reasoning step mapped to the image and clipped."""
    placed = []
    for step in prediction_steps(prediction):
        for box in step.boxes:
            mapped = map_box(box, space.size, image_size)
            drawn, status = clip_box(mapped, image_size)
            placed.append(PlacedBox(step.number, list(box), mapped, drawn, status))
    return placed


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def draw_boxes(image: Image.Image, boxes: list[PlacedBox]) -> None:
    """Outline each drawable box in its step's colour with the step number in a tag at its top-left."""
    draw = ImageDraw.Draw(image)
    width = max(2, round(min(image.size) / 200))
    font = _font(max(10, round(min(image.size) / 28)))
    for box in boxes:
        if box.drawn_box is None:
            continue
        colour = step_colour(box.step)
        x1, y1, x2, y2 = box.drawn_box
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], outline=colour, width=width)
        label = str(box.step) + ("!" if box.status == "clipped" else "")
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tag = [x1, y1, x1 + right - left + 2 * width, y1 + bottom - top + 2 * width]
        if tag[2] > image.size[0]:  # keep the tag inside the image at the right edge
            tag = [image.size[0] - (tag[2] - tag[0]), tag[1], image.size[0], tag[3]]
        draw.rectangle(tag, fill=colour)
        draw.text((tag[0] + width - left, tag[1] + width - top), label, fill=(255, 255, 255), font=font)


def _wrap(
    text: str, draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float
) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and draw.textlength(trial, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def add_legend(
    image: Image.Image, prediction: Prediction, rendering: Rendering, *, answer: bool = True, max_lines: int = 60
) -> Image.Image:
    """The image with a panel below: each step's colour, number and text, the answer, the box space and
    the flagged boxes, so a rendering explains itself out of context."""
    font_size = max(11, round(image.size[0] / 50))
    font = _font(font_size)
    pad = font_size // 2
    probe = ImageDraw.Draw(image)
    text_width = image.size[0] - 3 * pad - font_size
    rows: list[tuple[tuple[int, int, int] | None, str]] = []
    for step in prediction_steps(prediction):
        for i, line in enumerate(_wrap(f"{step.number}. {step.text}", probe, font, text_width)):
            rows.append((step_colour(step.number) if i == 0 else None, line))
    if answer:
        rows.extend((None, line) for line in _wrap(f"Answer: {prediction.answer}", probe, font, text_width))
    notes = [rendering.space.describe()]
    notes += [f"step {b.step} box {[round(v, 1) for v in b.model_box]}: {b.status}" for b in rendering.flagged()]
    rows.extend((None, line) for note in notes for line in _wrap(note, probe, font, text_width))
    if len(rows) > max_lines:
        rows = [*rows[: max_lines - 1], (None, f"... {len(rows) - max_lines + 1} more lines")]
    line_height = round(font_size * 1.3)
    panel = Image.new("RGB", (image.size[0], image.size[1] + 2 * pad + line_height * len(rows)), LEGEND_BACKGROUND)
    panel.paste(image, (0, 0))
    draw = ImageDraw.Draw(panel)
    y = image.size[1] + pad
    for colour, line in rows:
        if colour is not None:
            draw.rectangle([pad, y + 2, pad + font_size - 2, y + font_size], fill=colour)
        draw.text((2 * pad + font_size, y), line, fill=LEGEND_TEXT, font=font)
        y += line_height
    return panel


def render_prediction(
    image_path: str | Path,
    prediction: Prediction,
    *,
    template: str | None = "reasoning",
    legend: bool = True,
    answer: bool = True,
    fit: int | None = None,
    image_size: int | None = None,
) -> Rendering:
    """The X-ray with the prediction's boxes drawn (and a legend panel below): at its original size, or
    shrunk to fit a `fit`-pixel square first so that thin outlines stay sharp in thumbnails."""
    try:
        with Image.open(image_path) as img:
            image = img.convert("RGB")
    except FileNotFoundError as exc:
        raise XrayBenchError(f"prediction {prediction.id}: image not found: {image_path}") from exc
    except (OSError, ValueError) as exc:
        raise XrayBenchError(f"prediction {prediction.id}: cannot read image {image_path}: {exc}") from exc
    space = resolve_box_space(prediction, template, image.size, image_size)
    if fit is not None:
        image.thumbnail((fit, fit))
    boxes = place_boxes(prediction, space, image.size)
    draw_boxes(image, boxes)
    rendering = Rendering(image, space, boxes)
    if legend:
        rendering.image = add_legend(image, prediction, rendering, answer=answer)
    return rendering


def contact_sheet(
    cases: list[tuple[Sample, Prediction]],
    *,
    template: str | None = "reasoning",
    tile: int = 256,
    columns: int | None = None,
    image_size: int | None = None,
) -> Image.Image:
    """Many renderings (boxes only) scaled into `tile`-pixel cells, each captioned with its id."""
    if not cases:
        raise XrayBenchError("contact sheet: no cases to draw")
    columns = columns or math.ceil(math.sqrt(len(cases)))
    rows = math.ceil(len(cases) / columns)
    font = _font(max(10, tile // 18))
    caption = round(tile / 18 * 1.6)
    sheet = Image.new("RGB", (columns * tile, rows * (tile + caption)), LEGEND_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (sample, prediction) in enumerate(cases):
        if not sample.image_paths:
            raise XrayBenchError(f"sample {sample.id} has no image to draw on")
        image = render_prediction(
            sample.image_paths[0], prediction, template=template, legend=False, fit=tile, image_size=image_size
        ).image
        x, y = (i % columns) * tile, (i // columns) * (tile + caption)
        sheet.paste(image, (x + (tile - image.size[0]) // 2, y + (tile - image.size[1]) // 2))
        draw.text((x + 4, y + tile + 2), sample.id, fill=LEGEND_TEXT, font=font)
    return sheet


@dataclass
class RenderConfig(Seeded):
    run: str = option(help="run folder (holds run.json and predictions.jsonl)")
    out: str = option(help="PNG file to write")
    id: str | None = option(None, help="the sample id to draw (one case)")
    task: str | None = option(None, help="the task, when the id is in several tasks (or to pick --grid cases from)")
    grid: bool = option(False, help="a contact sheet of many cases (with --ids or --n)")
    ids: list[str] = option([], help="comma-separated sample ids for --grid", split_commas=True)
    n: int = option(16, help="cases for --grid without --ids: a seeded sample, cases with boxes first")
    seed: int = shared_option(Seeded, "seed", help="seed for picking --grid cases")
    tile: int = option(256, help="cell size of the --grid contact sheet in pixels")
    legend: bool = option(True, help="add a legend panel (steps, answer, box space, flagged boxes)")


def render_run(config: RenderConfig) -> Rendering | list[tuple[Sample, Prediction]]:
    """Write the PNG `config` asks for; return the single rendering, or the cases of the contact sheet."""
    cases = load_run_cases(config.run)
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if config.grid:
        chosen = (
            [cases.find(i, config.task) for i in config.ids]
            if config.ids
            else cases.pick(config.n, config.seed, config.task)
        )
        contact_sheet(chosen, template=cases.template, tile=config.tile, image_size=cases.image_size).save(out)
        return chosen
    if config.id is None:
        raise XrayBenchError("render: pass --id ID for one case, or --grid with --ids or --n")
    sample, prediction = cases.find(config.id, config.task)
    if not sample.image_paths:
        raise XrayBenchError(f"sample {sample.id} has no image to draw on")
    rendering = render_prediction(
        sample.image_paths[0], prediction, template=cases.template, legend=config.legend, image_size=cases.image_size
    )
    rendering.image.save(out)
    return rendering
