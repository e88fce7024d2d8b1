"""A toy model adapter: `toy_echo:TEXT` answers TEXT to every item."""

from __future__ import annotations

from typing import Any

from xraybench.records import Generation, Sample


class EchoModel:
    batch_size = 4
    concurrency = 1

    def __init__(self, arg: str, *_: Any, **__: Any):  # (argument, generation options, context), as every adapter
        self.text = arg or "No acute cardiopulmonary process."
        self.name = f"toy_echo:{self.text}"

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        return [Generation(text=self.text) for _ in samples]
