"""The model-adapter interface: a model generates one output per sample of a batch.

Adapters do no retrying, rate limiting or concurrency: the runner owns those. An adapter raises
`TransientError` for failures worth retrying (429, 5xx, timeouts) and any other exception for
failures that are not; it may return a `Generation` with `error` set for a per-sample failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from xraybench.records import Generation, Sample


@dataclass
class ModelOptions:
    """Everything about how a model is called, recorded in results.json."""

    template: str = "plain"
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    api_base: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 120.0
    device: str | None = None
    dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def decoding(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens}


class Model(Protocol):
    """`name` identifies the model in predictions; `batch_size` and `concurrency` are hints for the runner."""

    name: str
    batch_size: int
    concurrency: int

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]: ...


def split_spec(spec: str) -> tuple[str, str]:
    """'hf:/path/to/model' -> ('hf', '/path/to/model'); 'baseline:normal' -> ('baseline', 'normal')."""
    kind, sep, arg = spec.partition(":")
    if not sep:
        return kind, ""
    return kind, arg


@dataclass
class ModelContext:
    """What a factory may need besides its argument: where data lives (baselines read train splits)."""

    data_roots: dict[str, str] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    seed: int = 0
