"""Grounded rendering: box spaces, mapping, clipping, pixel checks on demo images, the CLI, and the recorded
input size on predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.models.base import ModelContext
from xraybench.models.images import input_size
from xraybench.models.openai_compat import OpenAIModel
from xraybench.reasoning.steps import reasoning_steps
from xraybench.records import Generation, Prediction, Sample
from xraybench.render import (
    PALETTE,
    box_space,
    clip_box,
    contact_sheet,
    map_box,
    render_prediction,
    resolve_box_space,
)
from xraybench.runner import PREDICTIONS_FILE, to_prediction
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer


@pytest.fixture(scope="module")
def demo() -> list[Sample]:
    return load_task("demo_classification").samples


def pred(text: str, *, input_size: tuple[int, int] | None = None, sample_id: str = "x") -> Prediction:
    from xraybench.parsing import parse_output

    parsed = parse_output(text)
    return Prediction(
        sample_id,
        "demo_classification",
        "m",
        raw=text,
        answer=parsed.answer,
        reasoning=parsed.reasoning,
        boxes=parsed.boxes,
        input_size=input_size,
    )


def test_box_space_rule() -> None:
    recorded = pred("<think>a [1, 2, 3, 4]</think>b", input_size=(640, 480))
    assert box_space(recorded) == (640, 480)
    assert resolve_box_space(recorded).source == "recorded"
    unknown = pred("<think>a [1, 2, 3, 4]</think>b")
    # no size recorded: the run's image policy on the file's size (reasoning: <= 262,144 pixels, aspect kept)
    assert box_space(unknown, "reasoning", (2000, 1000)) == (724, 362)
    assert resolve_box_space(unknown, "reasoning", (2000, 1000)).source == "policy"
    assert "image policy" in resolve_box_space(unknown, "reasoning", (2000, 1000)).describe()
    assert box_space(unknown, "reasoning", (300, 200)) == (300, 200)  # small enough: sent as it is
    assert box_space(unknown, "plain", (300, 200)) == (300, 200)
    assert box_space(unknown, "plain", (300, 200), image_size=448) == (448, 448)  # --image-size
    assert box_space(unknown, "reasoning", None, image_size=448) == (448, 448)
    for template in ("plain", "reasoning"):
        with pytest.raises(XrayBenchError, match="which pixel space"):
            box_space(unknown, template)


def test_map_and_clip() -> None:
    assert map_box([100, 100, 200, 200], (512, 512), (256, 256)) == [50, 50, 100, 100]
    assert map_box([10, 10, 20, 20], (128, 64), (256, 256)) == [20, 40, 40, 80]
    assert clip_box([10.0, 10.0, 20.0, 20.0], (100, 100)) == ([10.0, 10.0, 20.0, 20.0], "ok")
    assert clip_box([90.0, -5.0, 120.0, 20.0], (100, 100)) == ([90.0, 0.0, 100.0, 20.0], "clipped")
    assert clip_box([110.0, 10.0, 120.0, 20.0], (100, 100)) == (None, "outside")
    assert clip_box([20.0, 10.0, 10.0, 20.0], (100, 100)) == (None, "invalid")


def test_steps_keep_wrapped_boxes_whole() -> None:
    steps = reasoning_steps("The heart is enlarged [80, 120,\n 180, 200]. No effusion. Nodule 1.5 cm [1,2,3,4]!")
    assert [s.text for s in steps] == [
        "The heart is enlarged [80, 120,\n 180, 200].",
        "No effusion.",
        "Nodule 1.5 cm [1,2,3,4]!",
    ]
    assert [s.boxes for s in steps] == [[[80, 120, 180, 200]], [], [[1, 2, 3, 4]]]
    lines = reasoning_steps("Step 1: heart [1, 2, 3, 4]. Big.\n\nStep 2: lungs clear.\n")
    assert [s.number for s in lines] == [1, 2] and lines[0].boxes == [[1, 2, 3, 4]]
    assert reasoning_steps(None) == [] and reasoning_steps("  ") == []


def test_box_lands_where_expected_after_mapping(demo: list[Sample]) -> None:
    path = demo[0].image_paths[0]
    original = Image.open(path).convert("RGB")
    assert original.size == (256, 256)
    # Step 1 in a 512x512 input -> [50, 50, 100, 100] on the 256x256 file; step 2 in the same space.
    p = pred("<think>Heart [100, 100, 200, 200].\nBase [300, 300, 400, 360].</think>\\boxed{x}", input_size=(512, 512))
    r = render_prediction(path, p, legend=False)
    img = r.image
    assert img.size == (256, 256)
    assert [b.image_box for b in r.boxes] == [[50, 50, 100, 100], [150, 150, 200, 180]]
    assert img.getpixel((50, 90)) == PALETTE[0]  # left edge of step 1's box
    assert img.getpixel((99, 90)) == PALETTE[0]  # right edge (the box covers x 50..99)
    assert img.getpixel((75, 99)) == PALETTE[0]  # bottom edge
    assert img.getpixel((75, 80)) == original.getpixel((75, 80))  # inside: untouched
    assert img.getpixel((40, 90)) == original.getpixel((40, 90))  # outside: untouched
    assert img.getpixel((150, 170)) == PALETTE[1]  # step 2's own colour
    assert img.getpixel((199, 170)) == PALETTE[1]


def test_non_square_recorded_space(demo: list[Sample]) -> None:
    p = pred("<think>here [10, 10, 20, 20]</think>x", input_size=(128, 64))
    r = render_prediction(demo[0].image_paths[0], p, legend=False)
    assert r.boxes[0].drawn_box == [20, 40, 40, 80]
    assert r.image.getpixel((20, 70)) == PALETTE[0]


def test_boxes_outside_are_flagged_and_clipped(demo: list[Sample]) -> None:
    path = demo[0].image_paths[0]
    p = pred("<think>edge [480, 100, 600, 200].\nfar [600, 600, 700, 700].\nbad [50, 50, 10, 60].</think>x")
    r = render_prediction(path, p, template="reasoning", image_size=512)
    assert r.space.source == "policy" and r.space.size == (512, 512)
    assert [(b.step, b.status) for b in r.boxes] == [(1, "clipped"), (2, "outside"), (3, "invalid")]
    assert r.boxes[0].drawn_box == [240, 50, 256, 100]
    assert r.image.size[0] == 256 and r.image.size[1] > 256  # legend panel below
    assert r.image.getpixel((255, 75)) == PALETTE[0]


def test_contact_sheet(demo: list[Sample]) -> None:
    cases = [(s, pred("<think>a [0, 0, 256, 256]</think>x", sample_id=s.id)) for s in demo[:5]]
    sheet = contact_sheet(cases, tile=100, columns=3, image_size=512)
    assert sheet.size[0] == 300 and sheet.size[1] > 200
    assert sheet.getpixel((1, 40)) == PALETTE[0]  # first tile: [0, 0, 256, 256] in 512 space -> [0, 0, 50, 50]
    with pytest.raises(XrayBenchError, match="no cases"):
        contact_sheet([])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, demo: list[Sample]) -> Path:
    """A run of hand-made reasoning outputs whose boxes are the reference boxes doubled (512 space)."""
    tmp = tmp_path_factory.mktemp("render")
    rows = []
    for s in demo:
        steps = [f"{b[4]} at [{b[0] * 2}, {b[1] * 2}, {b[2] * 2}, {b[3] * 2}]." for b in s.metadata["bboxes"]]
        text = "<think>" + ("\n".join(steps) or "No abnormality.") + "</think>\\boxed{" + s.reference + "}"
        rows.append(json.dumps({"id": s.id, "prediction": text}))
    (tmp / "p.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp / "run"
    assert (
        main(
            [
                "run",
                "--model",
                f"predictions:{tmp / 'p.jsonl'}",
                "--tasks",
                "demo_classification",
                "--template",
                "reasoning",
                "--image-size",
                "512",
                "--out",
                str(out),
                "--bootstrap-rounds",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    return out


def test_cli_render_one_case(
    run_dir: Path, demo: list[Sample], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = next(s for s in demo if s.metadata["bboxes"])
    out = tmp_path / "one.png"
    assert main(["render", "--run", str(run_dir), "--id", sample.id, "--out", str(out), "--no-legend"]) == 0
    assert "512x512 image the run's image policy sends" in capsys.readouterr().out
    img = Image.open(out).convert("RGB")
    x1, y1, x2, y2 = sample.metadata["bboxes"][0][:4]
    assert img.size == (256, 256)
    assert img.getpixel((x1, (y1 + y2) // 2)) == PALETTE[0]  # the reference box drawn back at its own place
    assert img.getpixel((x2 - 1, (y1 + y2) // 2)) == PALETTE[0]


def test_cli_render_grid_and_errors(
    run_dir: Path, demo: list[Sample], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    ids = f"{demo[0].id},{demo[1].id}"
    assert main(["render", "--run", str(run_dir), "--grid", "--ids", ids, "--tile", "128", "--out", str(out)]) == 0
    assert Image.open(out).size[0] == 256
    assert main(["render", "--run", str(run_dir), "--grid", "--n", "4", "--out", str(out)]) == 0
    assert "4 cases" in capsys.readouterr().out
    assert main(["render", "--run", str(run_dir), "--id", "ghost", "--out", str(out)]) == 1
    assert "no prediction for id 'ghost'" in capsys.readouterr().err
    assert main(["render", "--run", str(run_dir), "--out", str(out)]) == 1
    assert "pass --id" in capsys.readouterr().err


def test_prediction_input_size_serialisation() -> None:
    p = pred("x", input_size=(512, 384))
    data = json.loads(json.dumps(p.to_json()))
    assert data["input_size"] == [512, 384]
    assert Prediction.from_json(data) == p
    old = pred("x").to_json()
    assert "input_size" not in old  # unset: not written, so files stay as before
    assert Prediction.from_json(old).input_size is None
    with pytest.raises(TypeError, match="input_size"):
        Prediction.from_json({**old, "input_size": [0, "a"]})


def test_runner_and_adapters_record_input_size(demo: list[Sample], tmp_path: Path) -> None:
    sample = demo[0]
    assert input_size(sample.image_paths, sample.id) == (256, 256)
    assert input_size(sample.image_paths, sample.id, image_size=512) == (512, 512)
    assert input_size(sample.image_paths, sample.id, max_pixels=128 * 128) == (128, 128)
    assert input_size([], sample.id) is None
    assert to_prediction(sample, "m", Generation("a [1, 2, 3, 4]", input_size=(512, 512))).input_size == (512, 512)
    with OpenAIServer() as server:
        for size, expected in ((512, (512, 512)), (None, (256, 256))):
            model = OpenAIModel("tiny-test-model", {"api_base": server.base_url}, ModelContext(image_size=size))
            assert model.generate([sample], ["describe"])[0].input_size == expected


def test_old_run_without_input_size_loads(run_dir: Path) -> None:
    lines = (run_dir / PREDICTIONS_FILE).read_text().splitlines()
    assert lines and all("input_size" not in json.loads(line) for line in lines)
