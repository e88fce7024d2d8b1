"""One typed record per concept: samples, predictions, boxes and metric values.

Records are plain dataclasses so they serialise to JSON lines without a schema library and stay
cheap to create in large numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TaskKind = Literal["report", "vqa", "classification", "grounding"]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box `[x_min, y_min, x_max, y_max]` in the model's image pixel space."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def as_list(self) -> list[float]:
        return [self.x_min, self.y_min, self.x_max, self.y_max]


@dataclass
class Sample:
    """One item of a task: what the model sees and what it is scored against.

    `reference` is the report section text, the answer string or the '|'-joined label set;
    `references` holds extra references where a dataset has several (lexical metrics use all).
    """

    id: str
    task: str
    dataset: str
    split: str
    prompt: str
    reference: str
    image_paths: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    credentialed: bool = False

    def all_references(self) -> list[str]:
        return [self.reference, *self.references]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        return cls(**data)


@dataclass
class Generation:
    """One answer and its usage: the one record of an answer for every model call, whatever asked it.

    A model adapter returns one per sample; the LLM engine (`xraybench.llm`) returns one per request, for models
    under test, judges and teachers alike, and reads every response body into one (`parse_completion`). The
    stores that keep answers (`predictions.jsonl`, the call store) copy their fields from it.

    `text` is the output as the model wrote it: a provider's separate `reasoning_content` is put back in front as
    `<think>…</think>` (and kept as sent in `reasoning`). Unknown is None, never a made-up 0: token counts the
    server did not report, a cost without a price or without usage.
    """

    text: str
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    scores: dict[str, float] | None = None  # label probabilities from classifier-style adapters
    error: str | None = None
    input_size: tuple[int, int] | None = None  # (width, height) of the first image as the model was given it
    cost_usd: float | None = None  # USD for this answer; None when no price or no usage is known
    reasoning: str | None = None  # the provider's separate reasoning_content, as it was sent

    @property
    def usage_reported(self) -> bool:
        """Did the server report both token counts? (Without them the cost is unknown: a budget charges the
        request's worst case.)"""
        return self.prompt_tokens is not None and self.completion_tokens is not None


@dataclass
class Prediction:
    """A scored unit of a run, streamed append-only to `predictions.jsonl`."""

    id: str
    task: str
    model: str
    raw: str
    answer: str
    reasoning: str | None = None
    boxes: list[list[float]] = field(default_factory=list)
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    scores: dict[str, float] | None = None
    error: str | None = None
    # (width, height) of the first image as the model was given it, i.e. the pixel space of `boxes`;
    # None when unknown (older runs, external predictions), and then not written.
    input_size: tuple[int, int] | None = None
    # USD the answer cost (API models with a known price); None when unknown or free, and then not written
    cost_usd: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.input_size is None:
            del data["input_size"]
        else:
            data["input_size"] = list(self.input_size)
        if self.cost_usd is None:
            del data["cost_usd"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        size = data.get("input_size")
        if size is None:
            return cls(**data)
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise TypeError(f"input_size must be [width, height] in positive integers, got {size!r}")
        return cls(**{**data, "input_size": (size[0], size[1])})


@dataclass
class MetricValue:
    """A headline number with its bootstrap 95% confidence interval."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}
