"""Weight-free CPU baselines built from each task's train split.

- `baseline:normal` answers every item with the most frequent train reference for the same question
  (report tasks: the most frequent report, which in real datasets is the normal template; VQA: the
  majority answer to the same question, else to the same answer type; classification: the most
  frequent label set).
- `baseline:retrieval` answers with the reference of the nearest train item by image thumbnail
  (16×16 grey, L2), restricted to train items with the same question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelArgs, ModelContext, build_options
from xraybench.records import Generation, Sample

THUMBNAIL = 16


def _question_key(text: str) -> str:
    return " ".join(text.lower().split())


def thumbnail(path: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            small = img.convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)
    except (OSError, ValueError) as exc:
        raise XrayBenchError(f"cannot read image {path}: {exc}") from exc
    vec = np.asarray(small, dtype=np.float32).ravel()
    return (vec - vec.mean()) / (vec.std() + 1e-6)


class _TrainIndex:
    """The train split of one task, loaded on first use."""

    def __init__(self, task: str, context: ModelContext):
        from xraybench.taskdata import load_task

        data = load_task(task, context.data_roots, split="train")
        if not data.samples:
            raise XrayBenchError(f"baseline: task {task!r} has no train samples to learn from")
        self.samples = data.samples
        self.by_question: dict[str, list[int]] = {}
        for i, s in enumerate(self.samples):
            self.by_question.setdefault(_question_key(s.prompt), []).append(i)
        self._thumbs: np.ndarray | None = None

    def majority(self, indices: list[int]) -> str:
        return Counter(self.samples[i].reference for i in indices).most_common(1)[0][0]

    def thumbs(self) -> np.ndarray:
        if self._thumbs is None:
            missing = [s.id for s in self.samples if not s.image_paths]
            if missing:
                raise XrayBenchError(
                    f"baseline:retrieval needs train images; {len(missing)} train items have none (first: {missing[0]})"
                )
            self._thumbs = np.stack([thumbnail(s.image_paths[0]) for s in self.samples])
        return self._thumbs


class Baseline:
    batch_size = 64
    concurrency = 1

    def __init__(self, kind: str, context: ModelContext, name: str | None = None):
        self.kind = kind
        self.name = name or f"baseline:{kind}"
        self.context = context
        self._indexes: dict[str, _TrainIndex] = {}

    def _index(self, task: str) -> _TrainIndex:
        if task not in self._indexes:
            self._indexes[task] = _TrainIndex(task, self.context)
        return self._indexes[task]

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        answer: Callable[[Sample], str] = self._normal if self.kind == "normal" else self._retrieval
        return [Generation(answer(s)) for s in samples]

    def _normal(self, sample: Sample) -> str:
        index = self._index(sample.task)
        same_question = index.by_question.get(_question_key(sample.prompt))
        if same_question:
            return index.majority(same_question)
        answer_type = sample.metadata.get("answer_type")
        same_type = [i for i, s in enumerate(index.samples) if s.metadata.get("answer_type") == answer_type]
        return index.majority(same_type or list(range(len(index.samples))))

    def _retrieval(self, sample: Sample) -> str:
        index = self._index(sample.task)
        if not sample.image_paths or not Path(sample.image_paths[0]).exists():
            raise XrayBenchError(
                f"baseline:retrieval needs the image of sample {sample.id!r}: "
                f"{sample.image_paths[0] if sample.image_paths else 'no image path'}"
            )
        candidates = index.by_question.get(_question_key(sample.prompt)) or list(range(len(index.samples)))
        thumbs = index.thumbs()[candidates]
        distances = ((thumbs - thumbnail(sample.image_paths[0])) ** 2).sum(axis=1)
        return index.samples[candidates[int(np.argmin(distances))]].reference


def make_baseline(
    arg: str,
    options: ModelArgs | Mapping[str, Any] | None = None,
    context: ModelContext | None = None,
    generate: GenerateConfig | None = None,
) -> Baseline:
    """A baseline; its one option is its display name (`--name`); it does not decode, so `generate` is unused."""
    opts = build_options(ModelArgs, options, spec=f"baseline:{arg}")
    if arg not in ("normal", "retrieval"):
        raise XrayBenchError(f"unknown baseline {arg!r}; choose baseline:normal or baseline:retrieval")
    return Baseline(arg, context or ModelContext(), opts.name)


make_baseline.Options = ModelArgs  # type: ignore[attr-defined]
