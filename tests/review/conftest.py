"""Two small fake run folders over the demo suite's findings task, written by hand: model A reasons in
grounded steps (reasoning template run with --image-size 512: boxes in 512x512), model B in one paragraph (plain template: boxes in the
256x256 demo image); one of B's items failed, and A's outputs carry hostile markup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.records import Generation
from xraybench.runner import to_prediction
from xraybench.taskdata import load_task

TASK = "demo_findings"
HOSTILE = "<img src=x onerror=\"document.body.dataset.pwned='yes'\"></script><b>bold</b>"


def _write_run(
    folder: Path, model: str, template: str, outputs: dict[str, str], failed: set[str], image_size: int | None = None
) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps(
            {
                "run_id": f"run-{model}",
                "identity": {},
                "config": {
                    "model": model,
                    "tasks": [TASK],
                    "data_roots": [],
                    "template": template,
                    "image_size": image_size,
                },
            }
        )
    )
    samples = {s.id: s for s in load_task(TASK).samples}
    lines = []
    for sid, text in outputs.items():
        pred = to_prediction(samples[sid], model, Generation(text, error="boom" if sid in failed else None))
        lines.append(json.dumps(pred.to_json()))
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    samples = load_task(TASK).samples
    a_out, b_out = {}, {}
    for s in samples:
        a_out[s.id] = (
            "<think>Step 1: the heart looks enlarged [160, 240, 360, 400].\n"
            f"Step 2: the left base is dense [300, 280, 450, 460] and [310, 120, 390, 200]. {HOSTILE}\n"
            "Step 3: no pneumothorax is seen.</think>\\boxed{" + s.reference + "}"
        )
        b_out[s.id] = (
            "<think>The lungs look clear [60, 60, 240, 470]. The heart is normal in size.</think>"
            "\\boxed{The lungs are clear.}"
        )
    failed = {samples[1].id}
    a = _write_run(tmp_path / "run_a", "model-alpha", "reasoning", a_out, set(), image_size=512)
    b = _write_run(tmp_path / "run_b", "model-beta", "plain", b_out, failed)
    return a, b
