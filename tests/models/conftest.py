"""Fixtures shared by the API-adapter tests: a real local OpenAI-compatible server and an imaged sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from xraybench.records import Sample
from xraybench.testing.openai_server import OpenAIServer

PROMPT = "Describe the findings of this chest X-ray."


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture()
def sample(tmp_path: Path) -> Sample:
    path = tmp_path / "cxr.png"
    Image.new("L", (40, 30), color=90).save(path)
    return Sample(
        id="s1", task="demo", dataset="demo", split="test", prompt=PROMPT, reference="x", image_paths=[str(path)]
    )
