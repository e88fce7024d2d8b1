"""Boxes live in one pixel space: the image the model was actually sent, on a non-square, non-512 X-ray.

A real `openai:` run against the local fault server: the server decodes the image it received and answers with
the reference box scaled to that image's pixels (what a grounded model does). The run must send the reasoning
template's image (at most 262,144 pixels, aspect kept) or the `--image-size` square, record that size on the
prediction, and grounding, render and the review page must read the boxes in it.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from xraybench.metrics.grounding import GroundingMetric
from xraybench.records import Prediction, Sample
from xraybench.render import PALETTE, render_prediction
from xraybench.results import score_run
from xraybench.runner import RunConfig, RunFolder, build_model, generate_all
from xraybench.taskdata import TaskData
from xraybench.tasks import Task
from xraybench.testing.openai_server import OpenAIServer

FILE_SIZE = (2000, 1000)  # non-square, not 512
REFERENCE = [200, 500, 1000, 900]  # x1, y1, x2, y2 in the file's pixels
TASK = Task("grounding_fixture", "classification", "fixture", "test", ("classification", "grounding"))


@pytest.fixture
def xray(tmp_path: Path) -> Path:
    image = Image.linear_gradient("L").resize(FILE_SIZE).convert("RGB")
    path = tmp_path / "wide.png"
    image.save(path)
    return path


def _task(image: Path) -> TaskData:
    sample = Sample(
        id="wide-1",
        task=TASK.name,
        dataset="fixture",
        split="test",
        prompt="Which findings are present?",
        reference="Effusion",
        image_paths=[str(image)],
        metadata={"image_size": list(FILE_SIZE), "bboxes": [[*REFERENCE, "Effusion"]], "labels": ["Effusion"]},
    )
    return TaskData(TASK, [sample], population=1, fingerprint="fixture")


class GroundedServer:
    """Answers with the reference box in the pixel space of the image it received, and remembers that size."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def __call__(self, body: dict[str, Any]) -> str:
        parts = body["messages"][-1]["content"]
        url = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
        data = base64.b64decode(url.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
        self.seen.append((w, h))
        sx, sy = w / FILE_SIZE[0], h / FILE_SIZE[1]
        box = [round(REFERENCE[0] * sx), round(REFERENCE[1] * sy), round(REFERENCE[2] * sx), round(REFERENCE[3] * sy)]
        return f"<think>Blunted left angle [{box[0]}, {box[1]}, {box[2]}, {box[3]}].</think> \\boxed{{Effusion}}"


def _run(tmp_path: Path, image: Path, name: str, **kw: Any) -> tuple[dict[str, Any], Prediction, GroundedServer]:
    reply = GroundedServer()
    with OpenAIServer(reply_fn=reply) as server:
        config = RunConfig(
            model="openai:tiny-test-model",
            tasks=[TASK.name],
            out=str(tmp_path / name),
            api_base=server.base_url,
            template="reasoning",
            bootstrap_rounds=0,
            progress=False,
            **kw,
        )
        td = _task(image)
        folder = RunFolder(config.out)
        folder.prepare(config, {TASK.name: td.fingerprint})
        model = build_model(config, [TASK.name])
        generate_all(config, model, folder, [td])
        results = score_run(config, folder, [td], [], model_name=model.name, resumed=False)
    (prediction,) = folder.load_predictions().values()
    return results, prediction, reply


def test_reasoning_template_sends_at_most_262144_pixels_and_boxes_are_read_there(tmp_path: Path, xray: Path) -> None:
    results, prediction, reply = _run(tmp_path, xray, "policy")
    assert reply.seen == [(724, 362)]  # 2000x1000 shrunk to 262,088 pixels, aspect kept: what the model saw
    assert prediction.input_size == (724, 362)  # ... recorded on the prediction
    assert prediction.boxes == [[72.0, 181.0, 362.0, 326.0]]
    metrics = results["tasks"][TASK.name]["metrics"]
    assert metrics["grounding_format_valid"]["value"] == 1.0
    assert metrics["grounding_iou"]["value"] > 0.99  # read in 724x362 it lands on the reference
    assert metrics["grounding_hit_rate"]["value"] == 1.0
    assert results["image_policy"]["max_pixels"] == 262144 and results["image_policy"]["image_size"] is None
    # render maps the recorded space back onto the 2000x1000 file: the box outline sits on the reference
    rendering = render_prediction(xray, prediction, template="reasoning", legend=False)
    assert rendering.space.source == "recorded" and rendering.space.size == (724, 362)
    x1, y1, x2, y2 = rendering.boxes[0].drawn_box or []
    assert abs(x1 - REFERENCE[0]) < 3 and abs(y1 - REFERENCE[1]) < 3
    assert abs(x2 - REFERENCE[2]) < 3 and abs(y2 - REFERENCE[3]) < 3
    assert rendering.image.getpixel((round(x1), 700)) == PALETTE[0]


def test_image_size_option_changes_what_is_sent_and_the_box_space(tmp_path: Path, xray: Path) -> None:
    results, prediction, reply = _run(tmp_path, xray, "square", image_size=448)
    assert reply.seen == [(448, 448)]
    assert prediction.input_size == (448, 448)
    assert results["tasks"][TASK.name]["metrics"]["grounding_iou"]["value"] > 0.99
    assert results["image_policy"]["image_size"] == 448


def test_unrecorded_boxes_are_read_in_the_policy_space_or_not_at_all(xray: Path) -> None:
    td = _task(xray)
    sample = td.samples[0]
    text = "<think>here [72, 181, 362, 326]</think>x"
    from xraybench.parsing import parse_output

    parsed = parse_output(text)
    unrecorded = Prediction(sample.id, TASK.name, "m", text, parsed.answer, parsed.reasoning, parsed.boxes)
    # predictions from elsewhere: the reasoning policy on the sample's original size (724x362)
    policy = GroundingMetric(max_pixels=262144).score([sample], [unrecorded])
    assert policy["grounding_iou"].value > 0.99 and policy["grounding_format_valid"].value == 1.0
    # the same boxes read in a 512 square (the old fallback) would miss the finding
    square = GroundingMetric(image_size=512).score([sample], [unrecorded])
    assert square["grounding_iou"].value < 0.6
    # no recorded size, no original size, no forced square: no value rather than a guess
    bare = Sample(sample.id, TASK.name, "fixture", "test", "q", "Effusion", metadata={})
    unknown = GroundingMetric().score([bare], [unrecorded])
    assert unknown["grounding_format_valid"].details["unknown_box_space"] == 1
    assert all(v != v for v in (unknown["grounding_format_valid"].value, unknown["grounding_iou"].value))
