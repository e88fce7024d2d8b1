"""Shared fixtures for the trainer tests: a tiny model and the tiny-cpu pipeline's data, built once per session.

Everything goes through the real `xraybench train ...` entry point (`xraybench.cli.main`) with the shipped
`medix_train/configs/tiny-cpu/` files, paths redirected into a temporary folder by command-line overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the [train] extra (trl) is not installed")

from xraybench.cli import main  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "medix_train" / "configs" / "tiny-cpu"


@dataclass(frozen=True)
class TinyPipeline:
    """Where the session's tiny model and record files are."""

    root: Path
    tiny: Path
    sft: Path
    coldstart: Path
    grpo: Path


def train_cli(
    stage: str, *, model: Path, data: Path, out: Path, extra: tuple[str, ...] = (), config: Path | None = None
) -> int:
    """`xraybench train STAGE --config tiny-cpu/STAGE.yaml` (or `config`) with model, data and output redirected."""
    config = config or CONFIGS / f"{stage}.yaml"
    argv = ["train", stage, "--config", str(config), "--model", str(model), "--data", str(data),
            "--output-dir", str(out), *extra]  # fmt: skip
    return main(argv)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> TinyPipeline:
    root = tmp_path_factory.mktemp("tiny_pipeline")
    data = root / "data"
    assert main(["train", "init-tiny", "--out", str(root / "tiny")]) == 0
    for stage in ("sft", "coldstart", "grpo"):
        argv = ["train", "build-data", "--stage", stage, "--config", str(CONFIGS / "build-data.yaml"),
                "--out-dir", str(data), "--no-progress"]  # fmt: skip
        assert main(argv) == 0
    argv = ["train", "synthesize", "--teacher", "builtin:template", "--config", str(CONFIGS / "synthesize.yaml"),
            "--prompts", str(data / "coldstart_prompts.jsonl"), "--out", str(data / "coldstart.jsonl")]  # fmt: skip
    assert main(argv) == 0
    return TinyPipeline(root, root / "tiny", data / "sft.jsonl", data / "coldstart.jsonl", data / "grpo.jsonl")
